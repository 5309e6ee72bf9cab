"""Email replies of customers: anymail's inbound signal to the case.

The ESP posts each inbound email to anymail's inbound webhook
(``/integrations/anymail/postmark/inbound/``, basic auth with
``ANYMAIL_WEBHOOK_SECRET``); anymail parses it and sends ``anymail.signals.inbound``.
``manage.py email_reply`` sends the same signal for the embedded default, which has no
ESP. The receiver here finds the case by the token in the reply address
(``<local>+<token>@<domain>``, ``closedloop.services.messages.reply_address``) and
stores the message with ``case_message_receive`` (once per provider message id). Mail
for no known case is logged and dropped: the ESP still gets its 200.

``reply_text`` keeps what the customer wrote above the quoted earlier message; the
whole text is stored too.
"""

from __future__ import annotations

import hashlib
import logging
import re
from email.utils import getaddresses
from typing import Any

from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from django.dispatch import receiver
from django.utils.html import strip_tags

from closedloop.models import Case, MessageChannel
from closedloop.selectors_messages import case_by_reply_token
from closedloop.services.messages import case_message_receive, reply_token
from tenants.context import tenant_context

logger = logging.getLogger(__name__)

# Where a quoted earlier message starts (English and German mail programs).
_QUOTE_HEADERS = (
    re.compile(r"^On\b.{0,300}\bwrote:\s*$", re.IGNORECASE),
    re.compile(r"^Am\b.{0,300}\bschrieb\b.{0,300}:\s*$", re.IGNORECASE),
    re.compile(r"^-{2,}\s*(Original Message|Ursprüngliche Nachricht)\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^(From|Von):\s.+$"),
)


def _quote_starts(lines: list[str], index: int) -> bool:
    line = lines[index].strip()
    if line.startswith(">"):
        return True
    if any(pattern.match(line) for pattern in _QUOTE_HEADERS):
        return True
    # "On Mon, 1 Dec 2026, Kim <kim@example.com>\nwrote:" (a wrapped header line).
    if index + 1 < len(lines):
        joined = f"{line} {lines[index + 1].strip()}"
        return any(pattern.match(joined) for pattern in _QUOTE_HEADERS[:2])
    return False


def reply_text(text: str) -> str:
    """The new part of a reply: the lines above the quoted earlier message (the whole
    text when nothing is left above the quote)."""
    lines = (text or "").replace("\r\n", "\n").split("\n")
    for index in range(len(lines)):
        if _quote_starts(lines, index):
            kept = "\n".join(lines[:index]).strip()
            return kept or text.strip()
    return (text or "").strip()


def _recipients(message: AnymailInboundMessage, esp_event: Any) -> list[str]:
    addresses = [message.envelope_recipient or ""]
    for header in ("To", "Cc", "Bcc", "Delivered-To", "X-Original-To"):
        addresses += [addr for _name, addr in getaddresses(message.get_all(header, []))]
    if isinstance(esp_event, dict):
        addresses.append(str(esp_event.get("OriginalRecipient") or ""))
    return [address for address in addresses if address]


def _tokens(message: AnymailInboundMessage, esp_event: Any) -> list[str]:
    tokens = [reply_token(address) for address in _recipients(message, esp_event)]
    if isinstance(esp_event, dict) and esp_event.get("MailboxHash"):
        tokens.append(str(esp_event["MailboxHash"]))  # Postmark: the part after "+"
    return [token for token in dict.fromkeys(tokens) if token]


def _body(message: AnymailInboundMessage) -> str:
    if message.text:
        return str(message.text)
    if message.html:
        return strip_tags(str(message.html)).strip()
    return ""


def _sender(message: AnymailInboundMessage) -> str:
    sender = message.from_email
    if isinstance(sender, list):
        sender = sender[0] if sender else None
    return str(sender.addr_spec) if sender is not None else ""


def _message_id(event: AnymailInboundEvent, message: AnymailInboundMessage, body: str) -> str:
    """The provider's id of the message (a retried webhook carries the same one)."""
    if event.event_id:
        return str(event.event_id)
    if message.get("Message-ID"):
        return str(message["Message-ID"]).strip()
    digest = hashlib.sha256(f"{_sender(message)}\n{message.subject}\n{body}".encode()).hexdigest()
    return f"sha256:{digest[:40]}"


@receiver(inbound, dispatch_uid="closedloop.email_reply")
def email_reply_received(
    sender: Any, event: AnymailInboundEvent, esp_name: str, **kwargs: Any
) -> None:
    message = event.message
    if message is None:
        return
    found = None
    for token in _tokens(message, event.esp_event):
        found = case_by_reply_token(token)
        if found is not None:
            break
    if found is None:
        logger.info("inbound email from %s (%s) names no case: ignored", _sender(message), esp_name)
        return
    organization_id, case_id = found
    body = _body(message)
    with tenant_context(organization_id):
        case = Case.objects.select_related("organization", "contact").get(pk=case_id)
        case_message_receive(
            case=case,
            channel=MessageChannel.EMAIL,
            from_address=_sender(message),
            body=body,
            text=reply_text(body),
            subject=str(message.subject or ""),
            external_id=_message_id(event, message, body),
            provider=str(esp_name or "").lower(),
        )
