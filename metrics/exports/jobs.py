"""Reads of export jobs: a member's recent exports, and the one they may download."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from metrics.models import ExportJob, ExportStatus

RECENT_JOBS = 20


def export_job_available(job: ExportJob, now: datetime | None = None) -> bool:
    """Ready, with a file, and not expired: the download link works."""
    now = now or timezone.now()
    return (
        job.status == ExportStatus.READY
        and bool(job.file)
        and job.expires_at is not None
        and job.expires_at > now
    )


@dataclass(frozen=True, slots=True)
class ExportJobRow:
    job: ExportJob
    available: bool
    expired: bool  # was ready, the file is gone

    @property
    def pending(self) -> bool:
        return self.job.status in (ExportStatus.PENDING, ExportStatus.RUNNING)


def export_job_list_for_user(*, user: Any, limit: int = RECENT_JOBS) -> list[ExportJobRow]:
    """The member's own most recent export jobs (current organization), newest first."""
    now = timezone.now()
    jobs = ExportJob.objects.filter(requested_by=user).order_by("-created_at", "-pk")[:limit]
    return [
        ExportJobRow(
            job=job,
            available=export_job_available(job, now),
            expired=job.status == ExportStatus.READY and not export_job_available(job, now),
        )
        for job in jobs
    ]


def export_job_get_for_user(*, user: Any, export_id: int) -> ExportJob | None:
    """One of the member's own export jobs; None for anyone else's (a 404)."""
    return ExportJob.objects.filter(pk=export_id, requested_by=user).first()
