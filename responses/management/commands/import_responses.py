"""Import historical responses from a CSV file into one survey, as the import page does:
``manage.py import_responses --org <slug> --survey <id> file.csv``.

Prints the report (counts, warnings, the refused rows with their row number, column
and reason). Exit code 1 when the file was refused or any row failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser, no_translations

from responses.services.ingest import ImportReport, response_import_csv
from surveys.models import Survey
from tenants.context import tenant_context
from tenants.models import Organization
from tenants.services import Actor

ERRORS_PRINTED = 100


class Command(BaseCommand):
    help = (
        "Import historical responses from a CSV file (columns: responded_at, optional "
        "crm_id, channel, language, external_id, and one column per question id)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="the organization's slug")
        parser.add_argument("--survey", required=True, type=int, help="the survey's id")
        parser.add_argument("file", type=Path, help="the CSV file, with a header row")

    @no_translations  # the report in English, as in logs
    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['org']!r}.")
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from exc
        with tenant_context(organization):
            survey = Survey.objects.filter(pk=options["survey"]).first()
            if survey is None:
                raise CommandError(
                    f"No survey {options['survey']} in organization {organization.slug!r}."
                )
            try:
                report = response_import_csv(
                    actor=Actor(label="manage.py import_responses"),
                    survey=survey,
                    data=data,
                    file_name=path.name,
                )
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        self._print(report)
        if report.failed:
            raise CommandError(f"{report.failed} rows were not imported (see above).")

    def _print(self, report: ImportReport) -> None:
        self.stdout.write(
            f"{report.file_name} -> {report.survey_name} (survey {report.survey_id}, "
            f"version {report.version_number}), columns: {', '.join(report.columns)}"
        )
        self.stdout.write(
            f"{report.rows} rows: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged, {report.failed} failed."
        )
        if report.contacts_linked or report.contacts_not_found:
            self.stdout.write(
                f"Contacts linked: {report.contacts_linked}; "
                f"CRM ids without a contact: {report.contacts_not_found}."
            )
        for warning in report.warnings:
            self.stdout.write(self.style.WARNING(f"Warning: {warning}"))
        for error in report.errors[:ERRORS_PRINTED]:
            column = f" [{error.column}]" if error.column else ""
            self.stdout.write(f"Row {error.row}{column}: {error.message}")
        if len(report.errors) > ERRORS_PRINTED:
            self.stdout.write(f"... and {len(report.errors) - ERRORS_PRINTED} more problems.")
