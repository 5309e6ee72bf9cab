"""Messages between a case and its customer: replies out, the customer's answers in.

Outbound: ``case_message_send`` checks the message (an address on the chosen channel, a
text, a subject for email, an SMS of sensible length), stores it as ``queued``, counts
as the first contact, writes the timeline and, after commit, hands the message to a
worker (``closedloop.case_message_send_task``, queue "messages").

Sending is exactly-once in effect, like the survey invitations
(``surveys.services.invitations``). ``case_message_deliver`` runs three short steps:

1. claim: lock the row, check it is still ``queued`` and due, mark it ``sending``
   (``sending_started_at``), count the attempt, commit;
2. call the provider (no transaction open, no lock held);
3. record: store the provider's message id, ``sent``.

A retried, duplicated or concurrent task finds the claim and does nothing. A transient
provider error puts the message back to ``queued`` with ``next_attempt_at`` moved out
(exponential backoff with jitter; the beat sweep ``case_message_due`` sends it then);
after ``MAX_ATTEMPTS``, or on a final error, the message is ``failed``: the timeline says
so and the owner is notified. A worker that died during the provider call leaves the
row ``sending``: the sweep fails it after ``SENDING_STALE_AFTER`` without sending it
again, so the customer never gets a message twice.

Email goes out from the default sender with ``Reply-To: <local>+<case token>@<domain>``
(``reply_address``): the customer's answer finds its case. Inbound replies, by email
(``closedloop.inbound_email``) or SMS (``closedloop.sms``), are stored by
``case_message_receive``: once per provider message id, on the timeline, flagged in the
owner's inbox (``Case.customer_replied_at``), and a case waiting on the customer is
back in progress (its SLA clock runs again).

The follow-up survey of a resolved case lives in ``closedloop.services.follow_ups``.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from closedloop.messages import pick_language, render
from closedloop.models import (
    Case,
    CaseEventKind,
    CaseMessage,
    CaseStatus,
    MessageChannel,
    MessageDirection,
    MessageStatus,
    MessageTemplate,
)
from closedloop.services.cases import case_first_contact, case_transition
from closedloop.services.notifications import notify
from closedloop.services.timeline import case_event_add
from contacts.models import ConsentState, Contact
from contacts.selectors import contact_channel_consent_state
from integrations.channels import (
    ChannelError,
    EmailMessage,
    SendResult,
    SmsMessage,
    email_channel,
    sms_channel,
)
from integrations.sms_encoding import sms_length
from tenants.context import cross_tenant, tenant_context
from tenants.models import Team, TeamMember
from tenants.services import Actor

logger = logging.getLogger(__name__)

LANGUAGE_CODES = frozenset(code for code, _name in settings.LANGUAGES)
SMS_MAX_SEGMENTS = 4
SUBJECT_MAX = 300
MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(minutes=30)
SENDING_STALE_AFTER = timedelta(minutes=10)
# The task after commit sends a new message; the sweep takes it only after this long.
SWEEP_GRACE = timedelta(seconds=30)

MESSAGES_ACTOR = Actor(label="messages")
CUSTOMER = Actor(label="customer")


# --- Language, addresses, templates ------------------------------------------------


def message_language(case: Case, contact: Contact | None = None) -> str:
    """The contact's language if the site speaks it, else the organization's."""
    contact = contact if contact is not None else case.contact
    organization = case.organization
    for code in (contact.language if contact else "", organization.default_language):
        if code in LANGUAGE_CODES:
            return code
    return str(settings.LANGUAGE_CODE)


def _reply_base() -> tuple[str, str]:
    configured = (settings.CLOSEDLOOP_REPLY_ADDRESS or "").strip()
    if "@" in configured:
        local, _at, domain = configured.rpartition("@")
        return local.split("+", 1)[0] or "reply", domain
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    return "reply", host


def reply_address(case: Case) -> str:
    """``<local>+<case token>@<domain>``: where the customer's email reply goes."""
    local, domain = _reply_base()
    return f"{local}+{case.token}@{domain}"


def reply_token(address: str) -> str:
    """The case token of a reply address (empty when the address carries none)."""
    local, at, _domain = (address or "").strip().strip("<>").rpartition("@")
    if not at or "+" not in local:
        return ""
    return local.split("+", 1)[1]


