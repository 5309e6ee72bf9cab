"""The leaderboard through the HTTP client, on a hand-built set of resolved cases: per
owner and per team, per period in the organization's time zone."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from closedloop.models import CaseStatus
from tenants.context import tenant_context
from tenants.models import Role
from tests.conftest import Tenant
from tests.factories import TeamFactory, TeamMemberFactory, case_factory

pytestmark = pytest.mark.django_db

# Wednesday 18 March 2026, 13:00 in Berlin. This week starts Monday 16 March 00:00 Berlin
# (15 March 23:00 UTC).
NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)
MONDAY = datetime(2026, 3, 15, 23, 0, tzinfo=UTC)
H = timedelta(hours=1)


def resolved(
    owner: Any, team: Any, *, at: datetime, contact_after: timedelta | None, **kw: Any
) -> None:
    """A resolved case opened a day before ``at``, due two hours after ``at`` unless said
    otherwise (so: within the SLA)."""
    created = at - timedelta(days=1)
    fields = {
        "owner": owner,
        "team": team,
        "status": CaseStatus.RESOLVED,
        "resolution_summary": "Done",
        "created_at": created,
        "first_responded_at": created + contact_after if contact_after else None,
        "resolution_due_at": at + 2 * H,
        "resolved_at": at,
        **kw,
    }
    case_factory(**fields)


@pytest.fixture
def board(tenant_a: Tenant) -> dict[str, Any]:
    alice = tenant_a.member(Role.OWNER, first_name="Alice", last_name="Archer")
    bob = tenant_a.member(Role.OWNER, first_name="Bob", last_name="Baker")
    with tenant_context(tenant_a.organization):
        shop: Any = TeamFactory(name="Shop")
        care: Any = TeamFactory(name="Care", lead=bob)
        TeamMemberFactory(team=shop, user=alice)
        TeamMemberFactory(team=care, user=bob)
        # Alice, this week: within the SLA (00:30 Monday in Berlin, Sunday in UTC) ...
        resolved(alice, shop, at=MONDAY + H / 2, contact_after=2 * H, recovered=True)
        # ... after the due time ...
        resolved(
            alice,
            shop,
            at=MONDAY + 30 * H,
            contact_after=4 * H,
            resolution_due_at=MONDAY + 29 * H,
            recovered=False,
        )
        # ... and in time but breached earlier (the clock was met only after a reopen).
        resolved(
            alice,
            shop,
            at=MONDAY + 40 * H,
            contact_after=6 * H,
            resolution_breached_at=MONDAY + 20 * H,
        )
        # Alice, earlier this month: Sunday 23:30 in Berlin is last week.
        resolved(alice, shop, at=MONDAY - H / 2, contact_after=H / 2)
        # Bob, this week: twice within the SLA.
        resolved(bob, care, at=MONDAY + 10 * H, contact_after=H, recovered=True)
        resolved(bob, care, at=MONDAY + 11 * H, contact_after=3 * H)
        # Bob, last month.
        resolved(bob, care, at=datetime(2026, 2, 20, 10, 0, tzinfo=UTC), contact_after=H)
        # Nobody's, in Care, without an SLA and without a first contact.
        resolved(None, care, at=MONDAY + 12 * H, contact_after=None, resolution_due_at=None)
        # Open cases do not count.
        case_factory(owner=alice, team=shop)
    return {"alice": alice, "bob": bob}


def table(body: str, table_id: str) -> list[list[str]]:
    """The rows of a leaderboard table as cell texts (header cell first)."""
    found = re.search(rf'<table class="leaderboard" id="{table_id}">(.*?)</table>', body, re.S)
    assert found, table_id

    def text(cell: str) -> str:
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())

    return [
        [text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)[1:]  # after the head
    ]


def page(tenant: Tenant, query: str = "", client: Any = None) -> str:
    with time_machine.travel(NOW, tick=False):
        response = (client or tenant.client).get(tenant.url("cases/leaderboard/") + query)
    assert response.status_code == 200
    return str(response.content.decode())


def test_this_week_per_owner_and_team(tenant_a: Tenant, board: dict[str, Any]) -> None:
    body = page(tenant_a, "?period=this_week")
    assert table(body, "owners-table") == [
        ["Bob Baker", "2", "2", "100 %", "2 h", "100 % (1 of 1)"],
        ["Alice Archer", "3", "1", "33 %", "4 h", "50 % (1 of 2)"],
        ["All cases", "6", "3", "60 %", "3 h", "67 % (2 of 3)"],
    ]
    assert table(body, "teams-table") == [
        ["Care", "3", "2", "100 %", "2 h", "100 % (1 of 1)"],
        ["Shop", "3", "1", "33 %", "4 h", "50 % (1 of 2)"],
        ["All cases", "6", "3", "60 %", "3 h", "67 % (2 of 3)"],
    ]
    assert "Cases resolved from March 16, 2026 to March 22, 2026." in body


def test_other_periods(tenant_a: Tenant, board: dict[str, Any]) -> None:
    month = table(page(tenant_a), "owners-table")  # this month is the default
    assert month[0] == ["Alice Archer", "4", "2", "50 %", "3 h", "50 % (1 of 2)"]
    assert month[1] == ["Bob Baker", "2", "2", "100 %", "2 h", "100 % (1 of 1)"]
    last = table(page(tenant_a, "?period=last_month"), "owners-table")
    assert last == [
        ["Bob Baker", "1", "1", "100 %", "1 h", "—"],
        ["All cases", "1", "1", "100 %", "1 h", "—"],
    ]
    quarter = table(page(tenant_a, "?period=this_quarter"), "owners-table")
    assert quarter[0][:3] == ["Bob Baker", "3", "3"]
    assert quarter[1][:3] == ["Alice Archer", "4", "2"]
    # An unknown period falls back to this month.
    assert table(page(tenant_a, "?period=forever"), "owners-table")[0][0] == "Alice Archer"


def test_an_empty_period_says_so(tenant_a: Tenant) -> None:
    body = page(tenant_a, "?period=last_month")
    assert "No case was resolved in this period." in body


def test_owners_see_the_leaderboard_viewers_do_not(tenant_a: Tenant, board: dict[str, Any]) -> None:
    body = page(tenant_a, "?period=this_week", client=tenant_a.client_for(board["alice"]))
    assert "Bob Baker" in body
    viewer = tenant_a.client_for(tenant_a.member(Role.VIEWER))
    assert viewer.get(tenant_a.url("cases/leaderboard/")).status_code == 403
