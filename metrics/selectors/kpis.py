# mypy: disallow-untyped-defs, disallow-incomplete-defs
"""Closed-loop KPIs of the dashboard: how well the organization follows up on feedback.

The cases of a period are the cases **opened** in it (a cohort), measured as they stand
now: how many were resolved, how many met their SLA, how fast the customer was first
contacted and whether the follow-up survey found them recovered. The open backlog is a
snapshot of every open case, whatever the period. Journey and touchpoint filters apply
to the case; survey, channel and language filters to the response that opened it.

Counts are SQL aggregates (``Count`` with filters, grouped by owner and by team); the
medians come from one query of the cohort's first-contact times, as in the closed-loop
leaderboard (``closedloop.selectors.leaderboard``).

Definitions (``docs/metrics/closed-loop-kpis.md``):

* **SLA compliance** = within / decided, among the cases with an SLA. *Decided*: the
  case is resolved, or a target was missed (a breach was recorded, or a due time passed
  while the clock ran). *Within*: resolved by the resolution due time, first contacted
  (or resolved) by the first-contact due time, and no breach recorded.
* **Closure rate** = resolved or closed / opened.
* **Recovery rate** = recovered / answered follow-up surveys.
* **Breached** (backlog): an open case whose breach was recorded, or whose running clock
  is past a due time it has not met.
"""

from __future__ import annotations

import statistics
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, DateField, F, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _

from closedloop.models import OPEN_CASE_STATUSES, Case
from metrics.selectors.filters import DashboardFilters
from metrics.selectors.scores import period_after, periods
from tenants.models import Team

# Backlog age buckets: (key, lower bound inclusive, upper bound exclusive).
AGE_BUCKETS: tuple[tuple[str, timedelta, timedelta | None], ...] = (
    ("under_1d", timedelta(0), timedelta(days=1)),
    ("1d_2d", timedelta(days=1), timedelta(days=2)),
    ("2d_7d", timedelta(days=2), timedelta(days=7)),
    ("over_7d", timedelta(days=7), None),
)
AGE_KEYS = tuple(key for key, _low, _high in AGE_BUCKETS)

RESOLVED = Q(resolved_at__isnull=False)
_FIRST_CONTACT_MET = Q(first_response_due_at__isnull=True) | Q(
    Q(first_responded_at__lte=F("first_response_due_at"))
    | Q(first_responded_at__isnull=True, resolved_at__lte=F("first_response_due_at")),
    first_response_breached_at__isnull=True,
)
WITHIN_SLA = (
    Q(
        resolution_due_at__isnull=False,
        resolved_at__lte=F("resolution_due_at"),
        resolution_breached_at__isnull=True,
    )
    & _FIRST_CONTACT_MET
)
_BREACH_RECORDED = Q(first_response_breached_at__isnull=False) | Q(
    resolution_breached_at__isnull=False
)


def _past_due(now: datetime) -> Q:
    """A running clock (not paused) is past a due time whose target is not met."""
    return Q(paused_at__isnull=True) & (
        Q(resolved_at__isnull=True, resolution_due_at__lte=now)
        | Q(
            first_responded_at__isnull=True,
            resolved_at__isnull=True,
            first_response_due_at__lte=now,
        )
    )


def sla_decided(now: datetime) -> Q:
    """Cases with an SLA whose outcome is known: resolved, or a target already missed."""
    return Q(resolution_due_at__isnull=False) & (RESOLVED | _BREACH_RECORDED | _past_due(now))


def breached(now: datetime) -> Q:
    """Open cases that missed a target (recorded by the sweep, or past due by now)."""
    return _BREACH_RECORDED | _past_due(now)


def case_measures(now: datetime) -> dict[str, Any]:
    return {
        "opened": Count("pk"),
        "resolved": Count("pk", filter=RESOLVED),
        "sla_decided": Count("pk", filter=sla_decided(now)),
        "sla_within": Count("pk", filter=WITHIN_SLA),
        "answered": Count("pk", filter=Q(recovered__isnull=False)),
        "recovered": Count("pk", filter=Q(recovered=True)),
    }


MEASURE_NAMES = ("opened", "resolved", "sla_decided", "sla_within", "answered", "recovered")


