"""Responses collected elsewhere, stored through the API (``POST /api/v1/responses/``).

A CRM, a call-centre tool or a shop that asked the questions itself hands in the
answers: they are checked against the survey's current published version (or the
invitation's version) and stored by ``response_submit``, the path every channel shares,
so they are scored, and their outbox event opens cases and fires webhooks like any
answer given on the survey page.

Two ways to keep a retry from storing twice: the API's ``Idempotency-Key`` header, and
an ``external_id`` (the answer's id in the other system, unique per organization and
kept for good): the same external id with the same answers finds the stored response,
with other answers it is a conflict. An invitation takes one response: it becomes
answered exactly as on its survey page, and a second response for it is a conflict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from contacts.models import Contact
from responses.answers import answers_clean
from responses.models import Response, ResponseChannel
from responses.services.submit import CHANNEL_OF_INVITATION, NON_FIELD, response_submit
from surveys.models import Invitation, Survey, SurveyVersion
from surveys.models_distribution import OPEN_STATUSES, InvitationStatus
from surveys.schema import CHOICE_TYPES, QUESTION_TYPES, SCALE_TYPES, TEXT
from surveys.selectors import survey_version_current
from surveys.services.invitations import invitation_is_available
from tenants.services import Actor, audit_log_record

INGEST_CHANNELS = (ResponseChannel.API, ResponseChannel.IMPORT)
EXTERNAL_ID_MAX = 80
EXTERNAL_ID_PREFIX = "api:"


class ResponseIngestInvalid(Exception):
    """The request cannot be stored; ``errors`` maps fields to messages (``answers``
    maps question ids to messages). Nothing was written."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__(errors)
        self.errors = errors


class ResponseIngestConflict(Exception):
    """The request contradicts what is stored (an answered invitation, an external id
    with other answers). Nothing was written."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    response: Response
    created: bool  # False: the stored response of the same external id


def external_id_key(external_id: str) -> str:
    """The response's idempotency key for an external id (unique per organization)."""
    return f"{EXTERNAL_ID_PREFIX}{external_id}"


def _type_error(question: dict[str, Any], value: Any) -> str | None:
    """Why ``value`` has the wrong JSON type for the question (None: the type is right;
    the range, options and length are checked by ``answers_clean``)."""
    qtype = str(question.get("type"))
    if qtype in SCALE_TYPES:
        scale = QUESTION_TYPES[qtype].scale
        assert scale is not None  # noqa: S101 - scale types have a scale
        if isinstance(value, bool) or not isinstance(value, int):
            return f"Give a whole number from {scale[0]} to {scale[-1]}."
    elif qtype == TEXT:
        if not isinstance(value, str):
            return "Give the answer as a string."
    elif qtype in CHOICE_TYPES and QUESTION_TYPES[qtype].multiple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "Give a list of option ids."
    elif qtype in CHOICE_TYPES and not isinstance(value, str):
        return "Give one option id as a string."
    return None


