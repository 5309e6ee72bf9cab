"""SMS replies as answers: the inbound SMS handler of the responses app.

Registered with ``integrations.inbound.inbound_sms_handlers`` when the app is ready
(``ResponsesConfig.ready``). An inbound text names only the customer's number; the
organizations that sent SMS invitations to it (``InboundSms.senders``, most recent
first) are asked in turn, each in its own tenant context, and the first that takes the
reply answers it (``responses.services.sms.response_sms_reply``). None lets other
handlers try (or nobody replies).
"""

from __future__ import annotations

from integrations.inbound import InboundSms, inbound_sms_handlers
from responses.services.sms import response_sms_reply
from tenants.context import tenant_context


@inbound_sms_handlers.register
def answer_by_sms(message: InboundSms) -> str | None:
    for organization_id, _contact_id, _invitation_id in message.senders:
        with tenant_context(organization_id):
            reply = response_sms_reply(
                phone=message.phone, body=message.body, message_sid=message.message_sid
            )
        if reply is not None:
            return reply
    return None
