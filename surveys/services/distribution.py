"""Who gets invited: distribution settings and rules, the contact budget, consent and
quiet-hour checks, CRM events and manual sends.

Every decision ends in either a scheduled ``Invitation`` or a ``SuppressedSend`` with its
reason (a send blocked only by timing may be deferred: then both, linked). The budget
is race-free: the contact rows are locked (``SELECT ... FOR UPDATE`` on PostgreSQL;
SQLite serializes writers) inside the transaction that checks and schedules, so two
events for the same contact at the same moment cannot both pass the frequency check.
"""

from __future__ import annotations

import secrets
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import ConsentState, Contact
from contacts.selectors import (
    consent_field,
    contact_channel_consent_state,
    with_consent_states,
)
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
    RecurringSchedule,
    RuleChannel,
    SuppressedSend,
    SuppressionReason,
)
from surveys.selectors import distribution_settings_get, survey_version_current
from surveys.services._common import clean_text_field, raise_if
from tenants.context import require_organization_id
from tenants.models import Organization
from tenants.services import Actor, _diff, _plain, audit_log_record

R = SuppressionReason
BATCH_SIZE = 500
TOKEN_BYTES = 24  # 192 random bits


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


# --- Settings and rules ---------------------------------------------------------------

SETTINGS_FIELDS = (
    "min_days_between_invitations",
    "require_explicit_email_consent",
    "quiet_hours_start",
    "quiet_hours_end",
    "quiet_on_sundays",
    "reminder_after",
    "expires_after",
)


def _check_durations(errors: dict[str, list[str]], fields: dict[str, Any]) -> None:
    for name in ("reminder_after", "expires_after", "delay"):
        value = fields.get(name)
        if value is not None and value < timedelta(0):
            errors.setdefault(name, []).append(_("Use a positive duration."))


def distribution_settings_update(*, actor: Actor, **fields: Any) -> DistributionSettings:
    """Change the organization's distribution settings (created on first save)."""
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown settings: %(names)s") % {"names": ", ".join(unknown)})
    errors: dict[str, list[str]] = {}
    _check_durations(errors, fields)
    reminder, expires = fields.get("reminder_after"), fields.get("expires_after")
    if reminder is not None and expires is not None and reminder >= expires:
        errors.setdefault("reminder_after", []).append(
            _("The reminder must come before the link expires.")
        )
    raise_if(errors)
    with transaction.atomic():
        current = distribution_settings_get()
        changes = _diff(current, fields)
        for name, value in fields.items():
            setattr(current, name, value)
        current.full_clean()
        current.save()
        audit_log_record(
            actor=actor, action="distribution_settings.update", obj=current, changes=changes
        )
    return current


RULE_FIELDS = (
    "name",
    "event_type",
    "survey",
    "channel",
    "delay",
    "conditions",
    "survey_min_days",
    "reminder_after",
    "defer_when_blocked",
    "is_active",
)


def _clean_rule(fields: dict[str, Any], rule: DistributionRule | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    fields["name"] = clean_text_field(errors, DistributionRule, "name", fields.get("name"))
    fields["event_type"] = clean_text_field(
        errors, DistributionRule, "event_type", fields.get("event_type")
    )
    _check_durations(errors, fields)
    if fields.get("channel") not in RuleChannel.values:
        errors.setdefault("channel", []).append(_("Choose a channel."))
    survey = fields.get("survey")
    if not isinstance(survey, Survey) or survey.organization_id != require_organization_id():
        errors.setdefault("survey", []).append(_("Choose a survey."))
    conditions = fields.get("conditions") or {}
    if not isinstance(conditions, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str | int | float | bool)
        for k, v in conditions.items()
    ):
        errors.setdefault("conditions", []).append(_("Use key = value pairs."))
    fields["conditions"] = conditions
    name_taken = DistributionRule.objects.filter(name=fields["name"])
    if rule is not None:
        name_taken = name_taken.exclude(pk=rule.pk)
    if fields["name"] and name_taken.exists():
        errors.setdefault("name", []).append(_("A rule with this name exists."))
    raise_if(errors)
    return fields


