"""CRM events over the API: ``POST /api/v1/events/`` (one event: the contact upserted,
the rules applied, the outcomes answered) and ``POST /api/v1/events/batch/`` (up to
1,000, all or nothing for invalid input, the same invitations as one by one)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from surveys.models import DistributionRule, Invitation, InvitationEvent, SuppressedSend, Survey
from surveys.services.distribution import distribution_rule_create
from tenants.context import tenant_context
from tenants.models import AuditLog
from tenants.services import SYSTEM
from tests.conftest import Tenant
from tests.distribution_support import make_contact, published_survey, scheduled_invitation
from tests.factories import api_key_with_secret, survey_with_draft

# Monday 2026-11-23, 10:00 UTC (11:00 in Berlin, the organizations' time zone).
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
OCCURRED = "2026-11-23T10:00:00+01:00"  # 09:00 UTC


@pytest.fixture(autouse=True)
def _frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def post(tenant: Tenant, path: str, body: Any, key: str | None = None, **headers: Any) -> Any:
    return Client().post(
        f"/api/v1/events/{path}",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key or tenant.raw_key}",
        **headers,
    )


def rule(survey: Survey, **fields: Any) -> DistributionRule:
    options: dict[str, Any] = {
        "name": "Order completed",
        "event_type": "order_completed",
        "survey": survey,
        "channel": "email",
        "delay": timedelta(hours=2),
        "defer_when_blocked": False,
        "is_active": True,
        **fields,
    }
    return distribution_rule_create(actor=SYSTEM, **options)


def event(crm_id: str = "C-1", **fields: Any) -> dict[str, Any]:
    contact = {"crm_id": crm_id, **fields.pop("contact", {"email": f"{crm_id}@example.com"})}
    return {"type": "order_completed", "occurred_at": OCCURRED, "contact": contact, **fields}


def counts(tenant: Tenant) -> tuple[int, int, int]:
    with tenant_context(tenant.organization):
        return (
            Contact.objects.count(),
            Invitation.objects.count(),
            SuppressedSend.objects.count(),
        )


# --- One event -------------------------------------------------------------------------


def test_an_event_creates_the_contact_and_schedules_the_invitation(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        survey = published_survey()
        order_rule = rule(survey)

    answer = post(
        tenant_a,
        "",
        event(
            contact={"email": "Jane@Example.com", "first_name": "Jane", "language": "en"},
            attributes={"order_id": "4711"},
        ),
    )

    assert answer.status_code == 200, answer.content
    with tenant_context(tenant_a.organization):
        contact = Contact.objects.get()
        invitation = Invitation.objects.get()
        history = list(InvitationEvent.objects.values_list("to_status", "reason"))
    assert answer.json() == {
        "type": "order_completed",
        "occurred_at": "2026-11-23T09:00:00Z",
        "dry_run": False,
        "contact": {"id": contact.pk, "crm_id": "C-1", "created": True},
        "detail": "",
        "outcomes": [
            {
                "rule_id": order_rule.pk,
                "rule": "Order completed",
                "result": "scheduled",
                "reason": "",
                "detail": "",
                "channel": "email",
                "send_at": "2026-11-23T11:00:00Z",
                "invitation": invitation.pk,
            }
        ],
        "invitations": [
            {
                "id": invitation.pk,
                "status": "scheduled",
                "channel": "email",
                "survey": survey.pk,
                "send_at": "2026-11-23T11:00:00Z",
                "rule_id": order_rule.pk,
                "rule": "Order completed",
                "deferred": False,
            }
        ],
        "suppressed": [],
    }
    assert (contact.email, contact.first_name, contact.language) == (
        "jane@example.com",
        "Jane",
        "en",
    )
    assert contact.attributes == {}  # the event's attributes are not stored on the contact
    assert (invitation.trigger, invitation.event_type, invitation.rule_id) == (
        "rule",
        "order_completed",
        order_rule.pk,
    )
    assert history == [("scheduled", "rule Order completed: order_completed")]


def test_an_event_updates_an_existing_contact_and_merges_attributes(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        rule(published_survey(), conditions={"segment": "retail"})
        contact = make_contact("C-1", email="old@example.com", attributes={"tier": "gold"})

    answer = post(
        tenant_a,
        "",
        event(contact={"email": "new@example.com", "attributes": {"segment": "retail"}}),
    )

    assert answer.status_code == 200, answer.content
    assert answer.json()["contact"] == {"id": contact.pk, "crm_id": "C-1", "created": False}
    assert [o["result"] for o in answer.json()["outcomes"]] == ["scheduled"]
    with tenant_context(tenant_a.organization):
        contact.refresh_from_db()
    assert contact.email == "new@example.com"
    assert contact.attributes == {"segment": "retail", "tier": "gold"}


def test_an_event_without_rules_answers_no_outcomes_and_says_so(tenant_a: Tenant) -> None:
    answer = post(tenant_a, "", {**event(), "type": "ticket_closed"})

    assert answer.status_code == 200
    body = answer.json()
    assert body["outcomes"] == []
    assert body["invitations"] == []
    assert body["detail"] == (
        "No active distribution rule for the event type “ticket_closed”: nothing to do."
    )
    assert counts(tenant_a) == (1, 0, 0)  # the contact is still created


def test_each_rule_answers_its_outcome_with_the_reason(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        survey = published_survey()
        draft = survey_with_draft()
        rule(survey, name="a by sms", channel="sms")
        rule(survey, name="b retail only", conditions={"segment": "retail"})
        rule(draft, name="c draft survey")
        rule(survey, name="d email")
        make_contact("C-1", email="c1@example.com", withdraw=("email",))

    answer = post(tenant_a, "", event(contact={"phone": ""}, attributes={"segment": "b2b"}))

    assert answer.status_code == 200, answer.content
    body = answer.json()
    outcomes = [(o["rule"], o["result"], o["reason"], o["detail"]) for o in body["outcomes"]]
    assert outcomes == [
        ("a by sms", "suppressed", "unreachable", "No mobile number."),
        ("b retail only", "not_matching", "", ""),
        ("c draft survey", "not_sendable", "", "The survey is not published or is archived."),
        ("d email", "suppressed", "opt_out", "The contact opted out of email."),
    ]
    assert body["invitations"] == []
    assert [(s["rule"], s["reason"]) for s in body["suppressed"]] == [
        ("a by sms", "unreachable"),
        ("d email", "opt_out"),
    ]
    assert counts(tenant_a) == (1, 0, 2)


def test_occurred_at_defaults_to_now(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        rule(published_survey())
    body = {key: value for key, value in event().items() if key != "occurred_at"}

    answer = post(tenant_a, "", body)

    assert answer.json()["occurred_at"] == "2026-11-23T10:00:00Z"
    assert answer.json()["outcomes"][0]["send_at"] == "2026-11-23T12:00:00Z"


def test_a_dry_run_decides_and_writes_nothing(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        order_rule = rule(published_survey())
        audit_before = AuditLog.objects.count()

    answer = post(tenant_a, "", {**event(), "dry_run": True})

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["dry_run"] is True
    assert body["contact"] == {"id": None, "crm_id": "C-1", "created": True}
    assert body["outcomes"] == [
        {
            "rule_id": order_rule.pk,
            "rule": "Order completed",
            "result": "scheduled",
            "reason": "",
            "detail": "",
            "channel": "email",
            "send_at": "2026-11-23T11:00:00Z",
            "invitation": None,
        }
    ]
    assert counts(tenant_a) == (0, 0, 0)
    with tenant_context(tenant_a.organization):
        assert AuditLog.objects.count() == audit_before


def test_the_same_event_with_the_same_idempotency_key_schedules_once(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        rule(published_survey())

    first = post(tenant_a, "", event(), HTTP_IDEMPOTENCY_KEY="order-4711")
    again = post(tenant_a, "", event(), HTTP_IDEMPOTENCY_KEY="order-4711")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert counts(tenant_a) == (1, 1, 0)


def test_without_a_key_the_repeat_is_decided_by_the_rules(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        rule(published_survey())

    post(tenant_a, "", event())
    again = post(tenant_a, "", event())

    [outcome] = again.json()["outcomes"]
    assert (outcome["result"], outcome["reason"]) == ("suppressed", "duplicate")
    assert counts(tenant_a) == (1, 1, 1)


def test_the_contact_budget_suppresses_a_second_survey(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        rule(published_survey())
        other = published_survey()
        contact = make_contact("C-1", email="c1@example.com")
        scheduled_invitation(contact, other, send_at=NOW - timedelta(days=3))

    answer = post(tenant_a, "", event())

    [outcome] = answer.json()["outcomes"]
    assert (outcome["result"], outcome["reason"]) == ("suppressed", "frequency")
    assert outcome["detail"] == "Invited on 2026-11-20; at most once in 30 days."


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"occurred_at": "2026-11-23T10:00:00"}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"type": "order.completed"}, "type"),
        ({"type": ""}, "type"),
        ({"contact": {"email": "x@example.com"}}, "contact"),
        ({"contact": "C-1"}, "contact"),
        ({"attributes": {"Bad Key": 1}}, "attributes"),
        ({"attributes": {"nested": {"a": 1}}}, "attributes"),
        ({"dry_run": "yes"}, "dry_run"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(
    tenant_a: Tenant, change: dict[str, Any], field: str
) -> None:
    with tenant_context(tenant_a.organization):
        rule(published_survey())

    answer = post(tenant_a, "", {**event(), **change})

    assert answer.status_code == 400, answer.content
    assert answer["Content-Type"] == "application/problem+json"
    assert field in answer.json()["errors"]
    assert counts(tenant_a) == (0, 0, 0)


def test_an_invalid_contact_field_is_named_under_contact(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        rule(published_survey())

    answer = post(tenant_a, "", event(contact={"email": "jane@", "phone": "12"}))

    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert set(errors) == {"contact"}
    assert set(errors["contact"]) == {"email", "phone"}
    assert counts(tenant_a) == (0, 0, 0)


def test_a_key_without_events_write_gets_a_403(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        rule(published_survey())
        _key, raw = api_key_with_secret(scopes=["contacts:write", "invitations:write"])

    for path, body in (("", event()), ("batch/", {"events": [event()]})):
        answer = post(tenant_a, path, body, key=raw)
        assert answer.status_code == 403
    assert counts(tenant_a) == (0, 0, 0)


# --- Batches ---------------------------------------------------------------------------


def test_a_batch_answers_per_event_outcomes_and_totals(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        order_rule = rule(published_survey())
        existing = make_contact("C-2", email="c2@example.com")

    answer = post(
        tenant_a,
        "batch/",
        {
            "events": [
                event("C-1"),
                event("C-2", contact={}),
                event("C-3", contact={}),
                {**event("C-4"), "type": "ticket_closed"},
            ]
        },
    )

    assert answer.status_code == 200, answer.content
    with tenant_context(tenant_a.organization):
        ids = dict(Contact.objects.values_list("crm_id", "id"))
        invitations = dict(Invitation.objects.values_list("contact__crm_id", "id"))
    assert ids["C-2"] == existing.pk

    def scheduled(crm_id: str) -> dict[str, Any]:
        return {
            "rule_id": order_rule.pk,
            "rule": "Order completed",
            "result": "scheduled",
            "reason": "",
            "detail": "",
            "channel": "email",
            "send_at": "2026-11-23T11:00:00Z",
            "invitation": invitations[crm_id],
        }

    assert answer.json() == {
        "events": 4,
        "contacts_created": 3,
        "totals": {
            "scheduled": 2,
            "deferred": 0,
            "suppressed": 1,
            "not_matching": 0,
            "not_sendable": 0,
            "without_rules": 1,
        },
        "results": [
            {
                "index": 0,
                "contact": {"id": ids["C-1"], "crm_id": "C-1", "created": True},
                "outcomes": [scheduled("C-1")],
            },
            {
                "index": 1,
                "contact": {"id": ids["C-2"], "crm_id": "C-2", "created": False},
                "outcomes": [scheduled("C-2")],
            },
            {
                "index": 2,
                "contact": {"id": ids["C-3"], "crm_id": "C-3", "created": True},
                "outcomes": [
                    {
                        "rule_id": order_rule.pk,
                        "rule": "Order completed",
                        "result": "suppressed",
                        "reason": "unreachable",
                        "detail": "No email address.",
                        "channel": "email",
                        "send_at": None,
                        "invitation": None,
                    }
                ],
            },
            {
                "index": 3,
                "contact": {"id": ids["C-4"], "crm_id": "C-4", "created": True},
                "outcomes": [],
            },
        ],
    }


def test_an_invalid_event_in_a_batch_is_a_400_by_index_and_writes_nothing(
    tenant_a: Tenant,
) -> None:
    with tenant_context(tenant_a.organization):
        rule(published_survey())

    answer = post(
        tenant_a,
        "batch/",
        {
            "events": [
                event("C-1"),
                {**event("C-2"), "occurred_at": "2026-11-23T10:00:00"},
                event("C-3"),
                event("C-4", contact={"email": "bad@"}),
            ]
        },
    )

    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert body["detail"] == "Some events are invalid; nothing was written."
    assert [(e["index"], e["crm_id"], sorted(e["errors"])) for e in body["errors"]] == [
        (1, "C-2", ["occurred_at"])
    ]
    assert counts(tenant_a) == (0, 0, 0)

    # Contact errors come from the contacts upsert, with the event's index.
    answer = post(
        tenant_a, "batch/", {"events": [event("C-1"), event("C-4", contact={"email": "bad@"})]}
    )
    assert answer.status_code == 400
    [error] = answer.json()["errors"]
    assert (error["index"], error["crm_id"], list(error["errors"]["contact"])) == (
        1,
        "C-4",
        ["email"],
    )
    assert counts(tenant_a) == (0, 0, 0)


@pytest.mark.parametrize(
    "body",
    [{}, {"events": []}, {"events": "x"}, {"events": [event()], "dry_run": True}],
)
def test_a_malformed_batch_is_a_400(tenant_a: Tenant, body: dict[str, Any]) -> None:
    answer = post(tenant_a, "batch/", body)

    assert answer.status_code == 400
    assert counts(tenant_a) == (0, 0, 0)


def test_a_batch_over_the_limit_is_a_400(tenant_a: Tenant) -> None:
    answer = post(tenant_a, "batch/", {"events": [event(f"C-{i}") for i in range(1001)]})

    assert answer.status_code == 400
    assert "At most 1000 events" in answer.json()["errors"]["events"][0]


def test_a_batch_with_an_idempotency_key_is_processed_once(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        rule(published_survey())
    body = {"events": [event("C-1"), event("C-2")]}

    first = post(tenant_a, "batch/", body, HTTP_IDEMPOTENCY_KEY="batch-1")
    again = post(tenant_a, "batch/", body, HTTP_IDEMPOTENCY_KEY="batch-1")

    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert counts(tenant_a) == (2, 2, 0)


def _setup_rules(tenant: Tenant) -> None:
    """Rules that exercise every path: channels, conditions, budgets, deferral, quiet
    hours, an unpublished survey; contacts with and without consent and history."""
    with tenant_context(tenant.organization):
        first = published_survey()
        second = published_survey()
        draft = survey_with_draft()
        rule(first, name="a email")
        rule(first, name="b sms deferred", channel="sms", defer_when_blocked=True)
        rule(second, name="c preferred vip", channel="preferred", conditions={"tier": "vip"})
        rule(second, name="d budget deferred", survey_min_days=10, defer_when_blocked=True)
        rule(draft, name="e draft")
        rule(first, name="f refund", event_type="refund_issued", delay=timedelta(0))
        make_contact("C-0", email="c0@example.com", grant=("sms",), phone="+491701234500")
        old = make_contact("C-1", email="c1@example.com", withdraw=("email",))
        scheduled_invitation(old, second, send_at=NOW - timedelta(days=40))


def _events() -> list[dict[str, Any]]:
    events = []
    for i in range(12):
        crm_id = f"C-{i % 5}"  # repeats: the same contact several times, in order
        contact: dict[str, Any] = {"crm_id": crm_id, "email": f"{crm_id.lower()}@example.com"}
        if i % 3 == 0:
            contact["phone"] = f"+4917012345{i % 5:02d}"
        if i % 4 == 1:
            contact["attributes"] = {"tier": "vip" if i % 8 == 1 else "basic"}
        if i == 7:
            contact["email"] = ""
        events.append(
            {
                "type": "refund_issued" if i % 6 == 5 else "order_completed",
                "occurred_at": (NOW + timedelta(hours=i * 7)).isoformat(),
                "contact": contact,
                "attributes": {"tier": "vip"} if i == 10 else {},
            }
        )
    return events


def _snapshot(tenant: Tenant) -> list[tuple[Any, ...]]:
    with tenant_context(tenant.organization):
        rows = list(
            Invitation.objects.values_list(
                "contact__crm_id",
                "rule__name",
                "channel",
                "send_at",
                "status",
                "event_type",
                "trigger",
                "reminder_after",
                "expires_after",
            ).order_by("contact__crm_id", "rule__name", "send_at")
        )
        suppressed = list(
            SuppressedSend.objects.values_list(
                "contact__crm_id",
                "rule__name",
                "channel",
                "reason",
                "detail",
                "deferred_until",
                "invitation__send_at",
            ).order_by("contact__crm_id", "rule__name", "created_at", "id")
        )
        contacts = list(
            Contact.objects.values_list("crm_id", "email", "phone", "attributes").order_by("crm_id")
        )
    return [*rows, *suppressed, *contacts]


def _outcomes(results: list[list[dict[str, Any]]]) -> list[list[tuple[Any, ...]]]:
    return [[(o["rule"], o["result"], o["reason"], o["send_at"]) for o in r] for r in results]


def test_a_batch_equals_the_same_events_one_by_one(tenant_a: Tenant, tenant_b: Tenant) -> None:
    _setup_rules(tenant_a)
    _setup_rules(tenant_b)
    events = _events()

    one_by_one = []
    for body in events:
        answer = post(tenant_a, "", body)
        assert answer.status_code == 200, answer.content
        one_by_one.append(answer.json()["outcomes"])
    batch = post(tenant_b, "batch/", {"events": events})
    assert batch.status_code == 200, batch.content

    assert _outcomes([r["outcomes"] for r in batch.json()["results"]]) == _outcomes(one_by_one)
    assert _snapshot(tenant_b) == _snapshot(tenant_a)
    results = {o[1] for r in _outcomes(one_by_one) for o in r}
    assert results == {"scheduled", "deferred", "suppressed", "not_matching", "not_sendable"}


def _batch_queries(tenant: Tenant, size: int, offset: int) -> int:
    body = {"events": [event(f"Q-{offset + i}") for i in range(size)]}
    with CaptureQueriesContext(connection) as context:
        answer = post(tenant, "batch/", body)
    assert answer.status_code == 200, answer.content
    assert answer.json()["totals"]["scheduled"] == size
    return len(context.captured_queries)


def test_batch_queries_do_not_grow_with_the_events(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        rule(published_survey())
        rule(published_survey(), name="Second", channel="preferred")
    _batch_queries(tenant_a, 1, 0)  # warm up: the key's last use is written once a minute

    one = _batch_queries(tenant_a, 1, 100)
    fifty = _batch_queries(tenant_a, 50, 200)

    # SQLite caps the parameters of one statement, so its bulk inserts of 100
    # invitations take a second INSERT; PostgreSQL writes them in one.
    assert fifty <= one + (0 if connection.vendor == "postgresql" else 2)
    assert one <= 30 + (4 if connection.vendor == "postgresql" else 0)  # RLS settings
