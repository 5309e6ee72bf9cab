# mypy: disallow-untyped-defs, disallow-incomplete-defs
"""What the weekly digest reports, and to whom (current organization).

The digest covers one ISO week (Monday to Sunday in the organization's time zone):
NPS, CES and CSAT against the week before (with the test of each change), the
touchpoints whose NPS moved most, the closed-loop numbers and the themes detractors
mention most. Its numbers are the dashboard's: the same rollup, the same selectors.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count

from closedloop.models import Case
from metrics.models import DigestDelivery, DigestSubscription, ResponseTheme
from metrics.scoring import NpsResult
from metrics.selectors.filters import DashboardFilters
from metrics.selectors.kpis import MEASURE_NAMES, backlog_total, case_measures, cases_opened
from metrics.selectors.scores import Comparison, breakdown, compare
from responses.models import NpsGroup
from surveys.models import Touchpoint
from tenants.models import Membership
from tenants.permissions import ROLE_CAPABILITIES, Capability

# Digests go out from Monday 07:00 local time; a beat that was down catches up for two
# days, after that the week is skipped (a digest about last week arriving on Thursday
# helps nobody).
SEND_AT = time(7, 0)
SEND_WINDOW = timedelta(days=2)
MOVER_MIN_N = 10  # NPS answers in each of both weeks
MOVERS = 3
THEMES = 5


def digest_week_due(*, now: datetime, timezone_name: str) -> date | None:
    """The Monday of the week whose digest is due at ``now`` in this time zone, or None
    outside the sending window (Monday 07:00 plus two days, local time)."""
    zone = zoneinfo.ZoneInfo(timezone_name)
    local = now.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    opens = datetime.combine(monday, SEND_AT, tzinfo=zone)
    if not opens <= local < opens + SEND_WINDOW:
        return None
    return monday - timedelta(days=7)


def manager_roles() -> list[str]:
    """The roles that set up the dashboard, and get its digest."""
    return [
        str(role) for role, caps in ROLE_CAPABILITIES.items() if Capability.METRICS_MANAGE in caps
    ]


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: int
    email: str


def digest_recipients(*, week: date) -> list[Recipient]:
    """Managers of the current organization who still get the digest of ``week``: not
    opted out, with an email address, and not yet claimed for that week."""
    opted_out = DigestSubscription.objects.filter(subscribed=False).values("user_id")
    claimed = DigestDelivery.objects.filter(week=week).values("user_id")
    rows = (
        Membership.objects.filter(role__in=manager_roles(), user__is_active=True)
        .exclude(user__email="")
        .exclude(user_id__in=opted_out)
        .exclude(user_id__in=claimed)
        .order_by("user_id")
        .values_list("user_id", "user__email")
    )
    return [Recipient(user_id=user_id, email=email) for user_id, email in rows]


@dataclass(frozen=True, slots=True)
class Mover:
    touchpoint_id: int
    name: str
    previous: NpsResult
    current: NpsResult

    @property
    def change(self) -> float:
        return (self.current.score or 0.0) - (self.previous.score or 0.0)


@dataclass(frozen=True, slots=True)
class ThemeCount:
    theme_id: int
    name: str
    mentions: int


@dataclass(frozen=True, slots=True)
class ClosedLoopWeek:
    opened: int  # cases opened in the week
    resolved: int  # cases resolved in the week (whenever opened)
    sla_decided: int  # of the cases opened in the week (see metrics.selectors.kpis)
    sla_within: int
    open_now: int
    breached_now: int

    @property
    def sla_compliance(self) -> float | None:
        return 100 * self.sla_within / self.sla_decided if self.sla_decided else None


@dataclass(frozen=True, slots=True)
class WeeklyDigest:
    filters: DashboardFilters  # the reported week
    comparison: Comparison  # against the week before
    movers_up: list[Mover]
    movers_down: list[Mover]
    closed_loop: ClosedLoopWeek
    themes: list[ThemeCount]

    @property
    def start(self) -> date:
        return self.filters.start

    @property
    def end(self) -> date:
        return self.filters.end


def week_filters(week: date) -> DashboardFilters:
    return DashboardFilters(start=week, end=week + timedelta(days=6), grain="day")


def touchpoint_movers(
    filters: DashboardFilters, previous: DashboardFilters
) -> tuple[list[Mover], list[Mover]]:
    """The touchpoints whose NPS rose most and fell most (both weeks with at least
    ``MOVER_MIN_N`` NPS answers): up to three each."""
    before = {row.key: row.scores.nps for row in breakdown(previous, "touchpoint")}
    now = {row.key: row.scores.nps for row in breakdown(filters, "touchpoint") if row.key in before}
    eligible = {
        key: (before[key], nps)
        for key, nps in now.items()
        if nps.n >= MOVER_MIN_N and before[key].n >= MOVER_MIN_N
    }
    names = {
        pk: f"{journey} · {name}"
        for pk, name, journey in Touchpoint.objects.filter(pk__in=list(eligible)).values_list(
            "pk", "name", "journey__name"
        )
    }
    movers = [
        Mover(touchpoint_id=key, name=names.get(key, f"#{key}"), previous=old, current=new)
        for key, (old, new) in eligible.items()
    ]
    up = sorted((m for m in movers if m.change > 0), key=lambda m: (-m.change, m.name))
    down = sorted((m for m in movers if m.change < 0), key=lambda m: (m.change, m.name))
    return up[:MOVERS], down[:MOVERS]


def closed_loop_week(
    filters: DashboardFilters, timezone_name: str, now: datetime
) -> ClosedLoopWeek:
    start, end = filters.bounds(timezone_name)
    cohort = cases_opened(filters, timezone_name).order_by().aggregate(**case_measures(now))
    resolved = Case.objects.filter(resolved_at__gte=start, resolved_at__lt=end).count()
    backlog = backlog_total(filters, now)
    counts = {name: int(cohort.get(name) or 0) for name in MEASURE_NAMES}
    return ClosedLoopWeek(
        opened=counts["opened"],
        resolved=resolved,
        sla_decided=counts["sla_decided"],
        sla_within=counts["sla_within"],
        open_now=backlog.open_now,
        breached_now=backlog.breached_now,
    )


def detractor_themes(filters: DashboardFilters, timezone_name: str) -> list[ThemeCount]:
    """The themes detractors' comments of the period mention most."""
    start, end = filters.bounds(timezone_name)
    rows = (
        ResponseTheme.objects.filter(
            responded_at__gte=start,
            responded_at__lt=end,
            response__nps_group=NpsGroup.DETRACTOR,
            theme__archived=False,
        )
        .values("theme_id", "theme__name")
        .annotate(mentions=Count("pk"))
        .order_by("-mentions", "theme__name")[:THEMES]
    )
    return [
        ThemeCount(theme_id=row["theme_id"], name=row["theme__name"], mentions=row["mentions"])
        for row in rows
    ]


def weekly_digest(*, week: date, timezone_name: str, now: datetime) -> WeeklyDigest:
    """Every number of the digest of the week starting on Monday ``week`` (a dozen
    queries, the same for any number of responses and cases)."""
    filters = week_filters(week)
    comparison = compare(filters)
    up, down = touchpoint_movers(filters, comparison.previous_filters)
    return WeeklyDigest(
        filters=filters,
        comparison=comparison,
        movers_up=up,
        movers_down=down,
        closed_loop=closed_loop_week(filters, timezone_name, now),
        themes=detractor_themes(filters, timezone_name),
    )
