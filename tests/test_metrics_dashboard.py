"""The CX dashboard: overview, journey view, drill-down and period comparison.

Responses are submitted through the real submit service with the outbox handlers run
(``django_capture_on_commit_callbacks(execute=True)``), so the pages read the rollup the
way production does; the expected numbers are worked out by hand from the seeded scores.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metrics.models import SegmentAttribute
from metrics.staticfiles import PlotlyFinder
from surveys.models import Journey, SurveyVersion, Touchpoint
from tenants.context import tenant_context
from tenants.models import Role
from tests.conftest import Tenant, is_postgres
from tests.factories import (
    ContactFactory,
    InvitationFactory,
    JourneyFactory,
    TouchpointFactory,
    published_survey,
    response_factory,
)

Capture = Callable[..., AbstractContextManager[Any]]

# Monday 16 March 2026, 11:00 in Berlin. "Last 30 days" is 15 February to 16 March; the
# period before it 16 January to 14 February.
NOW = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)
IN_PERIOD = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
BEFORE = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
PAGES = ("", "journeys/", "breakdown/", "compare/")
ROLES = (Role.ADMIN, Role.CX_MANAGER, Role.OWNER, Role.VIEWER)
MINUS = "\u2212"

# Online shop: 6x10, 4x9 (10 promoters), 3x8, 2x7 (5 passives), 3x5, 2x2 (5 detractors):
# NPS (10 - 5) / 20 = +25.0. Delivery: 10, 9, 7, 7, 6, 6, 3, 3: (2 - 4) / 8 = -25.0.
# Together: 12 promoters, 7 passives, 9 detractors of 28: 300 / 28 = +10.7.
SHOP_SCORES = [10] * 6 + [9] * 4 + [8] * 3 + [7] * 2 + [5] * 3 + [2] * 2
DELIVERY_SCORES = [10, 9, 7, 7, 6, 6, 3, 3]
# Value for money (CSAT) on the first five shop answers: 5, 5, 4, 3, 2 -> top two box 60 %.
SHOP_CSAT = [5, 5, 4, 3, 2]
# Call centre CES: 7, 6, 5, 5, 3, 2 -> mean 28 / 6 = 4.67, easy 4 of 6 = 66.7 %.
CALL_CES = [7, 6, 5, 5, 3, 2]


@dataclass
class Seed:
    purchase: Journey
    support: Journey
    shop: Touchpoint
    delivery: Touchpoint
    returns: Touchpoint
    call: Touchpoint
    shop_version: SurveyVersion
    delivery_version: SurveyVersion
    call_version: SurveyVersion


def submit(capture: Capture, version: SurveyVersion, **kwargs: Any) -> None:
    with capture(execute=True):
        response_factory(version=version, **kwargs)


def seed_structure() -> Seed:
    purchase: Any = JourneyFactory(name="Purchase")
    support: Any = JourneyFactory(name="Support")
    shop: Any = TouchpointFactory(journey=purchase, name="Online shop", position=1)
    delivery: Any = TouchpointFactory(journey=purchase, name="Delivery", position=2)
    returns: Any = TouchpointFactory(journey=purchase, name="Returns", position=3)
    call: Any = TouchpointFactory(journey=support, name="Call centre", position=1)
    return Seed(
        purchase=purchase,
        support=support,
        shop=shop,
        delivery=delivery,
        returns=returns,
        call=call,
        shop_version=published_survey(touchpoint=shop, name="Shop NPS"),
        delivery_version=published_survey(touchpoint=delivery, name="Delivery NPS"),
        call_version=published_survey("support-ces", touchpoint=call, name="Call effort"),
    )


@pytest.fixture
def seeded(tenant_a: Tenant, django_capture_on_commit_callbacks: Capture) -> Seed:
    capture = django_capture_on_commit_callbacks
    with tenant_context(tenant_a.organization):
        seed = seed_structure()
        with time_machine.travel(IN_PERIOD, tick=False):
            for index, score in enumerate(SHOP_SCORES):
                answers: dict[str, Any] = {"recommend": score}
                if index < len(SHOP_CSAT):
                    answers["value-for-money"] = SHOP_CSAT[index]
                if index % 4 == 0:
                    answers["recommend-reason"] = "Fast checkout"
                submit(
                    capture,
                    seed.shop_version,
                    answers=answers,
                    channel="email" if index < 12 else "link",
                    language="de" if index % 2 else "en",
                )
            for score in DELIVERY_SCORES:
                submit(capture, seed.delivery_version, answers={"recommend": score}, channel="sms")
            for score in CALL_CES:
                submit(capture, seed.call_version, answers={"support-effort": score})
        # The period before: ten shop promoters (NPS +100).
        with time_machine.travel(BEFORE, tick=False):
            for _ in range(10):
                submit(capture, seed.shop_version, answers={"recommend": 10}, channel="email")
    return seed


def get(tenant: Tenant, path: str, query: str = "", client: Any = None) -> Any:
    with time_machine.travel(NOW, tick=False):
        return (client or tenant.client).get(tenant.url(f"dashboard/{path}") + query)


def page(tenant: Tenant, path: str, query: str = "", client: Any = None) -> str:
    response = get(tenant, path, query, client)
    assert response.status_code == 200
    return str(response.content.decode())


def text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def element(content: str, element_id: str) -> str:
    """The text of the element with this id (up to its closing tag of the same name)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"', content)
    assert match, f"no element #{element_id}"
    tag = match.group(1)
    start = match.start()
    depth, position = 0, start
    pattern = re.compile(rf"<(/?){tag}\b[^>]*>")
    for found in pattern.finditer(content, start):
        depth += -1 if found.group(1) else 1
        if depth == 0:
            position = found.end()
            break
    return content[start:position]