def placeholder_values(case: Case, contact: Contact | None = None) -> dict[str, Any]:
    contact = contact if contact is not None else case.contact
    owner = case.owner
    owner_name = ""
    if owner is not None:
        owner_name = owner.get_full_name() or owner.get_username()
    return {
        "first_name": contact.first_name if contact else "",
        "last_name": contact.last_name if contact else "",
        "owner_name": owner_name,
        "organization": case.organization.name,
        "touchpoint": case.touchpoint.name,
        "case_number": case.number,
    }


def message_template_fill(
    *, template: MessageTemplate, case: Case, language: str | None = None
) -> dict[str, str]:
    """The template in the customer's language (or the organization's, or any), with
    the placeholders filled: ``{"language", "subject", "body"}``."""
    wanted = language if language in LANGUAGE_CODES else message_language(case)
    fallback = case.organization.default_language
    used, body = pick_language(template.body, wanted or fallback, fallback)
    _used, subject = pick_language(template.subject or {}, used, fallback)
    values = placeholder_values(case)
    return {
        "language": used,
        "subject": render(subject, values)[:SUBJECT_MAX],
        "body": render(body, values),
    }


def case_channels(case: Case) -> list[str]:
    """The channels on which the case's customer can be reached."""
    contact = case.contact
    channels = []
    if contact is not None and contact.email:
        channels.append(MessageChannel.EMAIL.value)
    if contact is not None and contact.phone:
        channels.append(MessageChannel.SMS.value)
    return channels


def _address(contact: Contact | None, channel: str) -> str:
    if contact is None:
        return ""
    return contact.email if channel == MessageChannel.EMAIL else contact.phone


def _opted_out(contact: Contact | None, channel: str) -> bool:
    """Whether the customer withdrew consent for the channel (an SMS STOP, an
    unsubscribe, staff, the API) or was erased: close-the-loop messages respect it too."""
    if contact is None or contact.erased_at is not None:
        return True
    state = contact_channel_consent_state(contact_id=contact.pk, channel=channel)
    return state == ConsentState.WITHDRAWN


# --- Outbound ------------------------------------------------------------------------


def _locked(case: Case) -> Case:
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("sla_policy", "organization", "contact", "touchpoint", "owner")
        .get(pk=case.pk)
    )


def _check(
    *, case: Case, channel: str, body: str, subject: str, template: MessageTemplate | None
) -> str:
    """The address to write to; ValidationError (per field) for a message that cannot go."""
    if channel not in MessageChannel.values:
        raise ValidationError({"channel": _("Choose email or SMS.")})
    address = _address(case.contact, channel)
    if not address:
        if channel == MessageChannel.EMAIL:
            raise ValidationError({"channel": _("The customer has no email address.")})
        raise ValidationError({"channel": _("The customer has no mobile number.")})
    if _opted_out(case.contact, channel):
        raise ValidationError(
            {
                "channel": _(
                    "The customer has opted out of messages by %(channel)s. Use another "
                    "channel or call them."
                )
                % {"channel": MessageChannel(channel).label}
            }
        )
    if template is not None and template.channel != channel:
        raise ValidationError({"template": _("This template is written for another channel.")})
    errors: dict[str, str] = {}
    if not body:
        errors["body"] = _("Write a message.")
    if channel == MessageChannel.EMAIL and not subject:
        errors["subject"] = _("Write a subject.")
    if len(subject) > SUBJECT_MAX:
        errors["subject"] = _("The subject can have at most %(max)s characters.") % {
            "max": SUBJECT_MAX
        }
    if channel == MessageChannel.SMS and body:
        parts = sms_length(body).segments
        if parts > SMS_MAX_SEGMENTS:
            errors["body"] = _(
                "This SMS would be sent in %(parts)s parts; at most %(max)s are allowed. "
                "Please shorten it."
            ) % {"parts": parts, "max": SMS_MAX_SEGMENTS}
    if errors:
        raise ValidationError(errors)
    return address


