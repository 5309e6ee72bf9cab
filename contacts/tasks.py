"""Celery tasks of the contacts app: nightly data retention."""

from __future__ import annotations

import logging

from celery import shared_task

from tenants.context import cross_tenant
from tenants.models import Organization

logger = logging.getLogger(__name__)


@shared_task(name="contacts.retention_run_task", ignore_result=True, acks_late=True)
def retention_run_task() -> None:
    """Apply every organization's retention period, one organization at a time.

    Idempotent and resumable: a run stopped half-way leaves marked, finished chunks, and
    the next run (or a retry) continues with what is left.
    """
    from contacts.services.retention import retention_apply

    with cross_tenant(reason="organizations with a retention period"):
        organizations = list(
            Organization.objects.filter(is_active=True, retention_months__isnull=False)
            .defer("logo")
            .order_by("pk")
        )
    for organization in organizations:
        result = retention_apply(organization=organization)  # enters the context per chunk
        if result.total:
            logger.info("retention for organization %s: %s", organization.pk, result.as_dict())
