"""Exports of the dashboard: ``/o/<org>/dashboard/exports/``.

The page shows the dashboard's filter bar, the export form and the member's recent
export jobs. Exporting uses exactly the filters of the page (they travel in the form's
URL). Small exports download at once; larger ones are built by a worker and announced
by email, and only the member who asked may download them. Admins and CX managers only
(``metrics.export``): exports carry personal data.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.formats import number_format
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from metrics.exports.frames import ExportSpec, export_row_count
from metrics.exports.jobs import (
    export_job_available,
    export_job_get_for_user,
    export_job_list_for_user,
)
from metrics.exports.writers import CONTENT_TYPES
from metrics.forms_exports import ExportForm
from metrics.models import ExportFormat, ExportKind, ExportStatus
from metrics.services.exports import (
    EXPORT_KEEP,
    ExportRefused,
    export_job_filename,
    export_start,
)
from metrics.views.common import Dashboard, dashboard_request
from tenants.permissions import Capability, capability_required

EXPORT = Capability.METRICS_EXPORT
FILTER_FIELDS = "group theme q"  # the filter bar's extra fields (raw-response filters)


def _list_url(request: HttpRequest, board: Dashboard) -> str:
    organization = request.organization  # type: ignore[attr-defined]
    url = reverse("metrics:export-list", kwargs={"org_slug": organization.slug})
    query = board.filters.querystring()
    return f"{url}?{query}" if query else url


def _render_list(
    request: HttpRequest, board: Dashboard, form: ExportForm, status: int = 200
) -> HttpResponse:
    filters = board.filters
    counts = {
        kind: export_row_count(kind=kind, filters=filters, timezone_name=board.timezone_name)
        for kind in ExportKind.values
    }
    jobs = export_job_list_for_user(user=request.user)
    context: dict[str, Any] = board.context(
        form=form,
        response_count=counts[ExportKind.RESPONSES],
        response_count_text=number_format(counts[ExportKind.RESPONSES], force_grouping=True),
        case_count=counts[ExportKind.CASES],
        case_count_text=number_format(counts[ExportKind.CASES], force_grouping=True),
        jobs=jobs,
        polling=any(row.pending for row in jobs),
        list_url=_list_url(request, board),
        sync_max_text=number_format(settings.METRICS_EXPORT_SYNC_MAX_ROWS, force_grouping=True),
        keep_days=EXPORT_KEEP.days,
        filter_fields=FILTER_FIELDS,
    )
    return render(request, "metrics/exports.html", context, status=status)


@capability_required(EXPORT)
@require_GET
def export_list_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    board = dashboard_request(request, with_themes=True)
    return _render_list(request, board, ExportForm(language=translation.get_language()))


@capability_required(EXPORT)
@require_POST
def export_create_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    board = dashboard_request(request, with_themes=True)
    form = ExportForm(request.POST, language=translation.get_language())
    if not form.is_valid():
        return _render_list(request, board, form, status=400)
    organization = request.organization  # type: ignore[attr-defined]
    spec = ExportSpec(
        kind=form.cleaned_data["kind"],
        format=form.cleaned_data["format"],
        language=form.cleaned_data["language"],
        filters=board.filters,
        timezone_name=board.timezone_name,
    )
    try:
        started = export_start(user=request.user, organization=organization, spec=spec)
    except ExportRefused as exc:
        messages.error(request, str(exc))
        return redirect(_list_url(request, board))
    if started.file is not None:
        response = HttpResponse(started.file.content, content_type=started.file.content_type)
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=started.file.filename
        )
        return response
    messages.success(
        request,
        _(
            "The export of %(rows)s rows is being prepared. We will email you when it is "
            "ready; it is also listed below."
        )
        % {"rows": number_format(started.rows, force_grouping=True)},
    )
    return redirect(_list_url(request, board))


@capability_required(EXPORT)
@require_GET
def export_download_view(request: HttpRequest, org_slug: str, export_id: int) -> HttpResponse:
    job = export_job_get_for_user(user=request.user, export_id=export_id)
    if job is None:
        raise Http404
    organization = request.organization  # type: ignore[attr-defined]
    if not export_job_available(job):
        if job.status == ExportStatus.READY:
            messages.error(request, _("This export is no longer available. Export the data again."))
        elif job.status == ExportStatus.FAILED:
            messages.error(request, _("This export failed: %(error)s") % {"error": job.error})
        else:
            messages.info(request, _("This export is not ready yet. We will email you when it is."))
        return redirect("metrics:export-list", org_slug=organization.slug)
    download = FileResponse(
        job.file.open("rb"),
        as_attachment=True,
        filename=export_job_filename(job, organization),
        content_type=CONTENT_TYPES[ExportFormat(job.format)],
    )
    # A streamed file; capability_required types views as returning HttpResponse.
    return cast(HttpResponse, download)
