"""The escalation sweep (Celery beat, every minute).

``escalation_sweep`` takes open cases whose ``next_escalation_at`` has come, over all
organizations, in batches: ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
concurrent sweeps share the work instead of repeating it. For each case it fires every
escalation point that is due and not fired yet, records it in ``CaseEscalation``
(unique per case and key: the second insert of a point fails, whatever the sweeps,
workers or a restarted beat do), writes the timeline and notifications, and moves
``next_escalation_at`` to the next pending point.

Actions: ``breach:<target>`` marks the target breached; the ladder's steps remind the
owner, notify the team lead (the case team's, else the touchpoint team's; managers
when there is none), notify the organization's managers, or reassign the case to the
team lead.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from closedloop.models import (
    BusinessHours,
    Case,
    CaseEscalation,
    CaseEventKind,
    EscalationAction,
    EscalationStep,
    SlaPolicy,
    SlaTarget,
)
from closedloop.services.clock import (
    EscalationPoint,
    calendar_of_hours,
    escalation_points,
    next_escalation,
    policy_calendar,
)
from closedloop.services.notifications import managers_of_organization, notify
from closedloop.services.timeline import case_event_add
from closedloop.sla import Calendar
from tenants.context import cross_tenant, tenant_context
from tenants.models import Organization, Team
from tenants.services import Actor

logger = logging.getLogger(__name__)

SLA_ACTOR = Actor(label="SLA")
BATCH = 500
# One sweep stops taking new batches after this long; the next minute goes on.
SWEEP_BUDGET_SECONDS = 40


def _due_batch(now: datetime, limit: int) -> list[tuple[int, int]]:
    queryset = Case.objects.filter(next_escalation_at__lte=now).order_by("next_escalation_at")
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True, of=("self",))
    return list(queryset.values_list("organization_id", "pk")[:limit])


def escalation_sweep(*, now: datetime | None = None, batch: int = BATCH) -> int:
    """Fire due escalation points of every organization; how many fired."""
    started = time.monotonic()
    fired = 0
    while time.monotonic() - started < SWEEP_BUDGET_SECONDS:
        now_ = now or timezone.now()
        with transaction.atomic():
            with cross_tenant(reason="SLA sweep: due cases of every organization"):
                due = _due_batch(now_, batch)
            by_org: dict[int, list[int]] = defaultdict(list)
            for organization_id, case_id in due:
                by_org[organization_id].append(case_id)
            for organization_id, case_ids in by_org.items():
                with tenant_context(organization_id):
                    fired += _escalate(organization_id, case_ids, now_)
        if len(due) < batch:
            break
    return fired


class _Organization:
    """What the sweep needs of one organization, read once per batch."""

    def __init__(self, organization_id: int, case_ids: list[int]) -> None:
        self.organization = Organization.objects.get(pk=organization_id)
        hours = BusinessHours.objects.first()
        self.business: Calendar | None = calendar_of_hours(hours) if hours else None
        self.cases = list(
            Case.objects.filter(pk__in=case_ids).select_related("touchpoint").order_by("pk")
        )
        policy_ids = {case.sla_policy_id for case in self.cases}
        self.policies = {p.pk: p for p in SlaPolicy.objects.filter(pk__in=policy_ids)}
        self.steps: dict[int, list[EscalationStep]] = defaultdict(list)
        for step in EscalationStep.objects.filter(policy_id__in=policy_ids):
            self.steps[step.policy_id].append(step)
        self.fired: dict[int, set[str]] = defaultdict(set)
        for case_id, key in CaseEscalation.objects.filter(case_id__in=case_ids).values_list(
            "case_id", "key"
        ):
            self.fired[case_id].add(key)
        team_ids = {c.team_id for c in self.cases} | {c.touchpoint.team_id for c in self.cases}
        self.leads = dict(
            Team.objects.filter(pk__in=[t for t in team_ids if t]).values_list("pk", "lead_id")
        )
        self._managers: list[int] | None = None

    def managers(self) -> list[int]:
        if self._managers is None:
            self._managers = managers_of_organization()
        return self._managers

    def lead_of(self, case: Case) -> int | None:
        return self.leads.get(case.team_id) or self.leads.get(case.touchpoint.team_id)


def _escalate(organization_id: int, case_ids: list[int], now: datetime) -> int:
    org = _Organization(organization_id, case_ids)
    fired = 0
    with override(org.organization.default_language):
        for case in org.cases:
            policy = org.policies.get(case.sla_policy_id) if case.sla_policy_id else None
            steps = org.steps.get(case.sla_policy_id or 0, [])
            calendar = policy_calendar(policy, org.business)
            already = org.fired[case.pk]
            due = (
                [
                    point
                    for point in escalation_points(case, policy, steps, calendar)
                    if point.at <= now and point.key not in already
                ]
                if case.paused_at is None and case.is_open
                else []
            )
            if due:
                CaseEscalation.objects.bulk_create(
                    [CaseEscalation(case=case, key=p.key, step=p.step, fired_at=now) for p in due]
                )
                for point in due:
                    _fire(org, case, point, now)
                    already.add(point.key)
                fired += len(due)
            case.next_escalation_at = next_escalation(case, policy, steps, calendar, already)
            Case.objects.filter(pk=case.pk).update(
                next_escalation_at=case.next_escalation_at,
                owner_id=case.owner_id,
                first_response_breached_at=case.first_response_breached_at,
                resolution_breached_at=case.resolution_breached_at,
            )
    return fired


def _target_label(target: str) -> str:
    return str(SlaTarget(target).label)


def _fire(org: _Organization, case: Case, point: EscalationPoint, now: datetime) -> None:
    number = case.number
    if point.step is None:  # a breach
        if point.target == SlaTarget.FIRST_RESPONSE:
            case.first_response_breached_at = now
        else:
            case.resolution_breached_at = now
        case_event_add(
            case=case,
            kind=CaseEventKind.SLA_BREACHED,
            actor=SLA_ACTOR,
            text=_("%(target)s target missed (due %(due)s).")
            % {
                "target": _target_label(point.target),
                "due": timezone.localtime(point.at).strftime("%Y-%m-%d %H:%M"),
            },
            data={"target": point.target, "due_at": point.at.isoformat()},
            at=now,
        )
        return
    action = point.step.action
    target = _target_label(point.target)
    recipients: list[int | None]
    text = ""
    if action == EscalationAction.REMIND_OWNER:
        someone = case.owner_id or org.lead_of(case)
        recipients = [someone] if someone else list(org.managers())
        title = _("Reminder: case #%(number)s is due soon (%(target)s)") % {
            "number": number,
            "target": target,
        }
    elif action == EscalationAction.NOTIFY_TEAM_LEAD:
        lead = org.lead_of(case)
        recipients = [lead] if lead else list(org.managers())
        title = _("Escalation: case #%(number)s missed its %(target)s target") % {
            "number": number,
            "target": target,
        }
    elif action == EscalationAction.NOTIFY_MANAGERS:
        recipients = list(org.managers())
        title = _("Escalation: case #%(number)s is overdue (%(target)s)") % {
            "number": number,
            "target": target,
        }
    else:  # reassign to the team lead
        lead = org.lead_of(case)
        recipients = [lead] if lead else list(org.managers())
        title = _("Case #%(number)s was reassigned to you (overdue)") % {"number": number}
        if lead and lead != case.owner_id:
            before = case.owner_id
            case.owner_id = lead
            case_event_add(
                case=case,
                kind=CaseEventKind.ASSIGNED,
                actor=SLA_ACTOR,
                text=_("Reassigned to the team lead: the case is overdue."),
                data={
                    "from": {"owner": before, "team": case.team_id},
                    "to": {"owner": lead, "team": case.team_id},
                },
                at=now,
            )
        else:
            text = _("No team lead to reassign to; the managers were notified.")
    case_event_add(
        case=case,
        kind=CaseEventKind.ESCALATION,
        actor=SLA_ACTOR,
        text=text or title,
        data={
            "step_id": point.step.pk,
            "action": action,
            "target": point.target,
            "notified": [r for r in recipients if r],
        },
        at=now,
    )
    notify(
        user_ids=recipients, kind=f"escalation_{action}", title=title, body=case.title, case=case
    )
