# mypy: disallow-untyped-defs, disallow-incomplete-defs
"""Writes of the closed-loop settings: routing rules, SLA policies and their escalation
ladders, business hours, the root-cause taxonomy and reply templates.

Each service validates everything it is given (a ``ValidationError`` keyed by field,
nothing written), writes in one transaction and records an audit log entry.

SLA changes apply to open cases: the escalation sweep always measures a case against
its policy's current targets, ladder and the current business hours, so a change to
any of them recomputes the due times and the next escalation time of the open cases
it touches (escalations already fired stay fired).
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, time
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from closedloop.messages import template_errors
from closedloop.models import (
    OPEN_CASE_STATUSES,
    AssignMode,
    BusinessHours,
    Case,
    CaseEscalation,
    CaseRootCause,
    EscalationAction,
    EscalationStep,
    MessageChannel,
    MessageTemplate,
    Priority,
    RootCause,
    RoutingRule,
    SlaPolicy,
    SlaTarget,
)
from closedloop.routing import conditions_clean
from closedloop.services.clock import (
    CLOCK_FIELDS,
    business_calendar,
    due_times,
    next_escalation,
    policy_calendar,
)
from closedloop.sla import Calendar
from tenants.models import Membership, Team
from tenants.services import Actor, audit_log_record

# Escalation steps: "at N %" of a target's time (100 = the due time, more = later).
AT_PERCENT_MAX = 1000
# Targets and "after the due time" delays: at most a year, in minutes.
MINUTES_MAX = 366 * 24 * 60
RECLOCK_BATCH = 500


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


def _text(
    errors: dict[str, list[str]],
    field: str,
    value: Any,
    *,
    max_length: int,
    required: bool = True,
) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        _add(errors, field, _("This field is required."))
    elif len(text) > max_length:
        _add(errors, field, _("Use at most %(max)s characters.") % {"max": max_length})
    return text


@contextmanager
def _name_taken_is(message: str) -> Iterator[None]:
    """A concurrent save may take the name between the check and the write: the unique
    constraint refuses it, and the person gets the same message as for the check."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        raise ValidationError({"name": message}) from exc


def _diff(instance: Any, fields: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        name: [getattr(instance, name), value]
        for name, value in fields.items()
        if getattr(instance, name) != value
    }


# --- Open cases follow their policy ---------------------------------------------------


def _open_cases_reclock(policies: QuerySet[SlaPolicy]) -> int:
    """Recompute due times and the next escalation time of the open cases under these
    policies (what the sweep would find next); the number of cases."""
    by_id = {policy.pk: policy for policy in policies}
    if not by_id:
        return 0
    business = business_calendar()
    steps: dict[int, list[EscalationStep]] = defaultdict(list)
    for step in EscalationStep.objects.filter(policy_id__in=by_id):
        steps[step.policy_id].append(step)
    cases = Case.objects.filter(sla_policy_id__in=by_id, status__in=OPEN_CASE_STATUSES).order_by(
        "pk"
    )
    done = 0
    last = 0
    while True:
        batch = list(cases.filter(pk__gt=last)[:RECLOCK_BATCH])
        if not batch:
            return done
        fired: dict[int, set[str]] = defaultdict(set)
        for case_id, key in CaseEscalation.objects.filter(
            case_id__in=[case.pk for case in batch]
        ).values_list("case_id", "key"):
            fired[case_id].add(key)
        for case in batch:
            policy = by_id[case.sla_policy_id]
            calendar = policy_calendar(policy, business)
            case.first_response_due_at, case.resolution_due_at = due_times(case, policy, calendar)
            case.next_escalation_at = next_escalation(
                case, policy, steps[policy.pk], calendar, fired[case.pk]
            )
        Case.objects.bulk_update(batch, CLOCK_FIELDS)
        done += len(batch)
        last = batch[-1].pk


# --- Routing rules --------------------------------------------------------------------


