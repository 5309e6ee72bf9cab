"""Invitations over the API: the list with its filters and cursor pages (no survey
links), one invitation with its link and status history, and direct invitations that
obey consent, reachability, open invitations and the contact budget."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from contacts.models import Contact
from surveys.models import Invitation, SuppressedSend, Survey
from surveys.services.invitations import invitation_transition
from tenants.context import tenant_context
from tests.conftest import Tenant, is_postgres
from tests.distribution_support import make_contact, published_survey, scheduled_invitation
from tests.factories import api_key_with_secret, survey_with_draft

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday


@pytest.fixture(autouse=True)
def _frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def get(tenant: Tenant, path: str = "", key: str | None = None, **params: Any) -> Any:
    return Client().get(
        f"/api/v1/invitations/{path}",
        params,
        HTTP_AUTHORIZATION=f"Bearer {key or tenant.raw_key}",
    )


def post(tenant: Tenant, body: Any, key: str | None = None, **headers: Any) -> Any:
    return Client().post(
        "/api/v1/invitations/",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key or tenant.raw_key}",
        **headers,
    )


def counts(tenant: Tenant) -> tuple[int, int]:
    with tenant_context(tenant.organization):
        return Invitation.objects.count(), SuppressedSend.objects.count()


def sent(invitation: Invitation) -> Invitation:
    return invitation_transition(
        invitation=invitation,
        to_status="sent",
        reason="sent through file",
        provider="file",
        provider_message_id="m-1",
    )


@pytest.fixture
def story(tenant_a: Tenant) -> dict[str, Any]:
    """Two surveys, three contacts, four invitations (one sent by SMS)."""
    with tenant_context(tenant_a.organization):
        first, second = published_survey(), published_survey()
        jane = make_contact("C-1", email="jane@example.com", phone="+491701234567")
        max_ = make_contact("C-2", email="max@example.com")
        eve = make_contact("C-3", email="eve@example.com")
        a = scheduled_invitation(jane, first, send_at=NOW - timedelta(days=5))
        b = sent(scheduled_invitation(jane, second, channel="sms"))
        c = scheduled_invitation(max_, first)
        d = scheduled_invitation(eve, second, send_at=NOW + timedelta(days=1))
    return {
        "first": first,
        "second": second,
        "jane": jane,
        "max": max_,
        "eve": eve,
        "invitations": [a, b, c, d],
    }


# --- Reading ---------------------------------------------------------------------------


def test_the_list_shows_invitations_newest_first_without_links(
    tenant_a: Tenant, story: dict[str, Any]
) -> None:
    answer = get(tenant_a)

    assert answer.status_code == 200
    a, b, c, d = story["invitations"]
    body = answer.json()
    assert [row["id"] for row in body["results"]] == [d.pk, c.pk, b.pk, a.pk]
    assert body["results"][2] == {
        "id": b.pk,
        "contact": story["jane"].pk,
        "crm_id": "C-1",
        "survey": story["second"].pk,
        "survey_version": 1,
        "channel": "sms",
        "status": "sent",
        "trigger": "manual",
        "rule": None,
        "event_type": "",
        "send_at": "2026-11-23T10:00:00Z",
        "sent_at": "2026-11-23T10:00:00Z",
        "opened_at": None,
        "expires_at": "2026-12-07T10:00:00Z",
        "reminder_sent_at": None,
        "created_at": "2026-11-23T10:00:00Z",
    }
    text = answer.content.decode()
    for invitation in story["invitations"]:
        assert invitation.token not in text


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "sent"}, [1]),
        ({"channel": "email"}, [3, 2, 0]),
        ({"survey": "first"}, [2, 0]),
        ({"contact": "jane"}, [1, 0]),
        ({"crm_id": "C-2"}, [2]),
        ({"sent_since": "2026-11-23T09:00:00Z"}, [1]),
        ({"sent_until": "2026-11-23T09:00:00Z"}, []),
        ({"created_since": "2026-11-23T10:00:00+00:00"}, [3, 2, 1, 0]),
        ({"created_until": "2026-11-23T10:00:00Z"}, []),
        ({"status": "scheduled", "survey": "second"}, [3]),
    ],
)
def test_list_filters(
    tenant_a: Tenant, story: dict[str, Any], params: dict[str, str], expected: list[int]
) -> None:
    resolved = {
        name: (str(story[value].pk) if value in story else value) for name, value in params.items()
    }

    answer = get(tenant_a, **resolved)

    assert answer.status_code == 200, answer.content
    ids = [story["invitations"][i].pk for i in expected]
    assert [row["id"] for row in answer.json()["results"]] == ids


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"survey": "x"}, "survey"),
        ({"sent_since": "2026-11-23T09:00:00"}, "sent_since"),
    ],
)
def test_bad_filters_are_a_400(
    tenant_a: Tenant, story: dict[str, Any], params: dict[str, str], field: str
) -> None:
    answer = get(tenant_a, **params)

    assert answer.status_code == 400
    assert field in answer.json()["errors"]


def test_the_list_pages_with_a_cursor(tenant_a: Tenant, story: dict[str, Any]) -> None:
    first = get(tenant_a, limit="3").json()
    second = Client().get(first["next"], HTTP_AUTHORIZATION=f"Bearer {tenant_a.raw_key}").json()

    a, b, c, d = story["invitations"]
    assert [row["id"] for row in first["results"]] == [d.pk, c.pk, b.pk]
    assert [row["id"] for row in second["results"]] == [a.pk]
    assert second["next"] is None
    assert second["previous"] is not None


def test_the_list_reads_in_a_fixed_number_of_queries(
    tenant_a: Tenant, story: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    with tenant_context(tenant_a.organization):
        for i in range(20):
            contact = make_contact(f"X-{i}", email=f"x{i}@example.com")
            scheduled_invitation(contact, story["first"])
    get(tenant_a)  # the key's last use is written at most once a minute

    # The key, the page, its count-free cursor; PostgreSQL adds the row-level security
    # settings and savepoints.
    with django_assert_max_num_queries(10 if is_postgres() else 6):
        answer = get(tenant_a)
    assert len(answer.json()["results"]) == 24


def test_one_invitation_has_its_link_and_history(tenant_a: Tenant, story: dict[str, Any]) -> None:
    b = story["invitations"][1]
    answer = get(tenant_a, f"{b.pk}/")

    assert answer.status_code == 200
    body = answer.json()
    assert body["url"] == f"{settings.SITE_URL}/s/{b.token}/"
    assert body["history"] == [
        {
            "from_status": "scheduled",
            "to_status": "sent",
            "reason": "sent through file",
            "at": "2026-11-23T10:00:00Z",
        }
    ]
    assert (body["status"], body["attempts"], body["last_error"]) == ("sent", 0, "")


def test_reading_needs_invitations_read(tenant_a: Tenant, story: dict[str, Any]) -> None:
    with tenant_context(tenant_a.organization):
        _key, raw = api_key_with_secret(scopes=["invitations:write", "events:write"])
    b = story["invitations"][1]

    assert get(tenant_a, key=raw).status_code == 403
    assert get(tenant_a, f"{b.pk}/", key=raw).status_code == 403


def test_another_organizations_invitation_is_a_404(
    tenant_a: Tenant, tenant_b: Tenant, story: dict[str, Any]
) -> None:
    b = story["invitations"][1]

    assert get(tenant_b, f"{b.pk}/").status_code == 404
    assert get(tenant_b).json()["results"] == []


# --- Creating --------------------------------------------------------------------------


def test_creating_an_invitation_returns_it_with_its_link(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        survey = published_survey()
        contact = make_contact("C-1", email="jane@example.com")

    answer = post(tenant_a, {"crm_id": "C-1", "survey": survey.pk, "channel": "email"})

    assert answer.status_code == 201, answer.content
    with tenant_context(tenant_a.organization):
        invitation = Invitation.objects.get()
    assert answer["Location"] == f"/api/v1/invitations/{invitation.pk}/"
    assert answer.json() == {
        "id": invitation.pk,
        "contact": contact.pk,
        "crm_id": "C-1",
        "survey": survey.pk,
        "survey_version": 1,
        "channel": "email",
        "status": "scheduled",
        "trigger": "api",
        "rule": None,
        "event_type": "",
        "send_at": "2026-11-23T10:00:00Z",
        "sent_at": None,
        "opened_at": None,
        "expires_at": None,
        "reminder_sent_at": None,
        "created_at": "2026-11-23T10:00:00Z",
        "url": f"{settings.SITE_URL}/s/{invitation.token}/",
        "attempts": 0,
        "last_error": "",
        "history": [
            {
                "from_status": "",
                "to_status": "scheduled",
                "reason": f"API: API key {tenant_a.api_key.display_prefix}",
                "at": "2026-11-23T10:00:00Z",
            }
        ],
        "deferred": None,
    }


def test_auto_picks_a_reachable_channel_and_send_at_is_kept(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        survey = published_survey()
        contact = make_contact("C-1", phone="+491701234567", grant=("sms",))

    answer = post(
        tenant_a,
        {"contact": contact.pk, "survey": survey.pk, "send_at": "2026-11-24T12:00:00+01:00"},
    )

    assert answer.status_code == 201, answer.content
    assert (answer.json()["channel"], answer.json()["send_at"]) == ("sms", "2026-11-24T11:00:00Z")


@pytest.mark.parametrize(
    ("setup", "body", "reason"),
    [
        ("opted_out", {"channel": "email"}, "opt_out"),
        ("no_phone", {"channel": "sms"}, "unreachable"),
        ("sms_no_consent", {"channel": "sms"}, "no_consent"),
        ("recent", {"channel": "email"}, "frequency"),
        ("open", {"channel": "email"}, "duplicate"),
    ],
)
def test_a_refused_send_is_a_422_with_the_reason_and_recorded(
    tenant_a: Tenant, setup: str, body: dict[str, Any], reason: str
) -> None:
    with tenant_context(tenant_a.organization):
        survey = published_survey()
        contact = make_contact(
            "C-1",
            email="jane@example.com",
            phone="+491701234567" if setup == "sms_no_consent" else "",
            withdraw=("email",) if setup == "opted_out" else (),
        )
        if setup == "recent":
            scheduled_invitation(contact, published_survey(), send_at=NOW - timedelta(days=2))
        if setup == "open":
            scheduled_invitation(contact, survey, send_at=NOW - timedelta(days=60))
    before = counts(tenant_a)

    answer = post(tenant_a, {"crm_id": "C-1", "survey": survey.pk, **body})

    assert answer.status_code == 422, answer.content
    problem = answer.json()
    assert answer["Content-Type"] == "application/problem+json"
    assert (problem["status"], problem["reason"]) == (422, reason)
    assert problem["detail"]
    assert counts(tenant_a) == (before[0], before[1] + 1)


def test_defer_when_blocked_schedules_after_the_budget(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        survey = published_survey()
        contact = make_contact("C-1", email="jane@example.com")
        scheduled_invitation(contact, published_survey(), send_at=NOW - timedelta(days=2))

    answer = post(tenant_a, {"crm_id": "C-1", "survey": survey.pk, "defer_when_blocked": True})

    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["send_at"] == "2026-12-21T10:00:00Z"  # 30 days after the last invitation
    assert body["deferred"] == {
        "reason": "frequency",
        "detail": "Invited on 2026-11-21; at most once in 30 days.",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"survey": "S"}, "contact"),  # neither contact nor crm_id
        ({"contact": "C", "crm_id": "C-1", "survey": "S"}, "contact"),
        ({"crm_id": "C-404", "survey": "S"}, "crm_id"),
        ({"contact": 999999, "survey": "S"}, "contact"),
        ({"crm_id": "C-1", "survey": 999999}, "survey"),
        ({"crm_id": "C-1", "survey": "draft"}, "survey"),
        ({"crm_id": "C-1", "survey": "S", "channel": "link"}, "channel"),
        ({"crm_id": "C-1", "survey": "S", "send_at": "2026-11-24T12:00:00"}, "send_at"),
        ({"crm_id": "C-1", "survey": "S", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(
    tenant_a: Tenant, body: dict[str, Any], field: str
) -> None:
    with tenant_context(tenant_a.organization):
        survey = published_survey()
        draft: Survey = survey_with_draft()
        contact = make_contact("C-1", email="jane@example.com")
    values = {"S": survey.pk, "draft": draft.pk, "C": contact.pk}
    resolved = {k: values.get(v, v) if isinstance(v, str) else v for k, v in body.items()}

    answer = post(tenant_a, resolved)

    assert answer.status_code == 400, answer.content
    assert field in answer.json()["errors"]
    assert counts(tenant_a) == (0, 0)


def test_another_organizations_contact_or_survey_is_not_found(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with tenant_context(tenant_b.organization):
        survey_b = published_survey()
        contact_b = make_contact("C-1", email="b@example.com")
    with tenant_context(tenant_a.organization):
        survey_a = published_survey()
        make_contact("C-1", email="a@example.com")

    assert post(tenant_a, {"contact": contact_b.pk, "survey": survey_a.pk}).status_code == 400
    assert post(tenant_a, {"crm_id": "C-1", "survey": survey_b.pk}).status_code == 400
    assert counts(tenant_a) == (0, 0)
    assert counts(tenant_b) == (0, 0)


def test_creating_needs_invitations_write(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        survey = published_survey()
        make_contact("C-1", email="jane@example.com")
        _key, raw = api_key_with_secret(scopes=["invitations:read"])

    answer = post(tenant_a, {"crm_id": "C-1", "survey": survey.pk}, key=raw)

    assert answer.status_code == 403
    assert counts(tenant_a) == (0, 0)


def test_creating_is_idempotent_with_a_key(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        survey = published_survey()
        make_contact("C-1", email="jane@example.com")
    body = {"crm_id": "C-1", "survey": survey.pk}

    first = post(tenant_a, body, HTTP_IDEMPOTENCY_KEY="inv-1")
    again = post(tenant_a, body, HTTP_IDEMPOTENCY_KEY="inv-1")
    third = post(tenant_a, body)  # no key: decided again, refused as a duplicate

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert third.status_code == 422
    assert third.json()["reason"] == "duplicate"
    assert counts(tenant_a) == (1, 1)
    with tenant_context(tenant_a.organization):
        assert Contact.objects.count() == 1