def _clean(version: SurveyVersion, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers that were given (``null`` is no answer), or ``ResponseIngestInvalid``
    naming every question id with a problem."""
    questions = {
        str(q.get("id")): q
        for q in version.questions
        if isinstance(q, dict) and q.get("type") in QUESTION_TYPES
    }
    errors: dict[str, list[str]] = {}
    given: dict[str, Any] = {}
    for qid, value in answers.items():
        question = questions.get(qid)
        if question is None:
            errors[qid] = [f"No question with this id in version {version.number} of the survey."]
            continue
        if value is None:
            continue
        problem = _type_error(question, value)
        if problem:
            errors[qid] = [problem]
        else:
            given[qid] = value
    cleaned = answers_clean(version, given)
    for qid, messages in cleaned.errors.items():
        errors.setdefault(qid, [str(m) for m in messages])
    if errors:
        raise ResponseIngestInvalid({"answers": errors})
    if not cleaned.values:
        raise ResponseIngestInvalid({"answers": ["Give at least one answer."]})
    return cleaned.values


def _language(version: SurveyVersion, language: str, contact: Contact | None) -> str:
    if language:
        if language not in version.languages:
            offered = ", ".join(version.languages)
            raise ResponseIngestInvalid(
                {"language": [f"The survey is not offered in '{language}' (only {offered})."]}
            )
        return language
    if contact is not None and contact.language in version.languages:
        return contact.language
    return version.default_language


def _lock_invitation(invitation: Invitation) -> Invitation:
    """The invitation, locked, if it may take this response; else a conflict."""
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if (
        locked.status == InvitationStatus.ANSWERED
        or Response.objects.filter(invitation_id=locked.pk).exists()
    ):
        raise ResponseIngestConflict("The invitation has been answered already.")
    if locked.status not in OPEN_STATUSES or not invitation_is_available(locked):
        raise ResponseIngestConflict(
            f"The invitation cannot take a response: it is {locked.status}"
            + (" and expired." if locked.status in OPEN_STATUSES else ".")
        )
    return locked


def response_ingest(
    *,
    actor: Actor,
    survey: Survey | None = None,
    invitation: Invitation | None = None,
    answers: Mapping[str, Any],
    responded_at: datetime | None = None,
    language: str = "",
    contact: Contact | None = None,
    channel: str = ResponseChannel.API,
    external_id: str = "",
) -> IngestResult:
    """Store one complete response collected elsewhere (see the module docstring).

    Either ``survey`` (its current published version is answered) or ``invitation``
    (its version, contact and channel; it becomes answered). ``answers``: question id ->
    value as JSON gives it (a number for scales, an option id or a list of them, a
    string). Raises ``ResponseIngestInvalid`` (400) or ``ResponseIngestConflict`` (409);
    nothing is written then. Must run in the organization's context.
    """
    if invitation is not None:
        version = invitation.survey_version
        version.survey = invitation.survey
        contact = invitation.contact
        channel = CHANNEL_OF_INVITATION.get(invitation.channel, ResponseChannel.EMAIL)
    elif survey is not None:
        current = survey_version_current(survey)
        if current is None:
            raise ResponseIngestInvalid({"survey": ["The survey has no published version yet."]})
        version = current
        version.survey = survey
        if channel not in INGEST_CHANNELS:
            raise ResponseIngestInvalid({"channel": ["Use api or import."]})
    else:
        raise ResponseIngestInvalid({"survey": ["Give the survey or the invitation."]})
    values = _clean(version, answers)
    language = _language(version, language, contact)
    key = external_id_key(external_id) if external_id else ""
    metadata: dict[str, Any] = {"ingested_by": actor.label}
    if external_id:
        metadata["external_id"] = external_id
    with transaction.atomic():
        if invitation is not None:
            invitation = _lock_invitation(invitation)
        if key:
            existing = Response.objects.filter(idempotency_key=key).first()
            if existing is not None:
                if existing.survey_version_id == version.pk and existing.answers == values:
                    return IngestResult(existing, created=False)
                raise ResponseIngestConflict(
                    f"A response with external_id '{external_id}' is stored already, "
                    "with other answers."
                )
        result = response_submit(
            version=version,
            channel=channel,
            language=language,
            answers=values,
            complete=True,
            invitation=invitation,
            contact=contact,
            idempotency_key=key,
            metadata=metadata,
            responded_at=responded_at or timezone.now(),
        )
        if result.closed:
            # A concurrent request with the same external id and other answers won.
            raise ResponseIngestConflict(
                f"A response with external_id '{external_id}' is stored already, "
                "with other answers."
            )
        if result.response is not None and not result.errors and not result.created:
            # A concurrent request with the same external id and answers won.
            return IngestResult(result.response, created=False)
        if result.errors or result.response is None:
            errors = {
                ("non_field_errors" if qid == NON_FIELD else qid): [str(m) for m in messages]
                for qid, messages in result.errors.items()
            }
            raise ResponseIngestInvalid({"answers": errors})
        response = result.response
        audit_log_record(
            actor=actor,
            action="responses.ingest",
            obj=response,
            changes={
                "survey": [None, response.survey_id],
                "invitation": [None, response.invitation_id],
                "channel": [None, response.channel],
                "external_id": [None, external_id or None],
            },
        )
    return IngestResult(response, created=True)


__all__ = [
    "EXTERNAL_ID_MAX",
    "INGEST_CHANNELS",
    "IngestResult",
    "ResponseIngestConflict",
    "ResponseIngestInvalid",
    "external_id_key",
    "response_ingest",
]
