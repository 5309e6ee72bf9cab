"""Inbound SMS that are not STOP/START keywords go to registered handlers.

The response-capture module registers a handler that accepts answers by reply (e.g.
"9"). A handler gets the parsed message and the organizations that texted the number
(most recent first) and returns the reply text, or None to let the next handler try.

    from integrations.inbound import InboundSms, inbound_sms_handlers

    @inbound_sms_handlers.register
    def answer_by_reply(message: InboundSms) -> str | None: ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class InboundSms:
    phone: str  # the customer's number, E.164
    body: str
    message_sid: str
    # (organization id, contact id, invitation id) of each organization that texted the
    # number, the most recently sent invitation first.
    senders: list[tuple[int, int, int]] = field(default_factory=list)


InboundSmsHandler = Callable[[InboundSms], "str | None"]


class InboundSmsHandlers:
    def __init__(self) -> None:
        self._handlers: list[InboundSmsHandler] = []

    def register(self, handler: InboundSmsHandler) -> InboundSmsHandler:
        if handler not in self._handlers:
            self._handlers.append(handler)
        return handler

    def unregister(self, handler: InboundSmsHandler) -> None:
        if handler in self._handlers:
            self._handlers.remove(handler)

    def dispatch(self, message: InboundSms) -> str | None:
        """The first handler's reply that is not None, else None."""
        for handler in list(self._handlers):
            reply = handler(message)
            if reply is not None:
                return reply
        return None


inbound_sms_handlers = InboundSmsHandlers()