def _rule_fields(
    *,
    name: str,
    enabled: bool,
    conditions: Any,
    open_case: bool,
    priority: int,
    sla_policy_id: int | None,
    assign_mode: str,
    assign_user_id: int | None,
    assign_team_id: int | None,
    account_owner_attribute: str,
) -> dict[str, Any]:
    """Validate a rule's editable fields; raise with every problem, keyed by field."""
    errors: dict[str, list[str]] = {}
    fields: dict[str, Any] = {
        "name": _text(errors, "name", name, max_length=120),
        "enabled": bool(enabled),
        "open_case": bool(open_case),
    }
    clean, problems = conditions_clean(conditions)
    for problem in problems:
        _add(errors, "conditions", problem)
    fields["conditions"] = clean
    if priority not in Priority.values:
        _add(errors, "priority", _("Choose one of the listed priorities."))
    fields["priority"] = priority
    if sla_policy_id is not None and not SlaPolicy.objects.filter(pk=sla_policy_id).exists():
        _add(errors, "sla_policy", _("Choose an SLA policy of this organization."))
    fields["sla_policy_id"] = sla_policy_id
    if assign_mode not in AssignMode.values:
        _add(errors, "assign_mode", _("Choose one of the listed ways to assign."))
    # Keep only what the mode uses, so the rule reads as it behaves.
    uses_user = assign_mode == AssignMode.USER
    uses_team = assign_mode in (
        AssignMode.USER,
        AssignMode.TEAM_ROUND_ROBIN,
        AssignMode.TEAM_LEAST_OPEN,
    )
    uses_attribute = assign_mode == AssignMode.ACCOUNT_OWNER
    user_id = assign_user_id if uses_user else None
    team_id = assign_team_id if uses_team else None
    attribute = (
        _text(
            errors,
            "account_owner_attribute",
            account_owner_attribute,
            max_length=100,
            required=True,
        )
        if uses_attribute
        else ""
    )
    if uses_user:
        if user_id is None:
            _add(errors, "assign_user", _("Choose the user who gets the cases."))
        elif not Membership.objects.filter(user_id=user_id).exists():
            _add(errors, "assign_user", _("Choose a member of this organization."))
    if team_id is not None and not Team.objects.filter(pk=team_id).exists():
        _add(errors, "assign_team", _("Choose a team of this organization."))
    elif team_id is None and assign_mode in (
        AssignMode.TEAM_ROUND_ROBIN,
        AssignMode.TEAM_LEAST_OPEN,
    ):
        _add(errors, "assign_team", _("Choose the team whose members get the cases."))
    fields.update(
        assign_mode=assign_mode,
        assign_user_id=user_id,
        assign_team_id=team_id,
        account_owner_attribute=attribute,
    )
    _raise_if(errors)
    return fields


def _renumber_rules(ordered: Sequence[RoutingRule]) -> None:
    changed = []
    for number, rule in enumerate(ordered, start=1):
        if rule.position != number:
            rule.position = number
            changed.append(rule)
    if changed:
        RoutingRule.objects.bulk_update(changed, ["position"])


def _rules_locked() -> list[RoutingRule]:
    """Every rule of the organization in order, locked: reordering is serialized."""
    return list(RoutingRule.objects.select_for_update().order_by("position", "id"))


def routing_rule_create(
    *,
    actor: Actor,
    name: str,
    conditions: Any,
    enabled: bool = True,
    open_case: bool = True,
    priority: int = Priority.NORMAL,
    sla_policy_id: int | None = None,
    assign_mode: str = AssignMode.TOUCHPOINT_TEAM,
    assign_user_id: int | None = None,
    assign_team_id: int | None = None,
    account_owner_attribute: str = "",
    position: int | None = None,
) -> RoutingRule:
    """Add a rule at ``position`` (1 = asked first; None = last); later rules move down."""
    fields = _rule_fields(
        name=name,
        enabled=enabled,
        conditions=conditions,
        open_case=open_case,
        priority=priority,
        sla_policy_id=sla_policy_id,
        assign_mode=assign_mode,
        assign_user_id=assign_user_id,
        assign_team_id=assign_team_id,
        account_owner_attribute=account_owner_attribute,
    )
    with transaction.atomic():
        ordered = _rules_locked()
        index = len(ordered) if position is None else min(max(position, 1) - 1, len(ordered))
        rule = RoutingRule(position=index + 1, **fields)
        _renumber_rules([*ordered[:index], rule, *ordered[index:]])
        rule.save()
        audit_log_record(
            actor=actor,
            action="routing_rule.create",
            obj=rule,
            changes={
                "position": [None, rule.position],
                **{
                    key: [None, value]
                    for key, value in fields.items()
                    if value not in ("", None, [])
                },
            },
        )
    return rule


