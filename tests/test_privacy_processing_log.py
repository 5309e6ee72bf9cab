"""The processing log: every access to, and removal of, a contact's personal data leaves an
audit entry (who, when, how) without the data itself."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from contacts.models import Contact
from tenants.context import tenant_context
from tenants.models import AuditLog
from tests.conftest import Tenant
from tests.factories import ContactFactory, response_factory

pytestmark = pytest.mark.django_db


def _contact(tenant: Tenant) -> Contact:
    with tenant_context(tenant.organization):
        contact: Any = ContactFactory(first_name="Greta", email="greta@example.com")
        response_factory(contact=contact)
        return contact


def _entries(tenant: Tenant, action: str) -> list[AuditLog]:
    with tenant_context(tenant.organization):
        return list(AuditLog.objects.filter(action=action).order_by("created_at", "id"))


def test_exports_through_the_page_and_the_api_are_logged(tenant_a: Tenant) -> None:
    contact = _contact(tenant_a)
    page = tenant_a.client.get(tenant_a.url(f"contacts/{contact.pk}/export.json"))
    assert page.status_code == 200
    api = Client().get(
        f"/api/v1/contacts/{contact.pk}/export/",
        HTTP_AUTHORIZATION=f"Bearer {tenant_a.raw_key}",
    )
    assert api.status_code == 200

    web_entry, api_entry = _entries(tenant_a, "contact.export")
    assert web_entry.actor == tenant_a.admin
    assert web_entry.object_id == str(contact.pk)
    assert web_entry.changes == {"via": [None, "web"], "responses": [None, 1], "cases": [None, 0]}
    assert api_entry.actor_label.startswith("API key ")
    assert api_entry.changes["via"] == [None, "api"]
    assert "greta@example.com" not in str(web_entry.changes)


def test_erasure_is_logged_and_shown_on_the_audit_page(tenant_a: Tenant) -> None:
    contact = _contact(tenant_a)
    answer = tenant_a.client.post(
        tenant_a.url(f"contacts/{contact.pk}/erase/"), {"confirm": contact.crm_id}
    )
    assert answer.status_code in (200, 302)
    (entry,) = _entries(tenant_a, "contact.erase")
    assert entry.changes["responses_anonymised"] == [None, 1]
    page = tenant_a.client.get(tenant_a.url("settings/audit-log/")).content.decode()
    assert "contact.erase" in page


def test_another_organization_sees_none_of_it(tenant_a: Tenant, tenant_b: Tenant) -> None:
    contact = _contact(tenant_a)
    tenant_a.client.get(tenant_a.url(f"contacts/{contact.pk}/export.json"))
    assert (
        tenant_b.client.get(tenant_b.url(f"contacts/{contact.pk}/export.json")).status_code == 404
    )
    assert _entries(tenant_b, "contact.export") == []
