"""The website widget on a shop page of another origin: a 320 px phone customer answers
the pop-up with clicks; keyboard users close it with Escape and keep their focus.

The shop is a tiny http.server on 127.0.0.1 (its own origin); the platform is the live
server on localhost. Set SCREENSHOT_DIR to keep screenshots.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation
from django.utils.translation import gettext

from responses.models import Response
from responses.signing import sign_params
from surveys.models import Survey
from tenants.context import tenant_context
from tests.conftest import Tenant
from tests.factories import ContactFactory, published_survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR", "")

SHOP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Order confirmed</title>
<style>button, h1 {{ font: 40px serif; color: red; }}</style>
<script>
  window.FeedbackWidget = window.FeedbackWidget
    || {{q: [], show: function (o) {{ this.q.push(o); }}}};
  FeedbackWidget.show({options});
</script>
<script src="{platform}/w/v1/widget.js" async></script>
</head><body>
<h1>Thank you for your order</h1>
<button id="shop-button">Continue shopping</button>
</body></html>
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A static web server for ``tmp_path`` on its own origin: (origin, folder)."""
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()
    server.server_close()


@pytest.fixture
def narrow(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 320, "height": 640}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _shop_page(
    shop: tuple[str, Path], live_server: Any, survey: Survey, options: dict[str, Any]
) -> str:
    origin, folder = shop
    assert not live_server.url.startswith(origin)  # two origins: the point of the test
    page = SHOP_PAGE.format(
        options=json.dumps({"survey": survey.public_id, "delay": 0, **options}),
        platform=live_server.url,
    )
    (folder / "index.html").write_text(page, encoding="utf-8")
    return f"{origin}/index.html"


def _survey(tenant: Tenant, origin: str) -> Survey:
    with tenant_context(tenant.organization):
        return published_survey(widget_enabled=True, allowed_origins=[origin]).survey


def _screenshot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"))


def test_a_customer_answers_the_pop_up_on_a_phone(
    narrow: Any, live_server: Any, shop: tuple[str, Path], tenant_a: Tenant
) -> None:
    survey = _survey(tenant_a, shop[0])
    with tenant_context(tenant_a.organization):
        contact: Any = ContactFactory(crm_id="K-1")
    params = {"crm_id": "K-1", "a.order": "A-77"}
    identity = {**params, "sig": sign_params(survey.link_secret, params)}
    page = narrow
    page.goto(_shop_page(shop, live_server, survey, {"identity": identity}))

    dialog = page.get_by_role("dialog", name="Your feedback")
    dialog.wait_for()
    assert dialog.get_attribute("aria-modal") == "true"
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    # Shop styles stay outside the shadow root.
    nine = dialog.get_by_role("button", name="9", exact=True)
    assert nine.evaluate("b => getComputedStyle(b).color") != "rgb(255, 0, 0)"
    _screenshot(page, "widget-open")

    dialog.get_by_role("button", name="Submit").click()
    assert dialog.get_by_text("Please answer this question.").is_visible()
    assert dialog.get_by_role("button", name="0", exact=True).evaluate(
        "b => b.getRootNode().activeElement === b"
    )

    nine.click()
    assert nine.get_attribute("aria-pressed") == "true"
    # The follow-up asks what a promoter liked.
    dialog.get_by_label("What did you like most?").fill("Fast delivery")
    dialog.get_by_role("button", name="5", exact=True).last.click()  # value for money
    _screenshot(page, "widget-answered")
    dialog.get_by_role("button", name="Submit").click()
    dialog.get_by_text("Thank you!").wait_for()
    _screenshot(page, "widget-thanks")

    with tenant_context(tenant_a.organization):
        response = Response.objects.get()
        contact.refresh_from_db()
    assert response.channel == "widget"
    assert (response.nps, response.comment, response.csat) == (9, "Fast delivery", 5)
    assert response.contact_id == contact.pk
    assert response.contact_attributes == {"order": "A-77"}
    assert response.metadata["origin"] == shop[0]
    assert contact.last_surveyed_at is not None

    dialog.get_by_role("button", name="Close").last.click()
    assert page.get_by_role("dialog").count() == 0
    # Answered: the next page of the shop does not ask again.
    page.reload()
    page.wait_for_timeout(800)
    assert page.get_by_role("dialog").count() == 0


def test_keyboard_users_stay_in_the_dialog_and_escape_closes_it(
    narrow: Any, live_server: Any, shop: tuple[str, Path], tenant_a: Tenant
) -> None:
    survey = _survey(tenant_a, shop[0])
    page = narrow
    page.goto(_shop_page(shop, live_server, survey, {"lang": "de", "delay": 1}))
    page.focus("#shop-button")  # where the customer was when the pop-up came

    with translation.override("de"):
        title = gettext("Your feedback")
    dialog = page.get_by_role("dialog", name=title)
    dialog.wait_for()
    assert dialog.get_attribute("lang") == "de"
    for _ in range(30):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.hasAttribute('data-feedback-widget')")
    for _ in range(5):
        page.keyboard.press("Shift+Tab")
        assert page.evaluate("document.activeElement.hasAttribute('data-feedback-widget')")

    page.keyboard.press("Escape")
    assert page.get_by_role("dialog").count() == 0
    assert page.evaluate("document.activeElement.id") == "shop-button"
    # Dismissed: not shown again on the next page.
    page.reload()
    page.wait_for_timeout(800)
    assert page.get_by_role("dialog").count() == 0