def table_rows(content: str, table_id: str) -> list[list[str]]:
    body = element(content, table_id)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)[1:]  # after the head
    return [
        [text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)] for row in rows
    ]


def chart_json(content: str, chart_id: str) -> dict[str, Any]:
    match = re.search(
        rf'<script id="{chart_id}-data" type="application/json">(.*?)</script>', content, re.S
    )
    assert match, f"no chart data for {chart_id}"
    figure: dict[str, Any] = json.loads(match.group(1))
    return figure


# --- Every page, every role ----------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_page_renders_for_every_role_without_data(tenant_a: Tenant, role: str) -> None:
    client = tenant_a.client_for(tenant_a.member(role))
    for path in PAGES:
        content = page(tenant_a, path, client=client)
        assert "vendor/plotly/plotly.min.js" in content
        assert "js/dashboard.js" in content
    overview = page(tenant_a, "", client=client)
    assert "No responses in this period" in overview
    assert "No journeys yet" in page(tenant_a, "journeys/", client=client)
    assert "No responses in this period" in page(tenant_a, "breakdown/", client=client)
    assert "No responses in either period" in page(tenant_a, "compare/", client=client)


@pytest.mark.parametrize("role", ROLES)
def test_every_page_renders_for_every_role_with_data(
    tenant_a: Tenant, seeded: Seed, role: str
) -> None:
    client = tenant_a.client_for(tenant_a.member(role))
    for path in PAGES:
        content = page(tenant_a, path, "?period=30d", client=client)
        assert "Online shop" in content or path == ""
    by_dimension = [
        "touchpoint",
        "journey",
        "survey",
        "channel",
        "language",
        "team",
        "segment",
    ]
    for dimension in by_dimension:
        page(tenant_a, "breakdown/", f"?period=30d&by={dimension}", client=client)


