"""Celery tasks of distribution: thin (ids in, call a service).

``invitation_dispatch_due_task`` runs every minute (config/celery.py): it finds due
invitations, due reminders and expired links across all organizations with indexed
queries and hands each to a per-organization task. The send and reminder tasks are
exactly-once in effect (see ``surveys.services.invitations``), so a sweep that enqueues
an invitation twice, or a redelivered task, sends nothing twice.

The send tasks are not ``TenantTask``s on purpose: ``invitation_send`` commits its
"sending" claim before calling the provider and enters the organization's context for
each of its short transactions itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from celery import shared_task
from django.utils import timezone

from surveys.models_distribution import (
    OPEN_STATUSES,
    Invitation,
    InvitationStatus,
    RecurringSchedule,
)
from surveys.services.invitations import (
    invitation_expire_due,
    invitation_fail_stale_sends,
    invitation_remind,
    invitation_send,
)
from surveys.services.recurring import recurring_schedule_plan
from tenants.context import cross_tenant, tenant_context

SWEEP_BATCH = 1000


@shared_task(name="surveys.invitation_send_task", acks_late=True)
def invitation_send_task(*, organization_id: int, invitation_id: int) -> str:
    return invitation_send(organization_id=organization_id, invitation_id=invitation_id).result


@shared_task(name="surveys.invitation_remind_task", acks_late=True)
def invitation_remind_task(*, organization_id: int, invitation_id: int) -> str:
    return invitation_remind(organization_id=organization_id, invitation_id=invitation_id).result


@shared_task(name="surveys.invitation_expire_task", acks_late=True)
def invitation_expire_task(*, organization_id: int) -> int:
    with tenant_context(organization_id):
        return invitation_fail_stale_sends() + invitation_expire_due()


def _due(now: datetime) -> dict[str, Any]:
    # Cross-tenant on purpose: the beat sweep looks at every organization's due times
    # (partial indexes invitation_due, invitation_reminder_due, invitation_expiry_due)
    # and hands each row to a task that runs in its organization's context.
    with cross_tenant(reason="beat sweep: due invitations, reminders and expiries"):
        sends = list(
            Invitation.objects.filter(
                status=InvitationStatus.SCHEDULED, send_at__lte=now, sending_started_at=None
            )
            .order_by("send_at")
            .values_list("organization_id", "pk")[:SWEEP_BATCH]
        )
        reminders = list(
            Invitation.objects.filter(
                status__in=OPEN_STATUSES,
                reminder_sent_at=None,
                reminder_due_at__lte=now,
                expires_at__gt=now,
            )
            .order_by("reminder_due_at")
            .values_list("organization_id", "pk")[:SWEEP_BATCH]
        )
        expiring = set(
            Invitation.objects.filter(status__in=OPEN_STATUSES, expires_at__lte=now)
            .order_by()
            .values_list("organization_id", flat=True)[:SWEEP_BATCH]
        )
        stale = set(
            Invitation.objects.filter(
                status=InvitationStatus.SCHEDULED,
                sending_started_at__isnull=False,
                send_at__lte=now,
            )
            .order_by()
            .values_list("organization_id", flat=True)[:SWEEP_BATCH]
        )
    return {"sends": sends, "reminders": reminders, "expiring": expiring | stale}


@shared_task(name="surveys.invitation_dispatch_due_task", ignore_result=True)
def invitation_dispatch_due_task() -> dict[str, int]:
    due = _due(timezone.now())
    for organization_id, invitation_id in due["sends"]:
        invitation_send_task.delay(organization_id=organization_id, invitation_id=invitation_id)
    for organization_id, invitation_id in due["reminders"]:
        invitation_remind_task.delay(organization_id=organization_id, invitation_id=invitation_id)
    for organization_id in sorted(due["expiring"]):
        invitation_expire_task.delay(organization_id=organization_id)
    return {
        "sends": len(due["sends"]),
        "reminders": len(due["reminders"]),
        "organizations_expiring": len(due["expiring"]),
    }


@shared_task(name="surveys.recurring_schedule_plan_task", acks_late=True)
def recurring_schedule_plan_task(*, organization_id: int) -> int:
    with tenant_context(organization_id):
        planned = 0
        for schedule in RecurringSchedule.objects.filter(is_active=True).select_related("survey"):
            result = recurring_schedule_plan(schedule=schedule)
            planned += result.scheduled + result.suppressed
        return planned


@shared_task(name="surveys.recurring_dispatch_task", ignore_result=True)
def recurring_dispatch_task() -> int:
    """Hourly: each organization with an active recurring survey plans the next day."""
    with cross_tenant(reason="beat sweep: organizations with active recurring surveys"):
        organization_ids = sorted(
            set(
                RecurringSchedule.objects.filter(is_active=True).values_list(
                    "organization_id", flat=True
                )
            )
        )
    for organization_id in organization_ids:
        recurring_schedule_plan_task.delay(organization_id=organization_id)
    return len(organization_ids)
