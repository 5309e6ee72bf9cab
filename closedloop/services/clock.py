"""Due times and escalation times of a case, from its SLA policy and calendar.

Every escalation point has a key, fired once per case (``CaseEscalation``):
``breach:first_response`` / ``breach:resolution`` at the due times, and ``step:<id>``
for each rung of the policy's ladder. A point is pending while its target is not met
(first contact not made; case not resolved). ``next_escalation_at`` is the earliest
pending point, or None while the case is paused, finished or without a policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from closedloop.models import (
    BusinessHours,
    Case,
    EscalationStep,
    SlaPolicy,
    SlaTarget,
)
from closedloop.sla import Calendar


def business_calendar() -> Calendar | None:
    """The current organization's business hours as a calendar, if it has any."""
    hours = BusinessHours.objects.first()
    if hours is None:
        return None
    return calendar_of_hours(hours)


def calendar_of_hours(hours: BusinessHours) -> Calendar:
    return Calendar.business(
        timezone=hours.timezone,
        weekdays=[int(day) for day in hours.weekdays] or [1, 2, 3, 4, 5],
        opens_at=hours.opens_at,
        closes_at=hours.closes_at,
        holidays={date.fromisoformat(day) for day in hours.holidays},
    )


def policy_calendar(policy: SlaPolicy | None, business: Calendar | None) -> Calendar:
    if policy is not None and policy.business_hours_only and business is not None:
        return business
    return Calendar.always()


@dataclass(frozen=True, slots=True)
class EscalationPoint:
    key: str
    at: datetime
    target: str
    step: EscalationStep | None


def _budget(policy: SlaPolicy, target: str) -> int | None:
    if target == SlaTarget.FIRST_RESPONSE:
        return policy.first_response_minutes
    return policy.resolution_minutes


def due_times(
    case: Case, policy: SlaPolicy | None, calendar: Calendar
) -> tuple[datetime | None, datetime | None]:
    """(first contact due, resolution due), shifted by the time the case was paused."""
    if policy is None:
        return None, None
    first = None
    if policy.first_response_minutes is not None:
        first = calendar.add_working(
            case.created_at, policy.first_response_minutes + case.paused_minutes
        )
    resolution = calendar.add_working(
        case.created_at, policy.resolution_minutes + case.paused_minutes
    )
    return first, resolution


def escalation_points(
    case: Case, policy: SlaPolicy | None, steps: list[EscalationStep], calendar: Calendar
) -> list[EscalationPoint]:
    """Every escalation point of the case whose target is still open, earliest first."""
    if policy is None:
        return []
    points: list[EscalationPoint] = []
    first_due, resolution_due = due_times(case, policy, calendar)
    open_targets: dict[str, datetime] = {}
    if case.first_responded_at is None and first_due is not None:
        open_targets[SlaTarget.FIRST_RESPONSE.value] = first_due
    if case.resolved_at is None and case.is_open and resolution_due is not None:
        open_targets[SlaTarget.RESOLUTION.value] = resolution_due
    for target, target_due in open_targets.items():
        points.append(EscalationPoint(f"breach:{target}", target_due, target, None))
    for step in steps:
        due = open_targets.get(step.target)
        budget = _budget(policy, step.target)
        if due is None or budget is None:
            continue
        if step.at_percent is not None:
            at = calendar.add_working(
                case.created_at, budget * step.at_percent / 100 + case.paused_minutes
            )
        else:
            at = calendar.add_working(due, step.after_due_minutes or 0)
        points.append(EscalationPoint(f"step:{step.pk}", at, step.target, step))
    points.sort(key=lambda point: (point.at, point.key.startswith("step:")))
    return points


def next_escalation(
    case: Case,
    policy: SlaPolicy | None,
    steps: list[EscalationStep],
    calendar: Calendar,
    fired: set[str],
) -> datetime | None:
    if case.paused_at is not None or not case.is_open:
        return None
    pending = [p for p in escalation_points(case, policy, steps, calendar) if p.key not in fired]
    return pending[0].at if pending else None


def policy_steps(policy: SlaPolicy | None) -> list[EscalationStep]:
    if policy is None:
        return []
    return list(EscalationStep.objects.filter(policy=policy))


def case_clock_refresh(case: Case, *, fired: set[str] | None = None) -> None:
    """Recompute the case's due times and next escalation time (not saved)."""
    policy = case.sla_policy
    calendar = policy_calendar(policy, business_calendar() if policy else None)
    case.first_response_due_at, case.resolution_due_at = due_times(case, policy, calendar)
    if fired is None:
        fired = set(case.escalations.values_list("key", flat=True)) if case.pk else set()
    case.next_escalation_at = next_escalation(case, policy, policy_steps(policy), calendar, fired)


CLOCK_FIELDS = ["first_response_due_at", "resolution_due_at", "next_escalation_at"]
