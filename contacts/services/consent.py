"""The consent ledger: every grant and withdrawal is a new, never-changed event."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import (
    Channel,
    ConsentAction,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Contact,
)
from contacts.selectors import contact_consent_state
from tenants.context import require_organization_id
from tenants.services import Actor, audit_log_record

WORDING_MAX_LENGTH = 5000
# Clocks of CRM systems and phones drift; an event further in the future is a mistake.
FUTURE_TOLERANCE = timedelta(minutes=5)


def consent_record(
    *,
    contact: Contact,
    channel: str,
    action: str,
    source: str,
    wording: str = "",
    actor: Actor,
    occurred_at: datetime | None = None,
) -> ConsentEvent:
    """Append a grant or withdrawal for one channel to the contact's ledger.

    The contact's state for the channel is then that of its latest event (by
    ``occurred_at``). ``wording`` is the text the customer saw, kept as proof.
    """
    errors: dict[str, str] = {}
    if channel not in Channel.values:
        errors["channel"] = _("Unknown channel.")
    if action not in ConsentAction.values:
        errors["action"] = _("Choose grant or withdraw.")
    if source not in ConsentSource.values:
        errors["source"] = _("Unknown source.")
    wording = wording.strip()
    if len(wording) > WORDING_MAX_LENGTH:
        errors["wording"] = _("The wording is longer than %(max)d characters.") % {
            "max": WORDING_MAX_LENGTH
        }
    backdated = occurred_at is not None
    if occurred_at is None:
        occurred_at = timezone.now()
    elif timezone.is_naive(occurred_at):
        errors["occurred_at"] = _("Give the time with its time zone.")
    elif occurred_at > timezone.now() + FUTURE_TOLERANCE:
        errors["occurred_at"] = _("The time lies in the future.")
    if contact.organization_id != require_organization_id():
        errors["contact"] = _("Unknown contact.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        before = contact_consent_state(contact)[channel]
        event = ConsentEvent.objects.create(
            contact=contact,
            channel=channel,
            action=action,
            source=source,
            wording=wording,
            actor=actor.user if actor.user is not None and actor.user.pk else None,
            actor_label=actor.label[:200],
            occurred_at=occurred_at,
        )
        after = contact_consent_state(contact)[channel]
        changes = {f"consent_{channel}": [before, after], "source": [None, source]}
        if backdated:
            # A late-recorded event that an even later one outranks changes no state.
            changes["occurred_at"] = [None, occurred_at.isoformat()]
        audit_log_record(
            actor=actor,
            action=f"consent.{action}",
            obj=contact,
            changes=changes,
        )
        if before != ConsentState.WITHDRAWN and after == ConsentState.WITHDRAWN:
            # One event per opt-out: a repeated STOP changes no state and says nothing.
            _publish_opt_out(contact, event)
    return event


def _publish_opt_out(contact: Contact, event: ConsentEvent) -> None:
    """``contact.opted_out`` for the outbound webhooks, in the caller's transaction
    (docs/integrations/webhooks.md shows the payload)."""
    from responses.models import OutboxTopic
    from responses.services.outbox import outbox_publish

    outbox_publish(
        topic=OutboxTopic.CONTACT_OPTED_OUT,
        payload={
            "contact": {"id": contact.pk, "crm_id": contact.crm_id},
            "channel": event.channel,
            "source": event.source,
            "occurred_at": event.occurred_at.isoformat(),
        },
    )
