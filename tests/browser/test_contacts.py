"""A CX manager on a 320 px phone finds customers, reads one, and imports the sample CSV.

Set SCREENSHOT_DIR to keep a full-page screenshot of every page checked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command

from contacts.demo import SAMPLE_CSV

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR", "")


@pytest.fixture
def narrow(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 320, "height": 640}, base_url=live_server.url, is_mobile=True
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _fits(page: Any, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, f"{name}: the page scrolls sideways at 320 px ({width} px)"


def test_cx_manager_filters_reads_and_imports_on_a_phone(narrow: Any) -> None:
    call_command("seed_demo", verbosity=0)
    page = narrow
    page.goto("/")
    page.get_by_label("Email", exact=True).fill("cx@demo.example")
    page.get_by_label("Password").fill("demo-password-1")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/o/demo/")

    page.locator("#main-nav").get_by_role("link", name="Contacts").click()
    page.get_by_role("heading", name="Contacts", exact=True).wait_for()
    _fits(page, "contact-list")
    page.get_by_label("Attribute").fill("segment")
    page.get_by_label("Value").fill("enterprise")
    page.get_by_label("Email consent").select_option("granted")
    page.get_by_role("button", name="Show contacts").click()
    page.wait_for_url("**/contacts/?*segment*")
    rows = page.locator("table tbody tr")
    assert rows.count() > 0
    assert "enterprise" in rows.first.inner_text()
    _fits(page, "contact-list-filtered")

    rows.first.get_by_role("link").click()
    page.get_by_role("heading", name="Consent ledger").wait_for()
    assert page.locator("#history").is_visible()
    _fits(page, "contact-detail")

    page.goto("/o/demo/contacts/imports/new/")
    page.get_by_label("CSV file").set_input_files(str(SAMPLE_CSV))
    page.get_by_role("button", name="Upload and map columns").click()
    page.get_by_role("heading", name="Map the columns").wait_for()
    _fits(page, "import-mapping")
    page.get_by_label("Import “Kundennummer” as").select_option("crm_id")
    page.get_by_role("button", name="Import contacts").click()
    page.get_by_role("heading", name="Error report").wait_for()
    report = page.locator("table").last.inner_text()
    assert "is not a valid email address" in report
    assert "Europe/Bern" in report
    _fits(page, "import-result")