def routing_rule_update(
    *,
    actor: Actor,
    rule: RoutingRule,
    name: str,
    conditions: Any,
    enabled: bool,
    open_case: bool,
    priority: int,
    sla_policy_id: int | None,
    assign_mode: str,
    assign_user_id: int | None,
    assign_team_id: int | None,
    account_owner_attribute: str,
) -> RoutingRule:
    fields = _rule_fields(
        name=name,
        enabled=enabled,
        conditions=conditions,
        open_case=open_case,
        priority=priority,
        sla_policy_id=sla_policy_id,
        assign_mode=assign_mode,
        assign_user_id=assign_user_id,
        assign_team_id=assign_team_id,
        account_owner_attribute=account_owner_attribute,
    )
    with transaction.atomic():
        rule = RoutingRule.objects.select_for_update().get(pk=rule.pk)
        changes = _diff(rule, fields)
        if changes:
            for key, value in fields.items():
                setattr(rule, key, value)
            rule.save()
            audit_log_record(actor=actor, action="routing_rule.update", obj=rule, changes=changes)
    return rule


def routing_rule_enable(*, actor: Actor, rule: RoutingRule, enabled: bool) -> RoutingRule:
    """Switch a rule on or off; a disabled rule is skipped, the next one is asked."""
    with transaction.atomic():
        rule = RoutingRule.objects.select_for_update().get(pk=rule.pk)
        if rule.enabled != enabled:
            audit_log_record(
                actor=actor,
                action="routing_rule.enable" if enabled else "routing_rule.disable",
                obj=rule,
                changes={"enabled": [rule.enabled, enabled]},
            )
            rule.enabled = enabled
            rule.save(update_fields=["enabled", "updated_at"])
    return rule


def routing_rule_move(*, actor: Actor, rule: RoutingRule, direction: str) -> RoutingRule:
    """Move a rule one place ``up`` (asked earlier) or ``down`` (asked later)."""
    if direction not in ("up", "down"):
        raise ValidationError({"direction": _("Move up or down.")})
    with transaction.atomic():
        ordered = _rules_locked()
        index = next(i for i, r in enumerate(ordered) if r.pk == rule.pk)
        target = index - 1 if direction == "up" else index + 1
        moved = ordered[index]
        if not 0 <= target < len(ordered):
            return moved  # already first or last
        before = moved.position
        ordered[index], ordered[target] = ordered[target], ordered[index]
        _renumber_rules(ordered)
        audit_log_record(
            actor=actor,
            action="routing_rule.move",
            obj=moved,
            changes={"position": [before, moved.position]},
        )
    return moved


def routing_rule_delete(*, actor: Actor, rule: RoutingRule) -> None:
    """Delete a rule; its cases stay (they forget the rule) and later rules move up."""
    with transaction.atomic():
        ordered = _rules_locked()
        rule = next(r for r in ordered if r.pk == rule.pk)
        audit_log_record(
            actor=actor,
            action="routing_rule.delete",
            obj=rule,
            changes={"name": [rule.name, None], "conditions": [rule.conditions, None]},
        )
        rule.delete()
        _renumber_rules([r for r in ordered if r is not rule])


# --- SLA policies and their escalation ladders ---------------------------------------


def _minutes(
    errors: dict[str, list[str]], field: str, value: int | None, *, required: bool
) -> int | None:
    if value is None:
        if required:
            _add(errors, field, _("This field is required."))
        return None
    if not 0 < value <= MINUTES_MAX:
        _add(errors, field, _("Give a time between one minute and a year."))
    return value


