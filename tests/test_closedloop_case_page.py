"""The case page through the HTTP client: what it shows, every action (each writes the
timeline), errors as messages, the "customer replied" flag and notifications."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from closedloop.models import (
    Case,
    CaseEvent,
    CaseEventKind,
    CaseStatus,
    Notification,
    Priority,
    RootCause,
)
from closedloop.services.routing import response_route
from tenants.context import tenant_context
from tenants.models import Role
from tests.conftest import Tenant
from tests.factories import (
    ContactFactory,
    TeamFactory,
    TeamMemberFactory,
    case_factory,
    response_factory,
)

pytestmark = pytest.mark.django_db


def make_case(tenant: Tenant, **fields: Any) -> Case:
    with tenant_context(tenant.organization):
        return case_factory(**fields)


def case_page(client: Client, tenant: Tenant, case: Case) -> str:
    page = client.get(tenant.url(f"cases/{case.number}/"))
    assert page.status_code == 200
    return str(page.content.decode())


def act(client: Client, tenant: Tenant, case: Case, action: str, data: dict[str, Any]) -> str:
    """POST an action; it redirects back to the case page, which shows the message."""
    response = client.post(tenant.url(f"cases/{case.number}/{action}/"), data)
    assert response.status_code == 302, response.status_code
    assert response["Location"] == tenant.url(f"cases/{case.number}/")
    return case_page(client, tenant, case)


def reload(tenant: Tenant, case: Case) -> Case:
    with tenant_context(tenant.organization):
        return Case.objects.get(pk=case.pk)


def events(tenant: Tenant, case: Case) -> list[CaseEvent]:
    with tenant_context(tenant.organization):
        return list(CaseEvent.objects.filter(case=case).order_by("created_at", "id"))


def owner_options(body: str) -> dict[int, str]:
    """The people the assign form offers (value -> label)."""
    select = re.search(r'<select name="owner".*?</select>', body, re.S)
    assert select, "the page has an assign form"
    return {
        int(value): label
        for value, label in re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', select[0])
    }


def timeline(body: str) -> list[str]:
    """The kinds of the timeline entries as shown, oldest first."""
    return re.findall(r'<li class="timeline-item timeline-(\w+)">', body)


# --- What the page shows -------------------------------------------------------------------


def test_the_page_shows_the_feedback_the_customer_and_the_history(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        contact: Any = ContactFactory(
            first_name="Maria", last_name="Muster", attributes={"tier": "gold"}
        )
        earlier_case = case_factory(
            contact=contact,
            status=CaseStatus.CLOSED,
            resolution_summary="Refunded",
            answers={"recommend": 4, "recommend-reason": "Broken lid"},
        )
        earlier_response = response_factory(
            contact=contact, answers={"recommend": 8, "recommend-reason": "Decent service"}
        )
        case = case_factory(
            contact=contact, answers={"recommend": 2, "recommend-reason": "Parcel was late"}
        )
        further = response_factory(
            contact=contact, answers={"recommend": 1, "recommend-reason": "Still no parcel"}
        )
        response_route(response=further)
        contact.attributes = {"tier": "platinum"}
        contact.save()
    body = case_page(tenant_a.client, tenant_a, case)

    assert f"Case {case.number}: NPS 2 at" in body
    assert "How likely are you to recommend us to a friend or colleague?" in body
    assert "What should we improve?" in body  # the detractor's follow-up question
    assert "Parcel was late" in body
    assert "Still no parcel" in body  # further feedback joined to the case
    assert "Maria Muster" in body
    assert "gold" in body  # CRM attributes when answering
    assert "platinum" in body  # and now
    assert f'href="{tenant_a.url(f"cases/{earlier_case.number}/")}"' in body
    assert f'href="{tenant_a.url(f"responses/{earlier_response.pk}/")}"' in body
    assert "Decent service" in body
    assert "Broken lid" in body  # the earlier case's response is an earlier response too
    assert timeline(body) == ["opened", "response_joined"]
    assert "Reply to the customer" in body
    assert 'id="case-sla"' in body
    assert "due in 23 h 59 min" in body or "due in 1 d" in body


def test_the_timeline_names_the_actor_in_local_time(tenant_a: Tenant) -> None:
    moment = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)  # 12:00 in Berlin (summer time)
    with time_machine.travel(moment, tick=False):
        case = make_case(tenant_a, owner=tenant_a.admin)
        act(tenant_a.client, tenant_a, case, "note", {"text": "Called the depot"})
    body = case_page(tenant_a.client, tenant_a, case)
    entry = re.search(r'<li class="timeline-item timeline-note">.*?</li>', body, re.S)
    assert entry
    assert tenant_a.admin.first_name in entry.group(0)
    assert "Called the depot" in entry.group(0)
    assert 'datetime="2026-07-01T12:00:00+02:00"' in entry.group(0)
    assert "July 1, 2026, noon" in entry.group(0)


def test_an_earlier_case_the_owner_may_not_see_is_listed_without_a_link(
    tenant_a: Tenant,
) -> None:
    owner = tenant_a.member(Role.OWNER)
    with tenant_context(tenant_a.organization):
        contact: Any = ContactFactory()
        elsewhere: Any = TeamFactory(name="Elsewhere")
        hidden = case_factory(contact=contact, team=elsewhere, status=CaseStatus.CLOSED)
        case = case_factory(contact=contact, owner=owner)
    body = case_page(tenant_a.client_for(owner), tenant_a, case)
    assert f"#{hidden.number} {hidden.title}" in body
    assert tenant_a.url(f"cases/{hidden.number}/") not in body


# --- Status --------------------------------------------------------------------------------


def test_status_buttons_follow_the_transition_table(tenant_a: Tenant) -> None:
    case = make_case(tenant_a, owner=tenant_a.admin)
    body = case_page(tenant_a.client, tenant_a, case)
    for status, label in (
        ("in_progress", "Start working"),
        ("waiting", "Wait for the customer"),
        ("resolved", "Resolve"),
        ("closed", "Close"),
    ):
        assert f'name="to_status" value="{status}" class="button' in body
        assert f">{label}</button>" in body
    assert "Send the follow-up survey" in body

    body = act(tenant_a.client, tenant_a, case, "status", {"to_status": "in_progress"})
    assert "The case is now “In progress”." in body
    assert 'value="in_progress"' not in body
    body = act(tenant_a.client, tenant_a, case, "status", {"to_status": "waiting"})
    assert "The case is now “Waiting on customer”." in body
    assert "SLA paused" in body
    assert reload(tenant_a, case).paused_at is not None
    status_events = [e for e in events(tenant_a, case) if e.kind == CaseEventKind.STATUS]
    assert [(e.data["from"], e.data["to"]) for e in status_events] == [
        ("new", "in_progress"),
        ("in_progress", "waiting"),
    ]
    assert all(e.actor_id == tenant_a.admin.pk for e in status_events)
    assert "In progress → Waiting on customer" in body


def test_an_invalid_transition_is_an_error_and_changes_nothing(tenant_a: Tenant) -> None:
    case = make_case(tenant_a, status=CaseStatus.CLOSED, resolution_summary="Refunded")
    before = len(events(tenant_a, case))
    body = act(tenant_a.client, tenant_a, case, "status", {"to_status": "waiting"})
    assert "A case that is “Closed” cannot become “Waiting on customer”." in body
    assert 'class="message message-error"' in body
    assert reload(tenant_a, case).status == CaseStatus.CLOSED
    assert len(events(tenant_a, case)) == before
    body = act(tenant_a.client, tenant_a, case, "status", {"to_status": "sideways"})
    assert "Select a valid choice" in body
    assert ">Reopen</button>" in body


def test_resolving_needs_a_summary(tenant_a: Tenant) -> None:
    case = make_case(tenant_a, owner=tenant_a.admin)
    body = act(
        tenant_a.client,
        tenant_a,
        case,
        "status",
        {"to_status": "resolved", "resolution_summary": "  "},
    )
    assert "Describe how the case was resolved." in body
    assert reload(tenant_a, case).status == CaseStatus.NEW

    body = act(
        tenant_a.client,
        tenant_a,
        case,
        "status",
        {"to_status": "resolved", "resolution_summary": "Sent a new parcel"},
    )
    assert "The case is now “Resolved”." in body
    case = reload(tenant_a, case)
    assert case.status == CaseStatus.RESOLVED
    assert case.resolution_summary == "Sent a new parcel"
    assert case.resolved_at is not None
    assert timeline(body)[-1] == "status"
    assert "Sent a new parcel" in body
    kinds = [e.kind for e in events(tenant_a, case)]
    assert CaseEventKind.FOLLOW_UP_SENT not in kinds  # not asked for


def test_resolving_may_send_the_follow_up_survey(tenant_a: Tenant) -> None:
    case = make_case(tenant_a, owner=tenant_a.admin)
    act(
        tenant_a.client,
        tenant_a,
        case,
        "status",
        {"to_status": "resolved", "resolution_summary": "Refunded", "send_follow_up": "on"},
    )
    assert reload(tenant_a, case).status == CaseStatus.RESOLVED
    # Sent, or a note saying why it could not be (no consent, no address): either way
    # the follow-up was asked for.
    assert any(
        e.kind == CaseEventKind.FOLLOW_UP_SENT or e.data.get("follow_up") == "not_sent"
        for e in events(tenant_a, case)
    )


# --- Notes, contact attempts, root causes, priority ------------------------------------------


def test_notes_and_contact_attempts(tenant_a: Tenant) -> None:
    case = make_case(tenant_a, owner=tenant_a.admin)
    body = act(tenant_a.client, tenant_a, case, "note", {"text": "Customer is a VIP"})
    assert "Note added." in body
    body = act(tenant_a.client, tenant_a, case, "note", {"text": ""})
    assert "Write a note." in body

    body = act(
        tenant_a.client,
        tenant_a,
        case,
        "contact-attempt",
        {"method": "phone", "outcome": "no_answer", "text": "Rang twice"},
    )
    assert "Contact attempt logged." in body
    assert "Phone call: No answer" in body
    assert "Rang twice" in body
    case = reload(tenant_a, case)
    assert case.first_responded_at is not None  # any attempt is the first contact
    assert case.status == CaseStatus.IN_PROGRESS
    body = act(
        tenant_a.client, tenant_a, case, "contact-attempt", {"method": "fax", "outcome": "x"}
    )
    assert "Select a valid choice" in body
    # The first contact started the case: its status change is on the timeline too.
    assert timeline(body) == ["opened", "note", "status", "contact_attempt"]


def test_root_causes_and_priority(tenant_a: Tenant) -> None:
    case = make_case(tenant_a, owner=tenant_a.admin)
    with tenant_context(tenant_a.organization):
        delivery = RootCause.objects.get(name="Delivery")
        billing = RootCause.objects.get(name="Billing")
        retired = RootCause.objects.create(name="Retired cause", active=False)
    body = case_page(tenant_a.client, tenant_a, case)
    assert "Delivery" in body
    assert "Retired cause" not in body
    body = act(
        tenant_a.client, tenant_a, case, "root-causes", {"root_causes": [delivery.pk, billing.pk]}
    )
    assert "Root causes saved." in body
    assert "Billing, Delivery" in body  # the timeline entry
    with tenant_context(tenant_a.organization):
        assert set(reload(tenant_a, case).root_causes.values_list("name", flat=True)) == {
            "Delivery",
            "Billing",
        }
    body = act(tenant_a.client, tenant_a, case, "root-causes", {"root_causes": [retired.pk]})
    assert "Select a valid choice" in body

    body = act(
        tenant_a.client,
        tenant_a,
        case,
        "priority",
        {"priority": Priority.URGENT, "reason": "Key account"},
    )
    assert "Priority: Urgent." in body
    assert "High → Urgent" in body
    assert reload(tenant_a, case).priority == Priority.URGENT
    assert timeline(body)[-2:] == ["root_causes", "priority"]


# --- Assignment ----------------------------------------------------------------------------


def test_a_manager_assigns_to_anybody_and_to_a_team(tenant_a: Tenant) -> None:
    owner = tenant_a.member(Role.OWNER, first_name="Otto", last_name="Owner")
    viewer = tenant_a.member(Role.VIEWER)
    with tenant_context(tenant_a.organization):
        team: Any = TeamFactory(name="Care")
    case = make_case(tenant_a)
    manager = tenant_a.client_for(tenant_a.member(Role.CX_MANAGER))
    body = case_page(manager, tenant_a, case)
    options = owner_options(body)
    assert options[owner.pk] == "Otto Owner"
    assert viewer.pk not in options  # viewers do not work cases

    body = act(manager, tenant_a, case, "assign", {"owner": owner.pk, "team": team.pk})
    assert "Case assigned to Otto Owner." in body
    assert "Owner: Otto Owner, team: Care" in body
    case = reload(tenant_a, case)
    assert (case.owner_id, case.team_id) == (owner.pk, team.pk)
    with tenant_context(tenant_a.organization):
        assert Notification.objects.filter(user=owner, case=case).exists()
    body = act(manager, tenant_a, case, "assign", {"owner": viewer.pk})
    assert "Select a valid choice" in body
    body = act(manager, tenant_a, case, "assign", {"owner": ""})
    assert "The case has no owner now." in body
    assert reload(tenant_a, case).owner_id is None


def test_a_team_lead_assigns_the_team_cases_to_its_members(tenant_a: Tenant) -> None:
    lead = tenant_a.member(Role.OWNER, first_name="Lea")
    member = tenant_a.member(Role.OWNER, first_name="Max", last_name="Member")
    outsider = tenant_a.member(Role.OWNER, first_name="Olaf")
    with tenant_context(tenant_a.organization):
        team: Any = TeamFactory(name="Shop", lead=lead)
        TeamMemberFactory(team=team, user=member)
    case = make_case(tenant_a, team=team)
    loose = make_case(tenant_a)
    client = tenant_a.client_for(lead)
    body = case_page(client, tenant_a, case)
    assert owner_options(body) == {lead.pk: "Lea", member.pk: "Max Member"}
    assert outsider.pk not in owner_options(body)
    body = act(client, tenant_a, case, "assign", {"owner": member.pk})
    assert "Case assigned to Max Member." in body
    assert reload(tenant_a, case).owner_id == member.pk
    # A case without a team is not the lead's to give away.
    assert 'id="assign-heading"' not in case_page(client, tenant_a, loose)
    response = client.post(tenant_a.url(f"cases/{loose.number}/assign/"), {"owner": member.pk})
    assert response.status_code == 403


def test_a_plain_owner_may_not_assign_but_may_take_an_unassigned_case(tenant_a: Tenant) -> None:
    owner = tenant_a.member(Role.OWNER)
    other = tenant_a.member(Role.OWNER)
    case = make_case(tenant_a)
    client = tenant_a.client_for(owner)
    body = case_page(client, tenant_a, case)
    assert 'id="assign-heading"' not in body
    assert ">Assign to me</button>" in body
    response = client.post(tenant_a.url(f"cases/{case.number}/assign/"), {"owner": other.pk})
    assert response.status_code == 403
    assert reload(tenant_a, case).owner_id is None

    body = act(client, tenant_a, case, "take", {})
    assert "The case is yours now." in body
    assert reload(tenant_a, case).owner_id == owner.pk
    assert ">Assign to me</button>" not in body


def test_a_taken_case_cannot_be_taken_again(tenant_a: Tenant) -> None:
    first = tenant_a.member(Role.OWNER)
    second = tenant_a.member(Role.OWNER)
    case = make_case(tenant_a)
    page_of_second = case_page(tenant_a.client_for(second), tenant_a, case)
    assert ">Assign to me</button>" in page_of_second
    act(tenant_a.client_for(first), tenant_a, case, "take", {})
    # The second owner still has the old page open and presses the button: the case
    # is no longer visible to them (it is the first owner's now).
    response = tenant_a.client_for(second).post(tenant_a.url(f"cases/{case.number}/take/"))
    assert response.status_code == 404
    # A manager who sees every case is told instead.
    manager = tenant_a.client_for(tenant_a.member(Role.CX_MANAGER))
    body = act(manager, tenant_a, case, "take", {})
    assert "This case already has an owner." in body
    assert reload(tenant_a, case).owner_id == first.pk


# --- Visibility, flags, notifications ------------------------------------------------------


def test_actions_on_a_case_the_user_may_not_see_are_404(tenant_a: Tenant) -> None:
    owner = tenant_a.member(Role.OWNER)
    with tenant_context(tenant_a.organization):
        team: Any = TeamFactory()
    hidden = make_case(tenant_a, team=team)
    client = tenant_a.client_for(owner)
    for action in ("status", "note", "contact-attempt", "root-causes", "priority", "take"):
        response = client.post(tenant_a.url(f"cases/{hidden.number}/{action}/"), {"text": "x"})
        assert response.status_code == 404, action
    assert client.get(tenant_a.url(f"cases/{hidden.number}/")).status_code == 404
    assert tenant_a.client.get(tenant_a.url("cases/999999/")).status_code == 404
    assert len(events(tenant_a, hidden)) == 1


def test_opening_the_case_clears_the_reply_flag_for_the_owner_only(tenant_a: Tenant) -> None:
    owner = tenant_a.member(Role.OWNER)
    case = make_case(tenant_a, owner=owner, customer_replied_at=datetime.now(UTC))
    body = case_page(tenant_a.client, tenant_a, case)  # an admin looks: the flag stays
    assert "Customer replied" in body
    assert reload(tenant_a, case).customer_replied_at is not None
    case_page(tenant_a.client_for(owner), tenant_a, case)
    assert reload(tenant_a, case).customer_replied_at is None


def test_notifications_page_and_reading(tenant_a: Tenant) -> None:
    owner = tenant_a.member(Role.OWNER)
    first = make_case(tenant_a)
    second = make_case(tenant_a)
    with tenant_context(tenant_a.organization):
        old = Notification.objects.create(
            user=owner,
            case=first,
            kind="case_assigned",
            title="Case 1 is yours",
            created_at=datetime.now(UTC) - timedelta(hours=1),
        )
        new = Notification.objects.create(
            user=owner, case=second, kind="case_feedback", title="New feedback", body="Hm"
        )
        plain = Notification.objects.create(user=owner, kind="digest", title="Weekly digest")
        Notification.objects.create(user=tenant_a.admin, case=first, kind="x", title="Not yours")
    client = tenant_a.client_for(owner)
    # Assigned to the owner so that they may open it.
    with tenant_context(tenant_a.organization):
        Case.objects.filter(pk__in=[first.pk, second.pk]).update(owner=owner)

    page = client.get(tenant_a.url("cases/notifications/"))
    body = page.content.decode()
    shown = [int(pk) for pk in re.findall(r'id="notification-(\d+)"', body)]
    assert shown == [plain.pk, new.pk, old.pk]
    assert "Not yours" not in body
    assert body.count("notification-unread") == 3
    assert f'href="{tenant_a.url(f"cases/{first.number}/")}"' in body
    assert "3 unread" in body

    case_page(client, tenant_a, first)  # opening the case reads its notifications
    body = client.get(tenant_a.url("cases/notifications/")).content.decode()
    assert body.count("notification-unread") == 2
    with tenant_context(tenant_a.organization):
        assert Notification.objects.get(pk=old.pk).read_at is not None
        assert Notification.objects.get(user=tenant_a.admin).read_at is None

    response = client.post(tenant_a.url("cases/notifications/read/"), follow=True)
    body = response.content.decode()
    assert "2 notifications marked as read." in body
    assert "notification-unread" not in body
    assert ">Mark all as read</button>" not in body


def test_the_case_page_reads_a_fixed_number_of_queries(
    tenant_a: Tenant, django_assert_max_num_queries: Any
) -> None:
    with tenant_context(tenant_a.organization):
        contact: Any = ContactFactory()
        case = case_factory(contact=contact, owner=tenant_a.admin)
    case_page(tenant_a.client, tenant_a, case)
    for index in range(5):
        act(tenant_a.client, tenant_a, case, "note", {"text": f"Note {index}"})
    with tenant_context(tenant_a.organization):
        for _ in range(3):
            response_route(response=response_factory(contact=contact, answers={"recommend": 3}))
    with CaptureQueriesContext(connection) as few:
        case_page(tenant_a.client, tenant_a, case)
    baseline = len(few)  # read now: every request resets the connection's query log
    with tenant_context(tenant_a.organization):
        for _ in range(5):
            response_route(response=response_factory(contact=contact, answers={"recommend": 3}))
    attempt = {"method": "email", "outcome": "reached"}
    for _ in range(5):
        act(tenant_a.client, tenant_a, case, "contact-attempt", attempt)
    with django_assert_max_num_queries(baseline):
        case_page(tenant_a.client, tenant_a, case)
