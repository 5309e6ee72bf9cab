"""The cases API: list with filters, read with the timeline, change through PATCH, add
notes; scopes, all-or-nothing changes, idempotent notes and query bounds."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client

from closedloop.models import (
    Case,
    CaseEvent,
    CaseRootCause,
    CaseStatus,
    Notification,
)
from responses.models import OutboxEvent
from tenants.context import tenant_context
from tenants.models import Role
from tests.conftest import Tenant
from tests.factories import (
    ContactFactory,
    TeamFactory,
    api_key_with_secret,
    case_factory,
    case_follow_up_factory,
    case_message_factory,
    published_survey,
    root_cause_factory,
)

Capture = Callable[..., AbstractContextManager[Any]]
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def call(
    tenant: Tenant,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = None,
    **headers: Any,
) -> Any:
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key or tenant.raw_key}", **headers}
    if body is None:
        return getattr(client, method)(f"/api/v1/cases/{path}", **auth)
    return getattr(client, method)(
        f"/api/v1/cases/{path}", json.dumps(body), content_type="application/json", **auth
    )


def numbers(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [case["number"] for case in response.json()["results"]]


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


@pytest.fixture
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


# --- Reading ------------------------------------------------------------------------------


def test_list_shows_each_case_with_its_response_contact_assignee_and_sla(
    tenant_a: Tenant, frozen: Any
) -> None:
    worker = tenant_a.member(Role.OWNER, first_name="Maria", last_name="Weber")
    with tenant_context(tenant_a.organization):
        team: Any = TeamFactory(name="Care")
        contact: Any = ContactFactory(crm_id="K-1", first_name="Ada", last_name="Lovelace")
        case = case_factory(contact=contact, owner=worker, team=team)
        cause = root_cause_factory(name="Late delivery")
        CaseRootCause.objects.create(case=case, root_cause=cause)
        case = Case.objects.select_related("response", "touchpoint", "journey").get(pk=case.pk)
    response = call(tenant_a, "get", "")
    assert response.status_code == 200
    assert response.json() == {
        "next": None,
        "previous": None,
        "results": [
            {
                "id": case.pk,
                "number": case.number,
                "title": case.title,
                "status": "new",
                "priority": 3,
                "impact": case.impact,
                "response": {
                    "id": case.response_id,
                    "nps": 2,
                    "nps_group": "detractor",
                    "ces": None,
                    "csat": None,
                    "comment": "Parcel was late",
                    "channel": "link",
                    "language": "en",
                    "responded_at": "2026-03-10T09:00:00Z",
                },
                "contact": {"id": contact.pk, "crm_id": "K-1", "name": "Ada Lovelace"},
                "touchpoint": {"id": case.touchpoint_id, "name": case.touchpoint.name},
                "journey": {"id": case.journey_id, "name": case.journey.name},
                "assignee": {"id": worker.pk, "email": worker.email, "name": "Maria Weber"},
                "team": {"id": team.pk, "name": "Care"},
                "sla": {
                    "policy": "Detractors: contact in 24 h, resolve in 48 h",
                    "state": "due",
                    "first_response_due_at": "2026-03-11T09:00:00Z",
                    "first_responded_at": None,
                    "first_response_breached_at": None,
                    "resolution_due_at": "2026-03-12T09:00:00Z",
                    "resolution_breached_at": None,
                    "paused_at": None,
                },
                "root_causes": [{"id": cause.pk, "name": "Late delivery"}],
                "resolution_summary": "",
                "recovered": None,
                "customer_replied_at": None,
                "created_at": "2026-03-10T09:00:00Z",
                "updated_at": "2026-03-10T09:00:00Z",
                "resolved_at": None,
                "closed_at": None,
            }
        ],
    }


def test_detail_has_the_timeline_messages_and_follow_up(tenant_a: Tenant, frozen: Any) -> None:
    with tenant_context(tenant_a.organization):
        case = case_factory(status=CaseStatus.RESOLVED, recovered=True)
        message = case_message_factory(case=case, from_address="care@alpha.example")
        reply = case_message_factory(
            case=case,
            direction="in",
            channel="sms",
            status="received",
            to_address="",
            from_address="+491701234567",
            subject="",
            body="Thanks, all good now",
        )
        case_follow_up_factory(
            case=case, answered_at=NOW, concern_resolved=True, nps=9, comment="Great"
        )
        opened = CaseEvent.objects.get(case=case)
    body = call(tenant_a, "get", f"{case.number}/").json()
    assert body["status"] == "resolved"
    assert body["recovered"] is True
    assert body["sla"]["state"] == "done"
    assert body["allowed_transitions"] == ["in_progress", "closed"]
    assert body["timeline"] == [
        {
            "id": opened.pk,
            "kind": "opened",
            "actor": "routing",
            "actor_user_id": None,
            "text": opened.text,
            "data": opened.data,
            "created_at": "2026-03-10T09:00:00Z",
        }
    ]
    assert body["messages"] == [
        {
            "id": message.pk,
            "channel": "email",
            "direction": "out",
            "status": "sent",
            "to_address": "customer@example.com",
            "from_address": "care@alpha.example",
            "subject": "About your feedback",
            "body": "Dear customer, ...",
            "is_follow_up": False,
            "error": "",
            "created_at": "2026-03-10T09:00:00Z",
            "sent_at": None,
        },
        {
            "id": reply.pk,
            "channel": "sms",
            "direction": "in",
            "status": "received",
            "to_address": "",
            "from_address": "+491701234567",
            "subject": "",
            "body": "Thanks, all good now",
            "is_follow_up": False,
            "error": "",
            "created_at": "2026-03-10T09:00:00Z",
            "sent_at": None,
        },
    ]
    assert body["follow_up"] == {
        "sent_at": "2026-03-10T09:00:00Z",
        "answered_at": "2026-03-10T09:00:00Z",
        "concern_resolved": True,
        "nps": 9,
        "comment": "Great",
    }


def test_another_organizations_case_and_a_missing_one_are_404(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with tenant_context(tenant_b.organization):
        theirs = case_factory()
    with tenant_context(tenant_a.organization):
        Case.objects.filter(number=theirs.number).delete()
    for method, path, body in [
        ("get", f"{theirs.number}/", None),
        ("patch", f"{theirs.number}/", {"priority": 1}),
        ("post", f"{theirs.number}/notes/", {"text": "hello"}),
    ]:
        response = call(tenant_a, method, path, body)
        assert response.status_code == 404, (method, path)
        assert response["Content-Type"] == "application/problem+json"
    assert call(tenant_a, "get", "").json()["results"] == []


# --- Filters and pages ----------------------------------------------------------------


@dataclass
class Seeded:
    first: Case  # new, high, Maria, team Care, touchpoint 1, overdue, K-1
    second: Case  # waiting, low, unassigned, touchpoint 1, 2 days later
    third: Case  # closed, normal, Jon, touchpoint 2 (another journey), 4 days later
    maria: Any
    jon: Any
    team: Any


@pytest.fixture
def seeded(tenant_a: Tenant) -> Seeded:
    maria = tenant_a.member(Role.OWNER, username="maria@alpha.example")
    jon = tenant_a.member(Role.CX_MANAGER, username="jon@alpha.example")
    with tenant_context(tenant_a.organization):
        team: Any = TeamFactory(name="Care")
        version = published_survey()
        other = published_survey()
        with time_machine.travel(NOW - timedelta(days=6), tick=False):
            first = case_factory(
                version=version,
                contact=ContactFactory(crm_id="K-1"),
                owner=maria,
                team=team,
            )
        with time_machine.travel(NOW - timedelta(days=4), tick=False):
            second = case_factory(version=version, priority=1, status=CaseStatus.WAITING)
            Case.objects.filter(pk=second.pk).update(paused_at=NOW - timedelta(days=4))
        with time_machine.travel(NOW - timedelta(days=2), tick=False):
            third = case_factory(version=other, priority=2, owner=jon, status=CaseStatus.CLOSED)
    return Seeded(first, second, third, maria, jon, team)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["third", "second", "first"]),
        ("?status=new", ["first"]),
        ("?status=new&status=closed", ["third", "first"]),
        ("?status=waiting,closed", ["third", "second"]),
        ("?priority=1", ["second"]),
        ("?priority=3&priority=2", ["third", "first"]),
        ("?assignee=MARIA@alpha.example", ["first"]),
        ("?assignee=none", ["second"]),
        ("?overdue=true", ["first"]),
        ("?overdue=false", ["third", "second"]),
        ("?crm_id=K-1", ["first"]),
        ("?crm_id=K-404", []),
        ("?created_since=2026-03-06T09:00:00Z", ["third", "second"]),
        ("?created_until=2026-03-06T09:00:00%2B00:00", ["first"]),
        ("?updated_since=2026-03-07T00:00:00Z", ["third"]),
        ("?updated_until=2026-03-05T00:00:00Z", ["first"]),
    ],
)
def test_list_filters(
    tenant_a: Tenant, seeded: Seeded, frozen: Any, query: str, expected: list[str]
) -> None:
    wanted = [getattr(seeded, name).number for name in expected]
    assert numbers(call(tenant_a, "get", query)) == wanted


def test_list_filters_by_ids(tenant_a: Tenant, seeded: Seeded, frozen: Any) -> None:
    first, third = seeded.first, seeded.third
    assert numbers(call(tenant_a, "get", f"?assignee={seeded.jon.pk}")) == [third.number]
    assert numbers(call(tenant_a, "get", f"?team={seeded.team.pk}")) == [first.number]
    by_touchpoint = numbers(call(tenant_a, "get", f"?touchpoint={first.touchpoint_id}"))
    assert by_touchpoint == [seeded.second.number, first.number]
    assert numbers(call(tenant_a, "get", f"?journey={third.journey_id}")) == [third.number]
    assert numbers(call(tenant_a, "get", "?team=999999")) == []


def test_cursor_pages_walk_every_case_once(tenant_a: Tenant, seeded: Seeded) -> None:
    page = call(tenant_a, "get", "?limit=2").json()
    assert [case["number"] for case in page["results"]] == [
        seeded.third.number,
        seeded.second.number,
    ]
    assert page["previous"] is None
    following = Client().get(page["next"], HTTP_AUTHORIZATION=f"Bearer {tenant_a.raw_key}")
    assert [case["number"] for case in following.json()["results"]] == [seeded.first.number]
    assert following.json()["next"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?status=open", "status"),
        ("?priority=9", "priority"),
        ("?assignee=maria", "assignee"),
        ("?team=abc", "team"),
        ("?overdue=perhaps", "overdue"),
        ("?created_since=2026-03-01T00:00:00", "created_since"),
        ("?updated_until=yesterday", "updated_until"),
        ("?limit=0", None),
    ],
)
def test_bad_filters_are_400_problems_naming_the_field(
    tenant_a: Tenant, query: str, field: str | None
) -> None:
    response = call(tenant_a, "get", query)
    if field is None:  # DRF's cursor pagination falls back to the default page size
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]


# --- Scopes -------------------------------------------------------------------------------


def test_scopes_are_enforced(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        case = case_factory()
        _key, metrics_only = api_key_with_secret(scopes=["metrics:read"])
        _key, read_only = api_key_with_secret(scopes=["cases:read"])
    for path in ("", f"{case.number}/"):
        assert call(tenant_a, "get", path, key=metrics_only).status_code == 403
        assert call(tenant_a, "get", path, key=read_only).status_code == 200
    assert (
        call(tenant_a, "patch", f"{case.number}/", {"priority": 1}, key=read_only).status_code
        == 403
    )
    note = call(tenant_a, "post", f"{case.number}/notes/", {"text": "hi"}, key=read_only)
    assert note.status_code == 403
    with tenant_context(tenant_a.organization):
        assert Case.objects.get(pk=case.pk).priority == 3
        assert not CaseEvent.objects.filter(kind="note").exists()


# --- Changes ------------------------------------------------------------------------------


def _case_with_worker(tenant: Tenant) -> tuple[Case, Any]:
    worker = tenant.member(Role.OWNER, username="maria@alpha.example")
    with tenant_context(tenant.organization):
        case = case_factory()
    return case, worker


def _events(tenant: Tenant, case: Case, kind: str) -> list[CaseEvent]:
    with tenant_context(tenant.organization):
        return list(CaseEvent.objects.filter(case=case, kind=kind).order_by("id"))


def test_patch_each_field_lands_on_the_timeline_with_the_keys_label(
    tenant_a: Tenant, frozen: Any
) -> None:
    case, worker = _case_with_worker(tenant_a)
    label = f"API key {tenant_a.api_key.display_prefix}"
    with tenant_context(tenant_a.organization):
        team: Any = TeamFactory(name="Care")
        late, rude = root_cause_factory(name="Late"), root_cause_factory(name="Rude")
        retired = root_cause_factory(name="Retired", active=False)
    path = f"{case.number}/"

    body = call(tenant_a, "patch", path, {"status": "in_progress"}).json()
    assert body["status"] == "in_progress"
    assert body["allowed_transitions"] == ["waiting", "resolved", "closed"]

    body = call(tenant_a, "patch", path, {"assignee": worker.pk, "team": team.pk}).json()
    assert body["assignee"]["id"] == worker.pk
    assert body["team"] == {"id": team.pk, "name": "Care"}

    body = call(tenant_a, "patch", path, {"assignee": None}).json()
    assert body["assignee"] is None
    assert body["team"] == {"id": team.pk, "name": "Care"}  # the team stays

    body = call(tenant_a, "patch", path, {"assignee": "MARIA@alpha.example"}).json()
    assert body["assignee"]["email"] == "maria@alpha.example"

    body = call(tenant_a, "patch", path, {"priority": 4}).json()
    assert body["priority"] == 4

    body = call(tenant_a, "patch", path, {"root_causes": [late.pk, rude.pk]}).json()
    assert [cause["name"] for cause in body["root_causes"]] == ["Late", "Rude"]
    retired_response = call(tenant_a, "patch", path, {"root_causes": [retired.pk]})
    assert retired_response.status_code == 400
    assert "root_causes" in retired_response.json()["errors"]

    body = call(
        tenant_a, "patch", path, {"status": "resolved", "resolution_summary": "Refunded."}
    ).json()
    assert body["status"] == "resolved"
    assert body["resolution_summary"] == "Refunded."
    assert body["resolved_at"] == "2026-03-10T09:00:00Z"

    kinds = [
        (event["kind"], event["actor"]) for event in body["timeline"] if event["kind"] != "opened"
    ]
    assert kinds == [
        ("status", label),
        ("assigned", label),
        ("assigned", label),
        ("assigned", label),
        ("priority", label),
        ("root_causes", label),
        ("status", label),
    ]
    assert body["timeline"][-1]["data"] == {
        "from": "in_progress",
        "to": "resolved",
        "reopened": False,
    }
    assert body["timeline"][-1]["text"] == "Refunded."
    with tenant_context(tenant_a.organization):
        # The new owner was told, as when a manager assigns on the case page.
        assert Notification.objects.filter(user=worker, kind="case_assigned").count() == 2


def test_patch_publishes_case_events_like_the_case_page(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        case = case_factory()
        before = OutboxEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        assert call(tenant_a, "patch", f"{case.number}/", {"priority": 1}).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = call(
            tenant_a, "patch", f"{case.number}/", {"status": "closed", "resolution_summary": "x"}
        )
        assert response.status_code == 200
    with tenant_context(tenant_a.organization):
        events = list(OutboxEvent.objects.order_by("id")[before:])
    assert [(event.topic, event.payload["event"]["kind"]) for event in events] == [
        ("case.updated", "priority"),
        ("case.closed", "status"),
    ]
    assert events[0].payload["number"] == case.number
    assert events[0].payload["priority"] == 1


def test_an_illegal_transition_is_a_409_naming_the_allowed_ones(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        case = case_factory(status=CaseStatus.CLOSED, resolution_summary="Done")
    response = call(tenant_a, "patch", f"{case.number}/", {"status": "waiting", "priority": 1})
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["allowed_transitions"] == ["in_progress"]
    assert body["status"] == 409
    assert "cannot become" in body["detail"]
    with tenant_context(tenant_a.organization):
        case.refresh_from_db()
        assert (case.status, case.priority) == ("closed", 3)
        assert CaseEvent.objects.filter(case=case).count() == 1  # "opened" only


def test_resolving_needs_a_summary(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        case = case_factory()
    response = call(tenant_a, "patch", f"{case.number}/", {"status": "resolved"})
    assert response.status_code == 400
    assert "resolution_summary" in response.json()["errors"]
    with tenant_context(tenant_a.organization):
        assert Case.objects.get(pk=case.pk).status == "new"


@pytest.mark.parametrize("who", ["viewer", "stranger", "unknown_id", "unknown_email", "bogus"])
def test_assigning_to_someone_who_does_not_work_cases_is_400(
    tenant_a: Tenant, tenant_b: Tenant, who: str
) -> None:
    viewer = tenant_a.member(Role.VIEWER, username="viewer@alpha.example")
    stranger = tenant_b.member(Role.OWNER, username="stranger@bravo.example")
    assignee = {
        "viewer": viewer.pk,
        "stranger": stranger.pk,
        "unknown_id": 999_999,
        "unknown_email": "stranger@bravo.example",
        "bogus": "nobody",
    }[who]
    with tenant_context(tenant_a.organization):
        case = case_factory()
    response = call(tenant_a, "patch", f"{case.number}/", {"assignee": assignee})
    assert response.status_code == 400
    assert "assignee" in response.json()["errors"]
    with tenant_context(tenant_a.organization):
        assert Case.objects.get(pk=case.pk).owner_id is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "in_progress", "assignee": "viewer@alpha.example"}, "assignee"),
        ({"status": "in_progress", "team": 999_999}, "team"),
        ({"status": "in_progress", "priority": 4, "root_causes": [999_999]}, "root_causes"),
        ({"assignee": "maria@alpha.example", "priority": 4, "status": "resolved"}, None),
    ],
)
def test_patch_is_all_or_nothing(
    tenant_a: Tenant,
    django_capture_on_commit_callbacks: Capture,
    change: dict[str, Any],
    field: str | None,
) -> None:
    case, worker = _case_with_worker(tenant_a)
    tenant_a.member(Role.VIEWER, username="viewer@alpha.example")
    with tenant_context(tenant_a.organization):
        outbox_before = OutboxEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = call(tenant_a, "patch", f"{case.number}/", change)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert (field or "resolution_summary") in errors
    assert callbacks == []
    with tenant_context(tenant_a.organization):
        fresh = Case.objects.get(pk=case.pk)
        assert (fresh.status, fresh.owner_id, fresh.priority) == ("new", None, 3)
        assert CaseEvent.objects.filter(case=case).count() == 1
        assert OutboxEvent.objects.count() == outbox_before
        assert not Notification.objects.filter(user=worker).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({}, "non_field_errors"),
        ({"resolution_summary": "only this"}, "non_field_errors"),
        ({"status": "lost"}, "status"),
        ({"priority": 7}, "priority"),
        ({"assignee": True}, "assignee"),
        ({"root_causes": "1,2"}, "root_causes"),
        ({"team": "care"}, "team"),
    ],
)
def test_patch_input_errors_name_the_field(
    tenant_a: Tenant, change: dict[str, Any], field: str
) -> None:
    with tenant_context(tenant_a.organization):
        case = case_factory()
    response = call(tenant_a, "patch", f"{case.number}/", change)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_patching_to_the_current_values_changes_nothing(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        case = case_factory()
    response = call(tenant_a, "patch", f"{case.number}/", {"status": "new", "priority": 3})
    assert response.status_code == 200
    assert _events(tenant_a, case, "status") == []
    assert _events(tenant_a, case, "priority") == []


def test_resolving_with_the_follow_up_asks_the_customer(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        case = case_factory(contact=ContactFactory(email="ada@example.com"))
    body = call(
        tenant_a,
        "patch",
        f"{case.number}/",
        {"status": "resolved", "resolution_summary": "Refunded.", "send_follow_up": True},
    ).json()
    assert body["status"] == "resolved"
    assert body["follow_up"]["answered_at"] is None
    assert [m["is_follow_up"] for m in body["messages"]] == [True]


# --- Notes --------------------------------------------------------------------------------


def test_a_note_is_a_timeline_entry_of_the_api_key(tenant_a: Tenant, frozen: Any) -> None:
    with tenant_context(tenant_a.organization):
        case = case_factory()
    response = call(tenant_a, "post", f"{case.number}/notes/", {"text": "  Voucher sent.  "})
    assert response.status_code == 201
    (note,) = _events(tenant_a, case, "note")
    assert response.json() == {
        "id": note.pk,
        "kind": "note",
        "actor": f"API key {tenant_a.api_key.display_prefix}",
        "actor_user_id": None,
        "text": "Voucher sent.",
        "data": {},
        "created_at": "2026-03-10T09:00:00Z",
    }
    timeline = call(tenant_a, "get", f"{case.number}/").json()["timeline"]
    assert timeline[-1] == response.json()
    with tenant_context(tenant_a.organization):
        outbox = OutboxEvent.objects.filter(topic="case.updated").order_by("-id").first()
        assert outbox is not None
        assert outbox.payload["event"] == {"id": note.pk, "kind": "note", "data": {}}


@pytest.mark.parametrize("body", [{}, {"text": "   "}, {"text": ["a"]}])
def test_an_empty_note_is_400_and_writes_nothing(tenant_a: Tenant, body: Any) -> None:
    with tenant_context(tenant_a.organization):
        case = case_factory()
    response = call(tenant_a, "post", f"{case.number}/notes/", body)
    assert response.status_code == 400
    assert "text" in response.json()["errors"]
    assert _events(tenant_a, case, "note") == []


def test_a_retried_note_with_the_same_idempotency_key_is_added_once(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        case = case_factory()
    path, body = f"{case.number}/notes/", {"text": "Called back."}
    first = call(tenant_a, "post", path, body, HTTP_IDEMPOTENCY_KEY="note-1")
    again = call(tenant_a, "post", path, body, HTTP_IDEMPOTENCY_KEY="note-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert len(_events(tenant_a, case, "note")) == 1
    other = call(tenant_a, "post", path, {"text": "Other."}, HTTP_IDEMPOTENCY_KEY="note-1")
    assert other.status_code == 422


# --- Query bounds ---------------------------------------------------------------------------


def test_list_and_detail_queries_do_not_grow_with_the_data(
    tenant_a: Tenant, django_assert_max_num_queries: Any
) -> None:
    worker = tenant_a.member(Role.OWNER)
    with tenant_context(tenant_a.organization):
        team = TeamFactory()
        version = published_survey()
        causes = [root_cause_factory() for _ in range(3)]
        cases = [case_factory(version=version, owner=worker, team=team) for _ in range(6)]
        for case in cases:
            for cause in causes:
                CaseRootCause.objects.create(case=case, root_cause=cause)
        for _ in range(4):
            case_message_factory(case=cases[0])
        case_follow_up_factory(case=cases[0])
    # On PostgreSQL every API request adds 6: the savepoints and row-level security
    # settings of the key look-up and of the organization's context.
    rls = 6 if connection.vendor == "postgresql" else 0
    # Key look-up and its last use, the page, the root causes.
    with django_assert_max_num_queries(6 + rls):
        assert len(call(tenant_a, "get", "").json()["results"]) == 6
    # Key, the case with its relations, root causes, timeline, messages.
    with django_assert_max_num_queries(7 + rls):
        body = call(tenant_a, "get", f"{cases[0].number}/").json()
    assert len(body["messages"]) == 4
    assert len(body["root_causes"]) == 3
