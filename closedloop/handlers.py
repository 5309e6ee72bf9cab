"""Routing reacts to response events from the outbox (``responses.events``).

Runs inside the dispatch transaction of the event, in its organization's context;
``response_route`` is idempotent per response. Case events (``case.*``) are for the
integrations and are ignored here; so are imported responses (history, not work).
"""

from __future__ import annotations

from closedloop.services.routing import response_route
from responses.events import outbox_handlers
from responses.models import OutboxEvent, Response


@outbox_handlers.register
def route_response(event: OutboxEvent) -> None:
    if not event.topic.startswith("response.") or event.response_id is None:
        return
    if event.payload.get("channel") == "import":
        return
    response = (
        Response.objects.select_related("touchpoint", "contact")
        .filter(pk=event.response_id)
        .first()
    )
    if response is not None:
        response_route(response=response)
