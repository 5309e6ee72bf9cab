"""Inbound SMS: STOP/START keywords first, every other text to registered handlers.

``sms_inbound_process`` is the one inbound path: the Twilio webhook calls it, and so
does ``manage.py sms_reply`` (the embedded default has no provider to receive SMS).

The response-capture module registers a handler that accepts answers by reply (e.g.
"9"). A handler gets the parsed message and the organizations that texted the number
(most recent first) and returns the reply text, or None to let the next handler try.
The closed loop registers its handler first (``register_first``): a text that answers
a message about a case goes to the case, not to a survey.

    from integrations.inbound import InboundSms, inbound_sms_handlers

    @inbound_sms_handlers.register
    def answer_by_reply(message: InboundSms) -> str | None: ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils import translation
from django.utils.translation import gettext as _

from surveys.selectors import sms_senders_of_phone
from surveys.services.provider_events import sms_inbound_keyword


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

    def register_first(self, handler: InboundSmsHandler) -> InboundSmsHandler:
        """Register a handler asked before all others (whatever the app order), e.g.
        replies to a case, which must not be read as a survey answer."""
        if handler in self._handlers:
            self._handlers.remove(handler)
        self._handlers.insert(0, handler)
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


GERMAN_KEYWORDS = frozenset({"STOPP", "ABMELDEN"})


def sms_inbound_process(*, phone: str, body: str, message_sid: str) -> str | None:
    """Handle one SMS from a customer; the reply text, or None for no reply.

    STOP/START keywords change SMS consent in every organization that texted the number
    (``surveys.services.provider_events.sms_inbound_keyword``) and are answered in the
    keyword's language; any other text goes to the registered handlers. Handlers must
    be idempotent per ``message_sid``: providers retry a message they got no answer for.
    """
    phone = phone.strip()
    result = sms_inbound_keyword(phone=phone, body=body)
    if result is not None:
        word = body.strip().strip(".!").upper()
        language = "de" if word in GERMAN_KEYWORDS else (result.language or "en")
        with translation.override(language):
            if result.action == "withdraw":
                return _("You will receive no more SMS from us. Reply START to resubscribe.")
            return _("You will receive SMS from us again. Reply STOP to opt out.")
    message = InboundSms(
        phone=phone, body=body, message_sid=message_sid, senders=sms_senders_of_phone(phone)
    )
    return inbound_sms_handlers.dispatch(message)
