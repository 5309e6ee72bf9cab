"""Play a customer's email reply to a case:
``manage.py email_reply reply+<token>@feedback.example --from kim@example.com --text "..."``.

The embedded default has no ESP to receive email, so this command stands in for the
inbound webhook: it builds the message as anymail would and sends anymail's inbound
signal, which ``closedloop.inbound_email`` handles exactly as for a real reply (the
reply address names the case; a repeated ``--message-id`` changes nothing).
"""

from __future__ import annotations

import uuid
from typing import Any

from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, EventType, inbound
from django.core.management.base import BaseCommand, CommandError, CommandParser

from closedloop.models import Case, CaseMessage, MessageChannel, MessageDirection
from closedloop.selectors_messages import case_by_reply_token
from closedloop.services.messages import reply_token
from tenants.context import tenant_context


class Command(BaseCommand):
    help = "Handle a customer's email reply to a case as the inbound email webhook does."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("address", help="the case's reply address, reply+<token>@<domain>")
        parser.add_argument("--from", dest="sender", required=True, help="the customer's address")
        parser.add_argument("--text", required=True, help="the text of the reply")
        parser.add_argument("--subject", default="Re: your message", help="the subject")
        parser.add_argument(
            "--message-id",
            default="",
            help="the provider's message id (default: a new one); repeat one to play a retry",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        address = options["address"].strip()
        token = reply_token(address)
        found = case_by_reply_token(token) if token else None
        if found is None:
            raise CommandError(f"{address!r} is not the reply address of any case.")
        message_id = options["message_id"] or f"local-{uuid.uuid4().hex}"
        message = AnymailInboundMessage.construct(
            from_email=options["sender"],
            to=address,
            subject=options["subject"],
            text=options["text"],
        )
        message.envelope_recipient = address
        event = AnymailInboundEvent(
            event_type=EventType.INBOUND, event_id=message_id, message=message, esp_event=None
        )
        inbound.send(sender=self.__class__, event=event, esp_name="local")
        organization_id, case_id = found
        with tenant_context(organization_id):
            number = Case.objects.filter(pk=case_id).values_list("number", flat=True).first()
            stored = CaseMessage.objects.filter(
                direction=MessageDirection.IN,
                channel=MessageChannel.EMAIL,
                external_id=message_id,
            ).exists()
        if not stored:
            raise CommandError("The reply was not stored.")
        self.stdout.write(self.style.SUCCESS(f"Reply added to case #{number}."))
