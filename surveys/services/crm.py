# mypy: disallow-untyped-defs, disallow-incomplete-defs
"""CRM events and direct invitations: the writes behind ``/api/v1/events/`` and
``POST /api/v1/invitations/``.

* ``crm_event_record``: one event. The contact is created or updated by CRM id (the
  contacts bulk upsert with one item, so an event changes a contact exactly like
  ``POST /contacts/bulk/`` does), then ``crm_event_process`` evaluates the rules.
* ``crm_events_process``: up to ``MAX_EVENTS`` events in one transaction with the same
  outcomes as recording them one by one in order, in a number of queries that does not
  grow with the events: the contacts are upserted in bulk, the rules, versions and the
  contacts' budget facts are loaded once, every decision is made in memory (each
  scheduled invitation updates the facts the next decisions for its contact see), and
  the invitations, their timeline rows and the suppressed sends are inserted in bulk.
  A CRM id that occurs several times is handled in rounds (its first event in the first
  round, ...), so each event sees the contact as the events before it left it.
* ``invitation_create``: one invitation for one contact and survey, with the same
  consent, reachability and budget checks as rules and manual sends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, Max, Q, Value, When
from django.utils import timezone
from django.utils.duration import duration_microseconds
from django.utils.translation import gettext as _

from contacts.bulk import insert_rows
from contacts.models import ConsentState, Contact
from contacts.selectors import consent_field, with_consent_states
from contacts.services.upsert import ContactBulkInvalid, contact_bulk_upsert
from surveys.models import Survey, SurveyStatus, SurveyVersion
from surveys.models_distribution import (
    BUDGET_STATUSES,
    OPEN_STATUSES,
    DistributionRule,
    DistributionSettings,
    Invitation,
    InvitationChannel,
    InvitationEvent,
    InvitationStatus,
    InvitationTrigger,
    RuleChannel,
    SuppressedSend,
)
from surveys.selectors import distribution_settings_get, survey_version_current
from surveys.services.distribution import (
    ContactFacts,
    Decision,
    Origin,
    Outcome,
    Policy,
    _build,
    _conditions_match,
    _lock,
    _organization_timezone,
    _write,
    crm_event_process,
    decide,
    new_token,
)
from tenants.context import require_organization_id
from tenants.services import Actor, audit_log_record

MAX_EVENTS = 1000
NOT_SENDABLE_DETAIL = "The survey is not published or is archived."

Pair = tuple[Invitation | None, SuppressedSend | None]


@dataclass(frozen=True, slots=True)
class CrmEvent:
    """One event as the CRM sent it. ``contact`` is a contacts bulk-upsert item (the
    ``crm_id`` and the fields to set); ``attributes`` are the event's own."""

    type: str
    contact: dict[str, Any]
    occurred_at: datetime
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class EventResult:
    """The contact an event concerned and one outcome per active rule for its type."""

    index: int
    contact_id: int | None  # None: a dry run for a contact that does not exist yet
    crm_id: str
    created: bool
    outcomes: list[Outcome]


