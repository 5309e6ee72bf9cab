"""The invitation state machine and the send path.

``invitation_transition`` is the only code that changes ``Invitation.status``: it checks
the allowed-transitions table, stamps the matching time columns and appends an
``InvitationEvent`` (the invitation's timeline and audit trail) in one transaction.

Sending is exactly-once in effect. ``invitation_send`` runs in three short transactions:

1. claim: lock the row, check it is still ``scheduled`` with no ``sending_started_at``,
   set ``sending_started_at`` and count the attempt, commit;
2. call the provider (no transaction open, no lock held);
3. record: lock the row again, store the provider message id, transition to ``sent``.

A retried, duplicated or concurrent task finds the marker (or the new status) and does
nothing. A transient provider error clears the marker and moves ``send_at`` forward
(exponential backoff with jitter; the beat sweep picks it up again: time lives in the
database, not in broker countdowns); after ``MAX_ATTEMPTS`` the invitation is ``failed``.

The one residual window: the worker dies after the provider accepted the message and
before step 3 commits. The marker then stays set, so the invitation is never sent a
second time; the sweep marks it ``failed`` ("outcome unknown") after
``SENDING_STALE_AFTER``. The window is as short as one provider round trip. Email also
carries the invitation id as ESP metadata (Postmark via anymail), so a delivery webhook
for such a message still finds its invitation by id; Twilio offers no idempotency key.
"""

from __future__ import annotations

import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import ConsentAction, ConsentSource, Contact
from contacts.services import consent_record
from contacts.services.contact import contact_mark_surveyed
from integrations.channels import ChannelError, email_channel, sms_channel
from surveys.models_distribution import (
    OPEN_STATUSES,
    Invitation,
    InvitationChannel,
    InvitationEvent,
    InvitationStatus,
    InvitationTrigger,
    SuppressedSend,
)
from tenants.context import tenant_context
from tenants.services import SYSTEM, Actor

logger = logging.getLogger(__name__)

S = InvitationStatus
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.SCHEDULED: frozenset({S.SENT, S.FAILED, S.SUPPRESSED, S.EXPIRED}),
    S.SENT: frozenset({S.DELIVERED, S.OPENED, S.ANSWERED, S.BOUNCED, S.FAILED, S.EXPIRED}),
    S.DELIVERED: frozenset({S.OPENED, S.ANSWERED, S.BOUNCED, S.EXPIRED}),
    S.OPENED: frozenset({S.ANSWERED, S.EXPIRED}),
    S.ANSWERED: frozenset(),
    S.BOUNCED: frozenset(),
    S.FAILED: frozenset(),
    S.SUPPRESSED: frozenset(),
    S.EXPIRED: frozenset(),
}

MAX_ATTEMPTS = 6
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(minutes=30)
SENDING_STALE_AFTER = timedelta(minutes=10)


class InvalidTransition(ValidationError):
    """The invitation's current status does not allow the requested one."""


def invitation_transition(
    *,
    invitation: Invitation,
    to_status: str,
    reason: str,
    provider_data: dict[str, Any] | None = None,
    at: datetime | None = None,
    locked_by_caller: bool = False,
    **fields: Any,
) -> Invitation:
    """Move ``invitation`` to ``to_status`` and record the step in its timeline.

    ``fields`` are further columns to set in the same write (e.g. the provider message
    id). Raises ``InvalidTransition`` when the table does not allow the step; the
    instance passed in is updated to the stored state either way. A caller that loaded
    the instance with ``select_for_update`` in the current transaction passes
    ``locked_by_caller=True`` to skip loading it again.
    """
    at = at or timezone.now()
    with transaction.atomic():
        locked = (
            invitation
            if locked_by_caller
            else Invitation.objects.select_for_update().get(pk=invitation.pk)
        )
        from_status = locked.status
        if to_status not in ALLOWED_TRANSITIONS.get(from_status, frozenset()):
            _copy_state(locked, invitation)
            raise InvalidTransition(
                {
                    "status": _("An invitation cannot go from %(old)s to %(new)s.")
                    % {"old": from_status, "new": to_status}
                }
            )
        locked.status = to_status
        if to_status == S.SENT:
            locked.sent_at = at
            locked.sending_started_at = None
            locked.reminder_due_at = at + locked.reminder_after
            locked.expires_at = at + locked.expires_after
        elif to_status == S.OPENED and locked.opened_at is None:
            locked.opened_at = at
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save()
        InvitationEvent.objects.create(
            invitation=locked,
            from_status=from_status,
            to_status=to_status,
            reason=reason[:200],
            provider_data=provider_data or {},
            at=at,
        )
    _copy_state(locked, invitation)
    return invitation


