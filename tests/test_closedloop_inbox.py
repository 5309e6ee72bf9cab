"""The owners' inbox through the HTTP client: tabs per role, filters and sorting, SLA
countdowns, bulk assignment, the navigation entry and the German UI."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from closedloop.models import Case, CaseEvent, CaseEventKind, CaseStatus, Notification, Priority
from tenants.context import tenant_context
from tenants.models import Role
from tests.conftest import Tenant
from tests.factories import TeamFactory, TeamMemberFactory, case_factory, published_survey

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)  # a Wednesday; 10:00 in Berlin


def numbers(page: Any) -> list[int]:
    assert page.status_code == 200, page.status_code
    return [int(n) for n in re.findall(r'<tr id="case-(\d+)"', page.content.decode())]


def inbox(client: Client, tenant: Tenant, query: str = "") -> Any:
    return client.get(tenant.url("cases/") + query)


def make_case(tenant: Tenant, **fields: Any) -> Case:
    with tenant_context(tenant.organization):
        return case_factory(**fields)


@pytest.fixture
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def org(tenant_a: Tenant) -> dict[str, Any]:
    """An owner in team "Shop", a colleague there, and another team with its own owner."""
    owner = tenant_a.member(Role.OWNER, first_name="Olga", last_name="Owner")
    colleague = tenant_a.member(Role.OWNER, first_name="Carl", last_name="Colleague")
    stranger = tenant_a.member(Role.OWNER, first_name="Stan", last_name="Stranger")
    with tenant_context(tenant_a.organization):
        shop: Any = TeamFactory(name="Shop")
        TeamMemberFactory(team=shop, user=owner)
        TeamMemberFactory(team=shop, user=colleague)
        service: Any = TeamFactory(name="Service", lead=stranger)
        TeamMemberFactory(team=service, user=stranger)
    return {
        "owner": owner,
        "colleague": colleague,
        "stranger": stranger,
        "shop": shop,
        "service": service,
    }


def test_tabs_show_each_role_the_cases_it_may_see(tenant_a: Tenant, org: dict[str, Any]) -> None:
    own = make_case(tenant_a, owner=org["owner"])
    team = make_case(tenant_a, owner=org["colleague"], team=org["shop"])
    team_unassigned = make_case(tenant_a, team=org["shop"])
    nobody = make_case(tenant_a)
    foreign = make_case(tenant_a, owner=org["stranger"], team=org["service"])
    foreign_unassigned = make_case(tenant_a, team=org["service"])
    client = tenant_a.client_for(org["owner"])

    assert set(numbers(inbox(client, tenant_a))) == {own.number}  # "My cases" by default
    assert set(numbers(inbox(client, tenant_a, "?tab=team"))) == {
        team.number,
        team_unassigned.number,
    }
    assert set(numbers(inbox(client, tenant_a, "?tab=unassigned"))) == {
        team_unassigned.number,
        nobody.number,
    }
    assert inbox(client, tenant_a, "?tab=all").status_code == 403
    assert 'id="tab-all"' not in inbox(client, tenant_a).content.decode()
    # Another team's cases do not exist for this owner.
    for case in (foreign, foreign_unassigned):
        assert client.get(tenant_a.url(f"cases/{case.number}/")).status_code == 404
    for case in (own, team, team_unassigned, nobody):
        assert client.get(tenant_a.url(f"cases/{case.number}/")).status_code == 200

    manager = tenant_a.client_for(tenant_a.member(Role.CX_MANAGER))
    everything = {
        c.number for c in (own, team, team_unassigned, nobody, foreign, foreign_unassigned)
    }
    assert set(numbers(inbox(manager, tenant_a, "?tab=all"))) == everything
    assert set(numbers(inbox(manager, tenant_a, "?tab=unassigned"))) == {
        team_unassigned.number,
        nobody.number,
        foreign_unassigned.number,
    }
    assert manager.get(tenant_a.url(f"cases/{foreign.number}/")).status_code == 200
    # The lead of "Service" sees that team's cases.
    lead = tenant_a.client_for(org["stranger"])
    assert set(numbers(inbox(lead, tenant_a, "?tab=team"))) == {
        foreign.number,
        foreign_unassigned.number,
    }


def test_tab_counts_show_the_open_cases(tenant_a: Tenant, org: dict[str, Any]) -> None:
    make_case(tenant_a, owner=org["owner"])
    make_case(tenant_a, owner=org["owner"], status=CaseStatus.CLOSED)
    body = inbox(tenant_a.client_for(org["owner"]), tenant_a).content.decode()
    assert re.search(r'id="tab-mine"[^>]*>My cases <span class="tab-count">1 open</span>', body)


def test_breaching_soon_and_the_countdowns(
    tenant_a: Tenant, org: dict[str, Any], frozen: Any
) -> None:
    owner = org["owner"]
    soon = make_case(
        tenant_a, owner=owner, first_response_due_at=NOW + timedelta(hours=3, minutes=20)
    )
    late = make_case(
        tenant_a,
        owner=owner,
        status=CaseStatus.IN_PROGRESS,
        first_responded_at=NOW - timedelta(hours=20),
        first_response_due_at=NOW + timedelta(hours=1),  # met: the resolution counts now
        resolution_due_at=NOW - timedelta(hours=2),
    )
    paused = make_case(
        tenant_a,
        owner=owner,
        status=CaseStatus.WAITING,
        paused_at=NOW - timedelta(hours=1),
        first_response_due_at=NOW - timedelta(hours=1),
    )
    relaxed = make_case(
        tenant_a, owner=owner, first_response_due_at=NOW + timedelta(days=1, hours=5)
    )
    unseen = make_case(
        tenant_a, team=org["service"], first_response_due_at=NOW + timedelta(minutes=5)
    )
    client = tenant_a.client_for(owner)

    page = inbox(client, tenant_a, "?tab=breaching")
    assert numbers(page) == [late.number, soon.number]  # by due time, overdue first
    assert unseen.number not in numbers(inbox(client, tenant_a, "?tab=breaching"))

    body = inbox(client, tenant_a).content.decode()
    assert "due in 3 h 20 min" in body
    assert "overdue by 2 h" in body
    assert "due in 1 d 5 h" in body
    row = re.search(rf'<tr id="case-{paused.number}".*?</tr>', body, re.S)
    assert row
    assert ">paused<" in row.group(0)
    assert "due in" not in row.group(0)
    # The absolute time, in the organization's zone (Berlin, UTC+1 in March).
    assert 'datetime="2026-03-11T13:20:00+01:00"' in body
    assert 'title="First contact due March 11, 2026, 1:20 p.m."' in body
    assert relaxed.number in numbers(inbox(client, tenant_a))


def test_filters_and_sorting_are_shareable_links(tenant_a: Tenant, org: dict[str, Any]) -> None:
    with tenant_context(tenant_a.organization):
        other_survey = published_survey()
    touchpoint = other_survey.survey.touchpoint
    low = make_case(tenant_a, team=org["shop"], priority=Priority.LOW, impact=1.0, created_at=NOW)
    urgent = make_case(
        tenant_a,
        owner=org["colleague"],
        priority=Priority.URGENT,
        impact=9.0,
        created_at=NOW - timedelta(days=1),
        customer_replied_at=NOW,
    )
    breached = make_case(
        tenant_a,
        version=other_survey,
        priority=Priority.NORMAL,
        impact=5.0,
        created_at=NOW - timedelta(days=2),
        first_response_breached_at=NOW,
    )
    done = make_case(tenant_a, status=CaseStatus.RESOLVED, resolved_at=NOW)
    client = tenant_a.client_for(tenant_a.member(Role.CX_MANAGER))

    def shown(query: str) -> list[int]:
        return numbers(inbox(client, tenant_a, "?tab=all&" + query))

    assert set(shown("")) == {low.number, urgent.number, breached.number}
    assert set(shown("status=all")) == {low.number, urgent.number, breached.number, done.number}
    assert shown("status=resolved") == [done.number]
    assert shown(f"priority={Priority.URGENT}") == [urgent.number]
    assert shown(f"team={org['shop'].pk}") == [low.number]
    assert shown(f"owner={org['colleague'].pk}") == [urgent.number]
    assert shown(f"touchpoint={touchpoint.pk}") == [breached.number]
    assert shown(f"journey={touchpoint.journey_id}") == [breached.number]
    assert shown("breached=yes") == [breached.number]
    assert set(shown("breached=no")) == {low.number, urgent.number}
    assert shown("replied=yes") == [urgent.number]
    assert shown("sort=impact") == [urgent.number, breached.number, low.number]
    assert shown("sort=newest") == [low.number, urgent.number, breached.number]
    assert shown("sort=priority") == [urgent.number, breached.number, low.number]
    # The filters travel with the tabs and the sort links.
    body = inbox(client, tenant_a, "?tab=all&priority=4").content.decode()
    assert 'href="?priority=4&amp;tab=mine"' in body
    assert 'href="?priority=4&amp;tab=all&amp;sort=impact"' in body
    assert "Customer replied" in body
    # A filter value that is not on the list is a form error, not a crash.
    page = inbox(client, tenant_a, "?tab=all&team=999999&sort=sideways")
    assert page.status_code == 200
    assert "Correct the filters above" in page.content.decode()


def test_the_inbox_reads_a_fixed_number_of_queries(
    tenant_a: Tenant, django_assert_max_num_queries: Any
) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey()
        team: Any = TeamFactory(lead=tenant_a.admin)
    for _ in range(2):
        make_case(tenant_a, version=version, owner=tenant_a.admin, team=team)
    with CaptureQueriesContext(connection) as few:
        assert len(numbers(inbox(tenant_a.client, tenant_a, "?tab=all"))) == 2
    for _ in range(8):
        make_case(tenant_a, owner=tenant_a.member(Role.OWNER), team=team)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(numbers(inbox(tenant_a.client, tenant_a, "?tab=all"))) == 10


def test_the_rows_refresh_themselves(tenant_a: Tenant) -> None:
    body = inbox(tenant_a.client, tenant_a, "?tab=all&sort=impact").content.decode()
    assert 'hx-get="/o/alpha/cases/?tab=all&amp;sort=impact"' in body
    assert 'hx-trigger="every 30s"' in body
    assert 'hx-select="#inbox-rows"' in body


def test_pages_are_paginated(tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey()
    for _ in range(3):
        make_case(tenant_a, version=version, owner=tenant_a.admin)
    monkeypatch.setattr("closedloop.views.inbox.INBOX_PAGE_SIZE", 2)
    first = inbox(tenant_a.client, tenant_a, "?sort=newest")
    second = inbox(tenant_a.client, tenant_a, "?sort=newest&page=2")
    assert len(numbers(first)) == 2
    assert len(numbers(second)) == 1
    assert "Page 1 of 2" in first.content.decode()
    assert 'href="?sort=newest&amp;page=2"' in first.content.decode()


# --- Bulk assignment -----------------------------------------------------------------------


def bulk(client: Client, tenant: Tenant, cases: list[Case], owner: Any, back: str = "") -> Any:
    return client.post(
        tenant.url("cases/bulk-assign/"),
        {"case": [c.pk for c in cases], "owner": owner.pk, "back": back},
        follow=True,
    )


def test_a_manager_assigns_several_cases_at_once(tenant_a: Tenant, org: dict[str, Any]) -> None:
    cases = [make_case(tenant_a) for _ in range(3)]
    already = make_case(tenant_a, owner=org["colleague"])
    manager = tenant_a.client_for(tenant_a.member(Role.CX_MANAGER))
    body = inbox(manager, tenant_a, "?tab=unassigned").content.decode()
    assert 'id="bulk-form"' in body
    assert f'name="case" value="{cases[0].pk}"' in body

    page = bulk(manager, tenant_a, [*cases, already], org["colleague"], back="tab=unassigned")
    text = page.content.decode()
    assert page.redirect_chain[-1][0] == tenant_a.url("cases/") + "?tab=unassigned"
    assert "3 cases assigned to Carl Colleague." in text
    assert "1 case was already theirs." in text
    with tenant_context(tenant_a.organization):
        assert set(Case.objects.values_list("owner_id", flat=True)) == {org["colleague"].pk}
        assert (
            CaseEvent.objects.filter(kind=CaseEventKind.ASSIGNED, actor__isnull=False).count() == 3
        )
        assert Notification.objects.filter(user=org["colleague"], kind="case_assigned").count() == 3


def test_a_team_lead_assigns_within_the_team_only(tenant_a: Tenant, org: dict[str, Any]) -> None:
    lead = tenant_a.member(Role.OWNER, first_name="Lena")
    with tenant_context(tenant_a.organization):
        org["shop"].lead = lead
        org["shop"].save()
    mine = make_case(tenant_a, team=org["shop"])
    foreign = make_case(tenant_a, team=org["service"])
    loose = make_case(tenant_a)  # no team: the lead sees it, but may not give it away
    client = tenant_a.client_for(lead)
    body = inbox(client, tenant_a, "?tab=unassigned").content.decode()
    assert f'name="case" value="{mine.pk}"' in body
    assert f'name="case" value="{loose.pk}"' not in body

    page = bulk(client, tenant_a, [mine, foreign, loose], org["owner"])
    text = page.content.decode()
    assert "1 case assigned to Olga Owner." in text
    assert "2 cases were not assigned" in text
    # Not to somebody outside the team.
    other = make_case(tenant_a, team=org["shop"])
    text = bulk(client, tenant_a, [other], lead).content.decode()
    assert "1 case assigned to Lena" in text
    text = bulk(client, tenant_a, [mine], org["stranger"]).content.decode()
    assert "Select a valid choice" in text
    with tenant_context(tenant_a.organization):
        assert Case.objects.get(pk=mine.pk).owner_id == org["owner"].pk
        assert Case.objects.get(pk=foreign.pk).owner_id is None
        assert Case.objects.get(pk=loose.pk).owner_id is None
        assert Case.objects.get(pk=other.pk).owner_id == lead.pk


def test_a_plain_owner_may_not_bulk_assign(tenant_a: Tenant, org: dict[str, Any]) -> None:
    case = make_case(tenant_a, team=org["shop"])
    client = tenant_a.client_for(org["owner"])
    assert 'id="bulk-form"' not in inbox(client, tenant_a, "?tab=team").content.decode()
    response = client.post(
        tenant_a.url("cases/bulk-assign/"), {"case": [case.pk], "owner": org["owner"].pk}
    )
    assert response.status_code == 403
    with tenant_context(tenant_a.organization):
        assert Case.objects.get(pk=case.pk).owner_id is None


def test_bulk_assign_without_cases_says_so(tenant_a: Tenant) -> None:
    page = tenant_a.client.post(
        tenant_a.url("cases/bulk-assign/"), {"owner": tenant_a.admin.pk}, follow=True
    )
    assert "Select the cases to assign." in page.content.decode()


# --- Roles, navigation, language -----------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CX_MANAGER, Role.OWNER])
def test_the_case_pages_open_for_case_workers(tenant_a: Tenant, role: str) -> None:
    user = tenant_a.member(role)
    case = make_case(tenant_a, owner=user)
    client = tenant_a.client_for(user)
    for path in (
        "cases/",
        f"cases/{case.number}/",
        "cases/notifications/",
        "cases/leaderboard/",
    ):
        assert client.get(tenant_a.url(path)).status_code == 200, path
    home = client.get(tenant_a.url()).content.decode()
    assert f'href="{tenant_a.url("cases/")}"' in home
    assert 'id="cases-nav-count"' in home


def test_viewers_have_no_cases(tenant_a: Tenant) -> None:
    case = make_case(tenant_a)
    client = tenant_a.client_for(tenant_a.member(Role.VIEWER))
    for path in (
        "cases/",
        f"cases/{case.number}/",
        "cases/notifications/",
        "cases/leaderboard/",
    ):
        assert client.get(tenant_a.url(path)).status_code == 403, path
    for path in (f"cases/{case.number}/note/", "cases/bulk-assign/", "cases/notifications/read/"):
        assert client.post(tenant_a.url(path), {"text": "x"}).status_code == 403, path
    assert f'href="{tenant_a.url("cases/")}"' not in client.get(tenant_a.url()).content.decode()


def test_the_navigation_counts_unread_notifications_and_open_cases(tenant_a: Tenant) -> None:
    owner = tenant_a.member(Role.OWNER)
    make_case(tenant_a, owner=owner)
    make_case(tenant_a, owner=owner)
    make_case(tenant_a, owner=owner, status=CaseStatus.CLOSED)
    with tenant_context(tenant_a.organization):
        Notification.objects.create(user=owner, kind="test", title="Hello")
    home = tenant_a.client_for(owner).get(tenant_a.url()).content.decode()
    assert '<span aria-hidden="true">1 / 2</span>' in home
    assert "1 unread notification, 2 open cases of yours" in home


def test_german_ui(tenant_a: Tenant) -> None:
    case = make_case(tenant_a, owner=tenant_a.admin)
    client = tenant_a.client
    client.cookies["django_language"] = "de"
    for path in ("cases/", f"cases/{case.number}/", "cases/notifications/", "cases/leaderboard/"):
        page = client.get(tenant_a.url(path))
        assert page.status_code == 200, path
        body = page.content.decode()
        assert '<html lang="de">' in body
        assert "Abmelden" in body  # the shared layout in German
    browser = tenant_a.client_for(tenant_a.admin)  # no cookie: the browser's language
    body = browser.get(tenant_a.url("cases/"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '<html lang="de">' in body