def _policy_fields(
    *,
    name: str,
    first_response_minutes: int | None,
    resolution_minutes: int | None,
    business_hours_only: bool,
    exclude: int | None = None,
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    name = _text(errors, "name", name, max_length=120)
    first = _minutes(errors, "first_response_minutes", first_response_minutes, required=False)
    resolution = _minutes(errors, "resolution_minutes", resolution_minutes, required=True)
    if first is not None and resolution is not None and first > resolution:
        _add(
            errors,
            "first_response_minutes",
            _("The first contact cannot be due after the resolution."),
        )
    if name:
        duplicates = SlaPolicy.objects.filter(name__iexact=name)
        if exclude is not None:
            duplicates = duplicates.exclude(pk=exclude)
        if duplicates.exists():
            _add(errors, "name", _("An SLA policy with this name already exists."))
    _raise_if(errors)
    return {
        "name": name,
        "first_response_minutes": first,
        "resolution_minutes": resolution,
        "business_hours_only": bool(business_hours_only),
    }


def sla_policy_create(
    *,
    actor: Actor,
    name: str,
    resolution_minutes: int | None,
    first_response_minutes: int | None = None,
    business_hours_only: bool = False,
) -> SlaPolicy:
    fields = _policy_fields(
        name=name,
        first_response_minutes=first_response_minutes,
        resolution_minutes=resolution_minutes,
        business_hours_only=business_hours_only,
    )
    with transaction.atomic():
        with _name_taken_is(_("An SLA policy with this name already exists.")):
            policy = SlaPolicy.objects.create(**fields)
        audit_log_record(
            actor=actor,
            action="sla_policy.create",
            obj=policy,
            changes={key: [None, value] for key, value in fields.items() if value is not None},
        )
    return policy


def sla_policy_update(
    *,
    actor: Actor,
    policy: SlaPolicy,
    name: str,
    resolution_minutes: int | None,
    first_response_minutes: int | None,
    business_hours_only: bool,
) -> SlaPolicy:
    """Change a policy; its open cases are measured against the new targets."""
    fields = _policy_fields(
        name=name,
        first_response_minutes=first_response_minutes,
        resolution_minutes=resolution_minutes,
        business_hours_only=business_hours_only,
        exclude=policy.pk,
    )
    with transaction.atomic():
        policy = SlaPolicy.objects.select_for_update().get(pk=policy.pk)
        changes = _diff(policy, fields)
        if not changes:
            return policy
        if (
            fields["first_response_minutes"] is None
            and policy.steps.filter(target=SlaTarget.FIRST_RESPONSE).exists()
        ):
            raise ValidationError(
                {
                    "first_response_minutes": _(
                        "The escalation ladder has first-contact steps; delete them before "
                        "removing the first-contact target."
                    )
                }
            )
        for key, value in fields.items():
            setattr(policy, key, value)
        with _name_taken_is(_("An SLA policy with this name already exists.")):
            policy.save()
        audit_log_record(actor=actor, action="sla_policy.update", obj=policy, changes=changes)
        timing = {"first_response_minutes", "resolution_minutes", "business_hours_only"}
        if timing & set(changes):
            _open_cases_reclock(SlaPolicy.objects.filter(pk=policy.pk))
    return policy


def sla_policy_delete(*, actor: Actor, policy: SlaPolicy) -> None:
    """Delete a policy no rule and no case uses (cases keep theirs for the record)."""
    with transaction.atomic():
        policy = SlaPolicy.objects.select_for_update().get(pk=policy.pk)
        rules = list(
            RoutingRule.objects.filter(sla_policy=policy)
            .order_by("position")
            .values_list("name", flat=True)
        )
        if rules:
            raise ValidationError(
                _(
                    "The routing rules %(rules)s use this policy. Choose another policy "
                    "for them first."
                )
                % {"rules": ", ".join(f"“{name}”" for name in rules)}
            )
        cases = Case.objects.filter(sla_policy=policy)
        open_count = cases.filter(status__in=OPEN_CASE_STATUSES).count()
        if open_count:
            raise ValidationError(
                ngettext(
                    "%(count)s open case runs on this policy. It can be deleted once the "
                    "case is closed.",
                    "%(count)s open cases run on this policy. It can be deleted once they "
                    "are closed.",
                    open_count,
                )
                % {"count": open_count}
            )
        if cases.exists():
            raise ValidationError(
                _(
                    "Closed cases were measured against this policy, so it stays for their "
                    "record. Rename it if it should no longer be chosen."
                )
            )
        audit_log_record(
            actor=actor,
            action="sla_policy.delete",
            obj=policy,
            changes={"name": [policy.name, None]},
        )
        policy.delete()


def escalation_step_add(
    *,
    actor: Actor,
    policy: SlaPolicy,
    target: str,
    action: str,
    at_percent: int | None = None,
    after_due_minutes: int | None = None,
) -> EscalationStep:
    """Add a rung to the policy's ladder: at ``at_percent`` of the target's time, or
    ``after_due_minutes`` past its due time (exactly one of the two)."""
    errors: dict[str, list[str]] = {}
    if target not in SlaTarget.values:
        _add(errors, "target", _("Choose first contact or resolution."))
    elif target == SlaTarget.FIRST_RESPONSE and policy.first_response_minutes is None:
        _add(errors, "target", _("This policy has no first-contact target."))
    if action not in EscalationAction.values:
        _add(errors, "action", _("Choose one of the listed actions."))
    if (at_percent is None) == (after_due_minutes is None):
        _add(
            errors,
            "__all__",
            _("Give either a share of the time or a delay after the due time, not both."),
        )
    elif at_percent is not None and not 1 <= at_percent <= AT_PERCENT_MAX:
        _add(
            errors,
            "at_percent",
            _("Give a share between 1 and %(max)s %%.") % {"max": AT_PERCENT_MAX},
        )
    elif after_due_minutes is not None and not 0 < after_due_minutes <= MINUTES_MAX:
        _add(errors, "after_due_minutes", _("Give a time between one minute and a year."))
    _raise_if(errors)
    with transaction.atomic():
        policy = SlaPolicy.objects.select_for_update().get(pk=policy.pk)
        if EscalationStep.objects.filter(
            policy=policy,
            target=target,
            action=action,
            at_percent=at_percent,
            after_due_minutes=after_due_minutes,
        ).exists():
            raise ValidationError(_("The ladder has this step already."))
        step = EscalationStep.objects.create(
            policy=policy,
            target=target,
            action=action,
            at_percent=at_percent,
            after_due_minutes=after_due_minutes,
        )
        audit_log_record(
            actor=actor,
            action="escalation_step.create",
            obj=step,
            changes={
                "policy": [None, policy.name],
                "target": [None, target],
                "action": [None, action],
                "at_percent": [None, at_percent],
                "after_due_minutes": [None, after_due_minutes],
            },
        )
        _open_cases_reclock(SlaPolicy.objects.filter(pk=policy.pk))
    return step


def escalation_step_delete(*, actor: Actor, step: EscalationStep) -> None:
    """Remove a rung; cases where it fired keep the record of it."""
    with transaction.atomic():
        policy = SlaPolicy.objects.select_for_update().get(pk=step.policy_id)
        audit_log_record(
            actor=actor,
            action="escalation_step.delete",
            obj=step,
            changes={"policy": [policy.name, None], "step": [str(step), None]},
        )
        step.delete()
        _open_cases_reclock(SlaPolicy.objects.filter(pk=policy.pk))


# --- Business hours -------------------------------------------------------------------


def business_hours_save(
    *,
    actor: Actor,
    timezone: str,
    weekdays: Iterable[int],
    opens_at: time,
    closes_at: time,
    holidays: Iterable[date] = (),
) -> BusinessHours:
    """Set the organization's business hours (one set per organization)."""
    errors: dict[str, list[str]] = {}
    if timezone not in zoneinfo.available_timezones():
        _add(errors, "timezone", _("Choose a time zone from the list."))
    days = sorted({int(day) for day in weekdays})
    if not days:
        _add(errors, "weekdays", _("Choose at least one working day."))
    elif not set(days) <= set(range(1, 8)):
        _add(errors, "weekdays", _("Choose working days from the list."))
    if closes_at <= opens_at:
        _add(errors, "closes_at", _("Closing time must be after opening time."))
    off = sorted(set(holidays))
    _raise_if(errors)
    try:
        Calendar.business(
            timezone=timezone, weekdays=days, opens_at=opens_at, closes_at=closes_at, holidays=off
        )
    except ValueError as exc:  # the calendar's own checks, should the rules above drift
        raise ValidationError(str(exc)) from exc
    fields: dict[str, Any] = {
        "timezone": timezone,
        "weekdays": days,
        "opens_at": opens_at,
        "closes_at": closes_at,
        "holidays": [day.isoformat() for day in off],
    }
    with transaction.atomic():
        hours = BusinessHours.objects.select_for_update().first()
        if hours is None:
            hours = BusinessHours.objects.create(**fields)
            changes = {key: [None, _plain(value)] for key, value in fields.items()}
        else:
            changes = {
                key: [_plain(old), _plain(new)] for key, [old, new] in _diff(hours, fields).items()
            }
            if not changes:
                return hours
            for key, value in fields.items():
                setattr(hours, key, value)
            hours.save()
        audit_log_record(actor=actor, action="business_hours.save", obj=hours, changes=changes)
        _open_cases_reclock(SlaPolicy.objects.filter(business_hours_only=True))
    return hours


def business_hours_clear(*, actor: Actor) -> bool:
    """Remove the business hours: every policy counts around the clock. True if there
    were hours to remove."""
    with transaction.atomic():
        hours = BusinessHours.objects.select_for_update().first()
        if hours is None:
            return False
        audit_log_record(
            actor=actor,
            action="business_hours.clear",
            obj=hours,
            changes={"hours": [str(hours), None]},
        )
        hours.delete()
        _open_cases_reclock(SlaPolicy.objects.filter(business_hours_only=True))
    return True


def _plain(value: Any) -> Any:
    return value.isoformat(timespec="minutes") if isinstance(value, time) else value


# --- Root causes ----------------------------------------------------------------------


def _root_cause_fields(
    *, name: str, description: str, exclude: int | None = None
) -> dict[str, str]:
    errors: dict[str, list[str]] = {}
    name = _text(errors, "name", name, max_length=120)
    description = _text(errors, "description", description, max_length=300, required=False)
    if name:
        duplicates = RootCause.objects.filter(name__iexact=name)
        if exclude is not None:
            duplicates = duplicates.exclude(pk=exclude)
        if duplicates.exists():
            _add(errors, "name", _("A root cause with this name already exists."))
    _raise_if(errors)
    return {"name": name, "description": description}


def root_cause_create(*, actor: Actor, name: str, description: str = "") -> RootCause:
    fields = _root_cause_fields(name=name, description=description)
    with transaction.atomic():
        with _name_taken_is(_("A root cause with this name already exists.")):
            root_cause = RootCause.objects.create(**fields)
        audit_log_record(
            actor=actor,
            action="root_cause.create",
            obj=root_cause,
            changes={key: [None, value] for key, value in fields.items() if value},
        )
    return root_cause


def root_cause_update(
    *, actor: Actor, root_cause: RootCause, name: str, description: str
) -> RootCause:
    """Rename or describe a root cause; cases tagged with it show the new name."""
    fields = _root_cause_fields(name=name, description=description, exclude=root_cause.pk)
    with transaction.atomic():
        root_cause = RootCause.objects.select_for_update().get(pk=root_cause.pk)
        changes = _diff(root_cause, fields)
        if changes:
            for key, value in fields.items():
                setattr(root_cause, key, value)
            with _name_taken_is(_("A root cause with this name already exists.")):
                root_cause.save()
            audit_log_record(
                actor=actor, action="root_cause.update", obj=root_cause, changes=changes
            )
    return root_cause


def root_cause_deactivate(
    *, actor: Actor, root_cause: RootCause, active: bool = False
) -> RootCause:
    """Take a root cause out of the choices (``active=False``) or bring it back. Cases
    tagged with it keep the tag."""
    with transaction.atomic():
        root_cause = RootCause.objects.select_for_update().get(pk=root_cause.pk)
        if root_cause.active != active:
            audit_log_record(
                actor=actor,
                action="root_cause.activate" if active else "root_cause.deactivate",
                obj=root_cause,
                changes={"active": [root_cause.active, active]},
            )
            root_cause.active = active
            root_cause.save(update_fields=["active"])
    return root_cause


def root_cause_delete(*, actor: Actor, root_cause: RootCause) -> None:
    """Delete a root cause no case is tagged with; a used one can only be deactivated."""
    with transaction.atomic():
        root_cause = RootCause.objects.select_for_update().get(pk=root_cause.pk)
        if CaseRootCause.objects.filter(root_cause=root_cause).exists():
            raise ValidationError(
                _(
                    "Cases are tagged with “%(name)s”, so it stays for their record. "
                    "Deactivate it to take it out of the choices."
                )
                % {"name": root_cause.name}
            )
        audit_log_record(
            actor=actor,
            action="root_cause.delete",
            obj=root_cause,
            changes={"name": [root_cause.name, None]},
        )
        root_cause.delete()


# --- Reply templates ------------------------------------------------------------------


def _languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def _template_fields(
    *,
    name: str,
    channel: str,
    subject: dict[str, str],
    body: dict[str, str],
    exclude: int | None = None,
) -> dict[str, Any]:
    """Validate a template; errors are keyed ``subject_<lang>``/``body_<lang>``."""
    errors: dict[str, list[str]] = {}
    name = _text(errors, "name", name, max_length=120)
    if channel not in MessageChannel.values:
        _add(errors, "channel", _("Choose email or SMS."))
    languages = _languages()
    unknown = (set(subject) | set(body)) - set(languages)
    if unknown:
        _add(errors, "__all__", _("Write texts only in the listed languages."))
    bodies = {code: text.strip() for code, text in body.items() if text and text.strip()}
    subjects = {code: text.strip() for code, text in subject.items() if text and text.strip()}
    if channel == MessageChannel.SMS:
        subjects = {}  # a text message has no subject
    if not bodies:
        _add(errors, "__all__", _("Write the text in at least one language."))
    for code in languages:
        text = bodies.get(code, "")
        for problem in template_errors(text):
            _add(errors, f"body_{code}", problem)
        if code in subjects:
            if len(subjects[code]) > 300:
                _add(errors, f"subject_{code}", _("Use at most 300 characters."))
            for problem in template_errors(subjects[code]):
                _add(errors, f"subject_{code}", problem)
        elif channel == MessageChannel.EMAIL and text:
            _add(errors, f"subject_{code}", _("An email needs a subject."))
        if code in subjects and not text:
            _add(errors, f"body_{code}", _("Write the text for this subject."))
    if name and channel in MessageChannel.values:
        duplicates = MessageTemplate.objects.filter(name__iexact=name, channel=channel)
        if exclude is not None:
            duplicates = duplicates.exclude(pk=exclude)
        if duplicates.exists():
            _add(errors, "name", _("A template with this name exists for this channel already."))
    _raise_if(errors)
    return {"name": name, "channel": channel, "subject": subjects, "body": bodies}


def message_template_create(
    *, actor: Actor, name: str, channel: str, subject: dict[str, str], body: dict[str, str]
) -> MessageTemplate:
    fields = _template_fields(name=name, channel=channel, subject=subject, body=body)
    with transaction.atomic():
        with _name_taken_is(_("A template with this name exists for this channel already.")):
            template = MessageTemplate.objects.create(**fields)
        audit_log_record(
            actor=actor,
            action="message_template.create",
            obj=template,
            changes={key: [None, value] for key, value in fields.items() if value},
        )
    return template


def message_template_update(
    *,
    actor: Actor,
    template: MessageTemplate,
    name: str,
    channel: str,
    subject: dict[str, str],
    body: dict[str, str],
) -> MessageTemplate:
    fields = _template_fields(
        name=name, channel=channel, subject=subject, body=body, exclude=template.pk
    )
    with transaction.atomic():
        template = MessageTemplate.objects.select_for_update().get(pk=template.pk)
        changes = _diff(template, fields)
        if changes:
            for key, value in fields.items():
                setattr(template, key, value)
            with _name_taken_is(_("A template with this name exists for this channel already.")):
                template.save()
            audit_log_record(
                actor=actor, action="message_template.update", obj=template, changes=changes
            )
    return template


def message_template_delete(*, actor: Actor, template: MessageTemplate) -> None:
    """Delete a template; messages already sent keep their text."""
    with transaction.atomic():
        audit_log_record(
            actor=actor,
            action="message_template.delete",
            obj=template,
            changes={"name": [template.name, None], "channel": [template.channel, None]},
        )
        template.delete()