def distribution_rule_create(*, actor: Actor, **fields: Any) -> DistributionRule:
    fields = {name: fields.get(name) for name in RULE_FIELDS if name in fields}
    fields.setdefault("channel", RuleChannel.PREFERRED)
    with transaction.atomic():
        fields = _clean_rule(fields, None)
        rule = DistributionRule(**fields)
        rule.full_clean()
        rule.save()
        audit_log_record(
            actor=actor,
            action="distribution_rule.create",
            obj=rule,
            changes={name: [None, _plain(getattr(rule, name))] for name in fields},
        )
    return rule


def distribution_rule_update(
    *, actor: Actor, rule: DistributionRule, **fields: Any
) -> DistributionRule:
    merged = {name: getattr(rule, name) for name in RULE_FIELDS}
    merged.update({name: value for name, value in fields.items() if name in RULE_FIELDS})
    with transaction.atomic():
        merged = _clean_rule(merged, rule)
        changes = _diff(rule, merged)
        for name, value in merged.items():
            setattr(rule, name, value)
        rule.full_clean()
        rule.save()
        audit_log_record(actor=actor, action="distribution_rule.update", obj=rule, changes=changes)
    return rule


def distribution_rule_delete(*, actor: Actor, rule: DistributionRule) -> None:
    with transaction.atomic():
        audit_log_record(actor=actor, action="distribution_rule.delete", obj=rule)
        rule.delete()


# --- The checks ------------------------------------------------------------------------


Block = tuple[str, str]  # (SuppressionReason, detail)


def _consent_block(channel: str, state: str, policy: DistributionSettings) -> Block | None:
    if state == ConsentState.WITHDRAWN:
        return R.OPT_OUT, _("The contact opted out of %(channel)s.") % {"channel": channel}
    if state == ConsentState.UNKNOWN and (
        channel == InvitationChannel.SMS or policy.require_explicit_email_consent
    ):
        return R.NO_CONSENT, _("No consent for %(channel)s.") % {"channel": channel}
    return None


def _reach_block(contact: Contact, channel: str) -> Block | None:
    if contact.erased_at is not None:  # GDPR erasure: never surveyed again
        return R.UNREACHABLE, _("The contact's data was erased.")
    if channel == InvitationChannel.EMAIL and not contact.email:
        return R.UNREACHABLE, _("No email address.")
    if channel == InvitationChannel.SMS and not contact.phone:
        return R.UNREACHABLE, _("No mobile number.")
    return None


def channel_block(
    contact: Contact,
    channel: str,
    states: dict[str, str] | None = None,
    policy: DistributionSettings | None = None,
) -> Block | None:
    """Why ``channel`` cannot reach ``contact`` now (address, opt-out, consent), or None."""
    block = _reach_block(contact, channel)
    if block is not None:
        return block
    if states is not None:
        state = states[channel]
    else:
        state = contact_channel_consent_state(contact_id=contact.pk, channel=channel)
    if state == ConsentState.GRANTED:
        return None  # no policy can refuse a grant: skip loading the settings
    return _consent_block(channel, state, policy or distribution_settings_get())


def choose_channel(
    contact: Contact, wanted: str, states: dict[str, str], policy: DistributionSettings
) -> tuple[str, Block | None]:
    """The channel to use: the one asked for, or for ``preferred`` email when it may
    reach the contact, else SMS. With a block when neither may."""
    if wanted != RuleChannel.PREFERRED:
        return wanted, channel_block(contact, wanted, states, policy)
    email = channel_block(contact, InvitationChannel.EMAIL, states, policy)
    if email is None:
        return InvitationChannel.EMAIL, None
    sms = channel_block(contact, InvitationChannel.SMS, states, policy)
    if sms is None:
        return InvitationChannel.SMS, None
    if email[0] == R.UNREACHABLE and sms[0] != R.UNREACHABLE:
        return InvitationChannel.SMS, sms
    return (InvitationChannel.EMAIL if contact.email else ""), email


