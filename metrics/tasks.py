"""Celery tasks of the metrics app: thin, by id, idempotent.

Each task takes ``organization_id`` (plus ids), enters the organization's context and
calls one service. Sections below belong to the dashboard's page families.
"""

from __future__ import annotations

from celery import shared_task

from metrics.services.themes import themes_retag
from tenants.context import tenant_context

# --- Themes (verbatims and themes pages, theme taxonomy editor) ------------------------


@shared_task(
    name="metrics.themes_retag_task",
    acks_late=True,
    soft_time_limit=15 * 60,
    time_limit=16 * 60,
)
def themes_retag_task(*, organization_id: int) -> int:
    """Re-tag every comment of the organization after its taxonomy changed; returns
    the number of taggings. Idempotent: a re-run writes the same rows."""
    with tenant_context(organization_id):
        return themes_retag()