def case_message_send(
    *,
    case: Case,
    actor: Actor,
    channel: str,
    body: str,
    subject: str = "",
    template: MessageTemplate | None = None,
    language: str | None = None,
    now: datetime | None = None,
) -> CaseMessage:
    """Write to the case's customer by email or SMS; the message is queued and sent by a
    worker after commit. Placeholders left in the text are filled. Counts as the first
    contact with the customer. Raises ``ValidationError`` (per field) when it cannot go."""
    now = now or timezone.now()
    with transaction.atomic():
        case = _locked(case)
        values = placeholder_values(case)
        body = render((body or "").strip(), values).strip()
        subject = " ".join(render((subject or "").strip(), values).split())
        if channel == MessageChannel.SMS:
            subject = ""
        address = _check(case=case, channel=channel, body=body, subject=subject, template=template)
        language = language if language in LANGUAGE_CODES else message_language(case)
        case_first_contact(case, now, actor)
        message = CaseMessage.objects.create(
            case=case,
            direction=MessageDirection.OUT,
            channel=channel,
            to_address=address,
            from_address=_sender(channel),
            subject=subject,
            body=body,
            language=language or "",
            status=MessageStatus.QUEUED,
            author=actor.user if actor.user is not None and actor.user.pk else None,
            next_attempt_at=now,
            created_at=now,
        )
        if case.customer_replied_at is not None:  # answering means the reply was read
            Case.objects.filter(pk=case.pk).update(customer_replied_at=None)
            case.customer_replied_at = None
        case_event_add(
            case=case,
            kind=CaseEventKind.MESSAGE_OUT,
            actor=actor,
            text=body,
            data={
                "message_id": message.pk,
                "channel": channel,
                "to": address,
                "subject": subject,
                "language": message.language,
                "template_id": template.pk if template is not None else None,
            },
            at=now,
        )
        message_schedule(message)
    return message


def _sender(channel: str) -> str:
    if channel == MessageChannel.EMAIL:
        return str(settings.DEFAULT_FROM_EMAIL)
    return str(settings.TWILIO_FROM_NUMBER or "")


def message_schedule(message: CaseMessage) -> None:
    """After commit, hand the queued message to a worker (the sweep covers a missing
    broker)."""
    organization_id, message_id = message.organization_id, message.pk
    transaction.on_commit(lambda: _enqueue(organization_id, message_id))


def _enqueue(organization_id: int, message_id: int) -> None:
    from closedloop.tasks import case_message_send_task

    try:
        case_message_send_task.apply_async(
            kwargs={"organization_id": organization_id, "message_id": message_id},
            retry_policy={"max_retries": 0},
        )
    except Exception:  # noqa: BLE001 - the beat sweep sends it once the broker is back
        logger.warning("case message %s left for the sweep: broker unavailable", message_id)


# --- Sending -------------------------------------------------------------------------


def _backoff(attempts: int) -> timedelta:
    base = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)
    return base + timedelta(seconds=random.uniform(0, base.total_seconds() / 2))  # noqa: S311


def _load(message_id: int) -> CaseMessage:
    return (
        CaseMessage.objects.select_for_update(of=("self",))
        .select_related("case__organization", "case__owner", "case__contact")
        .get(pk=message_id)
    )


def _outgoing(message: CaseMessage) -> EmailMessage | SmsMessage:
    metadata = {
        "case_message_id": str(message.pk),
        "organization_id": str(message.organization_id),
    }
    if message.channel == MessageChannel.EMAIL:
        return EmailMessage(
            to=message.to_address,
            subject=message.subject,
            text=message.body,
            reply_to=(reply_address(message.case),),
            metadata=metadata,
            tags=("case-follow-up" if message.is_follow_up else "case-message",),
        )
    return SmsMessage(to=message.to_address, body=message.body, metadata=metadata)


def _deliver(outgoing: EmailMessage | SmsMessage) -> SendResult:
    if isinstance(outgoing, EmailMessage):
        return email_channel().send(outgoing)
    return sms_channel().send(outgoing)