def _is_quiet(local: datetime, policy: DistributionSettings) -> bool:
    if policy.quiet_on_sundays and local.weekday() == 6:
        return True
    start, end, now = policy.quiet_hours_start, policy.quiet_hours_end, local.time()
    if start == end:
        return False
    if start > end:
        return now >= start or now < end
    return start <= now < end


def quiet_hours_end(
    moment: datetime, tz_name: str, policy: DistributionSettings
) -> datetime | None:
    """None when ``moment`` is outside the SMS quiet hours in ``tz_name``; else the next
    moment that is."""
    tz = zoneinfo.ZoneInfo(tz_name)
    local = moment.astimezone(tz)
    if not _is_quiet(local, policy):
        return None
    for _step in range(16):
        if policy.quiet_on_sundays and local.weekday() == 6:
            local = datetime.combine(local.date() + timedelta(days=1), time(0, 0), tzinfo=tz)
        elif _is_quiet(local, policy):
            end = policy.quiet_hours_end
            day = local.date() if local.time() < end else local.date() + timedelta(days=1)
            local = datetime.combine(day, end, tzinfo=tz)
        if not _is_quiet(local, policy):
            return local.astimezone(zoneinfo.ZoneInfo("UTC"))
    return None  # quiet around the clock: never blocked by a misconfiguration


@dataclass(slots=True)
class ContactFacts:
    """What the budget check needs about one contact, loaded in bulk."""

    states: dict[str, str]
    last_invited_at: datetime | None = None
    last_this_survey_at: datetime | None = None
    open_for_survey: bool = False


def _facts(contacts: Sequence[Contact], survey: Survey) -> dict[int, ContactFacts]:
    """Consent states, last invitation (any survey, this survey) and open invitations."""
    ids = [c.pk for c in contacts]
    facts = {
        c.pk: ContactFacts(
            states={
                ch: getattr(c, consent_field(ch), None) or ConsentState.UNKNOWN
                for ch in InvitationChannel.values
            },
            last_invited_at=c.last_surveyed_at,
        )
        for c in contacts
    }
    if any(not hasattr(c, consent_field(InvitationChannel.EMAIL)) for c in contacts):
        annotated = with_consent_states(Contact.objects.filter(pk__in=ids)).values(
            "pk", *[consent_field(ch) for ch in InvitationChannel.values]
        )
        for row in annotated:
            facts[row["pk"]].states = {
                ch: row[consent_field(ch)] for ch in InvitationChannel.values
            }
    budget = Invitation.objects.filter(contact_id__in=ids, status__in=BUDGET_STATUSES)
    for row in budget.values("contact_id").annotate(last=Max("send_at")):
        current = facts[row["contact_id"]]
        if current.last_invited_at is None or row["last"] > current.last_invited_at:
            current.last_invited_at = row["last"]
    mine = budget.filter(survey=survey)
    for row in mine.values("contact_id").annotate(last=Max("send_at")):
        facts[row["contact_id"]].last_this_survey_at = row["last"]
    for contact_id in mine.filter(
        status__in=(InvitationStatus.SCHEDULED, *OPEN_STATUSES)
    ).values_list("contact_id", flat=True):
        facts[contact_id].open_for_survey = True
    return facts


@dataclass(slots=True)
class Decision:
    channel: str
    send_at: datetime
    reason: str = ""
    detail: str = ""
    deferred: bool = False

    @property
    def sends(self) -> bool:
        return not self.reason or self.deferred


@dataclass(frozen=True, slots=True)
class Policy:
    settings: DistributionSettings
    organization_timezone: str
    survey_min_days: int = 0
    defer_when_blocked: bool = False


