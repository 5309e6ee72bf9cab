"""The submit path: one service for every channel (survey page, open link, widget, SMS
reply, import, API).

``response_submit`` validates the answers (nothing is written when any is invalid),
scores them, and writes the response together with an outbox event in one transaction.
It is idempotent: a submit for an invitation, a response token or an idempotency key
that already has a response updates that response (while the survey's change window is
open) and never adds a second one. Concurrent submits of one invitation serialize on
the invitation's row lock; concurrent first submits with one idempotency key meet at
the unique constraint, and the loser updates the winner's row.

A submit that changes nothing (the same answers again) writes nothing and emits no event.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Contact
from contacts.services.contact import contact_mark_surveyed
from responses.answers import CleanedAnswers, answers_clean, answers_score
from responses.models import OutboxEvent, OutboxTopic, Response, ResponseChannel, ResponseStatus
from surveys.models import SurveyVersion
from surveys.models_distribution import OPEN_STATUSES, Invitation, InvitationStatus
from surveys.services.invitations import invitation_transition

logger = logging.getLogger(__name__)

# Error key for problems of the whole submit rather than one question.
NON_FIELD = "__all__"


@dataclass(slots=True)
class SubmitResult:
    """``response`` is None when nothing was stored (see ``errors``). ``created``: a new
    response; ``changed``: the stored answers changed (False for a repeated submit)."""

    response: Response | None
    errors: dict[str, list[str]] = field(default_factory=dict)
    created: bool = False
    changed: bool = False
    closed: bool = False  # the response exists and can no longer be changed

    @property
    def ok(self) -> bool:
        return self.response is not None and not self.errors


def response_can_change(response: Response, now: datetime | None = None) -> bool:
    """A partial response can always be continued; a complete one within its window."""
    if response.status != ResponseStatus.COMPLETE:
        return True
    now = now or timezone.now()
    return response.editable_until is not None and now < response.editable_until


def _existing(
    *, invitation: Invitation | None, response: Response | None, idempotency_key: str
) -> Response | None:
    if response is not None:
        return Response.objects.select_for_update().filter(pk=response.pk).first()
    if invitation is not None:
        return Response.objects.filter(invitation_id=invitation.pk).first()
    # An idempotency key needs no look-up: the insert meets an earlier response with
    # the same key at the unique constraint (see ``_create``).
    return None


def _payload(response: Response, *, created: bool) -> dict[str, Any]:
    return {
        "response_id": response.pk,
        "survey_id": response.survey_id,
        "touchpoint_id": response.touchpoint_id,
        "journey_id": response.journey_id,
        "contact_id": response.contact_id,
        "invitation_id": response.invitation_id,
        "channel": response.channel,
        "status": response.status,
        "nps": response.nps,
        "nps_group": response.nps_group,
        "ces": response.ces,
        "csat": response.csat,
        "created": created,
    }


def _emit(response: Response, topic: str, *, created: bool) -> None:
    event = OutboxEvent.objects.create(
        topic=topic, response=response, payload=_payload(response, created=created)
    )
    _dispatch_after_commit(response.organization_id, event.pk)


class _CommitBatch:
    """The outbox events of one transaction: one task per organization after commit
    (a seed or an import of thousands of rows in one transaction is one task)."""

    def __init__(self) -> None:
        self.events: dict[int, list[int]] = {}
        self.done = False

    def __call__(self) -> None:
        self.done = True
        for organization_id, event_ids in self.events.items():
            _schedule_dispatch(organization_id, event_ids)


def _dispatch_after_commit(organization_id: int, event_id: int) -> None:
    connection = transaction.get_connection()
    batch: _CommitBatch | None = getattr(connection, "_outbox_batch", None)
    # A batch whose callback already ran or was discarded (rollback) is over.
    pending = [callback for _sids, callback, _robust in connection.run_on_commit]
    if batch is None or batch.done or not connection.in_atomic_block or batch not in pending:
        batch = _CommitBatch()
        connection._outbox_batch = batch
        batch.events.setdefault(organization_id, []).append(event_id)
        transaction.on_commit(batch)
        return
    batch.events.setdefault(organization_id, []).append(event_id)


def _schedule_dispatch(organization_id: int, event_ids: list[int]) -> None:
    """Hand the events to a worker. The response is committed already: a broker that is
    away must not turn the customer's submit into an error; the beat sweep drains the
    events once the broker is back."""
    from responses.tasks import outbox_dispatch_task

    try:
        # One attempt, no retry loop: a refused connection fails in milliseconds rather
        # than after Celery's default retries (~0.6 s per submit); a silent broker is
        # bounded by the transport's socket timeouts (config/celery.py). A restarted
        # broker still works: redis-py reconnects a stale connection by itself.
        outbox_dispatch_task.apply_async(
            kwargs={"organization_id": organization_id, "event_ids": event_ids},
            retry_policy={"max_retries": 0},
        )
    except Exception:  # noqa: BLE001 - any broker error: the sweep delivers it later
        logger.warning("outbox events %s left for the sweep: broker unavailable", event_ids)


def _apply(
    response: Response,
    version: SurveyVersion,
    values: Mapping[str, Any],
    unanswered: list[str],
    complete: bool,
    now: datetime,
) -> bool:
    """Merge the step's answers into ``response`` and rescore; whether anything changed."""
    answers = dict(response.answers or {})
    answers.update(values)
    for qid in unanswered:
        answers.pop(qid, None)
    scores = answers_score(version, answers)
    status = ResponseStatus.COMPLETE if complete else response.status
    changed = answers != response.answers or status != response.status
    if not changed:
        return False
    response.answers = answers
    response.nps = scores.nps
    response.nps_group = scores.nps_group
    response.ces = scores.ces
    response.csat = scores.csat
    response.comment = scores.comment
    response.updated_at = now
    if status == ResponseStatus.COMPLETE and response.status != ResponseStatus.COMPLETE:
        if response.channel in (ResponseChannel.IMPORT, ResponseChannel.API):
            # Answers collected elsewhere (a CSV import, the API's ingest): complete when
            # given, never changed by a customer.
            response.completed_at = response.responded_at
            response.editable_until = None
        else:
            response.completed_at = now
            window = version.survey.answer_change_window
            response.editable_until = now + window if window else None
    response.status = status
    return True