def test_the_main_navigation_links_the_dashboard(tenant_a: Tenant) -> None:
    viewer = tenant_a.client_for(tenant_a.member(Role.VIEWER))
    home = viewer.get(tenant_a.url()).content.decode()
    assert f'href="{tenant_a.url("dashboard/")}"' in home
    journeys = page(tenant_a, "journeys/", client=viewer)
    nav = element(journeys, "main-nav")
    assert re.search(r'href="[^"]*/dashboard/"\s+aria-current="page"', nav)
    assert not re.search(r'href="[^"]*/journeys/"\s+aria-current="page"', nav)


def test_other_organizations_get_404(tenant_a: Tenant, tenant_b: Tenant, seeded: Seed) -> None:
    for path in PAGES:
        assert get(tenant_a, path, client=tenant_b.client).status_code == 404
    assert get(tenant_a, "", client=tenant_a.client).status_code == 200


def test_pages_answer_get_only(tenant_a: Tenant) -> None:
    with time_machine.travel(NOW, tick=False):
        for path in PAGES:
            assert tenant_a.client.post(tenant_a.url(f"dashboard/{path}")).status_code == 405


# --- Overview ------------------------------------------------------------------------


def test_overview_tiles_show_the_scores_computed_by_hand(tenant_a: Tenant, seeded: Seed) -> None:
    content = page(tenant_a, "", "?period=30d")
    counts = text(element(content, "response-counts"))
    # 20 shop + 8 delivery + 6 call centre; comments on shop answers 0, 4, 8, 12, 16.
    assert "Responses 34" in counts
    assert "Completed 34" in counts
    assert "With a comment 5" in counts

    nps = text(element(content, "tile-nps"))
    assert "+10.7" in nps
    assert "n = 28 answers" in nps
    assert "Small sample: fewer than 30 answers, indicative only." in nps
    # The ten promoters before (NPS +100): a fall of 89.3 points, clearly significant.
    assert f"{MINUS}89.3 points vs. the previous period" in nps
    assert "significant at 95 %" in nps
    assert "not significant" not in nps

    ces = text(element(content, "tile-ces"))
    assert "4.67" in ces
    assert "n = 6 answers" in ces
    assert "Easy (5-7): 66.7 %" in ces
    assert "No change to show" in ces  # no CES answers in the period before

    csat = text(element(content, "tile-csat"))
    assert "60.0 %" in csat
    assert "n = 5 answers" in csat
    assert "Mean (1-5): 3.80" in csat


def test_overview_charts_carry_valid_plotly_json(tenant_a: Tenant, seeded: Seed) -> None:
    content = page(tenant_a, "", "?period=30d&grain=week")
    distribution = chart_json(content, "chart-nps-distribution")
    bars = distribution["data"][0]
    assert bars["type"] == "bar"
    assert bars["x"] == [str(value) for value in range(11)]
    # Shop and delivery answers per score 0..10.
    assert bars["y"] == [0, 0, 2, 2, 0, 3, 2, 4, 3, 5, 7]
    assert bars["marker"]["color"][0] != bars["marker"]["color"][10]

    trend = chart_json(content, "chart-trend-nps")
    upper, lower, line = trend["data"]
    assert lower["fill"] == "tonexty"  # the interval band between the two lines
    # Weekly points over 30 days: six weeks (from Mondays), the first one clipped to
    # the period's first day (Sunday 15 February).
    assert line["x"][:2] == ["2026-02-15", "2026-02-16"]
    assert len(line["x"]) == 6
    week = line["x"].index("2026-03-09")
    assert line["y"][week] == pytest.approx(10.71, abs=0.01)
    assert lower["y"][week] < line["y"][week] < upper["y"][week]
    assert [value for value in line["y"] if value is not None] == [line["y"][week]]
    for chart_id in ("chart-trend-ces", "chart-trend-csat", "chart-ces-distribution"):
        assert chart_json(content, chart_id)["data"]
    # The data table alternative of every chart.
    assert content.count('<details class="chart-data" open data-chart-table>') == 6
    assert "NPS over time" in content


