"""SMS replies of customers to a case: the closed loop's inbound SMS handler.

Registered first in ``integrations.inbound.inbound_sms_handlers`` when the app is ready
(``ClosedloopConfig.ready``), so it is asked before the survey-answer handler of the
responses app: a "9" sent back to the owner's SMS is a message to the case, not a
score. A text belongs to a case when the case's SMS to that number is more recent than
any SMS survey invitation to it, and the case is open or was resolved in the last 14
days (``closedloop.selectors_messages.case_for_sms_reply``); otherwise the handler
returns None and the next handler may take the text. Idempotent per MessageSid.
"""

from __future__ import annotations

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from closedloop.models import Case, MessageChannel
from closedloop.selectors_messages import case_for_sms_reply
from closedloop.services.messages import case_message_receive, message_language
from integrations.inbound import InboundSms, inbound_sms_handlers
from tenants.context import tenant_context


@inbound_sms_handlers.register_first
def reply_to_case(message: InboundSms) -> str | None:
    found = case_for_sms_reply(message.phone, timezone.now())
    if found is None:
        return None
    organization_id, case_id = found
    with tenant_context(organization_id):
        case = Case.objects.select_related("organization", "contact").get(pk=case_id)
        case_message_receive(
            case=case,
            channel=MessageChannel.SMS,
            from_address=message.phone,
            body=message.body,
            external_id=message.message_sid,
            provider="twilio",
        )
        with translation.override(message_language(case)):
            return _("Thank you, %(organization)s has received your message.") % {
                "organization": case.organization.name
            }
