"""The live feed in a real browser on a 320 px phone: a new response appears at the top
within seconds, announced once, and a partial response gets its comment in place.

Set SCREENSHOT_DIR to keep a screenshot of the feed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.sessions.models import Session

from responses.services import response_submit
from tenants.context import tenant_context
from tests.conftest import Tenant
from tests.factories import published_survey, response_factory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR", "")


@pytest.fixture
def narrow(browser: Any, live_server: Any, tenant_a: Tenant) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 320, "height": 640}, base_url=live_server.url, is_mobile=True
    )
    session = tenant_a.client.cookies["sessionid"].value
    context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_new_responses_appear_live_on_a_phone(narrow: Any, tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey()
        first = response_factory(version=version)
    page = narrow
    page.goto(tenant_a.url("responses/"))
    page.locator(f"#response-{first.pk}").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320

    with tenant_context(tenant_a.organization):
        second = response_factory(
            version=version, answers={"recommend": 2, "recommend-reason": "Nobody called back"}
        )
    row = page.locator(f"#response-{second.pk}")
    row.wait_for()
    assert "Nobody called back" in row.inner_text()
    assert "detractor" in row.inner_text()
    assert page.locator("#feed-list > li").first.get_attribute("id") == f"response-{second.pk}"
    assert "1 new response" in page.locator("#feed-status").inner_text()

    with tenant_context(tenant_a.organization):
        partial = response_submit(
            version=version,
            channel="link",
            language="en",
            answers={"recommend": 8},
            question_ids=["recommend"],
            complete=False,
        ).response
    assert partial is not None
    page.locator(f"#response-{partial.pk}").wait_for()
    with tenant_context(tenant_a.organization):
        response_submit(
            version=version,
            channel="link",
            language="en",
            answers={"recommend-reason": "Almost perfect"},
            question_ids=["recommend-reason"],
            response=partial,
        )
    page.locator(f"#response-{partial.pk}").get_by_text("Almost perfect").wait_for()
    assert page.locator(f"#response-{partial.pk}").count() == 1
    assert page.locator("#feed-list > li").count() == 3
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, "response-feed.png"), full_page=True)

    # Signed out elsewhere: the poll lands on the sign-in page, which stays out of the list.
    Session.objects.all().delete()
    page.locator("#feed-poller").wait_for(state="detached")
    assert page.locator("#feed-list > li").count() == 3
    assert page.locator("#feed-list form").count() == 0
