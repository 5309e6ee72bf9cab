"""The consent ledger: append-only events per channel, the state derived from the latest
one, staff records through the contact page, and the proof exports (CSV and JSON)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import translation

from contacts.models import AppendOnly, ConsentEvent, Contact
from contacts.selectors import contact_consent_state, contact_list
from contacts.services import consent_record, contact_create
from tenants.context import tenant_context
from tenants.models import AuditLog, Role
from tenants.services import SYSTEM, Actor
from tests.conftest import Tenant


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages in English, whatever language an earlier test's request left active."""
    with translation.override("en"):
        yield


T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _contact(tenant: Tenant, crm_id: str = "K-1", **fields: Any) -> Contact:
    with tenant_context(tenant.organization):
        return contact_create(
            actor=SYSTEM,
            crm_id=crm_id,
            first_name=fields.pop("first_name", "Anna"),
            last_name=fields.pop("last_name", "Müller"),
            email=fields.pop("email", "anna@example.com"),
            phone=fields.pop("phone", "+49 151 23456789"),
            **fields,
        )


def _record(tenant: Tenant, contact: Contact, channel: str, action: str, **kwargs: Any) -> Any:
    with tenant_context(tenant.organization):
        return consent_record(
            contact=contact,
            channel=channel,
            action=action,
            source=kwargs.pop("source", "api"),
            actor=kwargs.pop("actor", SYSTEM),
            **kwargs,
        )


def _state(tenant: Tenant, contact: Contact) -> dict[str, str]:
    with tenant_context(tenant.organization):
        return contact_consent_state(contact)


def test_no_event_means_unknown(tenant_a: Tenant) -> None:
    contact = _contact(tenant_a)
    assert _state(tenant_a, contact) == {"email": "unknown", "sms": "unknown"}


def test_the_latest_event_per_channel_wins(tenant_a: Tenant) -> None:
    contact = _contact(tenant_a)
    with time_machine.travel(T0, tick=False):
        _record(tenant_a, contact, "email", "grant", wording="Surveys by email?")
        assert _state(tenant_a, contact) == {"email": "granted", "sms": "unknown"}
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        _record(tenant_a, contact, "email", "withdraw", source="unsubscribe_link")
        _record(tenant_a, contact, "sms", "grant", wording="Surveys by SMS?")
        assert _state(tenant_a, contact) == {"email": "withdrawn", "sms": "granted"}
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        _record(tenant_a, contact, "email", "grant", source="staff", wording="On the phone")
        _record(tenant_a, contact, "sms", "withdraw", source="reply_stop")
        assert _state(tenant_a, contact) == {"email": "granted", "sms": "withdrawn"}
        # An event recorded late, but that happened before the latest one, changes nothing.
        _record(tenant_a, contact, "sms", "grant", wording="Old paper form", occurred_at=T0)
        assert _state(tenant_a, contact) == {"email": "granted", "sms": "withdrawn"}
    with tenant_context(tenant_a.organization):
        assert ConsentEvent.objects.filter(contact=contact).count() == 6
        actions = list(
            AuditLog.objects.filter(object_id=str(contact.pk), action__startswith="consent.")
            .order_by("id")
            .values_list("action", "changes")
        )
    assert actions[1] == (
        "consent.withdraw",
        {"consent_email": ["granted", "withdrawn"], "source": [None, "unsubscribe_link"]},
    )
    assert actions[-1][1]["consent_sms"] == ["withdrawn", "withdrawn"]
    assert "occurred_at" in actions[-1][1]


def test_events_at_the_same_moment_are_ordered_as_recorded(tenant_a: Tenant) -> None:
    contact = _contact(tenant_a)
    _record(tenant_a, contact, "email", "grant", occurred_at=T0)
    _record(tenant_a, contact, "email", "withdraw", occurred_at=T0)
    assert _state(tenant_a, contact)["email"] == "withdrawn"


