"""Draining the outbox: every registered handler runs once per event, in the event's
organization context, in the transaction that marks the event dispatched.

``outbox_dispatch`` handles one event (the task scheduled on commit calls it);
``outbox_dispatch_due`` is the beat sweep over all organizations that picks up what a
missing broker, a crashed worker or a failed handler left behind. A failure keeps the
event with its error and backs off (10 s, 20 s, ... up to an hour); nothing is dropped.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from responses.events import outbox_handlers
from responses.models import OutboxEvent, Response
from tenants.context import cross_tenant, tenant_context

logger = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_MAX = timedelta(hours=1)
# The sweep leaves fresh events to the task their commit scheduled.
SWEEP_GRACE = timedelta(seconds=5)


def _backoff(attempts: int) -> timedelta:
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


def outbox_publish(
    *, topic: str, payload: dict[str, Any], response: Response | None = None
) -> OutboxEvent:
    """Write an event into the outbox of the current transaction; it is dispatched
    after commit (with the transaction's other events) or by the sweep."""
    from responses.services.submit import _dispatch_after_commit

    event = OutboxEvent.objects.create(topic=topic, payload=payload, response=response)
    _dispatch_after_commit(event.organization_id, event.pk)
    return event


def outbox_dispatch(*, organization_id: int, event_id: int) -> bool:
    """Run the handlers of one event; True when it is (now or already) dispatched."""
    with tenant_context(organization_id), transaction.atomic():
        event = (
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(pk=event_id, dispatched_at__isnull=True)
            .first()
        )
        if event is None:  # done already, or another worker holds it
            return not OutboxEvent.objects.filter(pk=event_id, dispatched_at__isnull=True).exists()
        now = timezone.now()
        try:
            with transaction.atomic():
                for handler in outbox_handlers:
                    handler(event)
        except Exception as exc:  # a handler's failure must not lose the event
            logger.exception("outbox event %s failed", event_id)
            event.attempts += 1
            event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            event.next_attempt_at = now + _backoff(event.attempts)
            event.save(update_fields=["attempts", "last_error", "next_attempt_at"])
            return False
        event.attempts += 1
        event.dispatched_at = now
        event.last_error = ""
        event.save(update_fields=["attempts", "dispatched_at", "last_error"])
    return True


def outbox_dispatch_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Dispatch due events of every organization (the beat sweep); how many succeeded."""
    now = now or timezone.now()
    with cross_tenant(reason="outbox sweep: due events of every organization"):
        due = list(
            OutboxEvent.objects.filter(
                dispatched_at__isnull=True,
                next_attempt_at__lte=now,
                created_at__lte=now - SWEEP_GRACE,
            )
            .order_by("next_attempt_at")
            .values_list("organization_id", "pk")[:limit]
        )
    return sum(
        outbox_dispatch(organization_id=organization_id, event_id=event_id)
        for organization_id, event_id in due
    )