def test_overview_journey_snapshot_links_each_journey(tenant_a: Tenant, seeded: Seed) -> None:
    content = page(tenant_a, "", "?period=30d")
    rows = table_rows(content, "journey-snapshot")
    assert rows[0][0] == "Purchase"
    assert rows[0][1].startswith("+10.7")
    assert rows[0][3] == "28"
    assert rows[1][0] == "Support"
    assert rows[1][1] == "—"  # CES only: no NPS
    assert rows[1][3] == "6"
    assert f"journeys/?period=30d&amp;journey={seeded.purchase.pk}" in content


def test_filters_in_the_url_change_the_numbers(tenant_a: Tenant, seeded: Seed) -> None:
    delivery = page(tenant_a, "", f"?period=30d&touchpoint={seeded.delivery.pk}")
    assert f"{MINUS}25.0" in text(element(delivery, "tile-nps"))
    assert "Responses 8" in text(element(delivery, "response-counts"))
    assert [row[0] for row in table_rows(delivery, "journey-snapshot")] == ["Purchase"]
    german = page(tenant_a, "", "?period=30d&language=de")
    assert "Responses 10" in text(element(german, "response-counts"))
    # Custom dates: the period before only (ten promoters).
    before = page(tenant_a, "", "?start=2026-01-20&end=2026-02-10")
    assert "+100.0" in text(element(before, "tile-nps"))


def test_invalid_filters_are_ignored_with_a_message(tenant_a: Tenant, seeded: Seed) -> None:
    for path in PAGES:
        content = page(tenant_a, path, "?journey=abc&start=not-a-date&grain=year&by=x&sort=y")
        assert "not valid and are ignored" in content
    breakdown = page(tenant_a, "breakdown/", "?by=colour&sort=loudest")
    assert "Break down by" in text(element(breakdown, "main"))
    compare = page(tenant_a, "compare/", "?compare_start=someday")
    assert "Compare from" in compare


def test_an_empty_period_says_so(tenant_a: Tenant, seeded: Seed) -> None:
    content = page(tenant_a, "", "?start=2025-01-01&end=2025-01-31")
    assert "No responses in this period" in content
    assert "chart-trend-nps" not in content
    assert "period=12m" in element(content, "empty-state")


def test_overview_queries_do_not_grow_with_journeys(
    tenant_a: Tenant,
    seeded: Seed,
    django_capture_on_commit_callbacks: Capture,
    django_assert_max_num_queries: Any,
) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            page(tenant_a, "", "?period=30d")
        return len(queries)

    before = count()
    with tenant_context(tenant_a.organization), time_machine.travel(IN_PERIOD, tick=False):
        for index in range(4):
            journey = JourneyFactory(name=f"Extra {index}")
            for position in (1, 2):
                touchpoint = TouchpointFactory(journey=journey, position=position)
                version = published_survey(touchpoint=touchpoint, name=f"Extra {index}.{position}")
                submit(django_capture_on_commit_callbacks, version, answers={"recommend": 9})
    assert count() == before
    # Session, user, organization, membership, navigation: 6; the filter bar's choices:
    # 5; the page's own aggregates: 4 at most (overview: previous and current period, per
    # journey, trend); one spare for the navigation. PostgreSQL adds the statements that
    # set the organization for row-level security in each transaction.
    limit = 16 + (8 if is_postgres() else 0)
    for path in [*PAGES, "breakdown/?by=channel&", "breakdown/?by=journey&"]:
        base, _sep, query = path.partition("?")
        with django_assert_max_num_queries(limit):
            page(tenant_a, base, f"?{query}period=30d")


# --- Journey view --------------------------------------------------------------------


