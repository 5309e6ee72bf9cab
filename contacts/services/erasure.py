"""GDPR erasure (Art. 17): anonymise a contact and what they wrote, keep the numbers.

``contact_erase`` turns the contact into a tombstone (CRM id ``erased-<id>``, no name,
address, phone, language, time zone or attributes; ``erased_at`` set) and removes
personal data from every row that concerns them, in one transaction:

* responses: free-text answers and the comment are blanked, scores (NPS, CES, CSAT) and
  choices stay, so every score aggregate is unchanged; the CRM attribute snapshot keeps
  only the organization's segment attributes (dashboard breakdowns stay the same);
  SMS reply texts and the CRM id are dropped from the source details. The daily rollup
  buckets of responses that had a comment are recomputed: their comment counts drop.
* cases that concern them (their own, or opened or joined by their responses) stay,
  because they are the organization's work record, but customer messages lose body,
  subject and addresses, message entries of the timeline lose their text and addresses,
  follow-up comments are blanked, and the contact's name, email, phone and CRM id are
  cut out of every other case text (title, resolution summary, notes, notifications).
* invitations keep status and times; provider error texts that can quote an address
  are removed.
* the consent ledger keeps its events (the proof of what was decided) and gets one
  withdrawal per channel with source ``erasure``.
* outbox events and webhook deliveries about the contact, and the audit entries of the
  contact, lose the same personal data.

One ``contact.erase`` audit entry (counts only) records the erasure. Erasing again
changes nothing and returns the first erasure's summary. An erased contact cannot be
changed and is never surveyed again (distribution treats it as unreachable).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from closedloop.models import (
    Case,
    CaseEvent,
    CaseEventKind,
    CaseFollowUp,
    CaseMessage,
    Notification,
)
from contacts.models import Channel, ConsentAction, ConsentEvent, ConsentSource, Contact
from contacts.selectors_gdpr import contact_cases
from integrations.models import WebhookDelivery
from metrics.models import SegmentAttribute
from metrics.services.rollups import rollup_refresh_response
from responses.models import OutboxEvent, Response
from surveys.models import Invitation, InvitationEvent
from surveys.schema import CHOICE_TYPES, SCALE_TYPES
from tenants.models import AuditLog
from tenants.services import Actor, audit_log_record

ERASED = "[erased]"
ERASE_ACTION = "contact.erase"
# Keys of JSON documents (timeline data, payloads) that hold addresses or texts.
_PERSONAL_KEYS = frozenset({"to", "from", "subject", "text", "body", "comment", "email", "phone"})
_MESSAGE_KINDS = (CaseEventKind.MESSAGE_OUT, CaseEventKind.MESSAGE_IN, CaseEventKind.MESSAGE_FAILED)
# Provider data of invitation events that can quote an address (bounce descriptions).
_PROVIDER_TEXT_KEYS = frozenset({"description", "reject_reason"})
_RESPONSE_METADATA_DROPPED = frozenset({"crm_id", "sms_sids"})


@dataclass(frozen=True)
class ErasureResult:
    contact: int
    erased_at: datetime
    responses_anonymised: int
    cases_touched: int
    case_messages_anonymised: int
    invitations: int
    consent_events_recorded: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Redactor:
    """Cuts the contact's name, email, phone and CRM id out of texts and JSON."""

    def __init__(self, contact: Contact) -> None:
        needles = [
            contact.email,
            contact.phone,
            contact.crm_id,
            contact.full_name,
            contact.first_name,
            contact.last_name,
        ]
        words = sorted({n.strip() for n in needles if n and len(n.strip()) >= 2}, key=len)
        self.pattern = (
            re.compile(
                "|".join(rf"(?<!\w){re.escape(word)}(?!\w)" for word in reversed(words)),
                re.IGNORECASE,
            )
            if words
            else None
        )

    def text(self, value: str) -> str:
        return self.pattern.sub(ERASED, value) if self.pattern and value else value

    def json(self, value: Any, *, personal_keys: bool = False) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(item, personal_keys=personal_keys) for item in value]
        if isinstance(value, dict):
            return {
                key: (
                    ERASED
                    if personal_keys and key in _PERSONAL_KEYS and item not in (None, "")
                    else self.json(item, personal_keys=personal_keys)
                )
                for key, item in value.items()
            }
        return value