def _copy_state(source: Invitation, target: Invitation) -> None:
    if source is target:
        return
    for field in Invitation._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


def invitation_open(*, invitation: Invitation) -> Invitation:
    """The customer followed the link: ``opened`` the first time, nothing after."""
    if invitation.status in (S.SENT, S.DELIVERED):
        # A concurrent request may have opened it first: then nothing is left to do.
        with contextlib.suppress(InvalidTransition):
            invitation_transition(invitation=invitation, to_status=S.OPENED, reason="link opened")
    return invitation


def invitation_is_available(invitation: Invitation, now: datetime | None = None) -> bool:
    """Whether the invitation's link still shows the survey."""
    now = now or timezone.now()
    if invitation.status not in (*OPEN_STATUSES, S.ANSWERED):
        return False
    return invitation.expires_at is None or invitation.expires_at > now


UNSUBSCRIBE_ACTOR = Actor(label="contact (unsubscribe link)")


def invitation_unsubscribe(*, invitation: Invitation) -> None:
    """Withdraw consent for the invitation's channel (the unsubscribe link)."""
    contact = Contact.objects.get(pk=invitation.contact_id)
    consent_record(
        contact=contact,
        channel=invitation.channel,
        action=ConsentAction.WITHDRAW,
        source=ConsentSource.UNSUBSCRIBE_LINK,
        wording=_("Unsubscribed with the link in a survey invitation."),
        actor=UNSUBSCRIBE_ACTOR,
    )


# --- Sending -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What one call of ``invitation_send`` did: sent, skipped, suppressed, retry, failed."""

    result: str
    detail: str = ""


def _backoff(attempts: int) -> timedelta:
    base = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)
    return base + timedelta(seconds=random.uniform(0, base.total_seconds() / 2))  # noqa: S311


def _message_for(invitation: Invitation, *, reminder: bool) -> Any:
    from surveys.messages import invitation_email, invitation_sms

    if invitation.channel == InvitationChannel.EMAIL:
        return invitation_email(invitation, reminder=reminder)
    return invitation_sms(invitation, reminder=reminder)


def _deliver(invitation: Invitation, message: Any) -> Any:
    if invitation.channel == InvitationChannel.EMAIL:
        return email_channel().send(message)
    return sms_channel().send(message)


def _load(invitation_id: int) -> Invitation:
    return (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("contact", "survey", "survey_version", "organization")
        .get(pk=invitation_id)
    )


def invitation_send(*, organization_id: int, invitation_id: int) -> SendOutcome:
    """Send one due invitation exactly once (see the module docstring).

    Runs its own short transactions in the organization's context: call it outside any
    transaction (a Celery task does).
    """
    from surveys.services.distribution import channel_block

    now = timezone.now()
    with tenant_context(organization_id), transaction.atomic():
        invitation = _load(invitation_id)
        if invitation.status != S.SCHEDULED or invitation.sending_started_at is not None:
            return SendOutcome("skipped", invitation.status)
        if invitation.send_at > now:
            return SendOutcome("skipped", "not due")
        block = channel_block(invitation.contact, invitation.channel)
        if block is not None:
            reason, detail = block
            SuppressedSend.objects.create(
                contact=invitation.contact,
                survey=invitation.survey,
                channel=invitation.channel,
                reason=reason,
                detail=detail,
                trigger=invitation.trigger,
                rule_id=invitation.rule_id,
                event_type=invitation.event_type,
            )
            invitation_transition(
                invitation=invitation,
                to_status=S.SUPPRESSED,
                reason=f"{reason}: {detail}",
                locked_by_caller=True,
            )
            return SendOutcome("suppressed", reason)
        message = _message_for(invitation, reminder=False)
        invitation.sending_started_at = now
        invitation.attempts += 1  # the row is locked: no lost update
        invitation.save(update_fields=["sending_started_at", "attempts"])
    try:
        result = _deliver(invitation, message)
    except ChannelError as exc:
        return _send_failed(organization_id, invitation_id, exc)
    with tenant_context(organization_id), transaction.atomic():
        invitation = _load(invitation_id)
        invitation_transition(
            invitation=invitation,
            to_status=S.SENT,
            reason=_("sent through %(provider)s") % {"provider": result.provider},
            provider_data={"provider": result.provider, "message_id": result.message_id},
            provider=result.provider,
            provider_message_id=result.message_id,
            last_error="",
            locked_by_caller=True,
        )
        contact_mark_surveyed(contact_id=invitation.contact_id, at=invitation.sent_at or now)
    return SendOutcome("sent", result.message_id)