class CrmEventsInvalid(Exception):
    """Some events are invalid; nothing was written. ``errors``: per invalid event its
    ``index``, ``crm_id`` and messages by field."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} invalid event(s)")
        self.errors = errors


class _DryRunDone(Exception):  # control flow: roll the dry run's contact upsert back
    def __init__(self, result: EventResult) -> None:
        self.result = result


def _contact_errors(exc: ContactBulkInvalid, indexes: Sequence[int]) -> list[dict[str, Any]]:
    return [
        {
            "index": indexes[error["index"]],
            "crm_id": error["crm_id"],
            "errors": {"contact": error["errors"]},
        }
        for error in exc.errors
    ]


def _upsert(
    actor: Actor, indexes: Sequence[int], events: Sequence[CrmEvent]
) -> dict[int, tuple[int, str, bool]]:
    """Upsert the contacts of ``events[i]`` for ``i`` in ``indexes`` (distinct CRM ids):
    event index -> (contact id, CRM id, created)."""
    try:
        result = contact_bulk_upsert(actor=actor, items=[events[i].contact for i in indexes])
    except ContactBulkInvalid as exc:
        raise CrmEventsInvalid(_contact_errors(exc, indexes)) from None
    except ValidationError as exc:
        raise CrmEventsInvalid(
            [{"index": indexes[0], "crm_id": None, "errors": {"contact": exc.messages}}]
        ) from None
    found: dict[int, tuple[int, str, bool]] = {}
    for item in result.results:
        if item.id is None:  # written contacts always have their id
            raise RuntimeError("the contacts upsert returned no id")
        found[indexes[item.index]] = (item.id, item.crm_id, item.status == "created")
    return found


# --- One event -------------------------------------------------------------------------


def crm_event_record(*, actor: Actor, event: CrmEvent, dry_run: bool = False) -> EventResult:
    """Create or update the event's contact and evaluate the rules for it.

    ``dry_run`` decides without writing anything (the contact change is rolled back; a
    contact that does not exist yet is reported with no id).
    """
    if timezone.is_naive(event.occurred_at):
        raise ValidationError({"occurred_at": _("Give the time with its time zone.")})

    def run() -> EventResult:
        [(contact_id, crm_id, created)] = _upsert(actor, [0], [event]).values()
        contact = with_consent_states(Contact.objects.filter(pk=contact_id)).get()
        outcomes = crm_event_process(
            event_type=event.type,
            contact=contact,
            occurred_at=event.occurred_at,
            attributes=event.attributes,
            actor=actor,
            dry_run=dry_run,
        )
        return EventResult(0, contact_id, crm_id, created, outcomes)

    if not dry_run:
        with transaction.atomic():
            return run()
    try:
        with transaction.atomic():
            raise _DryRunDone(run())
    except _DryRunDone as done:
        result = done.result
    if result.created:
        result.contact_id = None
        for outcome in result.outcomes:
            outcome.contact_id = 0
    return result


# --- A batch of events -----------------------------------------------------------------


def _rounds(events: Sequence[CrmEvent]) -> list[list[int]]:
    """Event indexes in rounds: each CRM id at most once per round, in event order."""
    seen: Counter[str] = Counter()
    rounds: list[list[int]] = []
    for index, event in enumerate(events):
        crm_id = str(event.contact.get("crm_id", "")).strip()
        number = seen[crm_id]
        seen[crm_id] += 1
        if number == len(rounds):
            rounds.append([])
        rounds[number].append(index)
    return rounds


@dataclass(slots=True)
class _Budget:
    """The budget facts of the batch's contacts, kept current as invitations are made."""

    surveys: list[int]
    last_any: dict[int, datetime] = field(default_factory=dict)
    last_survey: dict[tuple[int, int], datetime] = field(default_factory=dict)
    open_survey: set[tuple[int, int]] = field(default_factory=set)
    loaded: set[int] = field(default_factory=set)

    def load(self, contact_ids: Sequence[int]) -> None:
        ids = [pk for pk in contact_ids if pk not in self.loaded]
        if not ids:
            return
        self.loaded.update(ids)
        # One query: the last send per contact and survey, and whether one is open.
        still_open = Q(status__in=(InvitationStatus.SCHEDULED, *OPEN_STATUSES))
        rows = (
            Invitation.objects.filter(contact_id__in=ids, status__in=BUDGET_STATUSES)
            .values("contact_id", "survey_id")
            .annotate(
                last=Max("send_at"),
                open=Max(Case(When(still_open, then=Value(1)), default=Value(0))),
            )
            .values_list("contact_id", "survey_id", "last", "open")
        )
        wanted = set(self.surveys)
        for contact_id, survey_id, last, is_open in rows:
            current = self.last_any.get(contact_id)
            if current is None or last > current:
                self.last_any[contact_id] = last
            if survey_id in wanted:
                self.last_survey[(contact_id, survey_id)] = last
                if is_open:
                    self.open_survey.add((contact_id, survey_id))

    def facts(self, contact: Contact, survey_id: int) -> ContactFacts:
        states = {
            channel: getattr(contact, consent_field(channel), None) or ConsentState.UNKNOWN
            for channel in InvitationChannel.values
        }
        last = contact.last_surveyed_at
        invited = self.last_any.get(contact.pk)
        if invited is not None and (last is None or invited > last):
            last = invited
        key = (contact.pk, survey_id)
        return ContactFacts(
            states=states,
            last_invited_at=last,
            last_this_survey_at=self.last_survey.get(key),
            open_for_survey=key in self.open_survey,
        )

    def use(self, contact_id: int, survey_id: int, send_at: datetime) -> None:
        """A scheduled invitation: it counts for the contact's next decisions."""
        last = self.last_any.get(contact_id)
        if last is None or send_at > last:
            self.last_any[contact_id] = send_at
        key = (contact_id, survey_id)
        last = self.last_survey.get(key)
        if last is None or send_at > last:
            self.last_survey[key] = send_at
        self.open_survey.add(key)