def response_submit(
    *,
    version: SurveyVersion,
    channel: str,
    language: str,
    answers: Mapping[str, Any],
    question_ids: list[str] | None = None,
    complete: bool = True,
    invitation: Invitation | None = None,
    response: Response | None = None,
    contact: Contact | None = None,
    idempotency_key: str = "",
    attributes: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    responded_at: datetime | None = None,
    count_toward_budget: bool = False,
) -> SubmitResult:
    """Store one step of answers (or all of them) for one customer.

    ``question_ids``: the questions of the step answered (default: all); ``complete``:
    this submit finishes the response. The response is found by ``response`` (its own
    link), else ``invitation``, else ``idempotency_key``; a new one is created when none
    exists. ``attributes`` add to the snapshot of the contact's CRM attributes (signed
    open-link parameters). ``count_toward_budget``: the answer uses up the contact's
    survey budget (the widget with an identified customer).

    Must run in the organization's context; opens its own transaction.
    """
    cleaned = answers_clean(version, answers, question_ids)
    if not cleaned.is_valid:
        return SubmitResult(None, errors=cleaned.errors)
    now = timezone.now()
    key = idempotency_key[:100]
    # On PostgreSQL the organization's context is itself a transaction (or a savepoint
    # when nested), and an error leaves that context: a savepoint of our own would only
    # add two round trips to the hottest write path.
    with transaction.atomic(savepoint=connection.vendor != "postgresql"):
        if invitation is not None:
            invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        existing = _existing(invitation=invitation, response=response, idempotency_key=key)
        created = False
        if existing is None:
            existing, created = _create(
                version=version,
                channel=channel,
                language=language,
                invitation=invitation,
                contact=contact,
                idempotency_key=key,
                attributes=attributes,
                metadata=metadata,
                responded_at=responded_at or now,
                now=now,
                cleaned=cleaned,
                complete=complete,
            )
        # The version the response started on (usually the caller's: no query then).
        target_version = (
            version
            if created or existing.survey_version_id == version.pk
            else existing.survey_version
        )
        if not created and not response_can_change(existing, now):
            # A repeat of the final submit is fine; a change is refused.
            if _apply(
                copy.copy(existing),
                target_version,
                cleaned.values,
                cleaned.unanswered,
                complete,
                now,
            ):
                return SubmitResult(
                    existing,
                    errors={
                        NON_FIELD: [_("This survey has been answered and can no longer change.")]
                    },
                    closed=True,
                )
            return SubmitResult(existing)
        if target_version.pk != version.pk:
            # Answers belong to the version the response started on (nothing written yet).
            cleaned = answers_clean(target_version, answers, question_ids)
            if not cleaned.is_valid:
                return SubmitResult(None, errors=cleaned.errors)
        was_complete = existing.status == ResponseStatus.COMPLETE
        if created:
            changed = True  # inserted with the answers already
        else:
            changed = _apply(
                existing, target_version, cleaned.values, cleaned.unanswered, complete, now
            )
            if not changed:
                return SubmitResult(existing)
            existing.save()
        if invitation is not None and invitation.status in OPEN_STATUSES:
            invitation_transition(
                invitation=invitation,
                to_status=InvitationStatus.ANSWERED,
                reason=f"answered ({channel})",
                at=now,
                locked_by_caller=True,
            )
        if count_toward_budget and existing.contact_id is not None and created:
            contact_mark_surveyed(contact_id=existing.contact_id, at=now)
        if created:
            topic = OutboxTopic.RESPONSE_CREATED
        elif existing.status == ResponseStatus.COMPLETE and not was_complete:
            topic = OutboxTopic.RESPONSE_COMPLETED
        else:
            topic = OutboxTopic.RESPONSE_UPDATED
        _emit(existing, topic, created=created)
    return SubmitResult(existing, created=created, changed=changed)