def _ratio(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


@dataclass(slots=True)
class KpiRow:
    """The KPIs of one owner, one team or all cases."""

    key: int | None
    name: str
    opened: int = 0
    resolved: int = 0
    sla_decided: int = 0
    sla_within: int = 0
    answered: int = 0
    recovered: int = 0
    first_contact: list[timedelta] = field(default_factory=list)
    backlog: dict[str, int] = field(default_factory=lambda: dict.fromkeys(AGE_KEYS, 0))
    backlog_breached: dict[str, int] = field(default_factory=lambda: dict.fromkeys(AGE_KEYS, 0))

    @property
    def sla_compliance(self) -> float | None:
        """Per cent of the decided cases with an SLA that met it."""
        return _ratio(self.sla_within, self.sla_decided)

    @property
    def closure_rate(self) -> float | None:
        return _ratio(self.resolved, self.opened)

    @property
    def recovery_rate(self) -> float | None:
        return _ratio(self.recovered, self.answered)

    @property
    def median_first_contact(self) -> timedelta | None:
        if not self.first_contact:
            return None
        seconds = statistics.median(d.total_seconds() for d in self.first_contact)
        return timedelta(seconds=seconds)

    @property
    def open_now(self) -> int:
        return sum(self.backlog.values())

    @property
    def breached_now(self) -> int:
        return sum(self.backlog_breached.values())

    def add(self, values: Mapping[str, Any]) -> None:
        for name in MEASURE_NAMES:
            setattr(self, name, getattr(self, name) + int(values.get(name) or 0))

    def add_backlog(self, values: Mapping[str, Any]) -> None:
        for key in AGE_KEYS:
            self.backlog[key] += int(values.get(f"age_{key}") or 0)
            self.backlog_breached[key] += int(values.get(f"breached_{key}") or 0)


@dataclass(frozen=True, slots=True)
class TrendWeek:
    start: date  # the Monday, or the period's first day
    end: date  # inclusive, clipped to the period
    opened: int
    resolved: int


@dataclass(frozen=True, slots=True)
class ClosedLoopKpis:
    filters: DashboardFilters
    now: datetime
    total: KpiRow
    owners: list[KpiRow]
    teams: list[KpiRow]
    trend: list[TrendWeek]


def case_scope(filters: DashboardFilters) -> Q:
    """The dashboard filters that apply to cases (the period aside)."""
    q = Q()
    if filters.journey_id is not None:
        q &= Q(journey_id=filters.journey_id)
    if filters.touchpoint_id is not None:
        q &= Q(touchpoint_id=filters.touchpoint_id)
    if filters.survey_id is not None:
        q &= Q(response__survey_id=filters.survey_id)
    if filters.channel:
        q &= Q(response__channel=filters.channel)
    if filters.language:
        q &= Q(response__language=filters.language)
    return q


def cases_opened(filters: DashboardFilters, timezone_name: str) -> QuerySet[Case]:
    """The cohort: cases opened in the filtered period."""
    start, end = filters.bounds(timezone_name)
    return Case.objects.filter(case_scope(filters), created_at__gte=start, created_at__lt=end)


def _backlog_measures(now: datetime) -> dict[str, Any]:
    late = breached(now)
    measures: dict[str, Any] = {}
    for key, low, high in AGE_BUCKETS:
        age = Q(created_at__lte=now - low)
        if high is not None:
            age &= Q(created_at__gt=now - high)
        measures[f"age_{key}"] = Count("pk", filter=age)
        measures[f"breached_{key}"] = Count("pk", filter=age & late)
    return measures


def backlog_groups(filters: DashboardFilters, now: datetime) -> list[dict[str, Any]]:
    """Open cases now per (owner, team), counted by age bucket and breached."""
    return list(
        Case.objects.filter(case_scope(filters), status__in=OPEN_CASE_STATUSES)
        .order_by()
        .values("owner_id", "team_id")
        .annotate(**_backlog_measures(now))
    )


def backlog_total(filters: DashboardFilters, now: datetime) -> KpiRow:
    """Every open case now, by age bucket (one query)."""
    row = KpiRow(key=None, name="")
    for values in backlog_groups(filters, now):
        row.add_backlog(values)
    return row


def _week_of(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def case_trend(filters: DashboardFilters, timezone_name: str) -> list[TrendWeek]:
    """Cases opened and cases resolved per week (Monday to Sunday, local time) of the
    period; every week, empty ones included."""
    zone = zoneinfo.ZoneInfo(timezone_name)
    start, end = filters.bounds(timezone_name)
    scope = Case.objects.filter(case_scope(filters)).order_by()

    def per_week(field_name: str) -> dict[date, int]:
        rows = (
            scope.filter(**{f"{field_name}__gte": start, f"{field_name}__lt": end})
            .annotate(week=TruncWeek(field_name, tzinfo=zone, output_field=DateField()))
            .values("week")
            .annotate(n=Count("pk"))
        )
        return {_week_of(row["week"]): row["n"] for row in rows}

    opened, resolved = per_week("created_at"), per_week("resolved_at")
    weeks = []
    for monday in periods(filters, "week"):
        weeks.append(
            TrendWeek(
                start=max(monday, filters.start),
                end=min(period_after(monday, "week") - timedelta(days=1), filters.end),
                opened=opened.get(monday, 0),
                resolved=resolved.get(monday, 0),
            )
        )
    return weeks


def _user_names(ids: Iterable[int]) -> dict[int, str]:
    names = {}
    for pk, first, last, email in (
        get_user_model()
        .objects.filter(pk__in=list(ids))
        .values_list("pk", "first_name", "last_name", "email")
    ):
        names[pk] = " ".join(part for part in (first, last) if part) or email
    return names


def _ranked(rows: Iterable[KpiRow]) -> list[KpiRow]:
    # Named rows by name; the "unassigned" / "no team" row last.
    return sorted(rows, key=lambda r: (r.key is None, r.name.lower()))


def closed_loop_kpis(
    *, filters: DashboardFilters, timezone_name: str, now: datetime | None = None
) -> ClosedLoopKpis:
    """Every number of the closed-loop page: totals, per owner, per team, the backlog
    by age and the weekly trend (eight queries, whatever the number of cases)."""
    now = now or timezone.now()
    cohort = cases_opened(filters, timezone_name).order_by()
    measures = case_measures(now)
    total = KpiRow(key=None, name=_("All cases"))
    owners: dict[int | None, KpiRow] = {}
    teams: dict[int | None, KpiRow] = {}

    def owner(key: int | None) -> KpiRow:
        return owners.setdefault(key, KpiRow(key=key, name=""))

    def team(key: int | None) -> KpiRow:
        return teams.setdefault(key, KpiRow(key=key, name=""))

    by_owner: Iterable[Mapping[str, Any]] = cohort.values("owner_id").annotate(**measures)
    for values in by_owner:
        owner(values["owner_id"]).add(values)
        total.add(values)
    by_team: Iterable[Mapping[str, Any]] = cohort.values("team_id").annotate(**measures)
    for values in by_team:
        team(values["team_id"]).add(values)
    contacts = cohort.filter(first_responded_at__isnull=False).values_list(
        "owner_id", "team_id", "created_at", "first_responded_at"
    )
    for owner_id, team_id, created, contacted in contacts:
        if contacted is None:
            continue
        took = max(contacted - created, timedelta())
        owner(owner_id).first_contact.append(took)
        team(team_id).first_contact.append(took)
        total.first_contact.append(took)
    for group in backlog_groups(filters, now):
        owner(group["owner_id"]).add_backlog(group)
        team(group["team_id"]).add_backlog(group)
        total.add_backlog(group)

    user_names = _user_names(key for key in owners if key is not None)
    team_names = dict(
        Team.objects.filter(pk__in=[key for key in teams if key is not None]).values_list(
            "pk", "name"
        )
    )
    for key, row in owners.items():
        row.name = _("Unassigned") if key is None else user_names.get(key, f"#{key}")
    for key, row in teams.items():
        row.name = _("No team") if key is None else team_names.get(key, f"#{key}")
    return ClosedLoopKpis(
        filters=filters,
        now=now,
        total=total,
        owners=_ranked(owners.values()),
        teams=_ranked(teams.values()),
        trend=case_trend(filters, timezone_name),
    )