def test_journey_view_lists_every_touchpoint_in_order(tenant_a: Tenant, seeded: Seed) -> None:
    # No journey chosen: the one with the most responses (Purchase, 28 of 34).
    content = page(tenant_a, "journeys/", "?period=30d")
    assert text(element(content, "journey-heading")) == "Purchase"
    rows = table_rows(content, "journey-touchpoints")
    assert [row[:2] for row in rows] == [
        ["1", "Online shop"],
        ["2", "Delivery weakest"],
        ["3", "Returns"],
    ]
    assert rows[0][2].startswith("+25.0")
    assert rows[1][2].startswith(f"{MINUS}25.0")
    assert rows[0][5] == "20"
    assert rows[1][5] == "8"
    assert rows[2][2:] == ["no feedback yet", "0"]
    weakest = text(element(content, "weakest-touchpoint"))
    assert "2. Delivery" in weakest
    assert "indicative only" in weakest  # fewer than 30 answers each
    figure = chart_json(content, "chart-journey-nps")
    assert figure["data"][0]["x"] == ["1. Online shop", "2. Delivery", "3. Returns"]
    assert figure["data"][0]["y"][:2] == [25.0, -25.0]
    assert figure["data"][0]["y"][2] is None
    # Every touchpoint links to the drill-down filtered by it.
    link = f"breakdown/?period=30d&amp;journey={seeded.purchase.pk}&amp;touchpoint={seeded.shop.pk}"
    assert link in content
    # The journey links: the other journey by its id.
    support = page(tenant_a, "journeys/", f"?period=30d&journey={seeded.support.pk}")
    assert [row[1] for row in table_rows(support, "journey-touchpoints")] == ["Call centre"]
    assert "4.67" in table_rows(support, "journey-touchpoints")[0][3]


