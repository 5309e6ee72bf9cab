"""Importing historical responses from CSV: upload (survey + file), report, error CSV.

The import runs synchronously in the request (``responses.services.ingest``: at most
``WEB_MAX_ROWS`` rows / 20 MB here; larger files through ``manage.py import_responses``);
the report is kept for a day under a random id in the organization's cache space, so
the report page can be reloaded and the errors downloaded without importing again.
"""

from __future__ import annotations

import csv
import io

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods

from contacts.views import csv_safe
from responses.forms import ResponseImportForm
from responses.services.ingest import (
    WEB_MAX_ROWS,
    ImportReport,
    import_report_get,
    import_report_store,
    import_surveys,
    response_import_csv,
)
from surveys.models import Survey
from tenants.permissions import Capability, capability_required
from tenants.services import Actor

ERRORS_SHOWN = 200


def _survey_asked_for(request: HttpRequest) -> int | None:
    """The survey id in the request; another organization's (or none) is a 404, the
    same answer as for an id that does not exist."""
    raw = request.POST.get("survey") or request.GET.get("survey") or ""
    if not raw:
        return None
    if not raw.isdigit() or not Survey.objects.filter(pk=int(raw)).exists():
        raise Http404
    return int(raw)


@capability_required(Capability.RESPONSES_IMPORT)
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest, org_slug: str) -> HttpResponse:
    survey_id = _survey_asked_for(request)
    importable = import_surveys()
    form = ResponseImportForm(
        request.POST or None,
        request.FILES or None,
        initial={"survey": survey_id},
        surveys=[(item.survey.pk, item.survey.name) for item in importable],
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            survey = next(
                i.survey for i in importable if i.survey.pk == form.cleaned_data["survey"]
            )
            upload = form.cleaned_data["file"]
            try:
                report = response_import_csv(
                    actor=Actor.of_user(request.user),
                    survey=survey,
                    data=upload.read(),
                    file_name=upload.name or "import.csv",
                    max_rows=WEB_MAX_ROWS,
                )
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error("file", message)
            else:
                report_id = import_report_store(report=report)
                return redirect("responses:import-report", org_slug=org_slug, report_id=report_id)
        status = 400
    return render(
        request,
        "responses/import.html",
        {"form": form, "importable": importable},
        status=status,
    )


def _report(report_id: str) -> ImportReport:
    report = import_report_get(report_id=report_id)
    if report is None:
        raise Http404
    return report


@capability_required(Capability.RESPONSES_IMPORT)
@require_GET
def import_report(request: HttpRequest, org_slug: str, report_id: str) -> HttpResponse:
    report = _report(report_id)
    return render(
        request,
        "responses/import_report.html",
        {
            "report": report,
            "report_id": report_id,
            "errors": report.errors[:ERRORS_SHOWN],
            "errors_shown": ERRORS_SHOWN,
            "errors_cut": len(report.errors) > ERRORS_SHOWN,
        },
    )


@capability_required(Capability.RESPONSES_IMPORT)
@require_GET
def import_errors_csv(request: HttpRequest, org_slug: str, report_id: str) -> HttpResponse:
    """The refused rows: row (as in the file), column, message."""
    report = _report(report_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["row", "column", "message"])
    for error in report.errors:
        writer.writerow([error.row, csv_safe(error.column), csv_safe(error.message)])
    name = slugify(report.file_name.rsplit(".", 1)[0]) or "import"
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-errors.csv"'
    response["Cache-Control"] = "no-store"
    return response
