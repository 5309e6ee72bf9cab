"""Contact fields: phone numbers in E.164 read in the organization's region, email
addresses, languages and time zones; creating and editing contacts through the pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from contacts.models import Contact
from contacts.services import contact_create
from contacts.validation import (
    TIMEZONE_REGIONS,
    normalize_email,
    normalize_language,
    normalize_timezone,
    parse_attribute_value,
    region_for_timezone,
)
from tenants.context import tenant_context
from tenants.models import AuditLog, Role
from tenants.services import SYSTEM
from tests.conftest import Tenant


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages in English, whatever language an earlier test's request left active."""
    with translation.override("en"):
        yield


# (organization time zone, as typed, stored E.164 or None for "invalid")
PHONE_TABLE = [
    # Germany: national, international, with the (0) trunk prefix, 00 prefix, separators
    ("Europe/Berlin", "030 1234567", "+49301234567"),
    ("Europe/Berlin", "0151 23456789", "+4915123456789"),
    ("Europe/Berlin", "+49 (0)30 1234567", "+49301234567"),
    ("Europe/Berlin", "0049 30 1234567", "+49301234567"),
    ("Europe/Berlin", "030/123 45-67", "+49301234567"),
    # A foreign number written internationally stays foreign
    ("Europe/Berlin", "+41 44 668 18 00", "+41446681800"),
    ("Europe/Berlin", "+1 212 555 0199", "+12125550199"),
    # The same national digits mean different numbers in different countries
    ("Europe/Berlin", "0664 1234567", "+496641234567"),
    ("Europe/Vienna", "0664 1234567", "+436641234567"),
    # Switzerland
    ("Europe/Zurich", "044 668 18 00", "+41446681800"),
    ("Europe/Zurich", "079 123 45 67", "+41791234567"),
    ("Europe/Zurich", "0041 44 668 18 00", "+41446681800"),
    # Austria
    ("Europe/Vienna", "01 5812345", "+4315812345"),
    ("Europe/Vienna", "+43 1 5812345", "+4315812345"),
    # United Kingdom
    ("Europe/London", "020 7946 0958", "+442079460958"),
    ("Europe/London", "07911 123456", "+447911123456"),
    # United States (every America/* zone)
    ("America/New_York", "(212) 555-0199", "+12125550199"),
    ("America/Los_Angeles", "212.555.0199", "+12125550199"),
    # Other zones fall back to Germany
    ("Asia/Tokyo", "030 1234567", "+49301234567"),
    # Invalid: too short, too long, no digits, unknown country code, cut off
    ("Europe/Berlin", "12345", None),
    ("Europe/Berlin", "030 12", None),
    ("Europe/Berlin", "0151 234567890123", None),
    ("Europe/Berlin", "abc", None),
    ("Europe/Berlin", "+999 1234567", None),
    ("America/New_York", "212-555-019", None),
    ("Europe/London", "07700 900123", None),  # reserved for drama, never assigned
]


@pytest.mark.parametrize(("zone", "typed", "stored"), PHONE_TABLE)
def test_phone_numbers_are_stored_in_e164_read_in_the_organizations_region(
    tenant_a: Tenant, zone: str, typed: str, stored: str | None
) -> None:
    tenant_a.organization.timezone = zone
    tenant_a.organization.save()
    with tenant_context(tenant_a.organization):
        if stored is None:
            with pytest.raises(ValidationError) as caught:
                contact_create(actor=SYSTEM, crm_id="C-1", phone=typed)
            assert "is not a valid phone number" in caught.value.message_dict["phone"][0]
            assert not Contact.objects.exists()
        else:
            contact = contact_create(actor=SYSTEM, crm_id="C-1", phone=typed)
            assert Contact.objects.get(pk=contact.pk).phone == stored


def test_region_table() -> None:
    assert TIMEZONE_REGIONS == {
        "Europe/Berlin": "DE",
        "Europe/Zurich": "CH",
        "Europe/Vienna": "AT",
        "Europe/London": "GB",
    }
    assert region_for_timezone("America/Denver") == "US"
    assert region_for_timezone("Australia/Sydney") == "DE"
    assert region_for_timezone("") == "DE"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Anna.Mueller@Example.COM", "anna.mueller@example.com"),
        ("  kunde@beispiel.de ", "kunde@beispiel.de"),
        ("info@müller.de", "info@müller.de"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_valid_email_addresses_are_lower_cased(typed: str, stored: str) -> None:
    assert normalize_email(typed) == stored


@pytest.mark.parametrize(
    "typed", ["anna", "anna@", "@example.com", "a@b", "a@@example.com", "a b@example.com", "a@.de"]
)
def test_invalid_email_addresses_are_refused(typed: str) -> None:
    with pytest.raises(ValidationError, match="is not a valid email address"):
        normalize_email(typed)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("de", "de"),
        ("DE", "de"),
        ("de-CH", "de"),
        ("de_AT", "de"),
        ("Deutsch", "de"),
        ("German", "de"),
        ("english", "en"),
        ("Englisch", "en"),
        ("en-GB", "en"),
        ("", ""),
    ],
)
def test_languages(typed: str, stored: str) -> None:
    assert normalize_language(typed) == stored


