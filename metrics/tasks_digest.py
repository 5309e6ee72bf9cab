# mypy: disallow-untyped-defs, disallow-incomplete-defs
"""Celery tasks of the dashboard settings and the weekly digest: thin, by id, idempotent.

Imported by ``MetricsConfig.ready`` (Celery's autodiscovery only imports
``metrics/tasks.py``).
"""

from __future__ import annotations

from datetime import date

from celery import shared_task

from metrics.services.digest import digest_send_due, digest_send_organization
from metrics.services.rollups import rollups_rebuild
from tenants.context import tenant_context


@shared_task(
    name="metrics.rollups_rebuild_task",
    acks_late=True,
    soft_time_limit=15 * 60,
    time_limit=16 * 60,
)
def rollups_rebuild_task(organization_id: int) -> int:
    """Rebuild one organization's daily rollup from its responses (idempotent)."""
    with tenant_context(organization_id):
        return rollups_rebuild().rows


@shared_task(name="metrics.digest_send_due_task", soft_time_limit=50, time_limit=80)
def digest_send_due_task() -> int:
    """Hourly: hand every organization whose digest is due to a worker."""
    return digest_send_due()


@shared_task(
    name="metrics.digest_send_task",
    acks_late=True,
    soft_time_limit=5 * 60,
    time_limit=6 * 60,
)
def digest_send_task(*, organization_id: int, week: str) -> int:
    """Send one organization's digest of the week starting ``week`` (ISO date) to its
    managers; each at most once (``DigestDelivery``)."""
    return digest_send_organization(organization_id=organization_id, week=date.fromisoformat(week))
