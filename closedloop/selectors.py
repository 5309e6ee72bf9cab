"""Reads of the closed loop: who sees which case, the owners' inbox, one case with what
its page shows, notifications and the leaderboard.

Who sees what (``CaseAccess``): members with ``cases.view_all`` see every case; everyone
else with ``cases.work`` sees their own cases, the cases of the teams they are a member
or the lead of, and unassigned cases without a team. A case outside that is "not found".
``cases.assign`` assigns any case to anybody; a team lead assigns the cases of the teams
they lead to the members of those teams.
"""

from __future__ import annotations

import statistics
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Count, F, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from closedloop.models import (
    OPEN_CASE_STATUSES,
    Case,
    CaseEvent,
    CaseResponse,
    CaseRootCause,
    Notification,
    RootCause,
)
from responses.models import Response
from tenants.models import Membership, Team, TeamMember
from tenants.permissions import ROLE_CAPABILITIES, Capability, membership_has

# "Breaching soon": the next due time of an open case is this close, or already past.
BREACHING_SOON = timedelta(hours=4)
INBOX_PAGE_SIZE = 50
EARLIER_LIMIT = 20

TABS = ("mine", "team", "breaching", "unassigned", "all")
SORTS = ("due", "impact", "newest", "priority")


# --- Who sees and assigns what ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseAccess:
    """What one member may do with cases (read once per request)."""

    user_id: int
    view_all: bool
    assign_any: bool
    team_ids: frozenset[int]  # teams the user is a member or the lead of
    led_team_ids: frozenset[int]

    @property
    def may_assign(self) -> bool:
        """May assign at least some cases (a manager, or the lead of a team)."""
        return self.assign_any or bool(self.led_team_ids)

    def visible(self) -> Q:
        """The cases this member sees, as a filter."""
        if self.view_all:
            return Q()
        return (
            Q(owner_id=self.user_id)
            | Q(team_id__in=self.team_ids)
            | Q(owner__isnull=True, team__isnull=True)
        )

    def may_assign_case(self, case: Case) -> bool:
        return self.assign_any or case.team_id in self.led_team_ids

    def may_take(self, case: Case) -> bool:
        """The "Assign to me" button: an unassigned open case the member sees."""
        return case.owner_id is None and case.is_open


def case_access_for(membership: Membership) -> CaseAccess:
    """The member's case access; one query for their teams."""
    teams = list(
        Team.objects.filter(
            Q(lead_id=membership.user_id) | Q(team_members__user_id=membership.user_id)
        )
        .values_list("id", "lead_id")
        .distinct()
    )
    return CaseAccess(
        user_id=membership.user_id,
        view_all=membership_has(membership, Capability.CASES_VIEW_ALL),
        assign_any=membership_has(membership, Capability.CASES_ASSIGN),
        team_ids=frozenset(team_id for team_id, _lead in teams),
        led_team_ids=frozenset(team_id for team_id, lead in teams if lead == membership.user_id),
    )


def _case_worker_roles() -> list[str]:
    return [role for role, caps in ROLE_CAPABILITIES.items() if Capability.CASES_WORK in caps]


def case_worker_list() -> QuerySet[Membership]:
    """Members who may work cases (the people cases can be given to)."""
    return (
        Membership.objects.filter(role__in=_case_worker_roles())
        .select_related("user")
        .order_by("user__first_name", "user__last_name", "user__email")
    )


def assignee_list(access: CaseAccess) -> QuerySet[Membership]:
    """Whom this member may give cases to: anybody who works cases (managers), or the
    members and leads of the teams they lead."""
    workers = case_worker_list()
    if access.assign_any:
        return workers
    members = TeamMember.objects.filter(team_id__in=access.led_team_ids).values("user_id")
    return workers.filter(Q(user_id__in=Subquery(members)) | Q(user_id=access.user_id))


def assignable_team_list(access: CaseAccess) -> QuerySet[Team]:
    teams = Team.objects.order_by("name")
    return teams if access.assign_any else teams.filter(pk__in=access.led_team_ids)


