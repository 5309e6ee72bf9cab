"""Main journeys in a real browser, in German and in English.

* A customer answers an emailed survey link on a phone: taps a score, writes a comment,
  sends it and sees the thank-you page; the response is stored.
* A CX manager reads the dashboard (charts rendered) and exports the responses as CSV.

Both fail on any script error or Content Security Policy violation. (The owner closing
the loop: test_closedloop_inbox.py; signing in: test_signin.py.)
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from metrics.services.rollups import rollups_rebuild
from responses.models import Response
from tenants.context import tenant_context
from tenants.models import Role
from tests.conftest import Tenant
from tests.factories import ContactFactory, published_survey, response_factory, sent_invitation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

THANKS = {"en": "Thank you", "de": "Vielen Dank"}


def _watch(page: Any) -> list[str]:
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"{page.url}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    return problems


@pytest.mark.parametrize("language", ["de", "en"])
def test_a_customer_answers_on_a_phone(phone: Any, tenant_a: Tenant, language: str) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey()
        contact = ContactFactory(language=language)
        invitation: Any = sent_invitation(version, contact)
    problems = _watch(phone)

    phone.goto(f"/s/{invitation.token}/?lang={language}")
    assert phone.locator("html").get_attribute("lang") == language
    phone.locator("button.nps-button", has_text="9").first.click()
    phone.locator("textarea").first.wait_for()
    phone.locator("textarea").first.fill("Schnelle Lieferung" if language == "de" else "Fast")
    for group in phone.locator("fieldset:has(input[type=radio])").all():
        group.locator("label").last.click()
    phone.locator("button.survey-submit").click()
    phone.wait_for_url("**/thanks/**")
    assert THANKS[language] in phone.locator("main").inner_text()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, "the survey scrolls sideways on a phone"

    with tenant_context(tenant_a.organization):
        response = Response.objects.get(invitation=invitation)
    assert response.nps == 9
    assert response.status == "complete"
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", ["de", "en"])
def test_a_manager_reads_the_dashboard_and_exports(
    page: Any, live_server: Any, tenant_a: Tenant, language: str, tmp_path: Path
) -> None:
    manager = tenant_a.member(Role.CX_MANAGER)
    with tenant_context(tenant_a.organization):
        version = published_survey()
        for score in (10, 9, 3, 7):
            response_factory(
                version=version, answers={"recommend": score, "recommend-reason": f"S{score}"}
            )
        rollups_rebuild()
    session = tenant_a.client_for(manager).cookies["sessionid"].value
    page.context.add_cookies(
        [
            {"name": "sessionid", "value": session, "url": live_server.url},
            {"name": "django_language", "value": language, "url": live_server.url},
        ]
    )
    problems = _watch(page)

    page.goto(tenant_a.url("dashboard/"))
    assert page.locator("html").get_attribute("lang") == language
    page.locator(".main-svg").first.wait_for()  # a plotly chart rendered
    assert "NPS" in page.locator("main").inner_text()

    page.goto(tenant_a.url("dashboard/exports/"))
    page.locator("#export-form select[name=format]").select_option("csv")
    with page.expect_download() as download_info:
        page.locator("#export-form button[type=submit]").click()
    target = tmp_path / "export.csv"
    download_info.value.save_as(target)
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 5  # header and four responses
    comments = {row[-1] for row in rows[1:]} | {cell for row in rows[1:] for cell in row}
    assert {"S10", "S9", "S3", "S7"} <= comments
    assert not problems, "\n".join(problems)
