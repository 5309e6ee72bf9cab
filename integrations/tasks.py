"""Celery tasks of the outbound webhooks: thin, by id, idempotent (queue ``webhooks``)."""

from __future__ import annotations

from celery import shared_task

from integrations.services.webhooks import webhook_deliveries_due, webhook_delivery_send


@shared_task(
    name="integrations.webhook_deliver_task",
    acks_late=True,
    soft_time_limit=30,
    time_limit=45,
)
def webhook_deliver_task(*, organization_id: int, delivery_id: int) -> str:
    return webhook_delivery_send(organization_id=organization_id, delivery_id=delivery_id)


@shared_task(name="integrations.webhook_deliveries_due_task", soft_time_limit=50, time_limit=80)
def webhook_deliveries_due_task() -> int:
    return webhook_deliveries_due()