def assignment_allowed(
    access: CaseAccess, *, case: Case, owner_id: int | None, team_id: int | None
) -> bool:
    """May this member give ``case`` to ``owner_id`` (None: nobody) in ``team_id`` (None:
    its team stays)? A lead stays within the teams they lead and their members."""
    if access.assign_any:
        return True
    if not access.may_assign_case(case):
        return False
    team = team_id if team_id is not None else case.team_id
    if team not in access.led_team_ids:
        return False
    if owner_id is None or owner_id == access.user_id:
        return True
    return TeamMember.objects.filter(team_id=team, user_id=owner_id).exists()


# --- The inbox -------------------------------------------------------------------------

# The case's next due time: first contact while it is pending, else the resolution.
NEXT_DUE = models.Case(
    models.When(
        first_responded_at__isnull=True,
        first_response_due_at__isnull=False,
        then=F("first_response_due_at"),
    ),
    default=F("resolution_due_at"),
    output_field=models.DateTimeField(),
)


@dataclass(frozen=True, slots=True)
class InboxFilters:
    tab: str = "mine"
    status: str = "open"  # "open", "all" or one status
    priority: int | None = None
    team_id: int | None = None
    owner_id: int | None = None
    touchpoint_id: int | None = None
    journey_id: int | None = None
    breached: bool | None = None
    replied: bool | None = None
    sort: str = "due"


def _tab_filter(tab: str, access: CaseAccess, now: datetime) -> Q:
    if tab == "mine":
        return Q(owner_id=access.user_id)
    if tab == "team":
        return Q(team_id__in=access.team_ids)
    if tab == "breaching":
        return Q(
            status__in=OPEN_CASE_STATUSES,
            paused_at__isnull=True,
            next_due_at__lte=now + BREACHING_SOON,
        )
    if tab == "unassigned":
        return Q(owner__isnull=True)
    return Q()  # "all": what the member sees (everything for managers)


def _inbox_base(access: CaseAccess) -> QuerySet[Case]:
    return Case.objects.filter(access.visible()).annotate(next_due_at=NEXT_DUE)


def case_list_for_inbox(
    *, access: CaseAccess, filters: InboxFilters, now: datetime | None = None
) -> QuerySet[Case]:
    """The cases of one inbox tab with the filters applied, sorted; each row carries
    ``next_due_at``, its contact, touchpoint, owner and team (one query a page)."""
    now = now or timezone.now()
    cases = _inbox_base(access).filter(_tab_filter(filters.tab, access, now))
    if filters.status == "open":
        cases = cases.filter(status__in=OPEN_CASE_STATUSES)
    elif filters.status != "all":
        cases = cases.filter(status=filters.status)
    lookups: dict[str, Any] = {
        "priority": filters.priority,
        "team_id": filters.team_id,
        "owner_id": filters.owner_id,
        "touchpoint_id": filters.touchpoint_id,
        "journey_id": filters.journey_id,
    }
    cases = cases.filter(**{key: value for key, value in lookups.items() if value})
    breached = Q(first_response_breached_at__isnull=False) | Q(resolution_breached_at__isnull=False)
    if filters.breached is True:
        cases = cases.filter(breached)
    elif filters.breached is False:
        cases = cases.exclude(breached)
    if filters.replied is True:
        cases = cases.filter(customer_replied_at__isnull=False)
    elif filters.replied is False:
        cases = cases.filter(customer_replied_at__isnull=True)
    due = F("next_due_at").asc(nulls_last=True)
    ordering: dict[str, list[Any]] = {
        "due": [due, "-impact", "-id"],
        "impact": ["-impact", due, "-id"],
        "newest": ["-created_at", "-id"],
        "priority": ["-priority", due, "-id"],
    }
    return cases.select_related("contact", "touchpoint", "owner", "team").order_by(
        *ordering.get(filters.sort, ordering["due"])
    )