def case_message_deliver(*, organization_id: int, message_id: int) -> str:
    """Send one queued message at most once: ``sent``, ``retry``, ``failed`` or
    ``skipped`` (not queued, claimed elsewhere, or not due). Call it outside any
    transaction (a Celery task does)."""
    now = timezone.now()
    with tenant_context(organization_id), transaction.atomic():
        message = _load(message_id)
        if (
            message.direction != MessageDirection.OUT
            or message.status != MessageStatus.QUEUED
            or message.sending_started_at is not None
        ):
            return "skipped"
        if message.next_attempt_at is not None and message.next_attempt_at > now:
            return "skipped"
        if _opted_out(message.case.contact, message.channel):
            # Consent is checked again at the moment of sending: the customer may have
            # opted out after the message was written (or between retries).
            with translation.override(message.case.organization.default_language):
                _fail(message, _("Not sent: the customer has opted out of this channel."))
            return "failed"
        outgoing = _outgoing(message)
        message.status = MessageStatus.SENDING
        message.sending_started_at = now
        message.attempts += 1  # the row is locked: no lost update
        message.save(update_fields=["status", "sending_started_at", "attempts"])
    try:
        result = _deliver(outgoing)
    except ChannelError as exc:
        return _send_failed(organization_id, message_id, exc)
    with tenant_context(organization_id), transaction.atomic():
        message = _load(message_id)
        # The provider took it: that is the fact, even if a (very late) stale sweep
        # had given up on the row meanwhile.
        message.status = MessageStatus.SENT
        message.sent_at = timezone.now()
        message.sending_started_at = None
        message.next_attempt_at = None
        message.provider = result.provider[:40]
        message.external_id = result.message_id[:200]
        message.error = ""
        message.save(
            update_fields=[
                "status",
                "sent_at",
                "sending_started_at",
                "next_attempt_at",
                "provider",
                "external_id",
                "error",
            ]
        )
    return "sent"


def _send_failed(organization_id: int, message_id: int, exc: ChannelError) -> str:
    error = f"{exc.code}: {exc}" if exc.code else str(exc)
    with tenant_context(organization_id), transaction.atomic():
        message = _load(message_id)
        if message.status != MessageStatus.SENDING:
            return "skipped"
        if exc.transient and message.attempts < MAX_ATTEMPTS:
            message.status = MessageStatus.QUEUED
            message.sending_started_at = None
            message.next_attempt_at = timezone.now() + _backoff(message.attempts)
            message.error = error[:500]
            message.save(update_fields=["status", "sending_started_at", "next_attempt_at", "error"])
            logger.info("case message %s: retry after %s", message_id, error)
            return "retry"
        _fail(message, error)
    return "failed"


def _fail(message: CaseMessage, error: str) -> None:
    """Mark the (locked) message failed, say so on the timeline, tell the owner."""
    now = timezone.now()
    message.status = MessageStatus.FAILED
    message.sending_started_at = None
    message.next_attempt_at = None
    message.error = error[:500]
    message.save(update_fields=["status", "sending_started_at", "next_attempt_at", "error"])
    case = message.case
    with translation.override(case.organization.default_language):
        case_event_add(
            case=case,
            kind=CaseEventKind.MESSAGE_FAILED,
            actor=MESSAGES_ACTOR,
            text=error[:500],
            data={
                "message_id": message.pk,
                "channel": message.channel,
                "to": message.to_address,
                "follow_up": message.is_follow_up,
            },
            at=now,
        )
        notify(
            user_ids=[case.owner_id or message.author_id],
            kind="case_message_failed",
            title=_("Case #%(number)s: your message to the customer was not delivered")
            % {"number": case.number},
            body=error[:500],
            case=case,
        )
    logger.warning("case message %s failed: %s", message.pk, error)