def _send_failed(organization_id: int, invitation_id: int, exc: ChannelError) -> SendOutcome:
    error = f"{exc.code}: {exc}" if exc.code else str(exc)
    with tenant_context(organization_id), transaction.atomic():
        invitation = _load(invitation_id)
        if exc.transient and invitation.attempts < MAX_ATTEMPTS:
            invitation.sending_started_at = None
            invitation.last_error = error[:2000]
            invitation.send_at = timezone.now() + _backoff(invitation.attempts)
            invitation.save(update_fields=["sending_started_at", "last_error", "send_at"])
            return SendOutcome("retry", error)
        invitation_transition(
            invitation=invitation,
            to_status=S.FAILED,
            reason=error[:200],
            provider_data={"code": exc.code, "transient": exc.transient},
            sending_started_at=None,
            last_error=error[:2000],
            locked_by_caller=True,
        )
    return SendOutcome("failed", error)


def invitation_remind(*, organization_id: int, invitation_id: int) -> SendOutcome:
    """Send the one reminder of an unanswered invitation (claimed like a send)."""
    now = timezone.now()
    with tenant_context(organization_id), transaction.atomic():
        invitation = _load(invitation_id)
        due = invitation.reminder_due_at is not None and invitation.reminder_due_at <= now
        if (
            invitation.status not in OPEN_STATUSES
            or invitation.reminder_sent_at is not None
            or not due
            or (invitation.expires_at is not None and invitation.expires_at <= now)
        ):
            return SendOutcome("skipped", invitation.status)
        from surveys.services.distribution import channel_block

        if channel_block(invitation.contact, invitation.channel) is not None:
            invitation.reminder_sent_at = now  # no reminder after an opt-out, ever
            invitation.save(update_fields=["reminder_sent_at"])
            return SendOutcome("suppressed", "consent")
        message = _message_for(invitation, reminder=True)
        invitation.reminder_sent_at = now
        invitation.save(update_fields=["reminder_sent_at"])
    try:
        result = _deliver(invitation, message)
    except ChannelError as exc:
        with tenant_context(organization_id), transaction.atomic():
            invitation = _load(invitation_id)
            invitation.last_error = str(exc)[:2000]
            if exc.transient:
                invitation.reminder_sent_at = None
                invitation.reminder_due_at = timezone.now() + _backoff(1)
            invitation.save(update_fields=["last_error", "reminder_sent_at", "reminder_due_at"])
        return SendOutcome("retry" if exc.transient else "failed", str(exc))
    with tenant_context(organization_id), transaction.atomic():
        invitation = _load(invitation_id)
        InvitationEvent.objects.create(
            invitation=invitation,
            from_status=invitation.status,
            to_status=invitation.status,
            reason="reminder sent",
            provider_data={"provider": result.provider, "message_id": result.message_id},
        )
    return SendOutcome("sent", result.message_id)


def invitation_expire_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Expire the current organization's open invitations past ``expires_at``."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Invitation.objects.select_for_update(skip_locked=True)
            .filter(status__in=OPEN_STATUSES, expires_at__lte=now)
            .order_by("expires_at")[:limit]
        )
        for invitation in due:
            invitation_transition(invitation=invitation, to_status=S.EXPIRED, reason="expired")
    return len(due)


def invitation_fail_stale_sends(*, now: datetime | None = None, limit: int = 500) -> int:
    """Fail invitations whose send was claimed but never recorded (worker stopped
    during the provider call): never resent, so never sent twice."""
    now = now or timezone.now()
    with transaction.atomic():
        stale = list(
            Invitation.objects.select_for_update(skip_locked=True)
            .filter(status=S.SCHEDULED, sending_started_at__lte=now - SENDING_STALE_AFTER)
            .order_by("send_at")[:limit]
        )
        for invitation in stale:
            invitation_transition(
                invitation=invitation,
                to_status=S.FAILED,
                reason="send outcome unknown: the worker stopped during the provider call",
                sending_started_at=None,
            )
    return len(stale)


def invitation_mark_answered(*, invitation: Invitation, actor: Actor = SYSTEM) -> Invitation:
    """For the response capture: the customer answered (ends reminders and expiry)."""
    return invitation_transition(
        invitation=invitation, to_status=S.ANSWERED, reason=f"answered ({actor.label})"
    )


__all__ = [
    "ALLOWED_TRANSITIONS",
    "InvalidTransition",
    "InvitationTrigger",
    "SendOutcome",
    "invitation_expire_due",
    "invitation_fail_stale_sends",
    "invitation_is_available",
    "invitation_mark_answered",
    "invitation_open",
    "invitation_remind",
    "invitation_send",
    "invitation_transition",
    "invitation_unsubscribe",
]
