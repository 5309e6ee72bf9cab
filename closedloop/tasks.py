"""Celery tasks of the closed loop: thin, by id, idempotent."""

from __future__ import annotations

from celery import shared_task

from closedloop.services.escalations import escalation_sweep
from closedloop.services.messages import case_message_deliver, case_message_due
from closedloop.services.notifications import notification_email_due, notification_email_send


@shared_task(name="closedloop.escalation_sweep_task", soft_time_limit=50, time_limit=80)
def escalation_sweep_task() -> int:
    return escalation_sweep()


@shared_task(
    name="closedloop.notification_email_send_task",
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
)
def notification_email_send_task(*, organization_id: int, notification_ids: list[int]) -> int:
    return sum(
        notification_email_send(organization_id=organization_id, notification_id=pk)
        for pk in notification_ids
    )


@shared_task(name="closedloop.notification_email_due_task", soft_time_limit=50, time_limit=80)
def notification_email_due_task() -> int:
    return notification_email_due()


@shared_task(
    name="closedloop.case_message_send_task",
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
)
def case_message_send_task(*, organization_id: int, message_id: int) -> str:
    return case_message_deliver(organization_id=organization_id, message_id=message_id)


@shared_task(name="closedloop.case_message_due_task", soft_time_limit=50, time_limit=80)
def case_message_due_task() -> int:
    return case_message_due()