def test_the_ledger_is_append_only(tenant_a: Tenant) -> None:
    contact = _contact(tenant_a)
    event = _record(tenant_a, contact, "email", "grant", wording="x")
    event.action = "withdraw"
    with tenant_context(tenant_a.organization), pytest.raises(AppendOnly):
        event.save()
    assert _state(tenant_a, contact)["email"] == "granted"


def test_bad_consent_records_are_refused(tenant_a: Tenant, tenant_b: Tenant) -> None:
    contact = _contact(tenant_a)
    with pytest.raises(ValidationError) as caught:
        _record(tenant_a, contact, "fax", "maybe", source="rumour")
    assert set(caught.value.message_dict) == {"channel", "action", "source"}
    with pytest.raises(ValidationError, match="future"):
        _record(tenant_a, contact, "email", "grant", occurred_at=datetime.now(UTC) + timedelta(1))
    with pytest.raises(ValidationError, match="time zone"):
        _record(tenant_a, contact, "email", "grant", occurred_at=datetime(2026, 1, 1))  # noqa: DTZ001
    # A contact of another organization cannot be linked from this one.
    with tenant_context(tenant_b.organization), pytest.raises(ValidationError) as caught:
        consent_record(contact=contact, channel="email", action="grant", source="api", actor=SYSTEM)
    assert "contact" in caught.value.message_dict
    with tenant_context(tenant_a.organization):
        assert not ConsentEvent.objects.exists()
    with tenant_context(tenant_b.organization):
        assert not ConsentEvent.objects.exists()


def test_staff_record_consent_on_the_contact_page(tenant_a: Tenant) -> None:
    tenant_a.organization.timezone = "Europe/Zurich"
    tenant_a.organization.save()
    contact = _contact(tenant_a)
    detail = tenant_a.client.get(tenant_a.url(f"contacts/{contact.pk}/")).content.decode()
    assert "Record a consent decision" in detail
    url = tenant_a.url(f"contacts/{contact.pk}/consent/")
    refused = tenant_a.client.post(url, {"channel": "email", "action": "grant", "wording": ""})
    assert refused.status_code == 200
    assert "Give the wording the customer agreed to" in refused.content.decode()
    response = tenant_a.client.post(
        url,
        {
            "channel": "email",
            "action": "grant",
            "wording": "Agreed on the phone to email surveys.",
            "occurred_at": "2026-03-01T10:30",
        },
    )
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        event = ConsentEvent.objects.get()
    assert (event.source, event.actor_id, event.actor_label) == (
        "staff",
        tenant_a.admin.pk,
        "admin@alpha.example",
    )
    # 10:30 on the organization's clock in Zurich (CET) is 09:30 UTC.
    assert event.occurred_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    tenant_a.client.post(url, {"channel": "email", "action": "withdraw", "wording": ""})
    assert _state(tenant_a, contact)["email"] == "withdrawn"
    page = tenant_a.client.get(tenant_a.url(f"contacts/{contact.pk}/")).content.decode()
    assert "Agreed on the phone to email surveys." in page
    assert 'class="badge badge-withdrawn"' in page


