"""Celery tasks of the responses app: thin, by id, idempotent."""

from __future__ import annotations

from celery import shared_task

from responses.services.outbox import outbox_dispatch, outbox_dispatch_due


@shared_task(
    name="responses.outbox_dispatch_task",
    acks_late=True,
    autoretry_for=(ConnectionError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=60,
    time_limit=90,
)
def outbox_dispatch_task(
    *, organization_id: int, event_ids: list[int] | None = None, event_id: int | None = None
) -> int:
    """Dispatch the events of one committed transaction; how many are dispatched.
    (``event_id``: one event, as tasks queued by earlier releases carry it.)"""
    ids = list(event_ids or []) + ([event_id] if event_id is not None else [])
    return sum(outbox_dispatch(organization_id=organization_id, event_id=pk) for pk in ids)


@shared_task(name="responses.outbox_dispatch_due_task", soft_time_limit=120, time_limit=150)
def outbox_dispatch_due_task() -> int:
    return outbox_dispatch_due()
