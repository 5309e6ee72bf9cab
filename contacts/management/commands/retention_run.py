"""Apply the organizations' data retention periods now (the nightly beat task does it too).

manage.py retention_run [--org SLUG] [--dry-run]
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from contacts.services.retention import retention_apply, retention_preview
from tenants.context import cross_tenant
from tenants.models import Organization


class Command(BaseCommand):
    help = "Anonymise personal data older than each organization's retention period."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="Only this organization (its slug).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would be anonymised; change nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with cross_tenant(reason="retention_run command"):
            queryset = Organization.objects.filter(is_active=True).defer("logo")
            if options["org"]:
                queryset = queryset.filter(slug=options["org"])
                if not queryset.exists():
                    raise CommandError(f"No active organization {options['org']!r}.")
            else:
                queryset = queryset.filter(retention_months__isnull=False)
            organizations = list(queryset.order_by("slug"))
        for organization in organizations:
            if not organization.retention_months:
                self.stdout.write(f"{organization.slug}: no retention period set, nothing to do")
                continue
            if options["dry_run"]:
                result = retention_preview(organization=organization)
            else:
                result = retention_apply(organization=organization)
            verb = "would anonymise" if options["dry_run"] else "anonymised"
            self.stdout.write(
                f"{organization.slug}: {verb} data older than {result.cutoff:%Y-%m-%d %H:%M} UTC "
                f"({organization.retention_months} months): "
                f"{result.contacts_erased} contacts, "
                f"{result.responses_scrubbed} responses' free text, "
                f"{result.case_messages_scrubbed} case messages, "
                f"{result.follow_up_comments_scrubbed} follow-up comments"
            )
