"""What reacts to responses: handlers of outbox events.

Other apps register a handler at start-up (in their ``AppConfig.ready``)::

    from responses.events import outbox_handlers

    @outbox_handlers.register
    def route_to_case(event: OutboxEvent) -> None: ...

A handler runs in the event's organization context, inside the transaction that marks
the event dispatched, so its database writes commit together with the mark (or roll
back together with it). It must be idempotent (an event can be handled again after a
failure of a later handler) and should only write rows: work that talks to the outside
world (a webhook, an email) gets its own row and task, as invitations do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from responses.models import OutboxEvent

OutboxHandler = Callable[["OutboxEvent"], None]


class OutboxHandlers:
    def __init__(self) -> None:
        self._handlers: list[OutboxHandler] = []

    def register(self, handler: OutboxHandler) -> OutboxHandler:
        if handler not in self._handlers:
            self._handlers.append(handler)
        return handler

    def unregister(self, handler: OutboxHandler) -> None:
        if handler in self._handlers:
            self._handlers.remove(handler)

    def __iter__(self) -> Iterator[OutboxHandler]:
        return iter(list(self._handlers))


outbox_handlers = OutboxHandlers()