def case_message_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Beat sweep over all organizations: send queued messages that are due (retries,
    and what a missing broker left behind); fail messages stuck in ``sending`` (never
    sent again). How many were sent."""
    now = now or timezone.now()
    with cross_tenant(reason="case message sweep: due and stale messages of every organization"):
        due = list(
            CaseMessage.objects.filter(status=MessageStatus.QUEUED, next_attempt_at__lte=now)
            .filter(Q(attempts__gt=0) | Q(created_at__lte=now - SWEEP_GRACE))
            .order_by("next_attempt_at")
            .values_list("organization_id", "pk")[:limit]
        )
        stale = list(
            CaseMessage.objects.filter(
                status=MessageStatus.SENDING, sending_started_at__lte=now - SENDING_STALE_AFTER
            )
            .order_by("sending_started_at")
            .values_list("organization_id", "pk")[:limit]
        )
    for organization_id, message_id in stale:
        with tenant_context(organization_id), transaction.atomic():
            message = _load(message_id)
            if message.status == MessageStatus.SENDING:
                _fail(message, "send outcome unknown: the worker stopped during the provider call")
    return sum(
        case_message_deliver(organization_id=organization_id, message_id=message_id) == "sent"
        for organization_id, message_id in due
    )


# --- Inbound -------------------------------------------------------------------------

REPLY_ACTOR = Actor(label="customer reply")


def case_message_receive(
    *,
    case: Case,
    channel: str,
    from_address: str,
    body: str,
    text: str | None = None,
    subject: str = "",
    external_id: str = "",
    provider: str = "",
    now: datetime | None = None,
) -> CaseMessage:
    """Store the customer's message (``body`` as received; ``text`` the new part shown
    on the timeline, e.g. without the quoted reply). Once per provider message id: a
    retried webhook returns the stored message and changes nothing. Flags the case in
    the owner's inbox; a case waiting on the customer is back in progress."""
    now = now or timezone.now()
    external_id = (external_id or "")[:200]
    shown = (body if text is None else text).strip()
    with transaction.atomic():
        case = _locked(case)
        if external_id:
            stored = _inbound(channel, external_id)
            if stored is not None:
                return stored
        try:
            with transaction.atomic():
                message = CaseMessage.objects.create(
                    case=case,
                    direction=MessageDirection.IN,
                    channel=channel,
                    from_address=from_address[:254],
                    to_address=reply_address(case) if channel == MessageChannel.EMAIL else "",
                    subject=" ".join((subject or "").split())[:300],
                    body=body,
                    language=case.contact.language if case.contact else "",
                    status=MessageStatus.RECEIVED,
                    provider=provider[:40],
                    external_id=external_id,
                    created_at=now,
                    sent_at=now,
                )
        except IntegrityError:  # the same message, stored by a concurrent request
            stored = _inbound(channel, external_id)
            if stored is None:
                raise
            return stored
        with translation.override(case.organization.default_language):
            case_event_add(
                case=case,
                kind=CaseEventKind.MESSAGE_IN,
                actor=CUSTOMER,
                text=shown,
                data={
                    "message_id": message.pk,
                    "channel": channel,
                    "from": message.from_address,
                    "subject": message.subject,
                    "quoted": shown != body.strip(),
                },
                at=now,
            )
            if case.status == CaseStatus.WAITING:
                case = case_transition(
                    case=case, to_status=CaseStatus.IN_PROGRESS, actor=REPLY_ACTOR, now=now
                )
            Case.objects.filter(pk=case.pk).update(customer_replied_at=now, updated_at=now)
            case.customer_replied_at = now
            notify(
                user_ids=_owner_or_team(case),
                kind="case_customer_replied",
                title=_("Case #%(number)s: the customer replied") % {"number": case.number},
                body=shown[:1000],
                case=case,
            )
    return message


def _inbound(channel: str, external_id: str) -> CaseMessage | None:
    return CaseMessage.objects.filter(
        direction=MessageDirection.IN, channel=channel, external_id=external_id
    ).first()


def _owner_or_team(case: Case) -> list[int | None]:
    """Who hears about the case: its owner, else its team's lead and members."""
    if case.owner_id is not None:
        return [case.owner_id]
    if case.team_id is None:
        return []
    lead = Team.objects.filter(pk=case.team_id).values_list("lead_id", flat=True).first()
    members = TeamMember.objects.filter(team_id=case.team_id).values_list("user_id", flat=True)
    return [lead, *members]


def team_lead_of(case: Case) -> int | None:
    """The lead of the case's team, else of the touchpoint's team."""
    team_ids = [pk for pk in (case.team_id, case.touchpoint.team_id) if pk]
    leads = dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "lead_id"))
    for pk in team_ids:
        if leads.get(pk):
            return leads[pk]
    return None


from closedloop.services.follow_ups import (  # noqa: E402 - re-exported for case_transition
    case_follow_up_answer,
    case_follow_up_send,
)

__all__ = [
    "LANGUAGE_CODES",
    "MAX_ATTEMPTS",
    "SENDING_STALE_AFTER",
    "SMS_MAX_SEGMENTS",
    "case_channels",
    "case_follow_up_answer",
    "case_follow_up_send",
    "case_message_deliver",
    "case_message_due",
    "case_message_receive",
    "case_message_send",
    "message_language",
    "message_template_fill",
    "placeholder_values",
    "reply_address",
    "reply_token",
    "team_lead_of",
]