@dataclass(slots=True)
class _Rules:
    """The active rules of the batch's event types, with what deciding needs."""

    by_type: dict[str, list[DistributionRule]]
    versions: dict[int, SurveyVersion | None]
    settings: DistributionSettings
    timezone: str

    @classmethod
    def load(cls, event_types: set[str]) -> _Rules:
        by_type: dict[str, list[DistributionRule]] = {kind: [] for kind in event_types}
        rules = DistributionRule.objects.filter(event_type__in=event_types, is_active=True)
        for rule in rules.select_related("survey").order_by("name", "id"):
            by_type[rule.event_type].append(rule)
        surveys = {rule.survey_id: rule.survey for kinds in by_type.values() for rule in kinds}
        versions = {pk: survey_version_current(survey) for pk, survey in surveys.items()}
        if not surveys:
            return cls(by_type, versions, DistributionSettings(), "UTC")
        return cls(by_type, versions, distribution_settings_get(), _organization_timezone())

    def sendable(self, rule: DistributionRule) -> SurveyVersion | None:
        version = self.versions[rule.survey_id]
        if version is None or rule.survey.status != SurveyStatus.ACTIVE:
            return None
        return version


@dataclass(slots=True)
class _Pending:
    """A decision waiting for its invitation's id (written in bulk at the end)."""

    result: EventResult
    position: int  # of its outcome in ``result.outcomes``
    contact_id: int
    decision: Decision
    rule: DistributionRule
    version_id: int
    token: str | None  # None: no invitation (suppressed)


def _evaluate(
    event: CrmEvent,
    contact: Contact,
    result: EventResult,
    rules: _Rules,
    budget: _Budget,
    pending: list[_Pending],
) -> None:
    """The outcome of each rule for one event, in rule order (as ``crm_event_process``)."""
    merged = {**(contact.attributes or {}), **(event.attributes or {})}
    for rule in rules.by_type.get(event.type, []):
        if not _conditions_match(rule.conditions or {}, merged):
            result.outcomes.append(Outcome("not_matching", contact.pk, rule.pk, rule.name))
            continue
        version = rules.sendable(rule)
        if version is None:
            result.outcomes.append(
                Outcome(
                    "not_sendable", contact.pk, rule.pk, rule.name, detail=_(NOT_SENDABLE_DETAIL)
                )
            )
            continue
        policy = Policy(
            rules.settings, rules.timezone, rule.survey_min_days, rule.defer_when_blocked
        )
        decision = decide(
            contact,
            budget.facts(contact, rule.survey_id),
            wanted=rule.channel,
            send_at=event.occurred_at + rule.delay,
            policy=policy,
        )
        token = None
        if decision.sends:
            token = new_token()
            budget.use(contact.pk, rule.survey_id, decision.send_at)
        # A placeholder keeps the rule order; replaced once the invitation has its id.
        pending.append(
            _Pending(result, len(result.outcomes), contact.pk, decision, rule, version.pk, token)
        )
        result.outcomes.append(Outcome("", contact.pk, rule.pk, rule.name))