def inbox_tab_counts(*, access: CaseAccess, now: datetime | None = None) -> dict[str, int]:
    """Open cases per tab (one query)."""
    now = now or timezone.now()
    tabs = [tab for tab in TABS if tab != "all" or access.view_all]
    counts = (
        _inbox_base(access)
        .filter(status__in=OPEN_CASE_STATUSES)
        .aggregate(
            **{
                tab: Count("pk", filter=_tab_filter(tab, access, now))
                if tab != "all"
                else Count("pk")
                for tab in tabs
            }
        )
    )
    return {tab: counts.get(tab) or 0 for tab in tabs}


def inbox_filter_choices() -> dict[str, list[Any]]:
    """Choices of the inbox filters: teams, owners, touchpoints by journey, journeys."""
    from surveys.models import Journey
    from surveys.selectors import team_choices, touchpoint_choices

    return {
        "team": team_choices(),
        "owner": [(m.user_id, user_label(m.user)) for m in case_worker_list()],
        "touchpoint": touchpoint_choices(),
        "journey": list(Journey.objects.order_by("name", "id").values_list("id", "name")),
    }


def user_label(user: Any) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.email or user.get_username()


def case_list_assignable(*, access: CaseAccess, case_ids: Iterable[int]) -> list[Case]:
    """Of ``case_ids``, the cases this member sees and may assign."""
    cases = Case.objects.filter(access.visible(), pk__in=list(case_ids))
    if not access.assign_any:
        cases = cases.filter(team_id__in=access.led_team_ids)
    return list(cases.order_by("pk"))


# --- One case --------------------------------------------------------------------------


def case_get(*, access: CaseAccess, number: int) -> Case:
    """One case the member sees, by its number, with what its page shows; raises
    ``Case.DoesNotExist`` for a case they may not see (or another organization's)."""
    return (
        Case.objects.filter(access.visible())
        .select_related(
            "response__survey",
            "response__survey_version",
            "response__touchpoint",
            "response__journey",
            "contact",
            "touchpoint",
            "journey",
            "owner",
            "team",
            "sla_policy",
        )
        .get(number=number)
    )


@dataclass(frozen=True, slots=True)
class CaseContext:
    """What the case page shows around the case itself."""

    further_responses: list[Response]
    earlier_responses: list[Response]
    earlier_cases: list[Case]  # each with ``visible`` (the member may open it)
    events: list[CaseEvent]
    root_cause_ids: set[int]
    root_causes: list[RootCause]  # the active ones and the case's own
    users: dict[int, Any]  # users named by assignment events, by id
    teams: dict[int, str]


def case_context(*, access: CaseAccess, case: Case) -> CaseContext:
    """The case's further responses, the customer's earlier responses and cases, the
    timeline (oldest first) and the root causes (a fixed number of queries)."""
    linked = list(
        CaseResponse.objects.filter(case=case)
        .exclude(response_id=case.response_id)
        .select_related("response__touchpoint", "response__survey")
        .order_by("created_at", "id")
    )
    further = [link.response for link in linked]
    earlier_responses: list[Response] = []
    earlier_cases: list[Case] = []
    if case.contact_id is not None:
        own = {case.response_id, *(r.pk for r in further)}
        visible: Any = (
            Value(True)
            if access.view_all
            else models.ExpressionWrapper(access.visible(), output_field=models.BooleanField())
        )
        earlier_responses = list(
            Response.objects.filter(contact_id=case.contact_id)
            .exclude(pk__in=own)
            .select_related("touchpoint", "survey")
            .defer("answers", "metadata", "contact_attributes")
            .order_by("-responded_at", "-id")[:EARLIER_LIMIT]
        )
        earlier_cases = list(
            Case.objects.filter(contact_id=case.contact_id)
            .exclude(pk=case.pk)
            .annotate(visible=visible)
            .select_related("touchpoint")
            .order_by("-created_at", "-id")[:EARLIER_LIMIT]
        )
    events = list(
        CaseEvent.objects.filter(case=case).select_related("actor").order_by("created_at", "id")
    )
    user_ids: set[int] = set()
    team_ids: set[int] = set()
    for event in events:
        if event.kind == "assigned":
            for side in ("from", "to"):
                part = event.data.get(side) or {}
                if isinstance(part.get("owner"), int):
                    user_ids.add(part["owner"])
                if isinstance(part.get("team"), int):
                    team_ids.add(part["team"])
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=user_ids)} if user_ids else {}
    teams = dict(Team.objects.filter(pk__in=team_ids).values_list("id", "name")) if team_ids else {}
    chosen = set(CaseRootCause.objects.filter(case=case).values_list("root_cause_id", flat=True))
    root_causes = list(RootCause.objects.filter(Q(active=True) | Q(pk__in=chosen)).order_by("name"))
    return CaseContext(
        further_responses=further,
        earlier_responses=earlier_responses,
        earlier_cases=earlier_cases,
        events=events,
        root_cause_ids=chosen,
        root_causes=root_causes,
        users=users,
        teams=teams,
    )


