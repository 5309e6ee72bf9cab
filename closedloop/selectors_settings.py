# mypy: disallow-untyped-defs, disallow-incomplete-defs
"""Reads for the closed-loop settings pages: rules with their conditions in words, the
routing preview over recent responses, SLA policies with their use, business hours and
a sample due time, root causes with their use, reply templates and form choices.

Everything runs in the current organization's context (the managers filter by it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from closedloop.models import (
    OPEN_CASE_STATUSES,
    BusinessHours,
    Case,
    CaseRootCause,
    EscalationStep,
    MessageTemplate,
    RootCause,
    RoutingRule,
    SlaPolicy,
)
from closedloop.routing import conditions_match
from closedloop.services.clock import calendar_of_hours
from closedloop.services.routing import response_facts
from closedloop.sla import Calendar
from responses.models import NpsGroup, Response, ResponseChannel
from surveys.models import Journey, SurveyVersion, Touchpoint
from tenants.models import Membership, Team

PREVIEW_RESPONSES = 200
PREVIEW_SAMPLE = 10


def duration_text(minutes: int | None) -> str:
    """A target in words: whole days, else hours, else minutes."""
    if minutes is None:
        return ""
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return ngettext("%(n)s day", "%(n)s days", days) % {"n": days}
    if minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("%(n)s hour", "%(n)s hours", hours) % {"n": hours}
    if minutes > 60:
        return _("%(h)s h %(m)s min") % {"h": minutes // 60, "m": minutes % 60}
    return ngettext("%(n)s minute", "%(n)s minutes", minutes) % {"n": minutes}


# --- Overview -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SettingsOverview:
    rules: int
    rules_enabled: int
    policies: int
    business_hours: BusinessHours | None
    root_causes: int
    root_causes_active: int
    templates: int


def settings_overview() -> SettingsOverview:
    rules = RoutingRule.objects.aggregate(n=Count("id"), on=Count("id", filter=Q(enabled=True)))
    causes = RootCause.objects.aggregate(n=Count("id"), on=Count("id", filter=Q(active=True)))
    return SettingsOverview(
        rules=rules["n"],
        rules_enabled=rules["on"],
        policies=SlaPolicy.objects.count(),
        business_hours=BusinessHours.objects.first(),
        root_causes=causes["n"],
        root_causes_active=causes["on"],
        templates=MessageTemplate.objects.count(),
    )


# --- Routing rules --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoutingNames:
    """Names for the ids that conditions hold."""

    journeys: Mapping[int, str]
    touchpoints: Mapping[int, str]


def routing_names() -> RoutingNames:
    return RoutingNames(
        journeys=dict(Journey.objects.values_list("pk", "name")),
        touchpoints=dict(Touchpoint.objects.values_list("pk", "name")),
    )


def _or(values: Sequence[str]) -> str:
    if len(values) <= 1:
        return "".join(values)
    return _("%(items)s or %(last)s") % {"items": ", ".join(values[:-1]), "last": values[-1]}


def _quoted(value: Any) -> str:
    return "“%s”" % value  # noqa: UP031


def _named(ids: Sequence[Any], names: Mapping[int, str]) -> list[str]:
    out = []
    for item in ids:
        name = names.get(int(item)) if str(item).isdigit() else None
        out.append(name if name is not None else _("#%(id)s (deleted)") % {"id": item})
    return out


def condition_text(condition: Mapping[str, Any], names: RoutingNames) -> str:
    """One condition in words, e.g. “NPS group is detractor or passive”."""
    name, op, value = str(condition["field"]), condition["op"], condition.get("value")
    subjects = {
        "nps_group": _("NPS group"),
        "nps": _("NPS"),
        "ces": _("CES"),
        "csat": _("CSAT"),
        "journey": _("Journey"),
        "touchpoint": _("Touchpoint"),
        "channel": _("Channel"),
        "comment": _("Comment"),
    }
    if name.startswith("answer:"):
        subject = _("Answer to question %(id)s") % {"id": _quoted(name.removeprefix("answer:"))}
    elif name.startswith("attribute:"):
        subject = _("CRM attribute %(name)s") % {"name": _quoted(name.removeprefix("attribute:"))}
    else:
        subject = str(subjects.get(name, name))
    values = value if isinstance(value, list) else [value]
    if name == "nps_group":
        groups: dict[Any, Any] = dict(NpsGroup.choices)
        shown = [str(groups.get(v, v)) for v in values]
    elif name == "channel":
        channels: dict[Any, Any] = dict(ResponseChannel.choices)
        shown = [str(channels.get(v, v)) for v in values]
    elif name == "journey":
        shown = _named(values, names.journeys)
    elif name == "touchpoint":
        shown = _named(values, names.touchpoints)
    elif op in ("eq", "in", "contains_any") and (
        name.startswith(("answer:", "attribute:")) or name == "comment"
    ):
        shown = [_quoted(v) for v in values]
    else:
        shown = [str(v) for v in values]
    if op == "exists":
        predicate = _("is present")
    elif op == "contains_any":
        predicate = _("mentions %(words)s") % {"words": _or(shown)}
    elif op == "between" and len(shown) == 2:
        predicate = _("is between %(low)s and %(high)s") % {"low": shown[0], "high": shown[1]}
    elif op == "gte":
        predicate = _("is at least %(value)s") % {"value": shown[0]}
    elif op == "lte":
        predicate = _("is at most %(value)s") % {"value": shown[0]}
    else:  # in, eq
        predicate = _("is %(values)s") % {"values": _or(shown)}
    return _("%(subject)s %(predicate)s") % {"subject": subject, "predicate": predicate}


@dataclass(frozen=True, slots=True)
class RuleRow:
    rule: RoutingRule
    conditions: list[str]


def routing_rule_list() -> list[RuleRow]:
    """The organization's rules in the order they are asked, conditions in words."""
    names = routing_names()
    rules = RoutingRule.objects.select_related("sla_policy", "assign_user", "assign_team")
    return [
        RuleRow(rule, [condition_text(c, names) for c in rule.conditions])
        for rule in rules.order_by("position", "id")
    ]