def crm_events_process(*, actor: Actor, events: Sequence[CrmEvent]) -> list[EventResult]:
    """Record up to ``MAX_EVENTS`` CRM events at once, all or nothing.

    Same contacts, invitations and suppressed sends as ``crm_event_record`` for each
    event in order; one audit entry per contact written and one per rule that decided
    (with the counts), instead of one per event. Raises ``CrmEventsInvalid`` when an
    event's contact is invalid (nothing is written).
    """
    if len(events) > MAX_EVENTS:
        raise ValidationError(
            {"events": _("At most %(max)d events per request.") % {"max": MAX_EVENTS}}
        )
    naive = [
        {"index": i, "crm_id": None, "errors": {"occurred_at": [_("Give the time zone.")]}}
        for i, event in enumerate(events)
        if timezone.is_naive(event.occurred_at)
    ]
    if naive:
        raise CrmEventsInvalid(naive)
    results: list[EventResult | None] = [None] * len(events)
    pending: list[_Pending] = []
    with transaction.atomic():
        rules = _Rules.load({event.type for event in events})
        budget = _Budget(surveys=sorted(rules.versions))
        for indexes in _rounds(events):
            contacts_of = _upsert(actor, indexes, events)
            ids = sorted({contact_id for contact_id, _c, _n in contacts_of.values()})
            if rules.versions:
                # The contacts' rows stay locked until the end (the budget is checked
                # and used in this transaction), as ``_lock`` does for one event.
                locked = Contact.objects.select_for_update(of=("self",)).filter(pk__in=ids)
                contacts = {c.pk: c for c in with_consent_states(locked.order_by("pk"))}
                budget.load(ids)
            for index in indexes:
                contact_id, crm_id, created = contacts_of[index]
                result = EventResult(index, contact_id, crm_id, created, [])
                results[index] = result
                if rules.by_type.get(events[index].type):
                    _evaluate(events[index], contacts[contact_id], result, rules, budget, pending)
        _write_pending(actor, pending, rules.settings)
    return [result for result in results if result is not None]


def _duration(value: timedelta) -> Any:
    """A duration as ``insert_rows`` sends it: an interval literal in PostgreSQL's JSON
    document, microseconds for SQLite (Django's storage there)."""
    if connection.vendor == "postgresql":
        return f"{duration_microseconds(value)} microseconds"
    return duration_microseconds(value)


def _write_pending(actor: Actor, pending: list[_Pending], settings: DistributionSettings) -> None:
    """Insert the invitations, their first timeline entries and the suppressed sends
    (plain rows: the ORM's per-object cost would dominate a batch), then complete the
    outcomes and write one audit entry per rule."""
    if not pending:
        return
    organization_id = require_organization_id()
    now = timezone.now()
    user_id = actor.user.pk if actor.user is not None and actor.user.pk else None
    expires_after = _duration(settings.expires_after)
    sends = [entry for entry in pending if entry.token is not None]
    returned = insert_rows(
        Invitation,
        INVITATION_COLUMNS,
        [
            (
                organization_id,
                entry.contact_id,
                entry.rule.survey_id,
                entry.version_id,
                entry.decision.channel,
                entry.token,
                InvitationStatus.SCHEDULED.value,
                InvitationTrigger.RULE.value,
                entry.rule.pk,
                entry.rule.event_type,
                entry.decision.send_at,
                "",
                "",
                _duration(entry.rule.reminder_after or settings.reminder_after),
                expires_after,
                0,
                "",
                user_id,
                now,
            )
            for entry in sends
        ],
        returning=["id", "token"],
    )
    invitation_ids: dict[str | None, int] = {token: pk for pk, token in returned}
    reasons = {
        entry.rule.pk: f"rule {entry.rule.name}: {entry.rule.event_type}"[:200] for entry in sends
    }
    insert_rows(
        InvitationEvent,
        ["organization", "invitation", "from_status", "to_status", "reason", "provider_data", "at"],
        [
            (
                organization_id,
                invitation_ids[entry.token],
                "",
                InvitationStatus.SCHEDULED.value,
                reasons[entry.rule.pk],
                {},
                now,
            )
            for entry in sends
        ],
    )
    insert_rows(
        SuppressedSend,
        SUPPRESSED_COLUMNS,
        [
            (
                organization_id,
                entry.contact_id,
                entry.rule.survey_id,
                entry.decision.channel,
                entry.decision.reason,
                str(entry.decision.detail)[:300],
                InvitationTrigger.RULE.value,
                entry.rule.pk,
                entry.rule.event_type,
                entry.decision.send_at if entry.decision.deferred else None,
                invitation_ids.get(entry.token),
                now,
            )
            for entry in pending
            if entry.decision.reason
        ],
    )
    counts: dict[int, Counter[str]] = {}
    rules: dict[int, DistributionRule] = {}
    for entry in pending:
        decision = entry.decision
        if decision.deferred:
            result = "deferred"
        elif decision.reason:
            result = "suppressed"
        else:
            result = "scheduled"
        entry.result.outcomes[entry.position] = Outcome(
            result=result,
            contact_id=entry.contact_id,
            rule_id=entry.rule.pk,
            rule_name=entry.rule.name,
            channel=decision.channel,
            reason=decision.reason,
            detail=decision.detail,
            send_at=decision.send_at if decision.sends else None,
            invitation_id=invitation_ids.get(entry.token),
        )
        counts.setdefault(entry.rule.pk, Counter())[result] += 1
        rules[entry.rule.pk] = entry.rule
    for rule_id, rule_counts in counts.items():
        rule = rules[rule_id]
        audit_log_record(
            actor=actor,
            action="distribution.crm_events",
            obj=rule,
            changes={
                "event_type": [None, rule.event_type],
                **{name: [None, count] for name, count in sorted(rule_counts.items())},
            },
        )