def decide(
    contact: Contact, facts: ContactFacts, *, wanted: str, send_at: datetime, policy: Policy
) -> Decision:
    """Whether (and when, and by which channel) ``contact`` may be invited."""
    channel, block = choose_channel(contact, wanted, facts.states, policy.settings)
    if block is not None:
        return Decision(channel, send_at, *block)
    if facts.open_for_survey:
        return Decision(channel, send_at, R.DUPLICATE, _("An invitation to this survey is open."))
    decision = Decision(channel, send_at)
    limits = [
        (facts.last_invited_at, policy.settings.min_days_between_invitations),
        (facts.last_this_survey_at, policy.survey_min_days),
    ]
    for last, days in limits:
        if days and last is not None and last > decision.send_at - timedelta(days=days):
            allowed = last + timedelta(days=days)
            if not decision.reason:
                decision.reason = R.FREQUENCY
                decision.detail = _("Invited on %(date)s; at most once in %(days)d days.") % {
                    "date": f"{timezone.localtime(last):%Y-%m-%d}",
                    "days": days,
                }
            if not policy.defer_when_blocked:
                return decision
            decision.send_at = max(decision.send_at, allowed)
            decision.deferred = True
    if channel == InvitationChannel.SMS:
        tz_name = contact.timezone or policy.organization_timezone
        allowed_at = quiet_hours_end(decision.send_at, tz_name, policy.settings)
        if allowed_at is not None:
            if not decision.reason:
                decision.reason = R.QUIET_HOURS
                decision.detail = _("SMS quiet hours in %(tz)s.") % {"tz": tz_name}
            if not policy.defer_when_blocked:
                decision.deferred = False
                return decision
            decision.send_at = allowed_at
            decision.deferred = True
    return decision


