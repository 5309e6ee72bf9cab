"""The escalation sweep (Celery beat, every minute).

``escalation_sweep`` takes open cases whose ``next_escalation_at`` has come, over all
organizations, in batches: ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
concurrent sweeps share the work instead of repeating it. For each case it fires every
escalation point that is due and not fired yet, records it in ``CaseEscalation``
(unique per case and key: the second insert of a point fails, whatever the sweeps,
workers or a restarted beat do), writes the timeline and notifications, and moves
``next_escalation_at`` to the next pending point. A batch's rows are written together
at its end (one insert per table, one update of the cases), so a batch of 500 cases
costs about a dozen statements however many points fire.

Actions: ``breach:<target>`` marks the target breached; the ladder's steps remind the
owner, notify the team lead (the case team's, else the touchpoint team's; managers
when there is none), notify the organization's managers, or reassign the case to the
team lead.
"""

from __future__ import annotations

import logging
import time
import zoneinfo
from collections import defaultdict
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from closedloop.models import (
    BusinessHours,
    Case,
    CaseEscalation,
    CaseEvent,
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
    policy_calendar,
)
from closedloop.services.notifications import (
    NotificationDraft,
    managers_of_organization,
    notify_many,
)
from closedloop.services.timeline import case_events_add
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
        self.zone = zoneinfo.ZoneInfo(self.organization.timezone)
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


class _Writes:
    """What one batch writes, inserted together at its end: a few statements per batch
    instead of several per escalation point."""

    def __init__(self) -> None:
        self.escalations: list[CaseEscalation] = []
        self.events: list[CaseEvent] = []
        self.notices: list[NotificationDraft] = []

    def event(self, case: Case, kind: str, text: str, data: dict[str, Any], now: datetime) -> None:
        self.events.append(
            CaseEvent(
                case=case,
                kind=kind,
                actor_label=SLA_ACTOR.label,
                text=text,
                data=data,
                created_at=now,
            )
        )


def _escalate(organization_id: int, case_ids: list[int], now: datetime) -> int:
    org = _Organization(organization_id, case_ids)
    writes = _Writes()
    fired = 0
    with override(org.organization.default_language):
        for case in org.cases:
            policy = org.policies.get(case.sla_policy_id) if case.sla_policy_id else None
            steps = org.steps.get(case.sla_policy_id or 0, [])
            calendar = policy_calendar(policy, org.business)
            already = org.fired[case.pk]
            running = case.paused_at is None and case.is_open
            # Firing changes no point of the case: one computation serves both.
            pending = [
                point
                for point in (escalation_points(case, policy, steps, calendar) if running else [])
                if point.key not in already
            ]
            due = [point for point in pending if point.at <= now]
            for point in due:
                writes.escalations.append(
                    CaseEscalation(case=case, key=point.key, step=point.step, fired_at=now)
                )
                _fire(org, case, point, now, writes)
                already.add(point.key)
            fired += len(due)
            later = [point for point in pending if point.at > now]
            case.next_escalation_at = later[0].at if later else None
        # The unique (case, key) constraint first: a point fired elsewhere fails the batch
        # before anything else is written.
        CaseEscalation.objects.bulk_create(writes.escalations)
        _save_cases(organization_id, org.cases)
        case_events_add(events=writes.events)
        notify_many(drafts=writes.notices)
    return fired


# The fields the sweep changes; their names are also their columns.
SWEPT_FIELDS = (
    "next_escalation_at",
    "owner_id",
    "first_response_breached_at",
    "resolution_breached_at",
)


def _save_cases(organization_id: int, cases: list[Case]) -> None:
    """Write what the sweep changed on the batch's cases: one statement on PostgreSQL
    (``UPDATE ... FROM unnest(arrays)``; Django's ``bulk_update`` builds a CASE per row
    and field and costs more than the rest of the batch); one per case elsewhere."""
    if connection.vendor != "postgresql":
        for case in cases:
            Case.objects.filter(pk=case.pk).update(
                **{field: getattr(case, field) for field in SWEPT_FIELDS}
            )
        return
    table = Case._meta.db_table
    sets = ", ".join(f'"{column}" = v."{column}"' for column in SWEPT_FIELDS)
    names = ", ".join(f'"{column}"' for column in SWEPT_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{table}" AS c SET {sets} '  # noqa: S608 - names from the model
            f"FROM unnest(%s::bigint[], %s::timestamptz[], %s::bigint[], %s::timestamptz[], "
            f"%s::timestamptz[]) AS v(id, {names}) "
            "WHERE c.id = v.id AND c.organization_id = %s",
            [
                [case.pk for case in cases],
                *([getattr(case, field) for case in cases] for field in SWEPT_FIELDS),
                organization_id,
            ],
        )


def _target_label(target: str) -> str:
    return str(SlaTarget(target).label)


def _fire(
    org: _Organization, case: Case, point: EscalationPoint, now: datetime, writes: _Writes
) -> None:
    number = case.number
    if point.step is None:  # a breach
        if point.target == SlaTarget.FIRST_RESPONSE:
            case.first_response_breached_at = now
        else:
            case.resolution_breached_at = now
        writes.event(
            case,
            CaseEventKind.SLA_BREACHED,
            _("%(target)s target missed (due %(due)s).")
            % {
                "target": _target_label(point.target),
                "due": timezone.localtime(point.at, org.zone).strftime("%Y-%m-%d %H:%M"),
            },
            {"target": point.target, "due_at": point.at.isoformat()},
            now,
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
            writes.event(
                case,
                CaseEventKind.ASSIGNED,
                _("Reassigned to the team lead: the case is overdue."),
                {
                    "from": {"owner": before, "team": case.team_id},
                    "to": {"owner": lead, "team": case.team_id},
                },
                now,
            )
        else:
            text = _("No team lead to reassign to; the managers were notified.")
    writes.event(
        case,
        CaseEventKind.ESCALATION,
        text or title,
        {
            "step_id": point.step.pk,
            "action": action,
            "target": point.target,
            "notified": [r for r in recipients if r],
        },
        now,
    )
    writes.notices.append(
        NotificationDraft(recipients, f"escalation_{action}", title, body=case.title, case=case)
    )
