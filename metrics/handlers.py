"""Metrics react to response events from the outbox (``responses.events``).

Runs inside the dispatch transaction of the event, in its organization's context: the
response's rollup bucket is recomputed and its comment tagged with themes. Both are
idempotent. Case events (``case.*``) are ignored.
"""

from __future__ import annotations

from metrics.services.rollups import rollup_refresh_response
from metrics.services.themes import response_tag
from responses.events import outbox_handlers
from responses.models import OutboxEvent, Response


@outbox_handlers.register
def update_metrics(event: OutboxEvent) -> None:
    if not event.topic.startswith("response.") or event.response_id is None:
        return
    response = Response.objects.filter(pk=event.response_id).first()
    if response is None:
        return
    rollup_refresh_response(response=response)
    response_tag(response=response)