def _rows(response: Any) -> list[dict[str, str]]:
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_proof_exports_carry_identity_every_event_and_the_state(tenant_a: Tenant) -> None:
    contact = _contact(tenant_a, crm_id="K/42", phone="+41 44 668 18 00")
    staff = Actor.of_user(tenant_a.admin)
    _record(tenant_a, contact, "email", "grant", wording="=HYPERLINK(1)", occurred_at=T0)
    _record(
        tenant_a,
        contact,
        "email",
        "withdraw",
        source="unsubscribe_link",
        occurred_at=T0 + timedelta(days=3),
    )
    _record(
        tenant_a,
        contact,
        "sms",
        "grant",
        source="staff",
        actor=staff,
        wording="SMS ok",
        occurred_at=T0 + timedelta(days=1),
    )

    response = tenant_a.client.get(tenant_a.url(f"contacts/{contact.pk}/consent.csv"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="consent-k42-' in response["Content-Disposition"]
    rows = _rows(response)
    assert [(r["record"], r["channel"], r["action"], r["state"]) for r in rows] == [
        ("event", "email", "grant", "granted"),
        ("event", "sms", "grant", "granted"),
        ("event", "email", "withdraw", "withdrawn"),
        ("current_state", "email", "", "withdrawn"),
        ("current_state", "sms", "", "granted"),
    ]
    assert {(r["crm_id"], r["email"], r["phone"]) for r in rows} == {
        ("K/42", "anna@example.com", "+41446681800")
    }
    assert rows[0]["wording"] == "'=HYPERLINK(1)"  # never a live formula in a spreadsheet
    assert rows[0]["occurred_at"] == "2026-03-01T09:00:00+00:00"
    assert rows[1]["actor"] == "admin@alpha.example"
    assert rows[3]["occurred_at"] == "2026-03-04T09:00:00+00:00"

    response = tenant_a.client.get(tenant_a.url(f"contacts/{contact.pk}/consent.json"))
    assert response.status_code == 200
    proof = json.loads(response.content)
    assert proof["organization"] == {"slug": "alpha", "name": "ALPHA Corp"}
    assert proof["contact"]["crm_id"] == "K/42"
    assert [(e["channel"], e["action"], e["source"]) for e in proof["events"]] == [
        ("email", "grant", "api"),
        ("sms", "grant", "staff"),
        ("email", "withdraw", "unsubscribe_link"),
    ]
    assert proof["events"][0]["wording"] == "=HYPERLINK(1)"
    assert {channel: v["state"] for channel, v in proof["current_state"].items()} == (
        _state(tenant_a, contact)
    )
    assert proof["current_state"]["email"]["event_id"] == proof["events"][2]["id"]


def test_consent_filters_use_the_derived_state(tenant_a: Tenant) -> None:
    granted = _contact(tenant_a, "K-1", email="a@example.com")
    withdrawn = _contact(tenant_a, "K-2", email="b@example.com")
    unknown = _contact(tenant_a, "K-3", email="c@example.com")
    _record(tenant_a, granted, "email", "grant", occurred_at=T0)
    _record(tenant_a, withdrawn, "email", "grant", occurred_at=T0)
    _record(tenant_a, withdrawn, "email", "withdraw", occurred_at=T0 + timedelta(hours=1))
    _record(tenant_a, unknown, "sms", "grant", occurred_at=T0)
    with tenant_context(tenant_a.organization):
        for state, expected in [("granted", granted), ("withdrawn", withdrawn)]:
            found = list(contact_list(consent={"email": state}))
            assert found == [expected]
            assert getattr(found[0], "consent_email") == state  # noqa: B009
        assert list(contact_list(consent={"email": "unknown"})) == [unknown]
        assert list(contact_list(consent={"email": "unknown", "sms": "granted"})) == [unknown]
    page = tenant_a.client.get(tenant_a.url("contacts/?consent_email=withdrawn"))
    html = page.content.decode()
    assert "K-2" in html
    assert "K-1" not in html
    assert "K-3" not in html


@pytest.mark.parametrize("role", [Role.OWNER, Role.CX_MANAGER])
def test_owners_see_the_ledger_but_only_managers_record(tenant_a: Tenant, role: str) -> None:
    contact = _contact(tenant_a)
    client = tenant_a.client_for(tenant_a.member(role))
    detail = client.get(tenant_a.url(f"contacts/{contact.pk}/"))
    assert detail.status_code == 200
    assert client.get(tenant_a.url(f"contacts/{contact.pk}/consent.csv")).status_code == 200
    response = client.post(
        tenant_a.url(f"contacts/{contact.pk}/consent/"),
        {"channel": "sms", "action": "withdraw"},
    )
    if role == Role.OWNER:
        assert "Record a consent decision" not in detail.content.decode()
        assert response.status_code == 403
        assert _state(tenant_a, contact)["sms"] == "unknown"
    else:
        assert response.status_code == 302
        assert _state(tenant_a, contact)["sms"] == "withdrawn"