def answers_without_free_text(response: Response) -> dict[str, Any]:
    """The answers with every free text blanked; scores and choice ids stay."""
    answers = dict(response.answers) if isinstance(response.answers, dict) else {}
    types = {str(q.get("id")): q.get("type") for q in response.survey_version.questions}
    for qid, value in answers.items():
        if types.get(qid) in SCALE_TYPES or types.get(qid) in CHOICE_TYPES:
            continue
        answers[qid] = "" if isinstance(value, str) else None
    return answers


def _anonymise_responses(contact: Contact, redact: _Redactor, now: datetime) -> list[int]:
    segment_keys = set(SegmentAttribute.objects.values_list("key", flat=True))
    responses = list(Response.objects.filter(contact=contact).select_related("survey_version"))
    for response in responses:
        had_comment = bool(response.comment)
        response.answers = answers_without_free_text(response)
        response.comment = ""
        response.contact_attributes = {
            key: value
            for key, value in (response.contact_attributes or {}).items()
            if key in segment_keys
        }
        metadata = response.metadata if isinstance(response.metadata, dict) else {}
        response.metadata = redact.json(
            {k: v for k, v in metadata.items() if k not in _RESPONSE_METADATA_DROPPED}
        )
        response.updated_at = now
        response.save(
            update_fields=["answers", "comment", "contact_attributes", "metadata", "updated_at"]
        )
        if had_comment:
            # The rollup counts comments: recompute the bucket (scores are unchanged).
            rollup_refresh_response(response=response)
    return [response.pk for response in responses]


def _anonymise_cases(contact: Contact, redact: _Redactor) -> tuple[list[int], int]:
    case_ids = list(contact_cases(contact).values_list("pk", flat=True))
    messages = CaseMessage.objects.filter(case__in=case_ids).update(
        body=ERASED, subject="", to_address="", from_address=""
    )
    for event in CaseEvent.objects.filter(case__in=case_ids):
        is_message = event.kind in _MESSAGE_KINDS
        event_text = ERASED if is_message and event.text else redact.text(event.text)
        data = redact.json(event.data, personal_keys=is_message)
        if event_text != event.text or data != event.data:
            CaseEvent.objects.filter(pk=event.pk).update(text=event_text, data=data)
    CaseFollowUp.objects.filter(case__in=case_ids).update(comment="")
    for case in Case.objects.filter(pk__in=case_ids).only("pk", "title", "resolution_summary"):
        title, summary = redact.text(case.title), redact.text(case.resolution_summary)
        if (title, summary) != (case.title, case.resolution_summary):
            Case.objects.filter(pk=case.pk).update(title=title, resolution_summary=summary)
    # Notifications quote the response's comment: their text goes, the title stays.
    for notification in Notification.objects.filter(case__in=case_ids).only("pk", "title"):
        Notification.objects.filter(pk=notification.pk).update(
            title=redact.text(notification.title)[:300], body=""
        )
    return case_ids, messages


def _scrub_invitations(contact: Contact, redact: _Redactor) -> int:
    invitation_ids = list(Invitation.objects.filter(contact=contact).values_list("pk", flat=True))
    Invitation.objects.filter(pk__in=invitation_ids).exclude(last_error="").update(last_error="")
    for event in InvitationEvent.objects.filter(invitation__in=invitation_ids):
        data = {
            key: value
            for key, value in (event.provider_data or {}).items()
            if key not in _PROVIDER_TEXT_KEYS
        }
        data = redact.json(data)
        reason = redact.text(event.reason)
        if data != event.provider_data or reason != event.reason:
            InvitationEvent.objects.filter(pk=event.pk).update(provider_data=data, reason=reason)
    return len(invitation_ids)