# --- Notifications ---------------------------------------------------------------------


def notification_list_for_user(*, user_id: int) -> QuerySet[Notification]:
    """The user's notifications, newest first, with their cases."""
    return (
        Notification.objects.filter(user_id=user_id)
        .select_related("case")
        .defer("case__resolution_summary")
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True, slots=True)
class CaseNavCounts:
    unread: int
    open: int


def case_nav_counts(*, user_id: int) -> CaseNavCounts:
    """Unread notifications and open cases of the user (one query)."""

    def count(queryset: QuerySet[Any]) -> Any:
        counted = queryset.order_by().values("organization_id").annotate(n=Count("pk"))
        return Coalesce(Subquery(counted.values("n")), Value(0))

    counts = (
        Membership.objects.filter(user_id=user_id)
        .annotate(
            unread=count(Notification.objects.filter(user_id=user_id, read_at__isnull=True)),
            open=count(Case.objects.filter(owner_id=user_id, status__in=OPEN_CASE_STATUSES)),
        )
        .values("unread", "open")
        .first()
    ) or {"unread": 0, "open": 0}
    return CaseNavCounts(unread=counts["unread"], open=counts["open"])


# --- The leaderboard -------------------------------------------------------------------

PERIODS = ("this_week", "this_month", "last_month", "this_quarter")


