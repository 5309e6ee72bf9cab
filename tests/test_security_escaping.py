"""Customers' free text is shown escaped everywhere staff read it.

A customer controls their comment, their name (web forms, CRM sync) and replies to case
messages. Each is stored with script payloads and every page that shows it must render
the payload as text: the raw markup must never appear in the HTML.
"""

from __future__ import annotations

from typing import Any

import pytest

from closedloop.services.messages import case_message_receive
from metrics.services.rollups import rollups_rebuild
from tenants.context import tenant_context
from tests.conftest import Tenant
from tests.factories import ContactFactory, case_factory

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('x')</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
COMMENT = f"Parcel was late {SCRIPT} {ATTRIBUTE}"
NAME = f"Eve{SCRIPT}"


@pytest.fixture
def hostile(tenant_a: Tenant) -> dict[str, Any]:
    with tenant_context(tenant_a.organization):
        contact = ContactFactory(first_name=NAME, last_name=ATTRIBUTE, email="eve@example.com")
        case = case_factory(contact=contact, answers={"recommend": 1, "recommend-reason": COMMENT})
        case_message_receive(
            case=case,
            channel="email",
            from_address="eve@example.com",
            subject=f"Re: {SCRIPT}",
            body=f"My reply {SCRIPT} {ATTRIBUTE}",
            external_id="in-1",
        )
        rollups_rebuild()
    return {"contact": contact, "case": case}


def _pages(tenant: Tenant, data: dict[str, Any]) -> dict[str, str]:
    case = data["case"]
    contact = data["contact"]
    with tenant_context(tenant.organization):
        from responses.models import Response

        response = Response.objects.get(contact=contact)
    urls = {
        "dashboard": "dashboard/",
        "verbatims": "dashboard/verbatims/",
        "themes": "dashboard/themes/",
        "feed": "responses/",
        "response": f"responses/{response.pk}/",
        "inbox": "cases/",
        "case": f"cases/{case.number}/",
        "contacts": "contacts/",
        "contact": f"contacts/{contact.pk}/",
        "notifications": "cases/notifications/",
    }
    pages = {}
    for name, path in urls.items():
        answer = tenant.client.get(tenant.url(path))
        assert answer.status_code == 200, (name, answer.status_code)
        pages[name] = answer.content.decode()
    return pages


def test_free_text_and_names_are_escaped_on_every_staff_page(
    tenant_a: Tenant, hostile: dict[str, Any]
) -> None:
    pages = _pages(tenant_a, hostile)
    shown_somewhere = set()
    for name, html in pages.items():
        assert SCRIPT not in html, f"{name}: raw <script> from a customer"
        assert "<img src=x" not in html, f"{name}: raw attribute injection"
        if "&lt;script&gt;alert(" in html:
            shown_somewhere.add(name)
    # The payload is shown, as text, where the comment, name and reply belong.
    assert {"feed", "response", "case", "contact", "verbatims"} <= shown_somewhere


def test_the_live_feed_fragment_is_escaped_too(tenant_a: Tenant, hostile: dict[str, Any]) -> None:
    fragment = tenant_a.client.get(
        tenant_a.url("responses/feed/new/"), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert SCRIPT not in fragment
