"""The organization's response feed (filters, pages, live polling) and response page,
through the HTTP client as a signed-in member."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from responses.models import Response
from responses.services import response_submit
from surveys.models import SurveyVersion
from tenants.context import tenant_context
from tenants.models import Role
from tests.conftest import Tenant
from tests.factories import (
    ContactFactory,
    InvitationFactory,
    JourneyFactory,
    TouchpointFactory,
    published_survey,
    response_factory,
)

pytestmark = pytest.mark.django_db

POLLER = re.compile(r'id="feed-poller"[^>]*hx-get="([^"]+)"')


def feed(tenant: Tenant, query: str = "", client: Any = None) -> Any:
    return (client or tenant.client).get(tenant.url("responses/") + query)


def poll_url(page: Any) -> str:
    match = POLLER.search(page.content.decode())
    assert match, "the first page polls for new responses"
    return html.unescape(match.group(1))


def row_ids(page: Any) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li id="response-(\d+)"', page.content.decode())]


def survey(tenant: Tenant, template: str = "relationship-nps", **kwargs: Any) -> SurveyVersion:
    with tenant_context(tenant.organization):
        return published_survey(template, **kwargs)


def answer(tenant: Tenant, version: SurveyVersion, **kwargs: Any) -> Response:
    with tenant_context(tenant.organization):
        return response_factory(version=version, **kwargs)


def test_feed_shows_a_new_response_with_score_touchpoint_and_comment(tenant_a: Tenant) -> None:
    version = survey(tenant_a)
    response = answer(tenant_a, version)
    page = feed(tenant_a)
    body = page.content.decode()
    assert page.status_code == 200
    assert row_ids(page) == [response.pk]
    assert "Quick delivery" in body
    assert version.survey.touchpoint.name in body
    assert version.survey.touchpoint.journey.name in body
    assert 'class="score score-promoter"' in body
    assert "<strong>9</strong>" in body
    assert "promoter" in body  # the group in words, not only in colour
    assert "anonymous" in body
    assert "Open link" in body
    assert 'hx-trigger="every 4s' in body
    assert 'role="status" aria-live="polite"' in body


def test_an_empty_feed_says_so_and_still_polls(tenant_a: Tenant) -> None:
    page = feed(tenant_a)
    assert "No responses yet" in page.content.decode()
    assert "after=0" in poll_url(page)


def test_filters(tenant_a: Tenant) -> None:
    nps = survey(tenant_a)
    with tenant_context(tenant_a.organization):
        other_touchpoint: Any = TouchpointFactory(journey=JourneyFactory(name="Service"))
    csat = survey(tenant_a, "purchase-csat", touchpoint=other_touchpoint, name="After purchase")
    promoter = answer(tenant_a, nps, channel="email", answers={"recommend": 10})
    detractor = answer(tenant_a, nps, channel="sms", answers={"recommend": 2})
    with tenant_context(tenant_a.organization):
        partial = response_submit(
            version=nps,
            channel="link",
            language="en",
            answers={"recommend": 7},
            question_ids=["recommend"],
            complete=False,
        ).response
    assert partial is not None
    bought = answer(tenant_a, csat, answers={"purchase-satisfaction": 4})

    def ids(query: str) -> set[int]:
        page = feed(tenant_a, query)
        assert page.status_code == 200
        return set(row_ids(page))

    assert ids("") == {promoter.pk, detractor.pk, partial.pk, bought.pk}
    assert ids(f"?survey={csat.survey_id}") == {bought.pk}
    assert ids(f"?touchpoint={nps.survey.touchpoint_id}") == {
        promoter.pk,
        detractor.pk,
        partial.pk,
    }
    assert ids(f"?journey={other_touchpoint.journey_id}") == {bought.pk}
    assert ids("?channel=sms") == {detractor.pk}
    assert ids("?nps_group=detractor") == {detractor.pk}
    assert ids("?nps_group=passive") == {partial.pk}
    assert ids("?status=partial") == {partial.pk}
    assert ids("?status=complete&nps_group=promoter") == {promoter.pk}
    # The filters travel with the live updates and the refresh link.
    page = feed(tenant_a, "?channel=sms")
    assert "channel=sms" in poll_url(page)
    assert 'href="?channel=sms"' in page.content.decode()


def test_date_filter_uses_the_organization_time_zone(tenant_a: Tenant) -> None:
    version = survey(tenant_a)
    # 23:30 UTC on 10 March is 00:30 on 11 March in Berlin (the organization's zone).
    late = answer(tenant_a, version, responded_at=datetime(2025, 3, 10, 23, 30, tzinfo=UTC))
    early = answer(tenant_a, version, responded_at=datetime(2025, 3, 10, 12, 0, tzinfo=UTC))
    assert row_ids(feed(tenant_a, "?date_from=2025-03-11")) == [late.pk]
    assert row_ids(feed(tenant_a, "?date_to=2025-03-10")) == [early.pk]
    assert row_ids(feed(tenant_a, "?date_from=2025-03-10&date_to=2025-03-11")) == [
        late.pk,
        early.pk,
    ]
    page = feed(tenant_a, "?date_from=2025-03-12&date_to=2025-03-11")
    assert "The end date is before the start date." in page.content.decode()
    assert row_ids(page) == []


def test_an_unknown_filter_value_is_a_form_error_not_a_crash(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    foreign = survey(tenant_b)
    page = feed(tenant_a, f"?survey={foreign.survey_id}&channel=fax")
    assert page.status_code == 200
    assert "Correct the filters above" in page.content.decode()
    url = tenant_a.url("responses/feed/new/") + "?after=0&channel=fax"
    assert tenant_a.client.get(url).status_code == 400


def test_polling_returns_only_newer_rows_that_match_the_filters(tenant_a: Tenant) -> None:
    version = survey(tenant_a)
    old = answer(tenant_a, version)
    url = poll_url(feed(tenant_a))
    assert f"after={old.pk}" in url
    assert tenant_a.client.get(url).status_code == 204  # nothing new
    detractor_url = poll_url(feed(tenant_a, "?nps_group=detractor"))

    new = answer(tenant_a, version, answers={"recommend": 9, "recommend-reason": "Friendly"})
    polled = tenant_a.client.get(url)
    body = polled.content.decode()
    assert polled.status_code == 200
    assert row_ids(polled) == [new.pk]
    assert "Friendly" in body
    assert "1 new response" in body
    assert 'id="feed-status" hx-swap-oob="innerHTML"' in body
    # The next poll starts after the new row.
    next_url = poll_url(polled)
    assert tenant_a.client.get(next_url).status_code == 204
    # A poller for detractors was not told about the promoter.
    assert tenant_a.client.get(detractor_url).status_code == 204
    detractor = answer(tenant_a, version, answers={"recommend": 1})
    assert row_ids(tenant_a.client.get(detractor_url)) == [detractor.pk]


def test_a_row_that_commits_after_a_newer_one_still_arrives(tenant_a: Tenant) -> None:
    version = survey(tenant_a)
    first = answer(tenant_a, version)
    second = answer(tenant_a, version)
    # The poll that delivered ``second`` ran before ``first`` committed.
    url = tenant_a.url("responses/feed/new/") + f"?after={first.pk - 1}&seen={second.pk}"
    assert row_ids(tenant_a.client.get(url)) == [first.pk]


def test_a_burst_larger_than_one_poll_offers_a_reload(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("responses.selectors.POLL_MAX_NEW", 2)
    monkeypatch.setattr("responses.selectors.POLL_SEEN_KEEP", 1)
    version = survey(tenant_a)
    url = poll_url(feed(tenant_a))
    burst = [answer(tenant_a, version).pk for _ in range(3)]
    polled = tenant_a.client.get(url)
    assert row_ids(polled) == [burst[2], burst[1]]
    assert "More arrived than the page shows" in polled.content.decode()
    assert tenant_a.client.get(poll_url(polled)).status_code == 204
    # Two rows with room to remember one: the older one moves into ``after``.
    pair = [answer(tenant_a, version).pk for _ in range(2)]
    polled = tenant_a.client.get(poll_url(polled))
    assert row_ids(polled) == [pair[1], pair[0]]
    assert f"after={pair[0]}&seen={pair[1]}" in poll_url(polled)
    assert tenant_a.client.get(poll_url(polled)).status_code == 204


def test_polling_without_state_starts_a_poller(tenant_a: Tenant) -> None:
    version = survey(tenant_a)
    response = answer(tenant_a, version)
    polled = tenant_a.client.get(tenant_a.url("responses/feed/new/"))
    assert polled.status_code == 200
    assert row_ids(polled) == []
    assert f"after={response.pk}" in poll_url(polled)


def test_a_partial_response_gets_its_comment_while_the_page_is_open(tenant_a: Tenant) -> None:
    version = survey(tenant_a)
    with tenant_context(tenant_a.organization):
        partial = response_submit(
            version=version,
            channel="link",
            language="en",
            answers={"recommend": 4},
            question_ids=["recommend"],
            complete=False,
        ).response
    assert partial is not None
    url = poll_url(feed(tenant_a))
    assert "watch=" in url
    assert tenant_a.client.get(url).status_code == 204
    with tenant_context(tenant_a.organization):
        response_submit(
            version=version,
            channel="link",
            language="en",
            answers={"recommend-reason": "The parcel came late"},
            question_ids=["recommend-reason"],
            response=partial,
        )
    polled = tenant_a.client.get(url)
    body = polled.content.decode()
    assert f'<li id="response-{partial.pk}"' in body
    assert 'hx-swap-oob="true"' in body  # replaces the row already shown
    assert "The parcel came late" in body
    assert "new response" not in body  # an update is not announced as new


def test_cursor_pages_of_fifty(tenant_a: Tenant) -> None:
    version = survey(tenant_a)
    start = timezone.now() - timedelta(days=1)
    created = [
        answer(tenant_a, version, responded_at=start + timedelta(minutes=i)).pk for i in range(53)
    ]
    newest_first = list(reversed(created))
    first = feed(tenant_a)
    assert row_ids(first) == newest_first[:50]
    older = re.search(r'href="(\?before=[^"]+)" rel="next"', first.content.decode())
    assert older
    second = feed(tenant_a, html.unescape(older.group(1)))
    assert row_ids(second) == newest_first[50:]
    assert 'rel="next"' not in second.content.decode()
    assert 'id="feed-poller"' not in second.content.decode()  # older pages do not poll
    assert "Back to the newest" in second.content.decode()
    # A cursor this page never made is the first page, not an error.
    assert row_ids(feed(tenant_a, "?before=nonsense_")) == newest_first[:50]


def test_query_count_does_not_grow_with_rows(
    tenant_a: Tenant, django_assert_num_queries: Any
) -> None:
    version = survey(tenant_a)

    def add(count: int) -> None:
        for _ in range(count):
            with tenant_context(tenant_a.organization):
                response_factory(version=version, contact=ContactFactory())

    add(2)
    with CaptureQueriesContext(connection) as few:
        assert feed(tenant_a).status_code == 200
    add(12)
    with django_assert_num_queries(len(few.captured_queries)):
        page = feed(tenant_a)
    assert len(row_ids(page)) == 14
    # The poll, too: two queries for rows whatever their number.
    url = tenant_a.url("responses/feed/new/") + "?after=0"
    with CaptureQueriesContext(connection) as polled:
        assert len(row_ids(tenant_a.client.get(url))) == 14
    add(5)
    with django_assert_num_queries(len(polled.captured_queries)):
        assert len(row_ids(tenant_a.client.get(url))) == 19


def test_a_viewer_sees_responses_without_customer_names(tenant_a: Tenant) -> None:
    version = survey(tenant_a)
    with tenant_context(tenant_a.organization):
        contact: Any = ContactFactory(first_name="Erika", last_name="Mustermann")
    response = answer(tenant_a, version, contact=contact)
    viewer = tenant_a.client_for(tenant_a.member(Role.VIEWER))
    page = feed(tenant_a, client=viewer)
    assert page.status_code == 200
    assert row_ids(page) == [response.pk]
    assert "Erika" not in page.content.decode()
    assert "known customer" in page.content.decode()
    detail = viewer.get(tenant_a.url(f"responses/{response.pk}/"))
    assert detail.status_code == 200
    assert "Erika" not in detail.content.decode()
    # An admin may open the contact.
    admin_page = feed(tenant_a).content.decode()
    assert f'href="/o/{tenant_a.organization.slug}/contacts/{contact.pk}/">Erika Mustermann' in (
        admin_page
    )


def test_another_organization_gets_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    version = survey(tenant_b)
    foreign = answer(tenant_b, version)
    assert tenant_a.client.get(tenant_b.url("responses/")).status_code == 404
    assert tenant_a.client.get(tenant_b.url("responses/feed/new/")).status_code == 404
    assert tenant_a.client.get(tenant_a.url(f"responses/{foreign.pk}/")).status_code == 404
    assert row_ids(feed(tenant_a)) == []
    url = tenant_a.url("responses/feed/new/") + "?after=0"
    assert tenant_a.client.get(url).status_code == 204


def test_detail_shows_answers_with_option_labels_and_follow_up_text(tenant_a: Tenant) -> None:
    version = survey(tenant_a, "purchase-csat")
    response = answer(
        tenant_a,
        version,
        answers={
            "purchase-satisfaction": 2,
            "purchase-topic": "delivery",
            "purchase-comment": "Two weeks late.\nNo tracking.",
        },
        metadata={"page_url": "https://shop.example/thanks", "origin": "https://shop.example"},
        attributes={"segment": "gold"},
    )
    page = tenant_a.client.get(tenant_a.url(f"responses/{response.pk}/"))
    body = page.content.decode()
    assert page.status_code == 200
    assert "How satisfied are you with your purchase?" in body
    assert "<strong>2</strong>" in body
    assert "<li>Delivery</li>" in body
    assert "Two weeks late.<br>No tracking." in body
    assert 'href="https://shop.example/thanks"' in body
    assert "gold" in body
    assert "CSAT" in body


def test_detail_shows_the_follow_up_question_for_the_score_group(tenant_a: Tenant) -> None:
    version = survey(tenant_a)
    with tenant_context(tenant_a.organization):
        invitation: Any = InvitationFactory(survey_version=version)
    response = answer(
        tenant_a,
        version,
        channel="email",
        invitation=invitation,
        answers={"recommend": 3, "recommend-reason": "Rude hotline"},
    )
    body = tenant_a.client.get(tenant_a.url(f"responses/{response.pk}/")).content.decode()
    assert "What should we improve?" in body  # the detractors' follow-up
    assert "Rude hotline" in body
    assert "detractor" in body
    assert "Not answered" in body  # the optional CSAT question
    invitation_url = f"/o/{tenant_a.organization.slug}/distribution/invitations/{invitation.pk}/"
    assert invitation_url in body


def test_german_ui_shows_the_german_question_texts(tenant_a: Tenant) -> None:
    version = survey(tenant_a, "purchase-csat")
    response = answer(
        tenant_a, version, answers={"purchase-satisfaction": 5, "purchase-topic": "delivery"}
    )
    nps = survey(tenant_a)
    promoter = answer(tenant_a, nps, answers={"recommend": 10, "recommend-reason": "Top"})
    tenant_a.client.cookies["django_language"] = "de"
    body = tenant_a.client.get(tenant_a.url(f"responses/{response.pk}/")).content.decode()
    assert "Wie zufrieden sind Sie mit Ihrem Einkauf?" in body
    assert "<li>Die Lieferung</li>" in body
    body = tenant_a.client.get(tenant_a.url(f"responses/{promoter.pk}/")).content.decode()
    assert "Was hat Ihnen am besten gefallen?" in body
    assert feed(tenant_a).status_code == 200


def test_a_long_comment_is_cut_in_the_feed_and_whole_on_the_page(tenant_a: Tenant) -> None:
    version = survey(tenant_a)
    comment = "word " * 100 + "THE-END"
    response = answer(tenant_a, version, answers={"recommend": 6, "recommend-reason": comment})
    body = feed(tenant_a).content.decode()
    assert "THE-END" not in body
    assert "Read the whole comment" in body
    detail = tenant_a.client.get(tenant_a.url(f"responses/{response.pk}/")).content.decode()
    assert "THE-END" in detail


def test_the_comment_is_escaped(tenant_a: Tenant) -> None:
    version = survey(tenant_a)
    answer(tenant_a, version, answers={"recommend": 0, "recommend-reason": "<script>x</script>"})
    body = feed(tenant_a).content.decode()
    assert "<script>x</script>" not in body
    assert "&lt;script&gt;x&lt;/script&gt;" in body
