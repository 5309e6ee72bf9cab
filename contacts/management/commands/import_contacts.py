"""Import contacts from a CSV file, as the import page does (upsert by CRM id)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser, no_translations

from contacts.csvfile import ATTRIBUTE_PREFIX, CONTACT_TARGETS
from contacts.models import Channel
from contacts.services import ImportConsent, ImportResult, contact_import_file
from tenants.context import tenant_context
from tenants.models import Organization
from tenants.services import Actor

ERRORS_PRINTED = 50


def _mapping(pairs: list[str]) -> dict[str, str]:
    """``["crm_id=Customer No", "attr:segment=Segment"]`` -> ``{column: target}``."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        target, sep, column = pair.partition("=")
        target, column = target.strip(), column.strip()
        if not sep or not target or not column:
            raise CommandError(f"--map {pair!r}: write --map FIELD=COLUMN, e.g. email=E-Mail.")
        if target not in CONTACT_TARGETS and not target.startswith(ATTRIBUTE_PREFIX):
            known = ", ".join([*CONTACT_TARGETS, f"{ATTRIBUTE_PREFIX}<key>"])
            raise CommandError(f"--map {pair!r}: unknown field {target!r} (one of: {known}).")
        if column in mapping:
            raise CommandError(f"--map: column {column!r} is mapped twice.")
        mapping[column] = target
    return mapping


class Command(BaseCommand):
    help = (
        "Import contacts from a CSV file into an organization: contacts are matched by CRM "
        "id (updated) or created; rows with errors are reported and skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organization", help="the organization's slug (as in /o/<slug>/)")
        parser.add_argument("file", type=Path, help="the CSV file (UTF-8, with a header row)")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help=(
                "map a column to a contact field (crm_id, first_name, last_name, email, phone, "
                "language, timezone) or to a CRM attribute (attr:<key>); repeat for every "
                "column to import. Without --map, columns are mapped by their header names."
            ),
        )
        for channel in Channel.values:
            parser.add_argument(
                f"--consent-{channel}",
                choices=["grant"],
                help=f"record a {channel} consent grant (source: import) for imported contacts",
            )
        parser.add_argument(
            "--consent-wording",
            default="",
            help="the wording the customers agreed to (required with --consent-*)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check every row and report; write nothing"
        )

    @no_translations  # messages and the stored error report in English, as in logs
    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["organization"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['organization']!r}.")
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from exc
        mapping = _mapping(options["map"]) or None
        consent = ImportConsent(
            channels=tuple(c for c in Channel.values if options[f"consent_{c}"] == "grant"),
            wording=options["consent_wording"],
        )
        try:
            with tenant_context(organization):
                contact_import, result = contact_import_file(
                    actor=Actor(label="manage.py import_contacts"),
                    file_name=path.name,
                    data=data,
                    mapping=mapping,
                    consent=consent,
                    dry_run=options["dry_run"],
                )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self._report(result, dry_run=options["dry_run"])
        if contact_import is not None:
            self.stdout.write(
                f"Recorded as import #{contact_import.pk}: "
                f"/o/{organization.slug}/contacts/imports/{contact_import.pk}/"
            )

    def _report(self, result: ImportResult, *, dry_run: bool) -> None:
        if dry_run:
            self.stdout.write("Dry run: nothing was written. The import would do this:")
        self.stdout.write(
            f"{result.rows} rows: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.failed} failed."
        )
        if result.consent_recorded or result.consent_skipped:
            self.stdout.write(
                f"Consent grants recorded: {result.consent_recorded}; "
                f"not granted because withdrawn: {result.consent_skipped}."
            )
        for error in result.errors[:ERRORS_PRINTED]:
            column = f" [{error['column']}]" if error["column"] else ""
            self.stdout.write(self.style.WARNING(f"row {error['row']}{column}: {error['message']}"))
        if len(result.errors) > ERRORS_PRINTED:
            self.stdout.write(f"... and {len(result.errors) - ERRORS_PRINTED} more problems.")
        if not result.failed:
            self.stdout.write(self.style.SUCCESS("No errors."))
