"""GDPR access (Art. 15) and portability (Art. 20): everything stored about one contact
as one JSON document.

Reads other apps' tables read-only (invitations, responses, cases) because the export
must be complete: the profile with its CRM attributes, the consent ledger, every
invitation with its status history, every response with its answers, scores and
comment, and the cases that concern the contact with the timeline entries and messages
the customer can see (messages both ways, the follow-up survey; internal notes,
assignments and escalations are the organization's working records and are listed by
kind and time only). Times are ISO 8601 in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from closedloop.models import Case, CaseEvent, CaseEventKind, CaseMessage, CaseResponse
from contacts.models import Contact
from contacts.selectors import contact_consent_proof
from responses.models import Response
from surveys.models import Invitation, InvitationEvent

# Timeline entries whose text the customer saw or wrote.
CUSTOMER_VISIBLE_KINDS = frozenset(
    {
        CaseEventKind.MESSAGE_OUT,
        CaseEventKind.MESSAGE_IN,
        CaseEventKind.FOLLOW_UP_SENT,
        CaseEventKind.FOLLOW_UP_ANSWERED,
    }
)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _text(texts: Any, language: str, fallback: str) -> str:
    if isinstance(texts, str):
        return texts
    if not isinstance(texts, dict) or not texts:
        return ""
    return str(texts.get(language) or texts.get(fallback) or next(iter(texts.values())))


def _profile(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.pk,
        "crm_id": contact.crm_id,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "language": contact.language,
        "timezone": contact.timezone,
        "attributes": dict(contact.attributes or {}),
        "last_surveyed_at": _iso(contact.last_surveyed_at),
        "erased_at": _iso(contact.erased_at),
        "created_at": _iso(contact.created_at),
        "updated_at": _iso(contact.updated_at),
    }


def _invitations(contact: Contact) -> list[dict[str, Any]]:
    invitations = list(
        Invitation.objects.filter(contact=contact)
        .select_related("survey")
        .order_by("created_at", "id")
    )
    history: dict[int, list[dict[str, Any]]] = {}
    events = InvitationEvent.objects.filter(invitation__in=[i.pk for i in invitations])
    for event in events.order_by("at", "id"):
        history.setdefault(event.invitation_id, []).append(
            {"from_status": event.from_status, "to_status": event.to_status, "at": _iso(event.at)}
        )
    return [
        {
            "id": invitation.pk,
            "survey": {"id": invitation.survey_id, "name": invitation.survey.name},
            "channel": invitation.channel,
            "status": invitation.status,
            "trigger": invitation.trigger,
            "event_type": invitation.event_type,
            "send_at": _iso(invitation.send_at),
            "sent_at": _iso(invitation.sent_at),
            "opened_at": _iso(invitation.opened_at),
            "reminder_sent_at": _iso(invitation.reminder_sent_at),
            "expires_at": _iso(invitation.expires_at),
            "created_at": _iso(invitation.created_at),
            "history": history.get(invitation.pk, []),
        }
        for invitation in invitations
    ]


def _answers(response: Response) -> list[dict[str, Any]]:
    stored = response.answers if isinstance(response.answers, dict) else {}
    version = response.survey_version
    rows = []
    for question in version.questions:
        qid = str(question.get("id"))
        if qid not in stored:
            continue
        rows.append(
            {
                "question_id": qid,
                "question": _text(
                    question.get("text"), response.language, version.default_language
                ),
                "type": question.get("type", ""),
                "value": stored[qid],
            }
        )
    return rows


def _responses(contact: Contact) -> list[dict[str, Any]]:
    responses = (
        Response.objects.filter(contact=contact)
        .select_related("survey", "survey_version", "touchpoint")
        .order_by("responded_at", "id")
    )
    return [
        {
            "id": response.pk,
            "survey": {"id": response.survey_id, "name": response.survey.name},
            "touchpoint": {"id": response.touchpoint_id, "name": response.touchpoint.name},
            "invitation": response.invitation_id,
            "channel": response.channel,
            "language": response.language,
            "status": response.status,
            "answers": _answers(response),
            "nps": response.nps,
            "ces": response.ces,
            "csat": response.csat,
            "comment": response.comment,
            "contact_attributes": dict(response.contact_attributes or {}),
            "responded_at": _iso(response.responded_at),
            "completed_at": _iso(response.completed_at),
        }
        for response in responses
    ]


def contact_cases(contact: Contact) -> Any:
    """The cases that concern the contact: theirs, or opened or joined by their responses."""
    response_ids = Response.objects.filter(contact=contact).values("pk")
    joined = CaseResponse.objects.filter(response__in=response_ids).values("case_id")
    return Case.objects.filter(
        Q(contact=contact) | Q(response__in=response_ids) | Q(pk__in=joined)
    ).distinct()


def _cases(contact: Contact) -> list[dict[str, Any]]:
    cases = list(contact_cases(contact).select_related("follow_up").order_by("created_at", "id"))
    ids = [case.pk for case in cases]
    timelines: dict[int, list[dict[str, Any]]] = {}
    for event in CaseEvent.objects.filter(case__in=ids).order_by("created_at", "id"):
        visible = event.kind in CUSTOMER_VISIBLE_KINDS
        timelines.setdefault(event.case_id, []).append(
            {
                "kind": event.kind,
                "at": _iso(event.created_at),
                "text": event.text if visible else None,
            }
        )
    messages: dict[int, list[dict[str, Any]]] = {}
    for message in CaseMessage.objects.filter(case__in=ids).order_by("created_at", "id"):
        messages.setdefault(message.case_id, []).append(
            {
                "direction": message.direction,
                "channel": message.channel,
                "to": message.to_address,
                "from": message.from_address,
                "subject": message.subject,
                "body": message.body,
                "status": message.status,
                "created_at": _iso(message.created_at),
                "sent_at": _iso(message.sent_at),
            }
        )
    rows = []
    for case in cases:
        follow_up = getattr(case, "follow_up", None)
        rows.append(
            {
                "number": case.number,
                "title": case.title,
                "status": case.status,
                "created_at": _iso(case.created_at),
                "resolved_at": _iso(case.resolved_at),
                "closed_at": _iso(case.closed_at),
                "recovered": case.recovered,
                "timeline": timelines.get(case.pk, []),
                "messages": messages.get(case.pk, []),
                "follow_up": None
                if follow_up is None
                else {
                    "sent_at": _iso(follow_up.sent_at),
                    "answered_at": _iso(follow_up.answered_at),
                    "concern_resolved": follow_up.concern_resolved,
                    "nps": follow_up.nps,
                    "comment": follow_up.comment,
                },
            }
        )
    return rows


def contact_data_export(*, contact: Contact) -> dict[str, Any]:
    """Everything stored about ``contact``, as plain JSON data (docs/api/contacts.md)."""
    proof = contact_consent_proof(contact)
    return {
        "exported_at": _iso(timezone.now()),
        "contact": _profile(contact),
        "consent": {"current_state": proof["current_state"], "events": proof["events"]},
        "invitations": _invitations(contact),
        "responses": _responses(contact),
        "cases": _cases(contact),
    }