def test_unknown_language_and_time_zone_are_refused() -> None:
    with pytest.raises(ValidationError, match="not a supported language"):
        normalize_language("fr")
    with pytest.raises(ValidationError, match="not a known time zone"):
        normalize_timezone("Europe/Bern")
    assert normalize_timezone("europe/zurich") == "Europe/Zurich"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("125000", 125000),
        ("-7", -7),
        ("1234.5", 1234.5),
        ("1250000,50", 1250000.5),
        ("007", "007"),
        ("1.234.567", "1.234.567"),
        ("enterprise", "enterprise"),
        (" smb ", "smb"),
    ],
)
def test_attribute_values_keep_numbers_comparable(typed: str, stored: Any) -> None:
    value = parse_attribute_value(typed)
    assert value == stored
    assert type(value) is type(stored)


def _post_contact(tenant: Tenant, path: str, **fields: Any) -> Any:
    data = {
        "crm_id": "K-100",
        "first_name": "Anna",
        "last_name": "Müller",
        "email": "Anna.Mueller@Example.com",
        "phone": "030 1234567",
        "language": "de",
        "timezone": "",
        "attributes": "segment = enterprise\nrevenue = 125000",
        **fields,
    }
    return tenant.client.post(tenant.url(path), data)


def test_create_and_edit_a_contact_with_an_audit_trail(tenant_a: Tenant) -> None:
    response = _post_contact(tenant_a, "contacts/new/")
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        contact = Contact.objects.get(crm_id="K-100")
    assert (contact.email, contact.phone) == ("anna.mueller@example.com", "+49301234567")
    assert contact.attributes == {"revenue": 125000, "segment": "enterprise"}
    assert response["Location"] == tenant_a.url(f"contacts/{contact.pk}/")

    edit = tenant_a.client.get(tenant_a.url(f"contacts/{contact.pk}/edit/")).content.decode()
    assert "segment = enterprise" in edit
    response = _post_contact(
        tenant_a,
        f"contacts/{contact.pk}/edit/",
        phone="+41 44 668 18 00",
        attributes="segment = smb",
    )
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        contact.refresh_from_db()
        entries = list(
            AuditLog.objects.filter(object_id=str(contact.pk), object_type="contacts.contact")
            .order_by("id")
            .values_list("action", "changes")
        )
    assert contact.phone == "+41446681800"
    assert contact.attributes == {"segment": "smb"}
    assert [action for action, _changes in entries] == ["contact.create", "contact.update"]
    assert entries[1][1] == {
        "phone": ["+49301234567", "+41446681800"],
        "attributes.revenue": [125000, None],
        "attributes.segment": ["enterprise", "smb"],
    }
    page = tenant_a.client.get(tenant_a.url(f"contacts/{contact.pk}/")).content.decode()
    assert 'id="history"' in page
    assert "contact.update" in page
    assert "<del>enterprise</del> → <ins>smb</ins>" in page


def test_bad_input_is_explained_and_nothing_is_saved(tenant_a: Tenant) -> None:
    response = _post_contact(
        tenant_a,
        "contacts/new/",
        email="not-an-email",
        phone="12",
        timezone="Mars/Olympus",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "is not a valid email address" in html
    assert "is not a valid phone number" in html
    assert "is not a known time zone" in html
    response = _post_contact(tenant_a, "contacts/new/", attributes="Bad Key = 1\nno separator")
    html = response.content.decode()
    assert "Line 1: “bad key” is not a valid attribute key" in html
    assert "Line 2: write key = value." in html
    with tenant_context(tenant_a.organization):
        assert not Contact.objects.exists()


def test_crm_ids_are_unique_per_organization(tenant_a: Tenant, tenant_b: Tenant) -> None:
    assert _post_contact(tenant_a, "contacts/new/").status_code == 302
    again = _post_contact(tenant_a, "contacts/new/", email="other@example.com")
    assert "exists already" in again.content.decode()
    # Another organization may use the same CRM id for its own customer.
    assert _post_contact(tenant_b, "contacts/new/").status_code == 302
    with tenant_context(tenant_a.organization):
        assert Contact.objects.count() == 1


@pytest.mark.parametrize("role", [Role.OWNER, Role.VIEWER])
def test_only_managers_create_or_edit_contacts(tenant_a: Tenant, role: str) -> None:
    with tenant_context(tenant_a.organization):
        contact = contact_create(actor=SYSTEM, crm_id="K-1", first_name="Anna")
    client = tenant_a.client_for(tenant_a.member(role))
    assert client.get(tenant_a.url("contacts/new/")).status_code == 403
    assert client.post(tenant_a.url("contacts/new/"), {"crm_id": "K-2"}).status_code == 403
    edit = tenant_a.url(f"contacts/{contact.pk}/edit/")
    assert client.post(edit, {"crm_id": "K-1", "first_name": "Eve"}).status_code == 403
    with tenant_context(tenant_a.organization):
        assert list(Contact.objects.values_list("crm_id", "first_name")) == [("K-1", "Anna")]
