"""axe-core checks the public survey pages: no serious or critical violation.

Every question type (NPS, CES, CSAT, choice, free text) on an invitation's page, the
thank-you page, the open link, the unsubscribe page and the page of a dead link, in
German and English, on a phone and on a desktop. axe-core is vendored
(tests/browser/vendor/axe-core) and injected into the page, never loaded from a CDN;
lesser findings are printed, not failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from responses.services import response_submit
from tenants.context import tenant_context
from tests.factories import ContactFactory, OrganizationFactory, published_survey, sent_invitation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
BLOCKING = {"serious", "critical"}
SIZES = {"phone": {"width": 375, "height": 740}, "desktop": {"width": 1280, "height": 900}}


def _pages(language: str) -> dict[str, str]:
    organization: Any = OrganizationFactory(slug=f"a11y-{language}", name="Shop GmbH")
    pages: dict[str, str] = {}
    with tenant_context(organization):
        contact = ContactFactory(language=language)
        for template in ("relationship-nps", "purchase-csat", "support-ces"):
            version = published_survey(template, open_link_enabled=True)
            invitation: Any = sent_invitation(version, contact)
            pages[f"survey {template}"] = f"/s/{invitation.token}/?lang={language}"
        pages["open link"] = f"/l/{version.survey.public_id}/?lang={language}"
        pages["unsubscribe"] = f"/u/{invitation.token}/?lang={language}"
        answered: Any = sent_invitation(version, contact)
        questions = {q["type"]: str(q["id"]) for q in version.questions}
        response_submit(
            version=version,
            channel="link",
            language=language,
            answers={questions["ces"]: 5},
            invitation=answered,
        )
        pages["thank you"] = f"/s/{answered.token}/thanks/?lang={language}"
    pages["dead link"] = f"/s/{'x' * 32}/?lang={language}"
    return pages


def _violations(page: Any) -> list[dict[str, Any]]:
    page.evaluate(AXE)
    result = page.evaluate("async () => await axe.run(document)")
    assert result["testEngine"]["name"] == "axe-core"
    assert result["testEngine"]["version"] == "4.14.1"
    return list(result["violations"])


@pytest.mark.parametrize("language", ["de", "en"])
def test_public_survey_pages_have_no_serious_accessibility_violations(
    browser: Any, live_server: Any, language: str
) -> None:
    pages = _pages(language)
    problems: list[str] = []
    for size_name, viewport in SIZES.items():
        context = browser.new_context(
            viewport=viewport,
            base_url=live_server.url,
            is_mobile=size_name == "phone",
            locale=language,
        )
        page = context.new_page()
        page.set_default_timeout(10_000)
        try:
            for name, url in pages.items():
                answer = page.goto(url)
                expected = 404 if name == "dead link" else 200
                assert answer.status == expected, (name, url, answer.status)
                assert page.locator("html").get_attribute("lang") == language, (name, url)
                for violation in _violations(page):
                    nodes = ", ".join(n["target"][0] for n in violation["nodes"][:3])
                    line = (
                        f"{size_name} {name}: {violation['impact']} {violation['id']} "
                        f"({violation['help']}) at {nodes}"
                    )
                    if violation["impact"] in BLOCKING:
                        problems.append(line)
                    else:
                        print(line)
        finally:
            context.close()
    assert not problems, "\n".join(problems)
