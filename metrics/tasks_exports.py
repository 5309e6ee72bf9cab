"""Celery tasks of the dashboard exports: thin, by id, idempotent.

Imported by ``MetricsConfig.ready`` (autodiscovery only finds ``metrics.tasks``).
"""

from __future__ import annotations

import logging
import random

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from metrics.services.exports import (
    BUILD_SOFT_TIME_LIMIT,
    BUILD_TIME_LIMIT,
    MAX_ATTEMPTS,
    export_files_expire,
    export_job_build,
    export_job_fail,
    export_job_time_out,
    export_jobs_requeue,
    failure_text,
)

logger = logging.getLogger(__name__)


@shared_task(
    name="metrics.export_build_task",
    bind=True,
    acks_late=True,
    max_retries=MAX_ATTEMPTS - 1,
    soft_time_limit=BUILD_SOFT_TIME_LIMIT,
    time_limit=BUILD_TIME_LIMIT,
)
def export_build_task(self: Task, organization_id: int, job_id: int) -> str:
    try:
        return export_job_build(organization_id=organization_id, job_id=job_id)
    except SoftTimeLimitExceeded:
        export_job_time_out(organization_id=organization_id, job_id=job_id)
        return "failed"
    except Exception as exc:
        retries = self.request.retries
        if retries >= (self.max_retries or 0):
            logger.exception("export job %s failed after %s attempts", job_id, retries + 1)
            export_job_fail(
                organization_id=organization_id, job_id=job_id, reason=failure_text(exc)
            )
            return "failed"
        countdown = 30 * 2**retries + random.randint(0, 15)  # noqa: S311 - jitter only
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(name="metrics.export_jobs_requeue_task", soft_time_limit=50, time_limit=80)
def export_jobs_requeue_task() -> int:
    return export_jobs_requeue()


@shared_task(name="metrics.export_files_expire_task", soft_time_limit=300, time_limit=360)
def export_files_expire_task() -> int:
    return export_files_expire()