def period_bounds(period: str, *, now: datetime, timezone_name: str) -> tuple[datetime, datetime]:
    """[start, end) of a period in the organization's time zone (as aware datetimes)."""
    zone = zoneinfo.ZoneInfo(timezone_name)
    today = now.astimezone(zone).date()

    def month_start(day: date, months_back: int = 0) -> date:
        index = day.year * 12 + day.month - 1 - months_back
        return date(index // 12, index % 12 + 1, 1)

    def next_month(day: date, months: int = 1) -> date:
        index = day.year * 12 + day.month - 1 + months
        return date(index // 12, index % 12 + 1, 1)

    if period == "this_week":
        start = today - timedelta(days=today.weekday())
        end = start + timedelta(days=7)
    elif period == "last_month":
        start = month_start(today, 1)
        end = month_start(today)
    elif period == "this_quarter":
        start = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
        end = next_month(start, 3)
    else:  # this_month
        start = month_start(today)
        end = next_month(start)
    return (
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end, time.min, tzinfo=zone),
    )


@dataclass(slots=True)
class LeaderboardRow:
    key: int | None
    name: str
    resolved: int = 0
    with_sla: int = 0
    within_sla: int = 0
    answered: int = 0  # follow-ups answered (recovered is known)
    recovered: int = 0
    first_contact: list[timedelta] = field(default_factory=list)

    @property
    def compliance(self) -> float | None:
        """Share of the resolved cases with an SLA that were resolved within it (%)."""
        return 100 * self.within_sla / self.with_sla if self.with_sla else None

    @property
    def recovery_rate(self) -> float | None:
        return 100 * self.recovered / self.answered if self.answered else None

    @property
    def median_first_contact(self) -> timedelta | None:
        if not self.first_contact:
            return None
        return timedelta(seconds=statistics.median(d.total_seconds() for d in self.first_contact))


@dataclass(frozen=True, slots=True)
class Leaderboard:
    start: datetime
    end: datetime
    owners: list[LeaderboardRow]
    teams: list[LeaderboardRow]
    total: LeaderboardRow


WITHIN_SLA = Q(
    resolution_due_at__isnull=False,
    resolved_at__lte=F("resolution_due_at"),
    resolution_breached_at__isnull=True,
)
_MEASURES = {
    "resolved": Count("pk"),
    "with_sla": Count("pk", filter=Q(resolution_due_at__isnull=False)),
    "within_sla": Count("pk", filter=WITHIN_SLA),
    "answered": Count("pk", filter=Q(recovered__isnull=False)),
    "recovered": Count("pk", filter=Q(recovered=True)),
}


def _rank(rows: Iterable[LeaderboardRow]) -> list[LeaderboardRow]:
    return sorted(rows, key=lambda r: (-r.within_sla, -r.resolved, r.name.lower()))


def leaderboard(*, start: datetime, end: datetime) -> Leaderboard:
    """Cases resolved in [start, end) per owner and per team: how many, how many within
    the SLA, the median time to first contact and the recovery rate.

    Counts are SQL aggregates (three queries); the medians come from one query of the
    period's first-contact times."""
    resolved = Case.objects.filter(resolved_at__gte=start, resolved_at__lt=end).order_by()
    owners: dict[int | None, LeaderboardRow] = {}
    for values in (
        resolved.filter(owner__isnull=False)
        .values("owner_id", "owner__first_name", "owner__last_name", "owner__email")
        .annotate(**_MEASURES)
    ):
        name = " ".join(
            part for part in (values["owner__first_name"], values["owner__last_name"]) if part
        )
        owners[values["owner_id"]] = LeaderboardRow(
            key=values["owner_id"],
            name=name or values["owner__email"],
            **{key: values[key] for key in _MEASURES},
        )
    teams: dict[int | None, LeaderboardRow] = {}
    for values in (
        resolved.filter(team__isnull=False).values("team_id", "team__name").annotate(**_MEASURES)
    ):
        teams[values["team_id"]] = LeaderboardRow(
            key=values["team_id"],
            name=values["team__name"],
            **{key: values[key] for key in _MEASURES},
        )
    total = LeaderboardRow(key=None, name="", **resolved.aggregate(**_MEASURES))
    contacts: dict[str, dict[int | None, list[timedelta]]] = {
        "owner": defaultdict(list),
        "team": defaultdict(list),
    }
    for owner_id, team_id, created, contacted in resolved.filter(
        first_responded_at__isnull=False
    ).values_list("owner_id", "team_id", "created_at", "first_responded_at"):
        took = max(contacted - created, timedelta())
        contacts["owner"][owner_id].append(took)
        contacts["team"][team_id].append(took)
        total.first_contact.append(took)
    for key, durations in contacts["owner"].items():
        if key in owners:
            owners[key].first_contact = durations
    for key, durations in contacts["team"].items():
        if key in teams:
            teams[key].first_contact = durations
    return Leaderboard(
        start=start,
        end=end,
        owners=_rank(owners.values()),
        teams=_rank(teams.values()),
        total=total,
    )


__all__ = [
    "BREACHING_SOON",
    "INBOX_PAGE_SIZE",
    "PERIODS",
    "SORTS",
    "TABS",
    "CaseAccess",
    "CaseContext",
    "CaseNavCounts",
    "InboxFilters",
    "Leaderboard",
    "LeaderboardRow",
    "assignable_team_list",
    "assignee_list",
    "assignment_allowed",
    "case_access_for",
    "case_context",
    "case_get",
    "case_list_assignable",
    "case_list_for_inbox",
    "case_nav_counts",
    "case_worker_list",
    "inbox_filter_choices",
    "inbox_tab_counts",
    "leaderboard",
    "notification_list_for_user",
    "period_bounds",
    "user_label",
]
