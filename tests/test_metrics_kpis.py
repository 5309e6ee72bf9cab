"""The closed-loop KPI page: SLA compliance, first contact, closure, recovery, backlog."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine

from closedloop.models import Case
from tenants.context import tenant_context
from tests.conftest import Tenant
from tests.factories import TeamFactory, case_factory

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # a Friday
QUERY = "?start=2026-03-01&end=2026-03-20"
MaxQueries = Callable[..., AbstractContextManager[Any]]


def at(day: int, hour: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def make_case(**fields: Any) -> Case:
    """A case opened by routing, then put into the given state (timestamps included)."""
    case = case_factory()
    blank = {
        "first_responded_at": None,
        "resolved_at": None,
        "closed_at": None,
        "paused_at": None,
        "first_response_breached_at": None,
        "resolution_breached_at": None,
        "recovered": None,
        "owner": None,
        "team": None,
    }
    Case.objects.filter(pk=case.pk).update(**{**blank, **fields})
    return Case.objects.get(pk=case.pk)


@pytest.fixture
def scenario(tenant_a: Tenant) -> dict[str, Any]:
    """Six cases in March 2026 (Berlin), five of them opened in the period."""
    first = tenant_a.member("owner", first_name="Olga", last_name="One")
    second = tenant_a.member("owner", first_name="Otto", last_name="Two")
    with time_machine.travel(NOW, tick=False), tenant_context(tenant_a.organization):
        team_a, team_b = TeamFactory(name="Alpha team"), TeamFactory(name="Bravo team")
        cases = {
            # Contacted in 2 h and resolved within both targets; recovered.
            "c1": make_case(
                team=team_a,
                owner=first,
                status="resolved",
                created_at=at(10, 10),
                first_responded_at=at(10, 12),
                first_response_due_at=at(11, 10),
                resolution_due_at=at(12, 10),
                resolved_at=at(11, 10),
                recovered=True,
            ),
            # First contact 28 h later (4 h late), resolved in time: not within the SLA.
            "c2": make_case(
                team=team_a,
                owner=first,
                status="closed",
                created_at=at(12, 10),
                first_responded_at=at(13, 14),
                first_response_due_at=at(13, 10),
                resolution_due_at=at(14, 10),
                resolved_at=at(13, 15),
                closed_at=at(13, 16),
                recovered=False,
            ),
            # Open, never contacted, the first-contact due time has passed: breached.
            "c3": make_case(
                team=team_b,
                owner=second,
                status="new",
                created_at=at(18, 10),
                first_response_due_at=at(19, 10),
                resolution_due_at=at(20, 18),
            ),
            # Open for 6 h, contacted after 2 h: nothing is decided yet.
            "c4": make_case(
                team=team_b,
                status="in_progress",
                created_at=at(20, 6),
                first_responded_at=at(20, 8),
                first_response_due_at=at(21, 6),
                resolution_due_at=at(22, 6),
            ),
            # Open for 36 h; the sweep recorded the missed first contact.
            "c5": make_case(
                team=team_a,
                owner=first,
                status="new",
                created_at=at(19, 0),
                first_response_due_at=at(20, 0),
                resolution_due_at=at(21, 0),
                first_response_breached_at=at(20, 0),
            ),
            # Opened before the period, waiting on the customer (paused): its stored due
            # times passed, but a paused clock does not breach.
            "c6": make_case(
                status="waiting",
                created_at=at(25, 9, month=2),
                first_responded_at=at(25, 10, month=2),
                first_response_due_at=at(26, 9, month=2),
                resolution_due_at=at(27, 9, month=2),
                paused_at=at(26, 9, month=2),
            ),
        }
    return {"cases": cases, "first": first, "second": second, "teams": (team_a, team_b)}


def get_page(tenant: Tenant, query: str = QUERY, client: Any = None) -> Any:
    with time_machine.travel(NOW, tick=False):
        response = (client or tenant.client).get(tenant.url("dashboard/closed-loop/") + query)
    assert response.status_code == 200
    return response


def test_totals(tenant_a: Tenant, scenario: dict[str, Any]) -> None:
    response = get_page(tenant_a)
    total = response.context["report"].total
    assert total.opened == 5
    assert total.resolved == 2
    assert total.closure_rate == pytest.approx(40.0)
    # Decided: c1 and c2 (resolved), c3 (first contact overdue), c5 (breach recorded).
    assert (total.sla_within, total.sla_decided) == (1, 4)
    assert total.sla_compliance == pytest.approx(25.0)
    # First contact: 2 h (c1), 28 h (c2), 2 h (c4).
    assert total.median_first_contact == timedelta(hours=2)
    assert (total.recovered, total.answered) == (1, 2)
    assert total.recovery_rate == pytest.approx(50.0)
    body = response.content.decode()
    assert 'id="kpi-opened">5<' in body
    assert "25 %" in body
    assert "2 h" in body


def test_backlog_buckets(tenant_a: Tenant, scenario: dict[str, Any]) -> None:
    total = get_page(tenant_a).context["report"].total
    # c4 is 6 h old, c5 36 h, c3 50 h, c6 23 days (paused: not breached).
    assert total.backlog == {"under_1d": 1, "1d_2d": 1, "2d_7d": 1, "over_7d": 1}
    assert total.backlog_breached == {"under_1d": 0, "1d_2d": 1, "2d_7d": 1, "over_7d": 0}
    assert (total.open_now, total.breached_now) == (4, 2)


def test_rows_per_team_and_owner(tenant_a: Tenant, scenario: dict[str, Any]) -> None:
    report = get_page(tenant_a).context["report"]
    teams = {row.name: row for row in report.teams}
    assert list(teams) == ["Alpha team", "Bravo team", "No team"]
    alpha, bravo, none = teams["Alpha team"], teams["Bravo team"], teams["No team"]
    assert (alpha.opened, alpha.resolved, alpha.sla_within, alpha.sla_decided) == (3, 2, 1, 3)
    assert alpha.median_first_contact == timedelta(hours=15)  # 2 h and 28 h
    assert alpha.backlog_breached["1d_2d"] == 1
    assert (bravo.opened, bravo.resolved, bravo.sla_decided, bravo.open_now) == (2, 0, 1, 2)
    assert (none.opened, none.open_now, none.backlog["over_7d"]) == (0, 1, 1)
    owners = {row.name: row for row in report.owners}
    assert list(owners) == ["Olga One", "Otto Two", "Unassigned"]
    assert (owners["Olga One"].opened, owners["Olga One"].recovery_rate) == (3, 50.0)
    assert (owners["Otto Two"].opened, owners["Otto Two"].breached_now) == (1, 1)
    assert (owners["Unassigned"].opened, owners["Unassigned"].open_now) == (1, 2)
    body = get_page(tenant_a).content.decode()
    assert 'id="kpi-teams"' in body
    assert 'id="kpi-owners"' in body
    assert "Olga One" in body


def test_weekly_trend(tenant_a: Tenant, scenario: dict[str, Any]) -> None:
    response = get_page(tenant_a)
    trend = response.context["report"].trend
    assert [(week.start, week.end, week.opened, week.resolved) for week in trend] == [
        (date(2026, 3, 1), date(2026, 3, 1), 0, 0),
        (date(2026, 3, 2), date(2026, 3, 8), 0, 0),
        (date(2026, 3, 9), date(2026, 3, 15), 2, 2),
        (date(2026, 3, 16), date(2026, 3, 20), 3, 0),
    ]
    # The chart's data (drawn by static/js/dashboard.js) holds the same numbers.
    body = response.content.decode()
    data = re.search(r'<script id="kpi-trend-data" type="application/json">(.*?)</script>', body)
    assert data is not None
    opened, resolved = json.loads(data.group(1))["data"]
    assert (opened["y"], resolved["y"]) == ([0, 0, 2, 3], [0, 0, 2, 0])


def test_filters_apply(tenant_a: Tenant, scenario: dict[str, Any]) -> None:
    first = scenario["cases"]["c1"]
    report = get_page(tenant_a, f"{QUERY}&journey={first.journey_id}").context["report"]
    assert (report.total.opened, report.total.resolved, report.total.open_now) == (1, 1, 0)
    third = scenario["cases"]["c3"]
    report = get_page(tenant_a, f"{QUERY}&touchpoint={third.touchpoint_id}").context["report"]
    assert (report.total.opened, report.total.open_now, report.total.breached_now) == (1, 1, 1)
    # The period decides the cohort: only c3, c4 and c5 were opened from 16 March.
    report = get_page(tenant_a, "?start=2026-03-16&end=2026-03-20").context["report"]
    assert report.total.opened == 3


def test_local_days_bound_the_period(tenant_a: Tenant, scenario: dict[str, Any]) -> None:
    # c4 was opened at 07:00 Berlin on 20 March; a period ending on the 19th misses it.
    report = get_page(tenant_a, "?start=2026-03-19&end=2026-03-19").context["report"]
    assert report.total.opened == 1  # c5: 01:00 Berlin on the 19th


@pytest.mark.parametrize("role", ["admin", "cx_manager", "owner", "viewer"])
def test_every_role_sees_the_page(tenant_a: Tenant, scenario: dict[str, Any], role: str) -> None:
    client = tenant_a.client_for(tenant_a.member(role))
    body = get_page(tenant_a, client=client).content.decode()
    assert 'aria-current="page"' in body
    assert "Closed-loop KPIs" in body


def test_query_count_does_not_grow_with_cases(
    tenant_a: Tenant, scenario: dict[str, Any], django_assert_max_num_queries: MaxQueries
) -> None:
    # The page's own queries are eight; the rest is the session, the membership, the
    # filter bar's choices (and the tenant settings of each transaction on PostgreSQL).
    with django_assert_max_num_queries(30) as before:
        get_page(tenant_a)
    with time_machine.travel(NOW, tick=False), tenant_context(tenant_a.organization):
        team = TeamFactory(name="Charlie team")
        for hour in range(6):
            make_case(
                team=team,
                owner=tenant_a.member("owner"),
                status="new",
                created_at=at(15, hour),
                first_response_due_at=at(16, hour),
                resolution_due_at=at(17, hour),
            )
    with django_assert_max_num_queries(len(before)):
        report = get_page(tenant_a).context["report"]
    assert report.total.opened == 11
    assert len(report.owners) == 3 + 6


def test_empty_period(tenant_a: Tenant) -> None:
    response = get_page(tenant_a)
    total = response.context["report"].total
    assert total.opened == 0
    assert total.sla_compliance is None
    assert total.median_first_contact is None
    assert "No cases in this period and none open." in response.content.decode()
