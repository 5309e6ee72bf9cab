"""Rebuild the daily rollup from the raw responses:
``manage.py rollups_rebuild [--org SLUG ...] [--since YYYY-MM-DD] [--until YYYY-MM-DD]``.

Without ``--org`` every organization is rebuilt, one after the other, each in its own
tenant context (and transaction). ``--since``/``--until`` limit the rebuild to those
local days (inclusive) in each organization's time zone. Prints, per organization, the
responses read, the rollup rows written and the time taken.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, no_translations

from metrics.services.rollups import rollups_rebuild
from tenants.context import cross_tenant, tenant_context
from tenants.models import Organization


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} must be a date like 2026-03-29, not {value!r}.") from None


class Command(BaseCommand):
    help = "Rebuild the dashboard's daily rollup of organizations from their responses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--org",
            action="append",
            dest="orgs",
            metavar="SLUG",
            default=[],
            help="an organization's slug (repeat for several; default: every organization)",
        )
        parser.add_argument(
            "--since", metavar="YYYY-MM-DD", help="first local day to rebuild (inclusive)"
        )
        parser.add_argument(
            "--until", metavar="YYYY-MM-DD", help="last local day to rebuild (inclusive)"
        )

    @no_translations  # the report in English, as in logs
    def handle(self, *args: Any, **options: Any) -> None:
        since = _day(options["since"], "--since") if options["since"] else None
        until = _day(options["until"], "--until") if options["until"] else None
        if since is not None and until is not None and since > until:
            raise CommandError(f"--since {since} is after --until {until}.")
        organizations = self._organizations(options["orgs"])
        total_responses = total_rows = 0
        started = time.perf_counter()
        for organization in organizations:
            began = time.perf_counter()
            with tenant_context(organization):
                result = rollups_rebuild(since=since, until=until)
            total_responses += result.responses
            total_rows += result.rows
            self.stdout.write(
                f"{organization.slug}: {result.responses:,} responses read, "
                f"{result.rows:,} rollup rows written in {time.perf_counter() - began:.2f} s"
            )
        period = ""
        if since is not None or until is not None:
            period = f" (local days {since or 'start'} to {until or 'today'})"
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt {len(organizations)} organization(s){period}: "
                f"{total_responses:,} responses, {total_rows:,} rows in "
                f"{time.perf_counter() - started:.2f} s."
            )
        )

    def _organizations(self, slugs: list[str]) -> list[Organization]:
        with cross_tenant(reason="rollups_rebuild: the organizations to rebuild"):
            if not slugs:
                return list(Organization.objects.order_by("slug"))
            wanted = list(dict.fromkeys(slugs))
            found = {org.slug: org for org in Organization.objects.filter(slug__in=wanted)}
        unknown = [slug for slug in wanted if slug not in found]
        if unknown:
            raise CommandError(
                "No organization with slug " + ", ".join(repr(slug) for slug in unknown) + "."
            )
        return [found[slug] for slug in wanted]
