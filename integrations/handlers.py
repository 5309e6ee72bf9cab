"""Outbound webhooks react to outbox events (``responses.events``).

Runs inside the dispatch transaction of the event, in its organization's context: the
delivery rows commit with the event's mark, and their sends are scheduled after commit.
"""

from __future__ import annotations

from integrations.services.webhook_events import webhook_deliveries_for_event
from responses.events import outbox_handlers
from responses.models import OutboxEvent


@outbox_handlers.register
def webhooks_on_event(event: OutboxEvent) -> None:
    webhook_deliveries_for_event(event)
