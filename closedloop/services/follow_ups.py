"""The follow-up survey of a resolved case: "Was your concern resolved?" and the NPS
question again, answered once on the public page ``/f/<token>/``.

``case_follow_up_send`` runs inside ``case_transition`` when an owner resolves a case
with the follow-up: one ``CaseFollowUp`` per case (a reopened and again resolved case
asks again with the same link, its earlier answer cleared), sent as a case message
(``closedloop.services.messages``: queued, sent once by a worker) by email if the
customer has an address and has not withdrawn email consent for surveys, else by SMS
likewise; else nothing is sent and the timeline says why.

``case_follow_up_answer`` stores the answer and decides recovery: the customer is
recovered unless the concern was not resolved ("no") or the score is below 7.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from closedloop.models import (
    Case,
    CaseEventKind,
    CaseFollowUp,
    CaseMessage,
    CaseStatus,
    MessageChannel,
    MessageDirection,
    MessageStatus,
)
from closedloop.services.notifications import managers_of_organization, notify
from closedloop.services.timeline import case_event_add
from contacts.models import ConsentState, Contact
from contacts.selectors import contact_channel_consent_state
from integrations.sms_encoding import sms_length
from tenants.services import Actor

FOLLOW_UP_ACTOR = Actor(label="follow-up survey")
CUSTOMER = Actor(label="customer")
RECOVERED_FROM_NPS = 7
COMMENT_MAX = 2000
SMS_MAX_SEGMENTS = 2


def follow_up_link(follow_up: CaseFollowUp) -> str:
    path = reverse("closedloop_public:follow-up", kwargs={"token": follow_up.token})
    return f"{settings.SITE_URL}{path}"


def follow_up_is_open(follow_up: CaseFollowUp) -> bool:
    """Whether the link still asks: the case is resolved or closed (not reopened)."""
    return follow_up.case.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED)


def _channel(contact: Contact | None) -> tuple[str | None, str]:
    """(channel, "") to send the follow-up on, or (None, why not)."""
    if contact is None:
        return None, _("No follow-up survey: the feedback was anonymous.")
    reachable = False
    for channel, address in (
        (MessageChannel.EMAIL, contact.email),
        (MessageChannel.SMS, contact.phone),
    ):
        if not address:
            continue
        reachable = True
        state = contact_channel_consent_state(contact_id=contact.pk, channel=channel)
        if state != ConsentState.WITHDRAWN:
            return channel.value, ""
    if not reachable:
        return None, _("No follow-up survey: the customer has no email address or mobile number.")
    return None, _("No follow-up survey: the customer has opted out of surveys.")


def _email_text(case: Case, contact: Contact, link: str) -> tuple[str, str]:
    organization = case.organization
    subject = _("Was your concern resolved? %(organization)s asks") % {
        "organization": organization.name
    }
    text = render_to_string(
        "closedloop/email/follow_up.txt",
        {"contact": contact, "case": case, "organization": organization, "link": link},
    )
    return subject, text


def _sms_text(case: Case, link: str) -> str:
    name = case.organization.name
    while True:
        body = _("%(organization)s: was your concern resolved? Two quick questions: %(link)s") % {
            "organization": name,
            "link": link,
        }
        if sms_length(body).segments <= SMS_MAX_SEGMENTS or len(name) <= 3:
            return body
        name = name[: max(3, len(name) // 2)].rstrip()


def case_follow_up_send(*, case: Case, actor: Actor, now: datetime) -> CaseFollowUp | None:
    """Ask the customer of a just resolved case (call it in the resolving transaction,
    ``case_transition`` does); the follow-up, or None when it cannot be sent."""
    from closedloop.services.messages import message_language, message_schedule

    contact = Contact.objects.filter(pk=case.contact_id).first() if case.contact_id else None
    organization = case.organization
    channel, why_not = _channel(contact)
    if channel is None or contact is None:
        with translation.override(organization.default_language):
            case_event_add(
                case=case,
                kind=CaseEventKind.NOTE,
                actor=FOLLOW_UP_ACTOR,
                text=why_not,
                data={"follow_up": "not_sent"},
                at=now,
            )
        return None
    language = message_language(case, contact)
    follow_up = CaseFollowUp.objects.select_for_update().filter(case=case).first()
    if follow_up is None:
        follow_up = CaseFollowUp.objects.create(case=case, language=language, sent_at=now)
    else:  # resolved again after a reopen: ask again, on the same link
        follow_up.language = language
        follow_up.sent_at = now
        follow_up.answered_at = None
        follow_up.concern_resolved = None
        follow_up.nps = None
        follow_up.comment = ""
        follow_up.save()
    link = follow_up_link(follow_up)
    with translation.override(language):
        if channel == MessageChannel.EMAIL:
            subject, body = _email_text(case, contact, link)
            address = contact.email
        else:
            subject, body = "", _sms_text(case, link)
            address = contact.phone
    message = CaseMessage.objects.create(
        case=case,
        direction=MessageDirection.OUT,
        channel=channel,
        to_address=address,
        from_address=(
            settings.DEFAULT_FROM_EMAIL
            if channel == MessageChannel.EMAIL
            else settings.TWILIO_FROM_NUMBER
        )
        or "",
        subject=subject[:300],
        body=body,
        language=language,
        status=MessageStatus.QUEUED,
        author=actor.user if actor.user is not None and actor.user.pk else None,
        is_follow_up=True,
        next_attempt_at=now,
        created_at=now,
    )
    with translation.override(organization.default_language):
        case_event_add(
            case=case,
            kind=CaseEventKind.FOLLOW_UP_SENT,
            actor=actor,
            text=_("Follow-up survey sent to %(address)s.") % {"address": address},
            data={
                "follow_up_id": follow_up.pk,
                "message_id": message.pk,
                "channel": channel,
                "to": address,
                "language": language,
            },
            at=now,
        )
    message_schedule(message)
    return follow_up


def case_follow_up_answer(
    *,
    follow_up: CaseFollowUp,
    concern_resolved: bool | None,
    nps: int,
    comment: str = "",
    now: datetime | None = None,
) -> bool:
    """Store the customer's answer (once) and whether they were recovered; False when
    the follow-up was answered already (nothing changes). Notifies the owner, and the
    team lead when the customer was not recovered."""
    if isinstance(nps, bool) or not isinstance(nps, int) or not 0 <= nps <= 10:
        raise ValidationError({"nps": _("Choose a number from 0 to 10.")})
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise ValidationError(
            {"comment": _("Please write at most %(max)s characters.") % {"max": COMMENT_MAX}}
        )
    now = now or timezone.now()
    with transaction.atomic():
        follow_up = CaseFollowUp.objects.select_for_update().get(pk=follow_up.pk)
        if follow_up.answered_at is not None:
            return False
        case = (
            Case.objects.select_for_update(of=("self",))
            .select_related("organization", "touchpoint")
            .get(pk=follow_up.case_id)
        )
        recovered = concern_resolved is not False and nps >= RECOVERED_FROM_NPS
        follow_up.answered_at = now
        follow_up.concern_resolved = concern_resolved
        follow_up.nps = nps
        follow_up.comment = comment
        follow_up.save(update_fields=["answered_at", "concern_resolved", "nps", "comment"])
        case.recovered = recovered
        case.updated_at = now
        case.save(update_fields=["recovered", "updated_at"])
        with translation.override(case.organization.default_language):
            _record_answer(case, follow_up, recovered, now)
    return True


def _record_answer(case: Case, follow_up: CaseFollowUp, recovered: bool, now: datetime) -> None:
    from closedloop.services.messages import team_lead_of

    values = {"number": case.number, "nps": follow_up.nps}
    case_event_add(
        case=case,
        kind=CaseEventKind.FOLLOW_UP_ANSWERED,
        actor=CUSTOMER,
        text=follow_up.comment,
        data={
            "follow_up_id": follow_up.pk,
            "concern_resolved": follow_up.concern_resolved,
            "nps": follow_up.nps,
            "recovered": recovered,
        },
        at=now,
    )
    if recovered:
        title = _("Case #%(number)s: the customer is recovered (NPS %(nps)s)") % values
    else:
        title = _("Case #%(number)s: the customer is not recovered (NPS %(nps)s)") % values
    notify(
        user_ids=[case.owner_id],
        kind="case_follow_up_answered",
        title=title,
        body=follow_up.comment,
        case=case,
    )
    if recovered:
        return
    lead = team_lead_of(case)
    recipients: list[int | None] = [lead] if lead else list(managers_of_organization())
    notified = notify(
        user_ids=[uid for uid in recipients if uid != case.owner_id],
        kind="case_not_recovered",
        title=title,
        body=follow_up.comment,
        case=case,
    )
    case_event_add(
        case=case,
        kind=CaseEventKind.NOTE,
        actor=FOLLOW_UP_ACTOR,
        text=(
            _("Not recovered: the team lead was notified. The owner may reopen the case.")
            if lead
            else _("Not recovered: the managers were notified. The owner may reopen the case.")
        ),
        data={"not_recovered": True, "notified": [n.user_id for n in notified]},
        at=now,
    )


__all__ = [
    "COMMENT_MAX",
    "RECOVERED_FROM_NPS",
    "case_follow_up_answer",
    "case_follow_up_send",
    "follow_up_is_open",
    "follow_up_link",
]
