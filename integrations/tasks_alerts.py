"""Celery tasks of the chat alerts: thin, by id, idempotent (queue ``webhooks``)."""

from __future__ import annotations

from celery import shared_task

from integrations.services.alerts import alert_deliveries_due, alert_delivery_send


@shared_task(
    name="integrations.alert_delivery_send_task",
    acks_late=True,
    soft_time_limit=30,
    time_limit=45,
)
def alert_delivery_send_task(*, organization_id: int, delivery_id: int) -> str:
    return alert_delivery_send(organization_id=organization_id, delivery_id=delivery_id)


@shared_task(name="integrations.alert_deliveries_due_task", soft_time_limit=50, time_limit=80)
def alert_deliveries_due_task() -> int:
    return alert_deliveries_due()
