"""Contact list (search, attribute and consent filters, pagination), detail page, roles,
and the number of queries per page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from contacts.models import Contact
from contacts.services import consent_record, contact_create, contact_import_file
from tenants.context import tenant_context
from tenants.models import Role
from tenants.services import SYSTEM
from tests.conftest import Tenant


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages in English, whatever language an earlier test's request left active."""
    with translation.override("en"):
        yield


CUSTOMERS: list[tuple[str, str, str, str, str, dict[str, Any]]] = [
    # crm_id, first, last, email, phone, attributes
    ("K-1", "Anna", "Müller", "anna@example.com", "030 1234567", {"segment": "enterprise", "revenue": 250000}),  # noqa: E501
    ("K-2", "Bernd", "Bauer", "bernd@firma.example", "0151 23456789", {"segment": "smb", "revenue": 40000}),  # noqa: E501
    ("K-3", "Clara", "Weiss", "clara@example.org", "+41 44 668 18 00", {"segment": "Enterprise", "revenue": 99999.5}),  # noqa: E501
    ("K-4", "Dieter", "Anders", "", "", {"segment": "consumer", "revenue": "n/a"}),
    ("X-55", "Eva", "Zander", "eva@example.net", "", {}),
]  # fmt: skip


@pytest.fixture
def customers(tenant_a: Tenant) -> dict[str, Contact]:
    with tenant_context(tenant_a.organization):
        contacts = {
            crm_id: contact_create(
                actor=SYSTEM,
                crm_id=crm_id,
                first_name=first,
                last_name=last,
                email=email,
                phone=phone,
                attributes=attributes,
            )
            for crm_id, first, last, email, phone, attributes in CUSTOMERS
        }
        consent_record(
            contact=contacts["K-2"], channel="sms", action="grant", source="api", actor=SYSTEM
        )
    return contacts


def _listed(tenant: Tenant, query: str = "", client: Any = None) -> list[str]:
    response = (client or tenant.client).get(tenant.url(f"contacts/?{query}"))
    assert response.status_code == 200
    return [c.crm_id for c in response.context["page"].object_list]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["K-4", "K-2", "K-1", "K-3", "X-55"]),  # by last name
        ("q=anna", ["K-1"]),
        ("q=m%C3%BCller", ["K-1"]),
        ("q=anna+m%C3%BCller", ["K-1"]),
        ("q=firma.example", ["K-2"]),
        ("q=x-55", ["X-55"]),
        ("q=030+1234567", ["K-1"]),  # national format finds the E.164 number
        ("q=%2B41446681800", ["K-3"]),
        ("q=nobody", []),
    ],
)
def test_search(
    tenant_a: Tenant, customers: dict[str, Contact], query: str, expected: list[str]
) -> None:
    assert _listed(tenant_a, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("key=segment&op=eq&value=enterprise", ["K-1", "K-3"]),  # any letter case
        ("key=segment&op=eq&value=smb", ["K-2"]),
        ("key=revenue&op=gte&value=99999.5", ["K-1", "K-3"]),
        ("key=revenue&op=gt&value=40000", ["K-1", "K-3"]),
        ("key=revenue&op=lt&value=100000", ["K-2", "K-3"]),  # "n/a" is not a number
        ("key=revenue&op=lte&value=40000", ["K-2"]),
        ("key=revenue&op=eq&value=40000", ["K-2"]),
        ("key=region&op=eq&value=north", []),
        ("consent_sms=granted", ["K-2"]),
        ("consent_sms=unknown&key=segment&value=smb", []),
        ("consent_email=unknown&q=example.org", ["K-3"]),
    ],
)
def test_attribute_and_consent_filters(
    tenant_a: Tenant, customers: dict[str, Contact], query: str, expected: list[str]
) -> None:
    assert _listed(tenant_a, query) == expected


def test_filtered_attribute_is_shown_as_a_column(
    tenant_a: Tenant, customers: dict[str, Contact]
) -> None:
    html = tenant_a.client.get(tenant_a.url("contacts/?key=revenue&op=gte&value=1")).content
    assert b"<code>revenue</code>" in html
    assert b"250000" in html
    assert b'<option value="segment">' in html  # known keys are suggested


def test_bad_filters_are_explained(tenant_a: Tenant, customers: dict[str, Contact]) -> None:
    response = tenant_a.client.get(tenant_a.url("contacts/?key=revenue&op=gte&value=lots"))
    assert "Give a number for this comparison" in response.content.decode()
    assert _listed(tenant_a, "key=Bad Key&value=1") == []
    response = tenant_a.client.get(tenant_a.url("contacts/?key=Bad+Key&value=1"))
    assert "is not a valid attribute key" in response.content.decode()