@dataclass(frozen=True, slots=True)
class PreviewRow:
    response: Response
    matches: bool
    taken_by: RoutingRule | None
    imported: bool


@dataclass(frozen=True, slots=True)
class RoutingPreview:
    examined: int
    matched: int
    # Of the matched: how many no earlier enabled rule takes first.
    reached: int
    rows: list[PreviewRow] = field(default_factory=list)


def routing_preview(
    *,
    conditions: list[dict[str, Any]],
    rule_id: int | None = None,
    position: int | None = None,
    limit: int = PREVIEW_RESPONSES,
    sample: int = PREVIEW_SAMPLE,
) -> RoutingPreview:
    """How the conditions would do on the latest ``limit`` responses.

    The candidate stands in for rule ``rule_id`` (editing), or is placed at
    ``position`` (1 = asked first; None = last) among the rules (a new rule). Each of the
    ``sample`` newest responses shows which rule takes it today.
    """
    rules = list(RoutingRule.objects.select_related("sla_policy").order_by("position", "id"))
    enabled = [rule for rule in rules if rule.enabled]
    # The order the candidate would be asked in: None marks the candidate.
    if rule_id is not None and any(rule.pk == rule_id for rule in rules):
        order: list[RoutingRule | None] = [None if r.pk == rule_id else r for r in rules]
    else:
        index = len(rules) if position is None else min(max(position, 1) - 1, len(rules))
        order = [*rules[:index], None, *rules[index:]]
    before = [r for r in order[: order.index(None)] if r is not None and r.enabled]
    responses = list(
        Response.objects.select_related("touchpoint").order_by("-responded_at", "-id")[:limit]
    )
    matched = reached = 0
    rows = []
    for number, response in enumerate(responses):
        facts = response_facts(response)
        matches = conditions_match(conditions, facts)
        imported = response.channel == ResponseChannel.IMPORT
        if matches and not imported:
            matched += 1
            if not any(conditions_match(r.conditions, facts) for r in before):
                reached += 1
        if number < sample:
            taken_by = (
                None
                if imported
                else next((r for r in enabled if conditions_match(r.conditions, facts)), None)
            )
            rows.append(PreviewRow(response, matches, taken_by, imported))
    return RoutingPreview(examined=len(responses), matched=matched, reached=reached, rows=rows)


# --- SLA policies ---------------------------------------------------------------------


def step_text(step: EscalationStep) -> str:
    """One rung of a ladder in words, e.g. “Resolution: at 75 % of the time: Remind the
    owner”."""
    values = {"target": step.get_target_display(), "action": step.get_action_display()}
    if step.at_percent == 100:
        return _("%(target)s: at the due time: %(action)s") % values
    if step.at_percent is not None:
        return _("%(target)s: at %(percent)s %% of the time: %(action)s") % {
            **values,
            "percent": step.at_percent,
        }
    return _("%(target)s: %(after)s after the due time: %(action)s") % {
        **values,
        "after": duration_text(step.after_due_minutes),
    }


def _ladder_order(step: EscalationStep) -> tuple[bool, bool, int]:
    """First contact before resolution; then by when each step fires."""
    late = step.at_percent is None
    return (
        step.target != "first_response",
        late,
        step.after_due_minutes or 0 if late else step.at_percent or 0,
    )


@dataclass(frozen=True, slots=True)
class StepRow:
    step: EscalationStep
    text: str


@dataclass(frozen=True, slots=True)
class PolicyRow:
    policy: SlaPolicy
    first_response: str
    resolution: str
    steps: list[StepRow]
    rules: int
    open_cases: int


