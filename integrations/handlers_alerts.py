"""Chat alerts react to case events from the outbox (``responses.events``).

Runs inside the dispatch transaction of the event, in its organization's context: the
alert rows commit with the event's mark, and their sends are scheduled after commit.
"""

from __future__ import annotations

from integrations.services.alerts import alert_deliveries_for_case_event
from responses.events import outbox_handlers
from responses.models import OutboxEvent


@outbox_handlers.register
def alert_on_case_event(event: OutboxEvent) -> None:
    if event.topic.startswith("case."):
        alert_deliveries_for_case_event(payload=event.payload)
