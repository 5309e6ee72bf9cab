"""Exports of the dashboard: direct downloads, and export jobs built by a task.

An export of at most ``settings.METRICS_EXPORT_SYNC_MAX_ROWS`` rows is built during the
request and downloaded at once. A larger one becomes an ``ExportJob``:

    pending -> running -> ready    (file in the default storage, link emailed)
                       -> failed   (the reason in ``error``)

``export_job_build`` (the task ``metrics.export_build_task``) claims a job by moving it
to running under a row lock, builds the file outside that lock and stores it. It is
idempotent: a ready or failed job is left alone, a running job is left to its worker
unless it has been running longer than the task's time limit (the worker died), in
which case it is built again. A build that raises goes back to pending for the task's
retry; after ``MAX_ATTEMPTS`` the job fails with the reason. ``export_jobs_requeue``
(beat) sends the task again for jobs a missing broker or a dead worker left behind;
``export_files_expire`` (beat, daily) deletes files past ``expires_at``.

Every export (direct or not) writes an audit entry: exports carry personal data.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from io import BytesIO
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from integrations.channels import ChannelError, EmailMessage, email_channel
from metrics.exports.frames import ExportSpec, export_frame, export_row_count
from metrics.exports.writers import CONTENT_TYPES, XLSX_MAX_ROWS, write_export
from metrics.models import ExportFormat, ExportJob, ExportStatus
from metrics.selectors.filters import DashboardFilters
from tenants.context import cross_tenant, tenant_context
from tenants.models import Organization
from tenants.services import Actor, audit_log_record

logger = logging.getLogger(__name__)

EXPORT_KEEP = timedelta(days=7)
# Time limits of the build task (seconds): the soft one stops the build with a reason.
BUILD_SOFT_TIME_LIMIT = 15 * 60
BUILD_TIME_LIMIT = BUILD_SOFT_TIME_LIMIT + 60
# A job running longer than the hard time limit has lost its worker.
STALE_RUNNING = timedelta(seconds=BUILD_TIME_LIMIT + 60)
# A job still pending this long after it was asked for never reached a worker.
STALE_PENDING = timedelta(minutes=10)
MAX_ATTEMPTS = 3
ERROR_MAX = 500
TIMED_OUT = gettext_lazy("The export did not finish in time. Try again with narrower filters.")


def _count(number: int) -> str:
    return number_format(number, force_grouping=True)


class ExportRefused(ValueError):
    """An export that cannot be made as asked; the message is for the member."""


@dataclass(frozen=True, slots=True)
class ExportFile:
    content: bytes
    filename: str
    content_type: str
    rows: int


@dataclass(frozen=True, slots=True)
class ExportStarted:
    """A direct download (``file``) or a job that a task builds (``job``)."""

    rows: int
    file: ExportFile | None = None
    job: ExportJob | None = None


# --- Filters and names ---------------------------------------------------------------


def export_filters_query(filters: DashboardFilters) -> dict[str, str]:
    """The filters as stored on a job: the URL parameters with the period's dates
    spelled out (a job built tomorrow exports today's "last 30 days")."""
    return filters.query(period="custom")


def export_filters_from_query(query: Mapping[str, Any]) -> DashboardFilters:
    """The filters a job stored (``export_filters_query``); ValueError when damaged."""

    def number(key: str) -> int | None:
        value = query.get(key)
        return None if value in (None, "") else int(value)

    def text(key: str) -> str:
        return str(query.get(key) or "")

    segment = text("segment")
    return DashboardFilters(
        start=date.fromisoformat(str(query["start"])),
        end=date.fromisoformat(str(query["end"])),
        journey_id=number("journey"),
        touchpoint_id=number("touchpoint"),
        survey_id=number("survey"),
        theme_id=number("theme"),
        channel=text("channel"),
        language=text("language"),
        nps_group=text("group"),
        search=text("q"),
        segment_key=segment,
        segment_value=str(query["value"]) if segment and "value" in query else None,
    )


def export_filename(
    *, kind: str, file_format: str, organization_slug: str, start: date, end: date
) -> str:
    """``responses-<org>-<start>-<end>.xlsx``: the name a download is saved under."""
    return f"{kind}-{organization_slug}-{start.isoformat()}-{end.isoformat()}.{file_format}"


def _job_spec(job: ExportJob, organization: Organization) -> ExportSpec:
    return ExportSpec(
        kind=job.kind,
        format=job.format,
        language=job.language,
        filters=export_filters_from_query(job.filters),
        timezone_name=organization.timezone,
    )


def export_job_filename(job: ExportJob, organization: Organization) -> str:
    try:
        filters = export_filters_from_query(job.filters)
    except (KeyError, ValueError):
        return f"{job.kind}-{organization.slug}-{job.pk}.{job.format}"
    return export_filename(
        kind=job.kind,
        file_format=job.format,
        organization_slug=organization.slug,
        start=filters.start,
        end=filters.end,
    )


def _audit_changes(spec: ExportSpec, rows: int) -> dict[str, Any]:
    return {
        "kind": [None, spec.kind],
        "format": [None, spec.format],
        "language": [None, spec.language],
        "rows": [None, rows],
        "filters": [None, export_filters_query(spec.filters)],
    }


# --- Starting an export --------------------------------------------------------------


def export_render(*, spec: ExportSpec, organization: Organization) -> ExportFile:
    """Build an export in memory (a direct download)."""
    table = export_frame(spec)
    buffer = BytesIO()
    write_export(table, buffer, file_format=spec.format)
    return ExportFile(
        content=buffer.getvalue(),
        filename=export_filename(
            kind=spec.kind,
            file_format=spec.format,
            organization_slug=organization.slug,
            start=spec.filters.start,
            end=spec.filters.end,
        ),
        content_type=CONTENT_TYPES[ExportFormat(spec.format)],
        rows=table.rows,
    )


def export_start(*, user: Any, organization: Organization, spec: ExportSpec) -> ExportStarted:
    """Export for a member: small exports at once, larger ones as a job for a task.

    Raises ``ExportRefused`` for an XLSX export longer than a sheet can be.
    """
    rows = export_row_count(kind=spec.kind, filters=spec.filters, timezone_name=spec.timezone_name)
    if spec.format == ExportFormat.XLSX and rows > XLSX_MAX_ROWS:
        raise ExportRefused(
            _(
                "%(rows)s rows do not fit into one Excel sheet (at most %(max)s). "
                "Choose CSV or a shorter period."
            )
            % {"rows": _count(rows), "max": _count(XLSX_MAX_ROWS)}
        )
    if rows <= settings.METRICS_EXPORT_SYNC_MAX_ROWS:
        file = export_render(spec=spec, organization=organization)
        audit_log_record(
            actor=Actor.of_user(user),
            action="metrics.export",
            obj=organization,
            changes=_audit_changes(spec, file.rows),
        )
        return ExportStarted(rows=file.rows, file=file)
    job = export_job_create(user=user, spec=spec, rows=rows)
    return ExportStarted(rows=rows, job=job)


def export_job_create(*, user: Any, spec: ExportSpec, rows: int | None = None) -> ExportJob:
    """Record an export job and hand it to a worker after commit."""
    with transaction.atomic():
        job = ExportJob.objects.create(
            requested_by=user,
            kind=spec.kind,
            format=spec.format,
            language=spec.language,
            filters=export_filters_query(spec.filters),
        )
        audit_log_record(
            actor=Actor.of_user(user),
            action="metrics.export_job.create",
            obj=job,
            changes=_audit_changes(spec, rows) if rows is not None else {},
        )
        transaction.on_commit(partial(_schedule_build, job.organization_id, job.pk))
    return job


def _schedule_build(organization_id: int, job_id: int) -> None:
    from metrics.tasks_exports import export_build_task

    try:
        export_build_task.apply_async(
            kwargs={"organization_id": organization_id, "job_id": job_id},
            retry_policy={"max_retries": 0},
        )
    except Exception:  # noqa: BLE001 - the requeue sweep sends it once the broker is back
        logger.warning("export job %s left for the sweep: broker unavailable", job_id)


# --- Building a job ------------------------------------------------------------------


def _claim(job_id: int, now: datetime) -> tuple[str, ExportJob | None]:
    """Move the job to running; (outcome, None) when there is nothing to build."""
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in (ExportStatus.READY, ExportStatus.FAILED):
            return "skipped", None
        running_since = job.started_at if job.status == ExportStatus.RUNNING else None
        if running_since is not None and now - running_since < STALE_RUNNING:
            return "running", None
        if job.attempts >= MAX_ATTEMPTS:
            with translation.override(job.language):
                job.error = job.error or str(TIMED_OUT)
            job.status = ExportStatus.FAILED
            job.finished_at = now
            job.save(update_fields=["status", "error", "finished_at"])
            return "failed", None
        job.status = ExportStatus.RUNNING
        job.started_at = now
        job.attempts += 1
        job.save(update_fields=["status", "started_at", "attempts"])
    return "claimed", job


def export_job_build(*, organization_id: int, job_id: int, now: datetime | None = None) -> str:
    """Build one export job's file, store it, mark the job ready and email its link.

    Returns what happened: "ready", "skipped" (ready, failed or gone), "running" (another
    worker is on it) or "failed". A build that raises puts the job back to pending
    (with the error) and raises again, for the task's retry; a build that cannot work
    (damaged filters, too many rows for XLSX) fails the job at once.
    """
    with tenant_context(organization_id):
        outcome, job = _claim(job_id, now or timezone.now())
    if job is None:
        return outcome
    try:
        with tenant_context(organization_id), translation.override(job.language):
            organization = Organization.objects.get(pk=organization_id)
            try:
                spec = _job_spec(job, organization)
                rows, name = _build_file(job, spec, organization)
            except (ExportRefused, KeyError, TypeError, ValueError) as exc:
                reason = (
                    str(exc)
                    if isinstance(exc, ExportRefused)
                    else _("The export could not be built: %(error)s")
                    % {"error": failure_text(exc)}
                )
                export_job_fail(organization_id=organization_id, job_id=job_id, reason=reason)
                return "failed"
            finished = timezone.now()
            updated = ExportJob.objects.filter(pk=job_id, status=ExportStatus.RUNNING).update(
                status=ExportStatus.READY,
                file=name,
                rows=rows,
                error="",
                finished_at=finished,
                expires_at=finished + EXPORT_KEEP,
            )
            if not updated:
                # Another worker took the job over meanwhile (this one looked dead).
                default_storage.delete(name)
                return "skipped"
    except Exception as exc:
        # The context's transaction (PostgreSQL) is rolled back: record the error in a
        # new one, so the retry finds the job pending, not running.
        with tenant_context(organization_id):
            ExportJob.objects.filter(pk=job_id, status=ExportStatus.RUNNING).update(
                status=ExportStatus.PENDING, error=failure_text(exc)
            )
        raise
    # Committed: only now tell the member.
    with tenant_context(organization_id), translation.override(job.language):
        job.refresh_from_db()
        _email_ready(job, organization)
    return "ready"


def failure_text(exc: BaseException) -> str:
    """An exception as the reason shown with a failed export."""
    return (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)[:ERROR_MAX]


def _build_file(job: ExportJob, spec: ExportSpec, organization: Organization) -> tuple[int, str]:
    """Write the export into the default storage; (rows, storage name)."""
    table = export_frame(spec)
    if spec.format == ExportFormat.XLSX and table.rows > XLSX_MAX_ROWS:
        raise ExportRefused(
            _("%(rows)s rows do not fit into one Excel sheet (at most %(max)s). Choose CSV.")
            % {"rows": _count(table.rows), "max": _count(XLSX_MAX_ROWS)}
        )
    with tempfile.TemporaryFile() as handle:
        write_export(table, handle, file_format=spec.format)
        handle.seek(0)
        stem = export_job_filename(job, organization).rsplit(".", 1)[0]
        # A random part: the stored name is never guessable from the download name.
        upload = f"{stem}-{secrets.token_urlsafe(12)}.{spec.format}"
        name = job.file.field.generate_filename(job, upload)
        stored = default_storage.save(name, File(handle, name=upload))
    return table.rows, stored


def export_job_fail(*, organization_id: int, job_id: int, reason: str) -> bool:
    """Mark a job that cannot be built failed, with the reason (once retries are spent)."""
    with tenant_context(organization_id):
        return bool(
            ExportJob.objects.filter(
                pk=job_id, status__in=[ExportStatus.PENDING, ExportStatus.RUNNING]
            ).update(
                status=ExportStatus.FAILED,
                error=reason[:ERROR_MAX],
                finished_at=timezone.now(),
            )
        )


def export_job_time_out(*, organization_id: int, job_id: int) -> bool:
    """Fail a job whose build ran past the task's soft time limit."""
    with tenant_context(organization_id):
        language = ExportJob.objects.filter(pk=job_id).values_list("language", flat=True).first()
    with translation.override(language or settings.LANGUAGE_CODE):
        reason = _(
            "The export took longer than %(minutes)s minutes. Choose a shorter period or "
            "narrower filters."
        ) % {"minutes": BUILD_SOFT_TIME_LIMIT // 60}
    return export_job_fail(organization_id=organization_id, job_id=job_id, reason=reason)


def export_download_url(job: ExportJob, organization: Organization) -> str:
    """The absolute link of a job's download (for the email)."""
    return settings.SITE_URL.rstrip("/") + reverse(
        "metrics:export-download", kwargs={"org_slug": organization.slug, "export_id": job.pk}
    )


def _email_ready(job: ExportJob, organization: Organization) -> bool:
    """Tell the requester the export is ready (at most once: the job is ready first)."""
    user = job.requested_by
    if not user.email or not user.is_active:
        return False
    context = {
        "job": job,
        "organization": organization,
        "link": export_download_url(job, organization),
        "list_link": settings.SITE_URL.rstrip("/")
        + reverse("metrics:export-list", kwargs={"org_slug": organization.slug}),
        "filename": export_job_filename(job, organization),
        "user": user,
    }
    with translation.override(job.language):
        subject = _("[%(organization)s] Your export is ready") % {"organization": organization.name}
        text = render_to_string("metrics/email/export_ready.txt", context)
        html = render_to_string("metrics/email/export_ready.html", context)
    message = EmailMessage(
        to=user.email,
        subject=subject,
        text=text,
        html=html,
        metadata={"export_job_id": str(job.pk)},
        tags=("metrics-export",),
    )
    try:
        email_channel().send(message)
    except ChannelError as exc:
        logger.warning("export %s ready, email not sent: %s", job.pk, exc)
        return False
    return True


# --- Sweeps (beat) -------------------------------------------------------------------


def export_jobs_requeue(*, now: datetime | None = None, limit: int = 100) -> int:
    """Send the build task again for jobs left pending (no broker) or running on a
    worker that died; ``export_job_build`` decides whether to build or fail them."""
    now = now or timezone.now()
    with cross_tenant(reason="export sweep: stuck export jobs of every organization"):
        stuck = list(
            ExportJob.objects.filter(
                Q(status=ExportStatus.PENDING, created_at__lte=now - STALE_PENDING)
                | Q(status=ExportStatus.RUNNING, started_at__lte=now - STALE_RUNNING)
            )
            .order_by("created_at")
            .values_list("organization_id", "pk")[:limit]
        )
    for organization_id, job_id in stuck:
        _schedule_build(organization_id, job_id)
    return len(stuck)


def export_files_expire(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Delete the files of ready exports past ``expires_at``; the job rows stay (who
    exported what, when) without a file. Returns the number of files deleted."""
    now = now or timezone.now()
    with cross_tenant(reason="export sweep: expired export files of every organization"):
        expired = list(
            ExportJob.objects.filter(expires_at__lte=now)
            .exclude(file="")
            .values_list("pk", "file")[:limit]
        )
        for job_id, name in expired:
            default_storage.delete(name)
            ExportJob.objects.filter(pk=job_id).update(file="")
    return len(expired)
