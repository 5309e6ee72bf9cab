"""The contacts API: list, create, read, change, bulk upsert (docs/api/contacts.md)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from contacts.models import ConsentEvent, Contact
from tenants.context import tenant_context
from tenants.models import AuditLog
from tests.conftest import Tenant, is_postgres
from tests.factories import ConsentEventFactory, ContactFactory, api_key_with_secret

LIST = "/api/v1/contacts/"
BULK = "/api/v1/contacts/bulk/"


def new_contact(**fields: Any) -> Contact:
    contact: Any = ContactFactory(**fields)
    return contact


def detail(contact_id: int) -> str:
    return f"/api/v1/contacts/{contact_id}/"


def call(
    tenant: Tenant,
    method: str,
    url: str,
    body: Any = None,
    key: str | None = None,
    **headers: Any,
) -> Any:
    client = Client()
    kwargs: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {key or tenant.raw_key}", **headers}
    if body is not None:
        kwargs["data"] = json.dumps(body)
        kwargs["content_type"] = "application/json"
    return getattr(client, method)(url, **kwargs)


def key_with(tenant: Tenant, scopes: list[str]) -> str:
    with tenant_context(tenant.organization):
        return api_key_with_secret(scopes=scopes)[1]


def contacts(tenant: Tenant) -> list[Contact]:
    with tenant_context(tenant.organization):
        return list(Contact.objects.order_by("id"))


# --- Create and read -------------------------------------------------------------------


def test_create_normalises_and_answers_201_with_location(tenant_a: Tenant) -> None:
    response = call(
        tenant_a,
        "post",
        LIST,
        {
            "crm_id": " C-1 ",
            "first_name": "Erika",
            "last_name": "Mustermann",
            "email": "Erika@Example.COM",
            "phone": "0151 12345678",
            "language": "Deutsch",
            "timezone": "europe/berlin",
            "attributes": {"segment": "enterprise", "revenue": 125000, "gone": None},
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    contact = contacts(tenant_a)[0]
    assert response["Location"] == f"/api/v1/contacts/{contact.pk}/"
    assert body == {
        "id": contact.pk,
        "crm_id": "C-1",
        "first_name": "Erika",
        "last_name": "Mustermann",
        "email": "erika@example.com",
        "phone": "+4915112345678",
        "language": "de",
        "timezone": "Europe/Berlin",
        "attributes": {"revenue": 125000, "segment": "enterprise"},
        "consent": {"email": "unknown", "sms": "unknown"},
        "last_surveyed_at": None,
        "erased_at": None,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert body["created_at"].endswith("Z")
    assert call(tenant_a, "get", detail(contact.pk)).json() == body
    with tenant_context(tenant_a.organization):
        assert AuditLog.objects.filter(action="contact.create", object_id=str(contact.pk)).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"crm_id": "C-1", "email": "not-an-address"}, "email"),
        ({"crm_id": "C-1", "phone": "12"}, "phone"),
        ({"crm_id": "C-1", "language": "klingon"}, "language"),
        ({"crm_id": "C-1", "timezone": "Mars/Olympus"}, "timezone"),
        ({"crm_id": "C-1", "attributes": {"Bad Key": 1}}, "attributes"),
        ({"crm_id": "C-1", "attributes": {"nested": {"a": 1}}}, "attributes"),
        ({"crm_id": ""}, "crm_id"),
        ({"email": "a@example.com"}, "crm_id"),
        ({"crm_id": "C-1", "colour": "red"}, "colour"),
    ],
)
def test_create_refuses_bad_input_naming_the_field(
    tenant_a: Tenant, body: dict[str, Any], field: str
) -> None:
    response = call(tenant_a, "post", LIST, body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert contacts(tenant_a) == []


def test_create_with_a_taken_crm_id_is_400_on_crm_id(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        new_contact(crm_id="C-1", email="first@example.com")
    response = call(tenant_a, "post", LIST, {"crm_id": "C-1", "email": "second@example.com"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["crm_id"]
    assert [c.email for c in contacts(tenant_a)] == ["first@example.com"]


def test_create_is_idempotent_with_a_key(tenant_a: Tenant) -> None:
    body = {"crm_id": "C-7", "email": "seven@example.com"}
    first = call(tenant_a, "post", LIST, body, HTTP_IDEMPOTENCY_KEY="k-1")
    again = call(tenant_a, "post", LIST, body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert len(contacts(tenant_a)) == 1


def test_scopes(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        contact = new_contact()
    read_only = key_with(tenant_a, ["contacts:read"])
    write_only = key_with(tenant_a, ["contacts:write"])
    assert call(tenant_a, "get", LIST, key=read_only).status_code == 200
    assert call(tenant_a, "get", detail(contact.pk), key=read_only).status_code == 200
    assert call(tenant_a, "get", LIST, key=write_only).status_code == 403
    refused = [
        call(tenant_a, "post", LIST, {"crm_id": "X"}, key=read_only),
        call(tenant_a, "patch", detail(contact.pk), {"first_name": "X"}, key=read_only),
        call(tenant_a, "post", BULK, {"items": [{"crm_id": "X"}]}, key=read_only),
        call(tenant_a, "get", f"{detail(contact.pk)}export/", key=write_only),
        call(tenant_a, "post", f"{detail(contact.pk)}erase/", key=write_only),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert [c.crm_id for c in contacts(tenant_a)] == [contact.crm_id]


def test_another_organizations_contact_is_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with tenant_context(tenant_b.organization):
        theirs = new_contact()
    assert call(tenant_a, "get", detail(theirs.pk)).status_code == 404
    assert call(tenant_a, "patch", detail(theirs.pk), {"first_name": "X"}).status_code == 404


# --- Change ----------------------------------------------------------------------------


def test_patch_changes_given_fields_and_merges_attributes(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        contact = new_contact(
            crm_id="C-1",
            first_name="Erika",
            email="erika@example.com",
            attributes={"segment": "smb", "region": "north", "tier": 2},
        )
    response = call(
        tenant_a,
        "patch",
        detail(contact.pk),
        {"email": "NEW@example.com", "attributes": {"segment": "enterprise", "tier": None}},
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["email"] == "new@example.com"
    assert body["first_name"] == "Erika"
    assert body["attributes"] == {"region": "north", "segment": "enterprise"}
    with tenant_context(tenant_a.organization):
        entry = AuditLog.objects.get(action="contact.update", object_id=str(contact.pk))
    assert entry.changes["email"] == ["erika@example.com", "new@example.com"]
    assert entry.changes["attributes.tier"] == [2, None]


def test_patch_refuses_bad_input_and_changes_nothing(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        contact = new_contact(crm_id="C-1", email="erika@example.com")
        new_contact(crm_id="C-2")
    for body, field in (
        ({"email": "nope", "first_name": "Changed"}, "email"),
        ({"crm_id": "C-2"}, "crm_id"),
        ({"unknown": 1}, "unknown"),
        ({"attributes": ["a"]}, "attributes"),
    ):
        response = call(tenant_a, "patch", detail(contact.pk), body)
        assert response.status_code == 400, body
        assert field in response.json()["errors"]
    with tenant_context(tenant_a.organization):
        contact.refresh_from_db()
    assert (contact.crm_id, contact.email) == ("C-1", "erika@example.com")
    assert contact.first_name != "Changed"


# --- List ------------------------------------------------------------------------------


def test_list_filters(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        erika = new_contact(crm_id="C-1", email="erika@example.com", phone="+4915112345678")
        max_ = new_contact(crm_id="C-2", email="max@example.com")
        ConsentEventFactory(contact=max_, channel="sms", action="withdraw")
        old = timezone.now() - timedelta(days=3)
        Contact.objects.filter(pk=erika.pk).update(updated_at=old)

    def ids(query: str) -> list[int]:
        response = call(tenant_a, "get", f"{LIST}?{query}")
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids("") == [max_.pk, erika.pk]
    assert ids("crm_id=C-1") == [erika.pk]
    assert ids("email=ERIKA@example.com") == [erika.pk]
    assert ids("phone=0151%2012345678") == [erika.pk]
    assert ids("opted_out=true") == [max_.pk]
    assert ids("opted_out=false") == [erika.pk]
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids(f"updated_since={since}") == [max_.pk]
    assert ids("updated_since=2000-01-01T00:00:00Z") == [erika.pk, max_.pk]
    assert ids("erased=false") == [max_.pk, erika.pk]
    row = call(tenant_a, "get", f"{LIST}?crm_id=C-2").json()["results"][0]
    assert row["consent"] == {"email": "unknown", "sms": "withdrawn"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("updated_since=2026-01-01T00:00:00", "updated_since"),
        ("phone=abc", "phone"),
        ("email=nope", "email"),
        ("opted_out=maybe", "opted_out"),
    ],
)
def test_list_refuses_bad_filters(tenant_a: Tenant, query: str, field: str) -> None:
    response = call(tenant_a, "get", f"{LIST}?{query}")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_list_cursor_pagination_and_query_bound(
    tenant_a: Tenant, django_assert_max_num_queries: Any
) -> None:
    with tenant_context(tenant_a.organization):
        made = [new_contact() for _ in range(7)]
        for contact in made[:3]:
            ConsentEventFactory(contact=contact)
    seen: list[int] = []
    url: str | None = f"{LIST}?limit=3"
    pages = 0
    while url:
        # One query for the page (consent states are subqueries of it); the rest is
        # authentication, and on PostgreSQL the row-level security settings.
        with django_assert_max_num_queries(11 if is_postgres() else 8):
            response = call(tenant_a, "get", url)
        assert response.status_code == 200
        page = response.json()
        seen.extend(row["id"] for row in page["results"])
        url = page["next"]
        pages += 1
    assert pages == 3
    assert seen == sorted((c.pk for c in made), reverse=True)


# --- Bulk upsert -----------------------------------------------------------------------


def test_bulk_creates_updates_and_counts(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        existing = new_contact(
            crm_id="C-1", first_name="Erika", email="erika@example.com", attributes={"a": 1}
        )
        same = new_contact(crm_id="C-2", first_name="Max", email="max@example.com")
    items = [
        {"crm_id": "C-1", "email": "Erika.New@example.com", "attributes": {"b": "x"}},
        {"crm_id": "C-2", "first_name": "Max"},
        {"crm_id": "C-3", "first_name": "Neu", "phone": "0151 12345679", "language": "en"},
    ]
    response = call(tenant_a, "post", BULK, {"items": items})
    assert response.status_code == 200, response.json()
    new = next(c for c in contacts(tenant_a) if c.crm_id == "C-3")
    assert response.json() == {
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        "consent_recorded": 0,
        "results": [
            {"index": 0, "id": existing.pk, "crm_id": "C-1", "status": "updated"},
            {"index": 1, "id": same.pk, "crm_id": "C-2", "status": "unchanged"},
            {"index": 2, "id": new.pk, "crm_id": "C-3", "status": "created"},
        ],
    }
    with tenant_context(tenant_a.organization):
        existing.refresh_from_db()
        assert AuditLog.objects.filter(action="contact.bulk_upsert").count() == 2
    assert existing.email == "erika.new@example.com"
    assert existing.first_name == "Erika"  # not given: kept
    assert existing.attributes == {"a": 1, "b": "x"}  # merged
    assert (new.phone, new.language, new.email) == ("+4915112345679", "en", "")


def test_bulk_is_all_or_nothing_with_per_item_errors(tenant_a: Tenant) -> None:
    items = [
        {"crm_id": "C-1", "email": "good@example.com"},
        {"crm_id": "C-2", "email": "bad@"},
        {"crm_id": "C-1", "first_name": "Again"},
        {"email": "no-crm@example.com"},
        "not an object",
        {"crm_id": "C-6", "phone": "12", "colour": "red", "attributes": {"Bad": 1}},
    ]
    response = call(tenant_a, "post", BULK, {"items": items})
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "Some items are invalid; nothing was written."
    errors = {error["index"]: error for error in body["errors"]}
    assert sorted(errors) == [1, 2, 3, 4, 5]
    assert errors[1] == {
        "index": 1,
        "crm_id": "C-2",
        "errors": {"email": ["“bad@” is not a valid email address."]},
    }
    assert errors[2]["errors"] == {"crm_id": ["The CRM id “C-1” appears already at index 0."]}
    assert list(errors[3]["errors"]) == ["crm_id"]
    assert errors[3]["crm_id"] is None
    assert list(errors[4]["errors"]) == ["non_field_errors"]
    assert sorted(errors[5]["errors"]) == ["attributes", "colour", "phone"]
    assert contacts(tenant_a) == []


@pytest.mark.parametrize(
    "body",
    [{}, {"items": []}, {"items": {"crm_id": "C-1"}}, [{"crm_id": "C-1"}], {"items": [], "x": 1}],
)
def test_bulk_refuses_a_malformed_body(tenant_a: Tenant, body: Any) -> None:
    response = call(tenant_a, "post", BULK, body)
    assert response.status_code == 400
    assert "items" in response.json()["errors"]


def test_bulk_of_more_than_10000_items_is_refused(tenant_a: Tenant) -> None:
    items = [{"crm_id": f"C-{i}"} for i in range(10_001)]
    response = call(tenant_a, "post", BULK, {"items": items})
    assert response.status_code == 400
    assert response.json()["errors"]["items"] == [
        "At most 10000 items per request; this one has 10001."
    ]
    assert contacts(tenant_a) == []


def test_bulk_of_10000_items_in_one_request(tenant_a: Tenant) -> None:
    items = [
        {
            "crm_id": f"K-{i:05d}",
            "first_name": "Kunde",
            "last_name": f"Nr {i}",
            "email": f"kunde{i}@example.com",
            "phone": f"+49151{i:08d}",
            "attributes": {"segment": "smb" if i % 2 else "enterprise", "n": i},
        }
        for i in range(10_000)
    ]
    first = call(tenant_a, "post", BULK, {"items": items})
    assert first.status_code == 200, str(first.content[:500])
    assert (first.json()["created"], first.json()["updated"]) == (10_000, 0)
    for item in items[:100]:
        item["attributes"] = {"segment": "changed"}
    again = call(tenant_a, "post", BULK, {"items": items})
    assert (again.json()["created"], again.json()["updated"], again.json()["unchanged"]) == (
        0,
        100,
        9_900,
    )
    with tenant_context(tenant_a.organization):
        assert Contact.objects.count() == 10_000
        contact = Contact.objects.get(crm_id="K-00000")
    assert contact.attributes == {"n": 0, "segment": "changed"}
    assert contact.phone == "+4915100000000"


def test_bulk_is_idempotent_with_a_key(tenant_a: Tenant) -> None:
    body = {"items": [{"crm_id": "C-1", "email": "one@example.com"}]}
    first = call(tenant_a, "post", BULK, body, HTTP_IDEMPOTENCY_KEY="bulk-1")
    again = call(tenant_a, "post", BULK, body, HTTP_IDEMPOTENCY_KEY="bulk-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert first.json()["created"] == 1
    with tenant_context(tenant_a.organization):
        assert AuditLog.objects.filter(action="contact.bulk_upsert").count() == 1
    # Without a key, the same batch again changes nothing.
    assert call(tenant_a, "post", BULK, body).json()["unchanged"] == 1


def test_bulk_records_consent_only_when_it_changes(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        withdrawn = new_contact(crm_id="C-1", email="one@example.com")
        ConsentEventFactory(contact=withdrawn, channel="email", action="withdraw")
    wording = "Yes, you may survey me by email."
    items = [
        {"crm_id": "C-1", "consent": {"email": "grant", "wording": wording}},
        {
            "crm_id": "C-2",
            "email": "two@example.com",
            "consent": {"email": "grant", "wording": wording},
        },
        {"crm_id": "C-3", "phone": "+4915112345670", "consent": {"sms": "withdraw"}},
    ]
    response = call(tenant_a, "post", BULK, {"items": items})
    assert response.status_code == 200, response.json()
    assert response.json()["consent_recorded"] == 3
    again = call(tenant_a, "post", BULK, {"items": items})
    assert again.json()["consent_recorded"] == 0
    with tenant_context(tenant_a.organization):
        events = ConsentEvent.objects.filter(source="api").order_by("id")
        assert [(e.contact.crm_id, e.channel, e.action) for e in events] == [
            ("C-1", "email", "grant"),
            ("C-2", "email", "grant"),
            ("C-3", "sms", "withdraw"),
        ]
        assert {e.wording for e in events if e.action == "grant"} == {wording}
    rows = {row["crm_id"]: row for row in call(tenant_a, "get", LIST).json()["results"]}
    assert rows["C-1"]["consent"]["email"] == "granted"
    assert rows["C-3"]["consent"]["sms"] == "withdrawn"


def test_bulk_consent_errors_write_nothing(tenant_a: Tenant) -> None:
    items = [
        {"crm_id": "C-1", "email": "one@example.com", "consent": {"email": "grant"}},
        {"crm_id": "C-2", "consent": {"sms": "grant", "wording": "Yes"}},
        {"crm_id": "C-3", "consent": {"fax": "grant", "email": "maybe"}},
    ]
    response = call(tenant_a, "post", BULK, {"items": items})
    assert response.status_code == 400
    errors = {error["index"]: error["errors"] for error in response.json()["errors"]}
    assert sorted(errors) == [0, 2]  # index 1 is checked after the others are fine
    assert "consent" in errors[0]
    assert "consent" in errors[2]
    only_address = call(tenant_a, "post", BULK, {"items": [items[1]]})
    assert only_address.status_code == 400
    assert only_address.json()["errors"][0]["errors"] == {
        "consent": ["A grant for sms needs an address for it."]
    }
    assert contacts(tenant_a) == []
    with tenant_context(tenant_a.organization):
        assert not ConsentEvent.objects.exists()