def test_pagination_keeps_the_filters(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        rows = [f"P-{i:03d},Name{i:03d},{'smb' if i % 2 else 'consumer'}" for i in range(130)]
        data = "\n".join(["crm_id,last_name,segment", *rows]).encode()
        contact_import_file(actor=SYSTEM, file_name="many.csv", data=data)
    first = tenant_a.client.get(tenant_a.url("contacts/?key=segment&value=smb"))
    assert first.context["page"].paginator.count == 65
    html = first.content.decode()
    assert "?key=segment&amp;value=smb&amp;page=2" in html
    second = tenant_a.client.get(tenant_a.url("contacts/?key=segment&value=smb&page=2"))
    assert len(second.context["page"].object_list) == 15
    assert all(c.attributes["segment"] == "smb" for c in second.context["page"].object_list)


def test_detail_page_shows_identity_attributes_consent_ledger_and_history(
    tenant_a: Tenant, customers: dict[str, Contact]
) -> None:
    bernd = customers["K-2"]
    html = tenant_a.client.get(tenant_a.url(f"contacts/{bernd.pk}/")).content.decode()
    assert "+4915123456789" in html
    assert "<code>segment</code>" in html
    assert 'class="badge badge-granted">granted' in html
    assert 'class="badge badge-unknown">unknown' in html
    assert "consent.grant" in html  # the history lists the audit entries
    assert 'id="history"' in html
    assert tenant_a.url(f"contacts/{bernd.pk}/consent.json") in html
    assert tenant_a.url(f"contacts/{bernd.pk}/edit/") in html


def test_unknown_contact_is_404(tenant_a: Tenant) -> None:
    assert tenant_a.client.get(tenant_a.url("contacts/999999/")).status_code == 404


def test_viewers_see_no_contacts(tenant_a: Tenant, customers: dict[str, Contact]) -> None:
    client = tenant_a.client_for(tenant_a.member(Role.VIEWER))
    anna = customers["K-1"]
    for path in (
        "contacts/",
        f"contacts/{anna.pk}/",
        f"contacts/{anna.pk}/consent.csv",
        f"contacts/{anna.pk}/consent.json",
    ):
        assert client.get(tenant_a.url(path)).status_code == 403, path
    assert tenant_a.url("contacts/") not in client.get(tenant_a.url()).content.decode()


def test_owners_look_up_customers_but_do_not_edit(
    tenant_a: Tenant, customers: dict[str, Contact]
) -> None:
    client = tenant_a.client_for(tenant_a.member(Role.OWNER))
    assert tenant_a.url("contacts/") in client.get(tenant_a.url()).content.decode()
    assert _listed(tenant_a, "q=anna", client) == ["K-1"]
    html = client.get(tenant_a.url("contacts/")).content.decode()
    assert tenant_a.url("contacts/new/") not in html
    assert tenant_a.url("contacts/imports/") not in html
    detail = client.get(tenant_a.url(f"contacts/{customers['K-1'].pk}/")).content.decode()
    assert "/edit/" not in detail


def _queries(tenant: Tenant, paths: list[str]) -> dict[str, int]:
    counts = {}
    for path in paths:
        with CaptureQueriesContext(connection) as captured:
            assert tenant.client.get(tenant.url(path)).status_code == 200, path
        counts[path] = len(captured)
    return counts


def _add_contacts(tenant: Tenant, start: int, count: int) -> None:
    with tenant_context(tenant.organization):
        for i in range(start, start + count):
            contact = contact_create(
                actor=SYSTEM,
                crm_id=f"N-{i}",
                first_name=f"Person{i}",
                email=f"p{i}@example.com",
                attributes={"segment": "smb"},
            )
            for day in (1, 2):
                consent_record(
                    contact=contact,
                    channel="email",
                    action="grant" if day == 1 else "withdraw",
                    source="api",
                    actor=SYSTEM,
                    occurred_at=datetime(2026, 1, day, tzinfo=UTC),
                )
        contact_import_file(actor=SYSTEM, file_name=f"f{start}.csv", data=b"crm_id\nI-1\n")


def test_contact_pages_do_not_query_per_row(tenant_a: Tenant) -> None:
    _add_contacts(tenant_a, 0, 2)
    with tenant_context(tenant_a.organization):
        first = Contact.objects.get(crm_id="N-0")
    paths = [
        "contacts/",
        "contacts/?consent_email=withdrawn&key=segment&value=smb",
        f"contacts/{first.pk}/",
        "contacts/imports/",
    ]
    few = _queries(tenant_a, paths)
    _add_contacts(tenant_a, 2, 20)
    with tenant_context(tenant_a.organization):
        for _ in range(8):  # a longer ledger and history for the first contact
            consent_record(
                contact=first, channel="sms", action="grant", source="staff", actor=SYSTEM
            )
    assert _queries(tenant_a, paths) == few
    assert max(few.values()) <= 20


def test_german_contact_pages(tenant_a: Tenant, customers: dict[str, Contact]) -> None:
    tenant_a.client.cookies["django_language"] = "de"
    html = tenant_a.client.get(tenant_a.url("contacts/")).content.decode()
    assert "Suchen und filtern" in html
    assert "5 Kontakte" in html
    assert ">unbekannt<" in html
    detail = tenant_a.client.get(tenant_a.url(f"contacts/{customers['K-2'].pk}/")).content
    assert "Einwilligungsprotokoll" in detail.decode()
    upload = tenant_a.client.get(tenant_a.url("contacts/imports/new/")).content.decode()
    assert "Kontakte aus CSV importieren" in upload