def _scrub_events(
    contact: Contact, response_ids: list[int], case_ids: list[int], redact: _Redactor
) -> None:
    """Outbox events, their webhook deliveries and the contact's audit entries."""
    outbox = OutboxEvent.objects.filter(
        Q(response__in=response_ids)
        | Q(payload__contact_id=contact.pk)
        | Q(payload__case_id__in=case_ids)
    )
    outbox_ids = []
    for event in outbox:
        outbox_ids.append(event.pk)
        payload = redact.json(event.payload, personal_keys=True)
        if payload != event.payload:
            OutboxEvent.objects.filter(pk=event.pk).update(payload=payload)
    for delivery in WebhookDelivery.objects.filter(outbox_event__in=outbox_ids):
        payload = redact.json(delivery.payload, personal_keys=True)
        if payload != delivery.payload:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(payload=payload)
    entries = AuditLog.objects.filter(
        object_type=Contact._meta.label_lower, object_id=str(contact.pk)
    )
    for entry in entries:
        changes = redact.json(entry.changes)
        AuditLog.objects.filter(pk=entry.pk).update(
            changes=changes, object_repr=f"erased-{contact.pk}"
        )


def _record_withdrawals(contact: Contact, actor: Actor, now: datetime) -> int:
    for channel in Channel.values:
        ConsentEvent.objects.create(
            contact=contact,
            channel=channel,
            action=ConsentAction.WITHDRAW,
            source=ConsentSource.ERASURE,
            wording="",
            actor=actor.user if actor.user is not None and actor.user.pk else None,
            actor_label=actor.label[:200],
            occurred_at=now,
        )
    return len(Channel.values)


def _stored_result(contact: Contact) -> ErasureResult:
    entry = (
        AuditLog.objects.filter(
            action=ERASE_ACTION, object_type=Contact._meta.label_lower, object_id=str(contact.pk)
        )
        .order_by("-created_at", "-id")
        .first()
    )
    changes = entry.changes if entry is not None else {}

    def count(name: str) -> int:
        value = changes.get(name, [None, 0])
        return int(value[1]) if isinstance(value, list) and len(value) == 2 else 0

    return ErasureResult(
        contact=contact.pk,
        erased_at=contact.erased_at or timezone.now(),
        responses_anonymised=count("responses_anonymised"),
        cases_touched=count("cases_touched"),
        case_messages_anonymised=count("case_messages_anonymised"),
        invitations=count("invitations"),
        consent_events_recorded=count("consent_events_recorded"),
    )


def contact_erase(*, actor: Actor, contact: Contact) -> ErasureResult:
    """Erase the contact's personal data everywhere; idempotent (see the module)."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        if contact.erased_at is not None:
            return _stored_result(contact)
        now = timezone.now()
        redact = _Redactor(contact)
        response_ids = _anonymise_responses(contact, redact, now)
        case_ids, messages = _anonymise_cases(contact, redact)
        invitations = _scrub_invitations(contact, redact)
        _scrub_events(contact, response_ids, case_ids, redact)
        consent_events = _record_withdrawals(contact, actor, now)
        contact.crm_id = f"erased-{contact.pk}"
        contact.first_name = contact.last_name = contact.email = contact.phone = ""
        contact.language = contact.timezone = ""
        contact.attributes = {}
        contact.erased_at = now
        contact.save()
        result = ErasureResult(
            contact=contact.pk,
            erased_at=now,
            responses_anonymised=len(response_ids),
            cases_touched=len(case_ids),
            case_messages_anonymised=messages,
            invitations=invitations,
            consent_events_recorded=consent_events,
        )
        audit_log_record(
            actor=actor,
            action=ERASE_ACTION,
            obj=contact,
            changes={
                name: [None, value.isoformat() if isinstance(value, datetime) else value]
                for name, value in result.as_dict().items()
                if name != "contact"
            },
        )
    return result