def _create(
    *,
    version: SurveyVersion,
    channel: str,
    language: str,
    invitation: Invitation | None,
    contact: Contact | None,
    idempotency_key: str,
    attributes: Mapping[str, Any] | None,
    metadata: Mapping[str, Any] | None,
    responded_at: datetime,
    now: datetime,
    cleaned: CleanedAnswers,
    complete: bool,
) -> tuple[Response, bool]:
    """A new response with the answers (one INSERT); or, without any write, the earlier
    response with the same idempotency key (a retry, or a concurrent submit that
    committed first)."""
    survey = version.survey
    touchpoint = survey.touchpoint
    if contact is None and invitation is not None:
        contact = invitation.contact
    snapshot = dict(contact.attributes or {}) if contact is not None else {}
    snapshot.update(attributes or {})
    new = Response(
        survey=survey,
        survey_version=version,
        touchpoint=touchpoint,
        journey_id=touchpoint.journey_id,
        invitation=invitation,
        contact=contact,
        channel=channel,
        language=language,
        answers={},
        contact_attributes=snapshot,
        metadata=dict(metadata or {}),
        idempotency_key=idempotency_key,
        responded_at=responded_at,
        updated_at=now,
    )
    _apply(new, version, cleaned.values, cleaned.unanswered, complete, now)
    try:
        with transaction.atomic():
            new.save(force_insert=True)
    except IntegrityError:
        if not idempotency_key:
            raise
        winner = Response.objects.select_for_update().filter(idempotency_key=idempotency_key)
        found = winner.first()
        if found is None:
            raise
        return found, False
    return new, True


CHANNEL_OF_INVITATION = {"email": ResponseChannel.EMAIL, "sms": ResponseChannel.SMS}

__all__ = [
    "CHANNEL_OF_INVITATION",
    "NON_FIELD",
    "SubmitResult",
    "response_can_change",
    "response_submit",
]
