"""Load the demo organizations (idempotent): run it as often as you like."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from closedloop.demo import DemoCases, seed_cases
from contacts.demo import seed_contacts
from metrics.demo import DemoMetrics, seed_metrics
from responses.demo import DemoLinks, seed_responses
from responses.models import OutboxEvent
from surveys.demo import seed_surveys
from surveys.demo_distribution import seed_distribution
from tenants.context import tenant_context
from tenants.models import Membership, Organization, Role, Team
from tenants.services import SYSTEM, organization_create, team_save

DEMO_PASSWORD = "demo-password-1"  # noqa: S105 - documented demo login, local only

PEOPLE = [
    ("admin@demo.example", "Alex", "Admin", Role.ADMIN),
    ("cx@demo.example", "Chris", "Manager", Role.CX_MANAGER),
    ("owner@demo.example", "Olivia", "Owner", Role.OWNER),
    ("lead@demo.example", "Lena", "Lead", Role.OWNER),
    ("viewer@demo.example", "Vic", "Viewer", Role.VIEWER),
]
TEAMS = [
    ("Customer care", "lead@demo.example", ["owner@demo.example", "lead@demo.example"]),
    ("Call centre", "lead@demo.example", ["owner@demo.example"]),
    ("Online shop", "cx@demo.example", ["cx@demo.example"]),
    ("Service partner network", None, []),
]


class Command(BaseCommand):
    help = "Create or refresh the demo organizations, users and teams."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            users = {email: self._user(email, first, last) for email, first, last, _ in PEOPLE}
            demo = self._organization("demo", "Demo Retail GmbH", users["admin@demo.example"])
            with tenant_context(demo):
                for email, _first, _last, role in PEOPLE:
                    Membership.objects.update_or_create(user=users[email], defaults={"role": role})
                for name, lead, members in TEAMS:
                    team = Team.objects.filter(name=name).first()
                    team_save(
                        actor=SYSTEM,
                        team=team,
                        name=name,
                        lead_id=users[lead].pk if lead else None,
                        member_ids=[users[m].pk for m in members],
                    )
                seed_contacts(demo)
                seed_surveys(demo)
                seed_distribution(demo)
                links = seed_responses(demo)
                cases = seed_cases(demo)
                metrics = seed_metrics(demo)
                # The seeders applied their history themselves (cases replayed, rollups
                # rebuilt, themes tagged): its outbox events are done, so neither the worker
                # nor a webhook registered later replays a year of demo events.
                OutboxEvent.objects.filter(dispatched_at__isnull=True).update(
                    dispatched_at=timezone.now()
                )
            # A second organization shows the switcher and proves the data stays apart.
            other = self._organization(
                "demo-services", "Demo Services AG", users["admin@demo.example"]
            )
            with tenant_context(other):
                Membership.objects.update_or_create(
                    user=users["admin@demo.example"], defaults={"role": Role.ADMIN}
                )
        self.stdout.write(
            self.style.SUCCESS(
                "Demo ready: organizations 'demo' and 'demo-services'. "
                f"Sign in as admin@demo.example / {DEMO_PASSWORD} "
                "(also cx@, owner@, lead@, viewer@demo.example, same password)."
            )
        )
        self._print_links(links)
        self._print_cases(cases)
        self._print_metrics(metrics)

    def _print_metrics(self, metrics: DemoMetrics) -> None:
        self.stdout.write(
            f"Dashboard: {metrics.dashboard_url}  ({metrics.responses:,} responses over the "
            "last year)"
        )

    def _print_cases(self, cases: DemoCases) -> None:
        self.stdout.write(
            f"Case inbox: {cases.inbox_url}  ({cases.open_cases} open, {cases.overdue} overdue, "
            f"{cases.waiting} waiting on the customer; sign in as {cases.owner_login}, "
            "or lead@demo.example for the team lead's view)"
        )

    def _print_links(self, links: DemoLinks) -> None:
        if links.invitation_url:
            self.stdout.write(f"Sample survey link (email invitation): {links.invitation_url}")
        if links.open_link_url:
            self.stdout.write(f"Open link: {links.open_link_url}  (QR code: {links.qr_url})")
        if links.sms_phone:
            self.stdout.write(
                f'Answer the SMS invitation: manage.py sms_reply {links.sms_phone} "9", '
                f'then manage.py sms_reply {links.sms_phone} "Quick repair"'
            )

    def _user(self, email: str, first: str, last: str) -> Any:
        user, _ = get_user_model().objects.get_or_create(
            username=email, defaults={"email": email, "first_name": first, "last_name": last}
        )
        if not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user

    def _organization(self, slug: str, name: str, admin: Any) -> Organization:
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            organization = organization_create(
                slug=slug, name=name, admin=admin, timezone="Europe/Berlin", default_language="de"
            )
        return organization