# --- Scheduling ------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    """What happened for one contact (and rule): scheduled, deferred, suppressed,
    not_matching (the rule's conditions) or not_sendable (no published version)."""

    result: str
    contact_id: int
    rule_id: int | None = None
    rule_name: str = ""
    channel: str = ""
    reason: str = ""
    detail: str = ""
    send_at: datetime | None = None
    invitation_id: int | None = None


@dataclass(frozen=True, slots=True)
class Origin:
    trigger: str
    rule: DistributionRule | None = None
    event_type: str = ""
    created_by_id: int | None = None
    recurring: RecurringSchedule | None = None


def _build(
    contact: Contact,
    decision: Decision,
    *,
    survey: Survey,
    version: SurveyVersion,
    origin: Origin,
    settings: DistributionSettings,
    reminder_after: timedelta | None,
) -> tuple[Invitation | None, SuppressedSend | None]:
    invitation = None
    if decision.sends:
        invitation = Invitation(
            contact=contact,
            survey=survey,
            survey_version=version,
            channel=decision.channel,
            token=new_token(),
            trigger=origin.trigger,
            rule=origin.rule,
            event_type=origin.event_type,
            recurring=origin.recurring,
            send_at=decision.send_at,
            reminder_after=reminder_after or settings.reminder_after,
            expires_after=settings.expires_after,
            created_by_id=origin.created_by_id,
        )
    suppressed = None
    if decision.reason:
        suppressed = SuppressedSend(
            contact=contact,
            survey=survey,
            channel=decision.channel,
            reason=decision.reason,
            detail=decision.detail[:300],
            trigger=origin.trigger,
            rule=origin.rule,
            event_type=origin.event_type,
            recurring=origin.recurring,
            deferred_until=decision.send_at if decision.deferred else None,
        )
    return invitation, suppressed


def _write(pairs: list[tuple[Invitation | None, SuppressedSend | None]], reason: str) -> None:
    invitations = [inv for inv, _s in pairs if inv is not None]
    Invitation.objects.bulk_create(invitations, batch_size=BATCH_SIZE)
    InvitationEvent.objects.bulk_create(
        [
            InvitationEvent(
                invitation=inv,
                to_status=InvitationStatus.SCHEDULED,
                reason=reason[:200],
                at=inv.created_at,
            )
            for inv in invitations
        ],
        batch_size=BATCH_SIZE,
    )
    suppressed = []
    for inv, sup in pairs:
        if sup is not None:
            sup.invitation = inv
            suppressed.append(sup)
    SuppressedSend.objects.bulk_create(suppressed, batch_size=BATCH_SIZE)


def _lock(contact_ids: Sequence[int]) -> None:
    """Lock the contacts' rows until the transaction ends (the budget is checked and
    used in it). A no-op on SQLite, which serializes writing transactions."""
    list(
        Contact.objects.select_for_update()
        .filter(pk__in=contact_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _outcome(
    contact: Contact,
    decision: Decision,
    invitation: Invitation | None,
    rule: DistributionRule | None,
) -> Outcome:
    if decision.deferred:
        result = "deferred"
    elif decision.reason:
        result = "suppressed"
    else:
        result = "scheduled"
    return Outcome(
        result=result,
        contact_id=contact.pk,
        rule_id=rule.pk if rule else None,
        rule_name=rule.name if rule else "",
        channel=decision.channel,
        reason=decision.reason,
        detail=decision.detail,
        send_at=decision.send_at if decision.sends else None,
        invitation_id=invitation.pk if invitation else None,
    )


def _organization_timezone() -> str:
    return str(
        Organization.objects.filter(pk=require_organization_id())
        .values_list("timezone", flat=True)
        .get()
    )


def _conditions_match(conditions: dict[str, Any], attributes: dict[str, Any]) -> bool:
    return all(
        key in attributes and str(attributes[key]).casefold() == str(value).casefold()
        for key, value in conditions.items()
    )


def crm_event_process(
    *,
    event_type: str,
    contact: Contact,
    occurred_at: datetime,
    attributes: dict[str, Any] | None = None,
    actor: Actor,
    dry_run: bool = False,
) -> list[Outcome]:
    """Evaluate the active rules for ``event_type`` and schedule (or suppress) one
    invitation per matching rule. ``attributes`` (the event's) override the contact's
    attributes for the rules' conditions. ``dry_run`` decides without writing."""
    if timezone.is_naive(occurred_at):
        raise ValidationError({"occurred_at": _("Give the time with its time zone.")})
    merged = {**(contact.attributes or {}), **(attributes or {})}
    rules = DistributionRule.objects.filter(event_type=event_type, is_active=True).select_related(
        "survey"
    )
    settings = distribution_settings_get()
    tz_name = _organization_timezone()
    outcomes: list[Outcome] = []
    for rule in rules.order_by("name", "id"):
        if not _conditions_match(rule.conditions or {}, merged):
            outcomes.append(Outcome("not_matching", contact.pk, rule.pk, rule.name))
            continue
        version = survey_version_current(rule.survey)
        if version is None or rule.survey.status != SurveyStatus.ACTIVE:
            outcomes.append(
                Outcome(
                    "not_sendable",
                    contact.pk,
                    rule.pk,
                    rule.name,
                    detail=_("The survey is not published or is archived."),
                )
            )
            continue
        policy = Policy(settings, tz_name, rule.survey_min_days, rule.defer_when_blocked)
        send_at = occurred_at + rule.delay
        origin = Origin(
            InvitationTrigger.RULE, rule, event_type, actor.user.pk if actor.user else None
        )
        with transaction.atomic():
            if not dry_run:
                _lock([contact.pk])
            facts = _facts([contact], rule.survey)[contact.pk]
            decision = decide(contact, facts, wanted=rule.channel, send_at=send_at, policy=policy)
            pair = _build(
                contact,
                decision,
                survey=rule.survey,
                version=version,
                origin=origin,
                settings=settings,
                reminder_after=rule.reminder_after,
            )
            if not dry_run:
                _write([pair], f"rule {rule.name}: {event_type}")
                audit_log_record(
                    actor=actor,
                    action="distribution.crm_event",
                    obj=rule,
                    changes={
                        "contact": [None, contact.pk],
                        "event_type": [None, event_type],
                        "result": [None, decision.reason or "scheduled"],
                    },
                )
        outcomes.append(_outcome(contact, decision, pair[0], rule))
    return outcomes


# --- Manual sends -----------------------------------------------------------------------


@dataclass(slots=True)
class ManualPlan:
    """Counts of a manual send (or its dry run): invited, deferred, skipped per reason."""

    total: int = 0
    scheduled: int = 0
    deferred: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def skipped_labelled(self) -> list[tuple[str, str, int]]:
        labels = dict(SuppressionReason.choices)
        return [(key, str(labels[key]), self.skipped[key]) for key in sorted(self.skipped)]

    def add(self, decision: Decision) -> None:
        self.total += 1
        if decision.deferred:
            self.deferred += 1
        elif decision.reason:
            self.skipped[decision.reason] = self.skipped.get(decision.reason, 0) + 1
        else:
            self.scheduled += 1


def _batches(queryset: QuerySet[Contact]) -> Iterator[list[Contact]]:
    last = 0
    while True:
        batch = list(queryset.filter(pk__gt=last).order_by("pk")[:BATCH_SIZE])
        if not batch:
            return
        yield batch
        last = batch[-1].pk


def manual_send(
    *,
    actor: Actor,
    survey: Survey,
    channel: str,
    contacts: QuerySet[Contact],
    defer_when_blocked: bool = False,
    send_at: datetime | None = None,
    dry_run: bool = True,
) -> ManualPlan:
    """Invite the contacts of ``contacts`` (a filtered contact list) to ``survey``.

    ``dry_run`` (the confirmation step) only counts who would be invited and who would
    be skipped and why; otherwise invitations and suppressed sends are written in
    batches (bulk inserts, each batch one transaction with its contacts locked).
    """
    errors: dict[str, list[str]] = {}
    if channel not in RuleChannel.values:
        errors["channel"] = [_("Choose a channel.")]
    version = survey_version_current(survey)
    if version is None or survey.status != SurveyStatus.ACTIVE:
        errors["survey"] = [_("Publish the survey before sending it.")]
    raise_if(errors)
    if version is None:  # for the type checker: raise_if raised already
        raise ValidationError({"survey": _("Publish the survey before sending it.")})
    settings = distribution_settings_get()
    policy = Policy(settings, _organization_timezone(), 0, defer_when_blocked)
    send_at = send_at or timezone.now()
    origin = Origin(InvitationTrigger.MANUAL, created_by_id=actor.user.pk if actor.user else None)
    plan = ManualPlan()
    for batch in _batches(contacts):
        with transaction.atomic():
            if not dry_run:
                _lock([c.pk for c in batch])
            facts = _facts(batch, survey)
            pairs = []
            for contact in batch:
                decision = decide(
                    contact, facts[contact.pk], wanted=channel, send_at=send_at, policy=policy
                )
                plan.add(decision)
                pairs.append(
                    _build(
                        contact,
                        decision,
                        survey=survey,
                        version=version,
                        origin=origin,
                        settings=settings,
                        reminder_after=None,
                    )
                )
            if not dry_run:
                _write(pairs, f"manual send by {actor.label}")
    if not dry_run:
        with transaction.atomic():
            audit_log_record(
                actor=actor,
                action="survey.manual_send",
                obj=survey,
                changes={
                    "channel": [None, channel],
                    "scheduled": [None, plan.scheduled],
                    "deferred": [None, plan.deferred],
                    "skipped": [None, plan.skipped],
                },
            )
    return plan
