"""Chromium enforces the Content Security Policy: the main pages work with no violation.

A blocked script, style or eval shows up as a console error ("Refused to ...") or a
`securitypolicyviolation`; either fails the test. Charts must still render.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from surveys.models_distribution import Invitation, InvitationStatus
from tenants.context import cross_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_main_pages_run_under_the_policy_without_violations(page: Any) -> None:
    call_command("seed_demo", verbosity=0)
    with cross_tenant(reason="a demo survey link"):
        token = (
            Invitation.objects.filter(status=InvitationStatus.OPENED).values_list(
                "token", flat=True
            )
        ).first()
    problems: list[str] = []
    page.on(
        "console",
        lambda message: (
            problems.append(f"{page.url}: {message.text}") if message.type == "error" else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))

    page.goto(f"/s/{token}/")
    page.locator("form").first.wait_for()

    page.goto("/accounts/login/")
    page.get_by_label("Email", exact=True).fill("admin@demo.example")
    page.get_by_label("Password").fill("demo-password-1")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)  # the organization chooser

    page.goto("/o/demo/dashboard/")
    page.locator(".main-svg").first.wait_for()  # plotly rendered
    for path in ("/o/demo/cases/", "/o/demo/responses/", "/o/demo/surveys/", "/api/v1/docs/"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
    page.locator(".swagger-ui").first.wait_for()  # Swagger UI started from its script file

    assert not problems, "\n".join(problems)
