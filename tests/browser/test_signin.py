"""A person signs in, switches language and organization, and signs out."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page: Any, email: str) -> None:
    page.goto("/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password").fill("demo-password-1")
    page.get_by_role("button", name="Sign in").click()


def test_admin_signs_in_switches_language_and_organization(page: Any) -> None:
    call_command("seed_demo", verbosity=0)
    _sign_in(page, "admin@demo.example")
    # Two organizations: the chooser.
    page.get_by_role("link", name="Demo Retail GmbH").click()
    page.get_by_role("heading", name="Set up your organization").wait_for()
    assert page.locator("#main-nav a[aria-current=page]").inner_text() == "Home"

    with page.expect_navigation():
        page.get_by_label("Language").select_option("de")
    assert page.locator("html").get_attribute("lang") == "de"

    page.locator("#organization-switcher summary").click()
    page.get_by_role("link", name="Demo Services AG").click()
    page.wait_for_url("**/o/demo-services/")
    assert "Demo Services AG" in page.locator(".brand").inner_text()


def test_owner_on_a_phone_sees_only_owner_navigation(phone: Any) -> None:
    call_command("seed_demo", verbosity=0)
    _sign_in(phone, "owner@demo.example")
    phone.wait_for_url("**/o/demo/")
    nav = phone.locator("#main-nav").inner_text()
    assert "Teams" in nav
    assert "Settings" not in nav
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, "the page scrolls sideways on a phone"
    phone.locator("#user-menu summary").click()
    phone.get_by_role("button", name="Sign out").click()
    phone.wait_for_url("**/accounts/login/")


def test_wrong_password_is_refused_with_a_message(page: Any) -> None:
    call_command("seed_demo", verbosity=0)
    page.goto("/accounts/login/")
    page.get_by_label("Email", exact=True).fill("admin@demo.example")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").is_visible()
    assert page.url.endswith("/accounts/login/")