def sla_policy_list() -> list[PolicyRow]:
    """Policies with their ladders, the rules that choose them and their open cases."""
    policies = list(SlaPolicy.objects.all())
    steps: dict[int, list[StepRow]] = {policy.pk: [] for policy in policies}
    for step in sorted(EscalationStep.objects.all(), key=_ladder_order):
        steps.setdefault(step.policy_id, []).append(StepRow(step, step_text(step)))
    rules = dict(
        RoutingRule.objects.filter(sla_policy__isnull=False)
        .values_list("sla_policy_id")
        .annotate(n=Count("id"))
        .values_list("sla_policy_id", "n")
    )
    cases = dict(
        Case.objects.filter(status__in=OPEN_CASE_STATUSES, sla_policy__isnull=False)
        .values_list("sla_policy_id")
        .annotate(n=Count("id"))
        .values_list("sla_policy_id", "n")
    )
    return [
        PolicyRow(
            policy,
            duration_text(policy.first_response_minutes),
            duration_text(policy.resolution_minutes),
            steps[policy.pk],
            rules.get(policy.pk, 0),
            cases.get(policy.pk, 0),
        )
        for policy in policies
    ]


def escalation_step_list(policy: SlaPolicy) -> list[StepRow]:
    steps = sorted(EscalationStep.objects.filter(policy=policy), key=_ladder_order)
    return [StepRow(step, step_text(step)) for step in steps]


# --- Business hours -------------------------------------------------------------------


def business_hours_get() -> BusinessHours | None:
    return BusinessHours.objects.first()


@dataclass(frozen=True, slots=True)
class DueSample:
    opened: datetime
    minutes: int
    business: datetime
    around_the_clock: datetime


def business_hours_sample(
    hours: BusinessHours, *, now: datetime, minutes: int = 24 * 60
) -> DueSample:
    """When a case opened ``now`` with a target of ``minutes`` would be due."""
    return DueSample(
        opened=now,
        minutes=minutes,
        business=calendar_of_hours(hours).add_working(now, minutes),
        around_the_clock=Calendar.always().add_working(now, minutes),
    )


# --- Root causes and templates --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RootCauseRow:
    root_cause: RootCause
    cases: int


def root_cause_list() -> list[RootCauseRow]:
    """The taxonomy, active first, with how many cases are tagged with each cause."""
    used = dict(
        CaseRootCause.objects.values_list("root_cause_id")
        .annotate(n=Count("id"))
        .values_list("root_cause_id", "n")
    )
    return [
        RootCauseRow(root_cause, used.get(root_cause.pk, 0))
        for root_cause in RootCause.objects.order_by("-active", "name")
    ]


def root_cause_use(root_cause: RootCause) -> int:
    return CaseRootCause.objects.filter(root_cause=root_cause).count()


def message_template_list() -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.order_by("name", "channel")


# --- Choices for the forms ------------------------------------------------------------


def _person(user: Any) -> str:
    full = user.get_full_name()
    return f"{full} <{user.email}>" if full else str(user.email or user.get_username())


def member_choices() -> list[tuple[int, str]]:
    memberships = Membership.objects.select_related("user").order_by("user__email")
    return [(m.user_id, _person(m.user)) for m in memberships]


def team_choices() -> list[tuple[int, str]]:
    return list(Team.objects.order_by("name").values_list("pk", "name"))


def sla_policy_choices() -> list[tuple[int, str]]:
    return [(policy.pk, policy.name) for policy in SlaPolicy.objects.all()]


def journey_touchpoint_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped options ``journey:<id>`` and ``touchpoint:<id>`` for condition rows."""
    journeys = list(Journey.objects.order_by("name").values_list("pk", "name"))
    touchpoints: dict[int, list[tuple[str, str]]] = {pk: [] for pk, _name in journeys}
    for pk, name, journey_id in Touchpoint.objects.order_by("position").values_list(
        "pk", "name", "journey_id"
    ):
        touchpoints.setdefault(journey_id, []).append((f"touchpoint:{pk}", name))
    if not journeys:
        return []
    groups = [(_("Journeys"), [(f"journey:{pk}", name) for pk, name in journeys])]
    groups += [
        (_("Touchpoints of %(journey)s") % {"journey": name}, touchpoints[pk])
        for pk, name in journeys
        if touchpoints[pk]
    ]
    return groups


def question_choices(limit: int = 100) -> list[tuple[str, str]]:
    """Question ids of recently published survey versions (id, question text)."""
    seen: dict[str, str] = {}
    versions = SurveyVersion.objects.filter(published_at__isnull=False).order_by("-published_at")
    for version in versions.only("schema", "default_language")[:limit]:
        questions = (version.schema or {}).get("questions") or []
        for question in questions:
            if not isinstance(question, dict) or not isinstance(question.get("id"), str):
                continue
            texts = question.get("text") or {}
            text = texts.get(version.default_language) or next(iter(texts.values()), "")
            seen.setdefault(question["id"], str(text))
    return sorted(seen.items())
