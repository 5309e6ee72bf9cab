"""What provider reports (delivery webhooks, inbound SMS keywords) do to invitations and
to the consent ledger.

The integrations app parses and authenticates the provider's request and calls these
functions; they find the invitation (or the organizations texting a number) with the
cross-tenant selectors and then work inside each organization's context.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from contacts.models import ConsentAction, ConsentSource, Contact
from contacts.services import consent_record
from responses.models import OutboxTopic
from responses.services.outbox import outbox_publish
from surveys.models_distribution import Invitation, InvitationChannel, InvitationStatus
from surveys.selectors import invitation_by_provider_message_id, sms_consent_holders_of_phone
from surveys.services.invitations import InvalidTransition, invitation_transition
from tenants.context import tenant_context
from tenants.services import Actor

logger = logging.getLogger(__name__)

S = InvitationStatus


class DeliveryEvent:
    DELIVERED = "delivered"
    OPENED = "opened"
    BOUNCED = "bounced"  # hard bounce: the address does not exist
    COMPLAINED = "complained"
    FAILED = "failed"


TRANSITION_OF = {
    DeliveryEvent.DELIVERED: S.DELIVERED,
    DeliveryEvent.OPENED: S.OPENED,
    DeliveryEvent.BOUNCED: S.BOUNCED,
    DeliveryEvent.FAILED: S.FAILED,
}
CONSENT_SOURCE_OF = {
    DeliveryEvent.BOUNCED: ConsentSource.BOUNCE,
    DeliveryEvent.COMPLAINED: ConsentSource.COMPLAINT,
}


def _find(provider_message_id: str, metadata: dict[str, Any]) -> Invitation | None:
    invitation = invitation_by_provider_message_id(provider_message_id)
    if invitation is not None:
        return invitation
    # The invitation id travels as ESP metadata: it finds a message whose send was not
    # recorded (worker stopped between the provider's answer and the commit).
    try:
        organization_id = int(metadata.get("organization_id", ""))
        invitation_id = int(metadata.get("invitation_id", ""))
    except (TypeError, ValueError):
        return None
    with tenant_context(organization_id):
        return Invitation.objects.filter(pk=invitation_id).first()


def invitation_delivery_event(
    *,
    provider: str,
    provider_message_id: str,
    event: str,
    provider_data: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Invitation | None:
    """Apply one provider event; returns the invitation, or None when none matches.

    Out-of-order or repeated events (a ``delivered`` after ``opened``) change nothing.
    Hard bounces and complaints also withdraw consent for the channel.
    """
    invitation = _find(provider_message_id, metadata or {})
    if invitation is None:
        logger.info("%s event %s for unknown message %s", provider, event, provider_message_id)
        return None
    data = {"provider": provider, "event": event, **(provider_data or {})}
    with tenant_context(invitation.organization_id):
        to_status = TRANSITION_OF.get(event)
        if to_status is not None:
            try:
                with transaction.atomic():
                    invitation_transition(
                        invitation=invitation,
                        to_status=to_status,
                        reason=f"{provider}: {event}",
                        provider_data=data,
                    )
                    if to_status in (S.BOUNCED, S.FAILED):
                        _publish_bounce(invitation, provider=provider, event=event)
            except InvalidTransition:
                logger.info("ignored %s %s for invitation %s", provider, event, invitation.pk)
        source = CONSENT_SOURCE_OF.get(event)
        if source is not None:
            consent_record(
                contact=Contact.objects.get(pk=invitation.contact_id),
                channel=invitation.channel,
                action=ConsentAction.WITHDRAW,
                source=source,
                wording=f"{provider}: {event}",
                actor=Actor(label=f"{provider} webhook"),
            )
    return invitation


def _publish_bounce(invitation: Invitation, *, provider: str, event: str) -> None:
    """``invitation.bounced`` for the outbound webhooks, in the transition's transaction
    (docs/integrations/webhooks.md shows the payload)."""
    contact = Contact.objects.filter(pk=invitation.contact_id).only("pk", "crm_id").first()
    outbox_publish(
        topic=OutboxTopic.INVITATION_BOUNCED,
        payload={
            "invitation": {
                "id": invitation.pk,
                "channel": invitation.channel,
                "status": invitation.status,
                "survey_id": invitation.survey_id,
                "sent_at": invitation.sent_at.isoformat() if invitation.sent_at else None,
            },
            "contact": None if contact is None else {"id": contact.pk, "crm_id": contact.crm_id},
            "provider": provider,
            "reason": event,
            "occurred_at": timezone.now().isoformat(),
        },
    )


STOP_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "STOPP", "ABMELDEN"}
)
START_KEYWORDS = frozenset({"START", "UNSTOP"})


@dataclass(frozen=True, slots=True)
class KeywordResult:
    action: str  # ConsentAction
    organizations: int
    language: str


def sms_keyword(body: str) -> str | None:
    """``withdraw`` for a STOP keyword, ``grant`` for START, None for any other text."""
    word = body.strip().strip(".!").upper()
    if word in STOP_KEYWORDS:
        return ConsentAction.WITHDRAW
    if word in START_KEYWORDS:
        return ConsentAction.GRANT
    return None


def sms_inbound_keyword(*, phone: str, body: str) -> KeywordResult | None:
    """STOP/START by SMS reply: withdraw or grant SMS consent (source reply_stop) in every
    organization that texted this number, with an invitation or a closed-loop message
    (the shared sender number is blocked or unblocked as a whole). None when the text is
    no keyword."""
    action = sms_keyword(body)
    if action is None:
        return None
    senders = sms_consent_holders_of_phone(phone)
    language = ""
    for organization_id, contact_id in senders:
        with tenant_context(organization_id):
            contact = Contact.objects.filter(pk=contact_id).first()
            if contact is None:
                continue
            language = language or contact.language
            consent_record(
                contact=contact,
                channel=InvitationChannel.SMS,
                action=action,
                source=ConsentSource.REPLY_STOP,
                wording=body.strip()[:200],
                actor=Actor(label="contact (SMS reply)"),
            )
    return KeywordResult(action, len(senders), language)
