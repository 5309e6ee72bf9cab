"""An owner works a case in a real browser: from the inbox to the case, a contact
attempt, a note, and the resolution, which the timeline then shows.

Set SCREENSHOT_DIR to keep screenshots of the inbox and the resolved case.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from closedloop.models import Case, CaseEventKind, CaseStatus
from tenants.context import tenant_context
from tenants.models import Role
from tests.conftest import Tenant
from tests.factories import case_factory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR", "")


def _shot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


def test_an_owner_works_a_case_from_the_inbox_to_resolution(
    page: Any, live_server: Any, tenant_a: Tenant
) -> None:
    owner = tenant_a.member(Role.OWNER, first_name="Olga", last_name="Owner")
    with tenant_context(tenant_a.organization):
        case = case_factory(
            owner=owner, answers={"recommend": 1, "recommend-reason": "The parcel never came"}
        )
    session = tenant_a.client_for(owner).cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])

    page.goto(tenant_a.url("cases/"))
    row = page.locator(f"#case-{case.number}")
    row.wait_for()
    assert "due in" in row.inner_text()
    _shot(page, "inbox")
    row.get_by_role("link", name=case.title).click()
    page.get_by_role("heading", name=f"Case {case.number}: {case.title}").wait_for()
    assert "The parcel never came" in page.locator("main").inner_text()

    page.get_by_label("How").select_option("phone")
    page.get_by_label("Outcome").select_option("reached")
    page.get_by_label("What was said").fill("Apologised; a new parcel goes out today.")
    page.get_by_role("button", name="Log contact attempt").click()
    page.get_by_text("Contact attempt logged.").wait_for()
    assert page.locator("#case-status").inner_text() == "In progress"

    page.get_by_label("Note", exact=True).fill("Customer prefers calls after 5 pm.")
    page.get_by_role("button", name="Add note").click()
    page.get_by_text("Note added.").wait_for()

    page.get_by_label("Resolution summary").fill("Replacement parcel delivered.")
    page.get_by_role("button", name="Resolve", exact=True).click()
    page.get_by_text("The case is now “Resolved”.").wait_for()
    assert page.locator("#case-status").inner_text() == "Resolved"

    timeline = page.locator("#timeline")
    entries = timeline.locator("li")
    text = timeline.inner_text()
    assert "Phone call: Reached the customer" in text
    assert "Customer prefers calls after 5 pm." in text
    last = entries.last.inner_text()
    assert "Status changed" in last
    assert "In progress → Resolved" in last
    assert "Replacement parcel delivered." in last
    assert "Olga Owner" in last
    _shot(page, "case-resolved")

    with tenant_context(tenant_a.organization):
        stored = Case.objects.get(pk=case.pk)
        assert stored.status == CaseStatus.RESOLVED
        assert stored.first_responded_at is not None
        kinds = list(stored.events.values_list("kind", flat=True))
    assert kinds[-3:] == [CaseEventKind.CONTACT_ATTEMPT, CaseEventKind.NOTE, CaseEventKind.STATUS]