INVITATION_COLUMNS = [
    "organization",
    "contact",
    "survey",
    "survey_version",
    "channel",
    "token",
    "status",
    "trigger",
    "rule",
    "event_type",
    "send_at",
    "provider",
    "provider_message_id",
    "reminder_after",
    "expires_after",
    "attempts",
    "last_error",
    "created_by",
    "created_at",
]
SUPPRESSED_COLUMNS = [
    "organization",
    "contact",
    "survey",
    "channel",
    "reason",
    "detail",
    "trigger",
    "rule",
    "event_type",
    "deferred_until",
    "invitation",
    "created_at",
]


# --- A direct invitation ---------------------------------------------------------------


@dataclass(slots=True)
class DirectResult:
    """The decision for a direct invitation and the invitation (None when refused)."""

    decision: Decision
    invitation: Invitation | None


def invitation_create(
    *,
    actor: Actor,
    contact: Contact,
    survey: Survey,
    channel: str,
    send_at: datetime | None = None,
    defer_when_blocked: bool = False,
) -> DirectResult:
    """Invite ``contact`` to ``survey`` now or at ``send_at``, by ``channel`` (email, sms
    or ``preferred``), if consent, reachability, the open invitations and the contact
    budget allow it, exactly like a manual send. A refusal is recorded as a suppressed
    send and returned with no invitation; with ``defer_when_blocked`` a send blocked by
    timing (budget, SMS quiet hours) is scheduled for the next allowed moment instead.
    """
    errors: dict[str, list[str]] = {}
    if channel not in RuleChannel.values:
        errors["channel"] = [_("Choose a channel.")]
    if send_at is not None and timezone.is_naive(send_at):
        errors["send_at"] = [_("Give the time with its time zone.")]
    version = survey_version_current(survey)
    if version is None or survey.status != SurveyStatus.ACTIVE:
        errors["survey"] = [_("Publish the survey before sending it.")]
    if errors or version is None:
        raise ValidationError(errors)
    settings = distribution_settings_get()
    policy = Policy(settings, _organization_timezone(), 0, defer_when_blocked)
    origin = Origin(InvitationTrigger.API, created_by_id=actor.user.pk if actor.user else None)
    with transaction.atomic():
        _lock([contact.pk])
        loaded = with_consent_states(Contact.objects.filter(pk=contact.pk)).get()
        budget = _Budget(surveys=[survey.pk])
        budget.load([loaded.pk])
        decision = decide(
            loaded,
            budget.facts(loaded, survey.pk),
            wanted=channel,
            send_at=send_at or timezone.now(),
            policy=policy,
        )
        pair = _build(
            loaded,
            decision,
            survey=survey,
            version=version,
            origin=origin,
            settings=settings,
            reminder_after=None,
        )
        _write([pair], f"API: {actor.label}")
        invitation, _suppressed = pair
        audit_log_record(
            actor=actor,
            action="invitation.create",
            obj=invitation or survey,
            changes={
                "contact": [None, loaded.pk],
                "survey": [None, survey.pk],
                "channel": [None, decision.channel],
                "result": [None, decision.reason or "scheduled"],
            },
        )
    return DirectResult(decision, invitation)
