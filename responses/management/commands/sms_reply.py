"""Play a customer's SMS reply: ``manage.py sms_reply +491701234567 "9"``.

The embedded default has no provider to receive SMS, so this command stands in for the
Twilio webhook: it runs the same inbound path (``integrations.inbound.sms_inbound_process``:
STOP/START keywords, then the answer-by-reply handler), prints the reply and sends it
through the configured SMS channel (the file adapter writes it to ``var/outbox/sms``,
beside the invitation, so the conversation can be read there). With
``SMS_BACKEND=twilio`` the reply is a real SMS.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.channels import ChannelError, SmsMessage, sms_channel
from integrations.inbound import sms_inbound_process


class Command(BaseCommand):
    help = "Handle an SMS from a customer as the Twilio inbound webhook does, and send the reply."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("phone", help="the customer's number in E.164, e.g. +491701234567")
        parser.add_argument("body", help='the text of the SMS, e.g. "9"')
        parser.add_argument(
            "--message-sid",
            default="",
            help="the provider's message id (default: a new one); repeat one to play a retry",
        )
        parser.add_argument(
            "--no-send", action="store_true", help="print the reply only, send nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        phone = options["phone"].strip()
        if not phone.startswith("+") or not phone[1:].isdigit():
            raise CommandError(f"{phone!r} is not a number in E.164 (e.g. +491701234567).")
        message_sid = options["message_sid"] or f"local-{uuid.uuid4().hex}"
        reply = sms_inbound_process(phone=phone, body=options["body"], message_sid=message_sid)
        if reply is None:
            self.stdout.write("(no reply)")
            return
        self.stdout.write(reply)
        if options["no_send"]:
            return
        try:
            result = sms_channel().send(
                SmsMessage(to=phone, body=reply, metadata={"in_reply_to": message_sid})
            )
        except ChannelError as exc:
            raise CommandError(f"The reply could not be sent: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(f"Sent through {result.provider}: {result.message_id}")
        )
