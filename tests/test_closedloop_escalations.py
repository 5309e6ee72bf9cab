"""The escalation ladder: each point fires once, in order, whatever the sweeps do (run
often, restarted, or two at once on PostgreSQL)."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone

from closedloop.models import (
    Case,
    CaseEscalation,
    CaseEvent,
    CaseEventKind,
    CaseResponse,
    CaseStatus,
    EscalationAction,
    EscalationStep,
    Notification,
    SlaPolicy,
)
from closedloop.services.cases import case_contact_attempt_log, case_transition
from closedloop.services.escalations import escalation_sweep
from closedloop.services.notifications import notification_email_due
from closedloop.tasks import escalation_sweep_task
from tenants.context import tenant_context
from tenants.models import Organization, Role, Team, TeamMember
from tenants.services import SYSTEM, Actor
from tests.conftest import Tenant, is_postgres
from tests.factories import TouchpointFactory, UserFactory, case_factory, published_survey

START = datetime(2026, 5, 11, 8, 0, tzinfo=UTC)
Capture = Callable[..., AbstractContextManager[Any]]


@dataclass
class Setup:
    case: Case
    owner: Any
    lead: Any
    managers: set[int]
    policy: SlaPolicy

    def step(self, target: str, *, at_percent: int | None = None, after: int | None = None) -> str:
        step = EscalationStep.objects.get(
            policy=self.policy, target=target, at_percent=at_percent, after_due_minutes=after
        )
        return f"step:{step.pk}"


def _build(tenant: Tenant) -> Setup:
    """A detractor's case at START, owned by a member of the touchpoint's team."""
    owner = tenant.member(Role.OWNER, email="owner@alpha.example")
    lead = tenant.member(Role.OWNER, email="lead@alpha.example")
    cx = tenant.member(Role.CX_MANAGER, email="cx@alpha.example")
    team = Team.objects.create(name="Customer care", lead=lead)
    TeamMember.objects.create(team=team, user=owner)
    version = published_survey(touchpoint=TouchpointFactory(team=team))
    with time_machine.travel(START, tick=False):
        case = case_factory(version=version)
    assert case.owner_id == owner.pk
    assert case.sla_policy is not None
    return Setup(case, owner, lead, {tenant.admin.pk, cx.pk}, case.sla_policy)


@pytest.fixture
def setup(tenant_a: Tenant) -> Iterator[Setup]:
    with tenant_context(tenant_a.organization):
        yield _build(tenant_a)


def sweep(hours: float, *, runs: int = 3) -> int:
    """Run the beat's sweep ``runs`` times at START + hours; what the first run fired
    (the later runs must fire nothing)."""
    with time_machine.travel(START + timedelta(hours=hours), tick=False):
        fired = [escalation_sweep_task() for _ in range(runs)]
    assert fired[1:] == [0] * (runs - 1)
    return fired[0]


def fired_keys() -> list[str]:
    return list(CaseEscalation.objects.order_by("fired_at", "id").values_list("key", flat=True))


def escalation_notices() -> list[tuple[str, int]]:
    return list(
        Notification.objects.filter(kind__startswith="escalation_")
        .order_by("id")
        .values_list("kind", "user_id")
    )


def test_the_default_ladder_fires_in_order_and_each_point_once(setup: Setup) -> None:
    first, resolution = "first_response", "resolution"
    expected = [
        (17.9, []),
        (18, [setup.step(first, at_percent=75)]),
        (23.9, []),
        (24, ["breach:first_response", setup.step(first, at_percent=100)]),
        (36, [setup.step(resolution, at_percent=75)]),
        (48, ["breach:resolution", setup.step(resolution, at_percent=100)]),
        (71.9, []),
        (72, [setup.step(resolution, after=24 * 60)]),
        (500, []),
    ]
    keys: list[str] = []
    for hours, new in expected:
        assert sweep(hours) == len(new), hours
        keys += new
        assert fired_keys() == keys

    case = Case.objects.get(pk=setup.case.pk)
    assert case.first_response_breached_at == START + timedelta(hours=24)
    assert case.resolution_breached_at == START + timedelta(hours=48)
    assert case.next_escalation_at is None
    timeline = list(
        CaseEvent.objects.filter(case=case, actor_label="SLA").values_list("kind", "data")
    )
    assert [kind for kind, _data in timeline] == [
        CaseEventKind.ESCALATION,
        CaseEventKind.SLA_BREACHED,
        CaseEventKind.ESCALATION,
        CaseEventKind.ESCALATION,
        CaseEventKind.SLA_BREACHED,
        CaseEventKind.ESCALATION,
        CaseEventKind.ESCALATION,
    ]
    # The due time in the text is the organization's local time (Europe/Berlin).
    breach = CaseEvent.objects.filter(case=case, kind=CaseEventKind.SLA_BREACHED).first()
    assert breach is not None
    assert breach.text == "First contact target missed (due 2026-05-12 10:00)."
    owner, lead = setup.owner.pk, setup.lead.pk
    notices = escalation_notices()
    assert notices[:4] == [
        ("escalation_remind_owner", owner),
        ("escalation_notify_team_lead", lead),
        ("escalation_remind_owner", owner),
        ("escalation_notify_team_lead", lead),
    ]
    assert {user for kind, user in notices[4:]} == setup.managers
    assert {kind for kind, user in notices[4:]} == {"escalation_notify_managers"}


def test_next_escalation_at_walks_the_ladder(setup: Setup) -> None:
    walk = [(0, 18), (18, 24), (24, 36), (36, 48), (48, 72)]
    for now, following in walk:
        sweep(now, runs=1)
        case = Case.objects.get(pk=setup.case.pk)
        assert case.next_escalation_at == START + timedelta(hours=following)


def test_a_restarted_sweep_fires_nothing_twice(setup: Setup) -> None:
    assert sweep(50) == 6  # everything up to the resolution breach, at once
    before = (CaseEvent.objects.count(), Notification.objects.count())
    # A beat that starts again finds the cases with a stale next_escalation_at (as if a
    # sweep had died before moving it on): the fired points are in the database.
    Case.objects.filter(pk=setup.case.pk).update(next_escalation_at=START)
    assert sweep(50) == 0
    assert (CaseEvent.objects.count(), Notification.objects.count()) == before
    assert Case.objects.get(pk=setup.case.pk).next_escalation_at == START + timedelta(hours=72)
    assert sweep(72) == 1


def test_first_contact_before_75_percent_stops_the_first_contact_steps(setup: Setup) -> None:
    with time_machine.travel(START + timedelta(hours=10), tick=False):
        case_contact_attempt_log(
            case=setup.case, actor=Actor.of_user(setup.owner), method="phone", outcome="reached"
        )
    case = Case.objects.get(pk=setup.case.pk)
    assert case.status == CaseStatus.IN_PROGRESS
    assert case.next_escalation_at == START + timedelta(hours=36)
    assert sweep(100) == 4
    assert set(fired_keys()) == {
        setup.step("resolution", at_percent=75),
        "breach:resolution",
        setup.step("resolution", at_percent=100),
        setup.step("resolution", after=24 * 60),
    }
    assert Case.objects.get(pk=setup.case.pk).first_response_breached_at is None


def test_a_resolved_case_escalates_no_more(setup: Setup) -> None:
    assert sweep(25) == 3
    with time_machine.travel(START + timedelta(hours=30), tick=False):
        case_transition(
            case=setup.case,
            to_status=CaseStatus.RESOLVED,
            actor=SYSTEM,
            resolution_summary="Replaced the parcel",
        )
    assert Case.objects.get(pk=setup.case.pk).next_escalation_at is None
    assert sweep(500) == 0
    assert len(fired_keys()) == 3


def test_reassign_to_the_team_lead(setup: Setup) -> None:
    EscalationStep.objects.create(
        policy=setup.policy,
        target="resolution",
        after_due_minutes=60,
        action=EscalationAction.REASSIGN_TEAM_LEAD,
    )
    sweep(48.5)
    assert Case.objects.get(pk=setup.case.pk).owner_id == setup.owner.pk
    sweep(49)
    case = Case.objects.get(pk=setup.case.pk)
    assert case.owner_id == setup.lead.pk
    assigned = CaseEvent.objects.filter(case=case, kind=CaseEventKind.ASSIGNED).last()
    assert assigned is not None
    assert assigned.actor_label == "SLA"
    assert assigned.data["from"]["owner"] == setup.owner.pk
    assert assigned.data["to"]["owner"] == setup.lead.pk
    assert escalation_notices()[-1] == ("escalation_reassign_team_lead", setup.lead.pk)
    # The managers' step 24 h after the due time still comes, once.
    assert sweep(72) == 1


def test_notification_emails_go_out_once(
    setup: Setup, django_capture_on_commit_callbacks: Capture
) -> None:
    mail.outbox.clear()
    for hours in (18, 18, 24):
        with django_capture_on_commit_callbacks(execute=True):
            sweep(hours, runs=1)
    # A sweep whose email task never ran (a broker outage): the beat sends them later.
    sweep(36, runs=1)
    assert [m.to for m in mail.outbox] == [["owner@alpha.example"], ["lead@alpha.example"]]
    assert "Reminder: case #1 is due soon (First contact)" in mail.outbox[0].subject
    assert "missed its First contact target" in mail.outbox[1].subject
    assert f"/cases/{setup.case.number}/" in mail.outbox[0].body

    with time_machine.travel(START + timedelta(hours=37), tick=False):
        assert notification_email_due() == 2  # the assignment at routing, the reminder
        assert notification_email_due() == 0
    assert len(mail.outbox) == 4
    assert not Notification.objects.filter(email_pending=True).exists()


def test_the_database_refuses_a_second_escalation_of_a_point(setup: Setup) -> None:
    CaseEscalation.objects.create(case=setup.case, key="breach:resolution")
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseEscalation.objects.create(case=setup.case, key="breach:resolution")
    assert CaseEscalation.objects.count() == 1


# --- Two sweeps at once (PostgreSQL) ---------------------------------------------------

CASES = 200
POINTS_PER_CASE = 7  # two breaches and the five steps of the detractors' ladder


def _clone(template: Case, count: int) -> None:
    """More open cases like ``template`` (same response, clock and owner; no contact)."""
    fields = [
        "title",
        "priority",
        "impact",
        "response_id",
        "touchpoint_id",
        "journey_id",
        "rule_id",
        "sla_policy_id",
        "owner_id",
        "team_id",
        "created_at",
        "updated_at",
        "first_response_due_at",
        "resolution_due_at",
        "next_escalation_at",
    ]
    Case.objects.bulk_create(
        [
            Case(number=template.number + n, **{f: getattr(template, f) for f in fields})
            for n in range(1, count + 1)
        ]
    )


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_fire_each_point_once(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not is_postgres():
        pytest.skip("FOR UPDATE SKIP LOCKED needs PostgreSQL; SQLite serializes writers")
    # Workers send the notification emails and dispatch the timeline's outbox events;
    # they are not the point here (and would run eagerly, in the sweeps' threads).
    monkeypatch.setattr("closedloop.services.notifications._schedule_emails", lambda *a: None)
    monkeypatch.setattr("responses.services.submit._schedule_dispatch", lambda *a: None)
    with tenant_context(tenant_a.organization):
        setup = _build(tenant_a)
        _clone(setup.case, CASES - 1)
        assert Case.objects.filter(next_escalation_at__isnull=False).count() == CASES

    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def sweeper() -> None:
        try:
            barrier.wait()
            results.append(escalation_sweep(now=START + timedelta(hours=100), batch=25))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(results) == CASES * POINTS_PER_CASE

    with tenant_context(tenant_a.organization):
        assert CaseEscalation.objects.count() == CASES * POINTS_PER_CASE
        per_case = set(
            CaseEscalation.objects.values_list("case_id", flat=True).distinct().order_by()
        )
        assert len(per_case) == CASES
        events = CaseEvent.objects.filter(actor_label="SLA")
        assert events.filter(kind=CaseEventKind.SLA_BREACHED).count() == CASES * 2
        assert events.filter(kind=CaseEventKind.ESCALATION).count() == CASES * 5
        assert not Case.objects.filter(next_escalation_at__isnull=False).exists()
    # And once more: nothing left.
    assert escalation_sweep(now=START + timedelta(hours=100)) == 0


def test_staff_look_at_cases_and_escalations_in_the_admin_read_only(setup: Setup) -> None:
    sweep(25)
    root: Any = UserFactory(username="root@example.com", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    number = setup.case.number
    for path, text in [
        ("/admin/closedloop/case/", setup.case.title),
        ("/admin/closedloop/case/?q=Parcel", ""),
        (f"/admin/closedloop/case/?q={number}", setup.case.title),
        ("/admin/closedloop/caseescalation/", "breach:first_response"),
        ("/admin/closedloop/caseevent/?kind=sla_breached", "SLA"),
        ("/admin/closedloop/notification/", "Reminder: case #1"),
        ("/admin/closedloop/routingrule/", "Detractors"),
        ("/admin/closedloop/slapolicy/", "Detractors: contact in 24 h"),
        ("/admin/closedloop/escalationstep/", "Notify the managers"),
    ]:
        page = client.get(path)
        assert page.status_code == 200, path
        assert text in page.content.decode(), path
    change = client.get(f"/admin/closedloop/case/{setup.case.pk}/change/")
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()
    assert client.get("/admin/closedloop/case/add/").status_code == 403


# --- The demo ---------------------------------------------------------------------------


@pytest.mark.slow
def test_the_demo_shows_live_cases_with_running_clocks_and_escalations(db: None) -> None:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "Case inbox: http://" in out.getvalue()
    demo = Organization.objects.get(slug="demo")
    with tenant_context(demo):
        statuses = set(Case.objects.values_list("status", flat=True))
        counts = (Case.objects.count(), CaseEvent.objects.count(), CaseResponse.objects.count())
        keys = set(CaseEscalation.objects.values_list("key", flat=True))
        running = Case.objects.filter(
            status="new", next_escalation_at__gt=timezone.now(), first_responded_at=None
        ).exists()
        managers_notified = Notification.objects.filter(kind="escalation_notify_managers").exists()
        recovered = set(Case.objects.exclude(recovered=None).values_list("recovered", flat=True))
        replied = Case.objects.exclude(customer_replied_at=None).exists()
        inboxes = set(
            Case.objects.filter(status__in=["new", "in_progress", "waiting"]).values_list(
                "team__name", flat=True
            )
        )
    assert statuses == {"new", "in_progress", "waiting", "resolved", "closed"}
    assert {"breach:first_response", "breach:resolution"} <= keys
    assert running
    assert managers_notified
    assert recovered == {True, False}
    assert replied
    assert {"Customer care", "Call centre", "Online shop"} <= inboxes

    call_command("seed_demo", stdout=io.StringIO())  # again: nothing new
    with tenant_context(demo):
        again = (Case.objects.count(), CaseEvent.objects.count(), CaseResponse.objects.count())
    assert again == counts
    owner = Client()
    owner.force_login(get_user_model().objects.get(username="owner@demo.example"))
    assert owner.get("/o/demo/cases/").status_code == 200