def test_the_weakest_touchpoint_needs_30_answers_to_be_reliable(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        seed = seed_structure()
        with time_machine.travel(IN_PERIOD, tick=False):
            for version, scores in (
                (seed.shop_version, [10] * 20 + [0] * 10),  # NPS +33.3 on 30 answers
                (seed.delivery_version, [10] * 30 + [0] * 5),  # NPS +71.4 on 35 answers
            ):
                for score in scores:
                    submit(
                        django_capture_on_commit_callbacks, version, answers={"recommend": score}
                    )
    content = page(tenant_a, "journeys/", f"?period=30d&journey={seed.purchase.pk}")
    weakest = text(element(content, "weakest-touchpoint"))
    assert "1. Online shop" in weakest
    assert "at least 30 NPS answers" in weakest


# --- Drill-down ----------------------------------------------------------------------


def test_breakdown_by_channel_shows_the_response_rate(tenant_a: Tenant, seeded: Seed) -> None:
    sent = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    with tenant_context(tenant_a.organization):
        shop, delivery = seeded.shop_version, seeded.delivery_version
        statuses = ("delivered", "opened", "answered", "answered", "bounced", "sent", "failed")
        for status in (*statuses, "expired"):
            InvitationFactory(survey_version=shop, channel="email", status=status, sent_at=sent)
        for status in ("answered", "answered"):
            InvitationFactory(survey_version=delivery, channel="email", status=status, sent_at=sent)
        for status in ("answered", "delivered", "opened"):
            InvitationFactory(survey_version=delivery, channel="sms", status=status, sent_at=sent)
        # Outside the period, or never sent: not counted.
        InvitationFactory(
            survey_version=shop,
            channel="email",
            status="answered",
            sent_at=datetime(2026, 1, 20, tzinfo=UTC),
        )
        InvitationFactory(survey_version=shop, channel="email", status="scheduled", sent_at=None)
    content = page(tenant_a, "breakdown/", "?period=30d&by=channel")
    rows = {row[0]: row for row in table_rows(content, "breakdown-table")}
    # Email: 8 delivered (all but bounced and failed: delivered, opened, sent, expired,
    # 2 + 2 answered), 4 answered.
    assert rows["Email"][5] == "50.0 % 4 of 8 delivered"
    # SMS: 3 delivered, 1 answered.
    assert rows["SMS"][5] == "33.3 % 1 of 3 delivered"
    assert rows["Open link"][5] == "—"
    assert rows["Email"][4] == "12"
    assert rows["SMS"][4] == "8"
    assert rows["Open link"][4] == "14"
    assert "Response rate:" in content
    # The touchpoint filter applies to the invitations too: the shop's email only.
    shop_only = page(tenant_a, "breakdown/", f"?period=30d&by=channel&touchpoint={seeded.shop.pk}")
    rows = {row[0]: row for row in table_rows(shop_only, "breakdown-table")}
    assert rows["Email"][5] == "33.3 % 2 of 6 delivered"
    assert "SMS" not in rows


def test_breakdown_sorts_and_links_each_row_as_a_filter(tenant_a: Tenant, seeded: Seed) -> None:
    by_volume = table_rows(page(tenant_a, "breakdown/", "?period=30d"), "breakdown-table")
    # Touchpoints are named with their journey.
    shop, delivery, call = "Purchase · Online shop", "Purchase · Delivery", "Support · Call centre"
    assert [row[0] for row in by_volume] == [shop, delivery, call]
    lowest_nps = page(tenant_a, "breakdown/", "?period=30d&sort=nps")
    # Lowest NPS first; the call centre has no NPS and comes last.
    assert [row[0] for row in table_rows(lowest_nps, "breakdown-table")] == [delivery, shop, call]
    assert 'aria-sort="ascending"' in lowest_nps
    highest = page(tenant_a, "breakdown/", "?period=30d&sort=-nps")
    assert [row[0] for row in table_rows(highest, "breakdown-table")][:2] == [shop, delivery]
    assert f'href="?period=30d&amp;touchpoint={seeded.delivery.pk}&amp;by=channel"' in highest
    figure = chart_json(highest, "chart-breakdown")
    assert figure["data"][0]["orientation"] == "h"
    assert figure["data"][0]["y"][:2] == [shop, delivery]
    assert figure["data"][0]["x"][:2] == [25.0, -25.0]
    # By journey, then the row's link filters by it.
    journeys = page(tenant_a, "breakdown/", "?period=30d&by=journey")
    assert f'href="?period=30d&amp;journey={seeded.purchase.pk}&amp;by=touchpoint"' in journeys
    languages = table_rows(
        page(tenant_a, "breakdown/", "?period=30d&by=language"), "breakdown-table"
    )
    assert {row[0]: row[4] for row in languages} == {"English": "24", "Deutsch": "10"}


def test_breakdown_by_segment_explains_how_to_add_attributes(
    tenant_a: Tenant, seeded: Seed
) -> None:
    content = page(tenant_a, "breakdown/", "?period=30d&by=segment")
    notice = text(element(content, "segment-missing"))
    assert "no segment attributes yet" in notice
    assert "dashboard settings" in notice


def test_breakdown_by_a_crm_segment(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        SegmentAttribute.objects.create(key="tier", label="Customer tier")
        seed = seed_structure()
        gold: Any = ContactFactory(attributes={"tier": "gold"})
        plain: Any = ContactFactory(attributes={})
        with time_machine.travel(IN_PERIOD, tick=False):
            for score, contact in ((10, gold), (9, gold), (3, plain)):
                submit(
                    django_capture_on_commit_callbacks,
                    seed.shop_version,
                    answers={"recommend": score},
                    contact=contact,
                )
    choose = page(tenant_a, "breakdown/", "?period=30d&by=segment")
    assert "Customer tier" in text(element(choose, "segment-missing"))
    assert 'href="?period=30d&amp;segment=tier&amp;by=segment"' in choose
    content = page(tenant_a, "breakdown/", "?period=30d&segment=tier&by=segment")
    assert "Scores per segment: Customer tier" in content
    rows = {row[0]: row for row in table_rows(content, "breakdown-table")}
    assert rows["gold"][1].startswith("+100.0")
    assert rows["gold"][4] == "2"
    assert rows["(not set)"][1].startswith(f"{MINUS}100.0")
    assert rows["(not set)"][4] == "1"
    # A value is a filter: the overview of gold customers only.
    assert 'href="?period=30d&amp;segment=tier&amp;value=gold&amp;by=touchpoint"' in content
    gold_only = page(tenant_a, "", "?period=30d&segment=tier&value=gold")
    assert "Responses 2" in text(element(gold_only, "response-counts"))


def test_numbers_follow_the_language(tenant_a: Tenant, seeded: Seed) -> None:
    client = tenant_a.client_for(tenant_a.admin)
    client.cookies["django_language"] = "de"
    content = page(tenant_a, "", "?period=30d", client=client)
    assert "+10,7" in text(element(content, "tile-nps"))
    assert "66,7\u00a0%" in content
    assert chart_json(content, "chart-trend-nps")["layout"]["separators"] == ",."


# --- Compare -------------------------------------------------------------------------


def test_compare_with_the_previous_period(tenant_a: Tenant, seeded: Seed) -> None:
    content = page(tenant_a, "compare/", "?period=30d")
    periods = text(element(content, "compared-periods"))
    assert "This period: 02/15/2026" in periods
    assert "compared with: 01/16/2026" in periods
    assert "the previous period of the same length" in periods
    nps = text(element(content, "compare-nps"))
    assert nps.startswith("NPS +100.0")
    assert "n = 10" in nps
    assert "n = 28" in nps
    assert f"{MINUS}89.3 points" in nps
    assert "significant at 95 %" in nps
    ces = text(element(content, "compare-ces_mean"))
    assert "no comparison" in ces
    movers = element(content, "movers-table")
    # The shop moved most (+100 -> +25); the delivery and call centre had nothing before.
    assert movers.index(f'id="mover-{seeded.shop.pk}"') < movers.index(
        f'id="mover-{seeded.delivery.pk}"'
    )
    assert "10 → 20 responses" in text(element(content, f"mover-{seeded.shop.pk}"))
    assert "small sample" in text(element(content, f"mover-{seeded.shop.pk}"))
    figure = chart_json(content, "chart-compare-nps")
    assert figure["data"][0]["x"] == [-75.0]


def test_compare_with_chosen_dates(tenant_a: Tenant, seeded: Seed) -> None:
    content = page(
        tenant_a, "compare/", "?period=30d&compare_start=2026-03-01&compare_end=2026-03-16"
    )
    assert "Compare with the previous period" in content
    nps = text(element(content, "compare-nps"))
    # The same responses on both sides: no change.
    assert nps.startswith("NPS +10.7")
    assert "not significant" in nps
    one_end = page(tenant_a, "compare/", "?period=30d&compare_end=2026-02-14")
    assert "+100.0" in text(element(one_end, "compare-nps"))


# --- plotly.js from the installed package --------------------------------------------


def test_plotly_js_is_a_static_file_from_the_plotly_package(tmp_path: Path, settings: Any) -> None:
    found = finders.find("vendor/plotly/plotly.min.js")
    assert found
    assert Path(found).is_file()
    assert Path(found).parent.name == "package_data"
    listed = list(PlotlyFinder().list([]))
    assert [path for path, _storage in listed] == ["plotly.min.js"]
    assert PlotlyFinder().check() == []
    assert finders.find("vendor/plotly/other.js") is None


@pytest.fixture
def static_root(tmp_path: Path, settings: Any) -> Path:
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    return settings.STATIC_ROOT


def test_collectstatic_copies_plotly_js_with_a_hashed_name(static_root: Path) -> None:
    call_command("collectstatic", interactive=False, verbosity=0)
    copied = list((static_root / "vendor" / "plotly").glob("plotly.min.*.js"))
    assert len(copied) == 1
    manifest = json.loads((static_root / "staticfiles.json").read_text())
    assert (
        manifest["paths"]["vendor/plotly/plotly.min.js"]
        == copied[0].relative_to(static_root).as_posix()
    )
    assert "js/dashboard.js" in manifest["paths"]
