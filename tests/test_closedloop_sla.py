"""The SLA clock: working time around the clock and in business hours (a DST change, a
holiday), and the pause while a case waits on the customer."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from closedloop.models import Case, CaseEscalation, CaseStatus, SlaPolicy
from closedloop.services.cases import case_transition
from closedloop.sla import Calendar
from closedloop.tasks import escalation_sweep_task
from tenants.context import tenant_context
from tenants.services import SYSTEM
from tests.conftest import Tenant
from tests.factories import business_hours_factory, case_factory

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
OFFICE = Calendar.business(
    timezone="Europe/Berlin",
    weekdays=[1, 2, 3, 4, 5],
    opens_at=time(9),
    closes_at=time(17),
    holidays=[date(2026, 12, 24), date(2026, 12, 25)],
)


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def local(instant: datetime) -> datetime:
    return instant.astimezone(BERLIN)


# --- Calendar ------------------------------------------------------------------------


def test_around_the_clock_counts_every_minute() -> None:
    always = Calendar.always()
    start = datetime(2026, 5, 16, 22, 15, tzinfo=UTC)  # a Saturday night
    assert always.add_working(start, 90) == start + timedelta(minutes=90)
    assert always.working_minutes_between(start, start + timedelta(hours=30)) == 30 * 60
    assert always.working_minutes_between(start, start - timedelta(hours=1)) == 0


def test_friday_afternoon_with_two_working_hours_is_due_monday_morning() -> None:
    due = OFFICE.add_working(berlin(2026, 5, 15, 16, 0), 120)
    assert due == berlin(2026, 5, 18, 10, 0)
    assert due == datetime(2026, 5, 18, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("friday", "monday_utc"),
    [
        # Summer time begins on Sunday 2026-03-29: CET (+1) before, CEST (+2) after.
        (berlin(2026, 3, 27, 16, 30), datetime(2026, 3, 30, 7, 30, tzinfo=UTC)),
        # Summer time ends on Sunday 2026-10-25: CEST (+2) before, CET (+1) after.
        (berlin(2026, 10, 23, 16, 30), datetime(2026, 10, 26, 8, 30, tzinfo=UTC)),
    ],
)
def test_across_a_dst_change_monday_still_opens_at_nine_local_time(
    friday: datetime, monday_utc: datetime
) -> None:
    due = OFFICE.add_working(friday, 60)
    assert due == monday_utc
    assert local(due).time() == time(9, 30)
    assert OFFICE.working_minutes_between(friday, due) == 60


@pytest.mark.parametrize(
    ("start", "wall_clock"),
    [(berlin(2026, 3, 28, 12, 0), time(13)), (berlin(2026, 10, 24, 12, 0), time(11))],
    ids=["spring", "autumn"],
)
def test_around_the_clock_24_hours_across_a_dst_change_are_24_hours(
    start: datetime, wall_clock: time
) -> None:
    always = Calendar.always()
    due = always.add_working(start, 24 * 60)
    assert due.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=24)
    # The wall clock moved by 25 or 23 hours; the budget is real time.
    assert local(due).time() == wall_clock
    assert always.working_minutes_between(start, local(due)) == 24 * 60


def test_holidays_are_skipped() -> None:
    # Wednesday before Christmas; Thursday and Friday are holidays.
    due = OFFICE.add_working(berlin(2026, 12, 23, 16, 0), 120)
    assert due == berlin(2026, 12, 28, 10, 0)
    assert OFFICE.working_minutes_between(berlin(2026, 12, 23, 9), berlin(2026, 12, 28, 17)) == 960


def test_working_minutes_between() -> None:
    monday_early = berlin(2026, 5, 11, 8, 0)
    tuesday_noon = berlin(2026, 5, 12, 12, 0)
    assert OFFICE.working_minutes_between(monday_early, tuesday_noon) == 8 * 60 + 3 * 60
    # A weekend counts nothing.
    assert OFFICE.working_minutes_between(berlin(2026, 5, 15, 17), berlin(2026, 5, 18, 9)) == 0
    assert OFFICE.working_minutes_between(tuesday_noon, monday_early) == 0


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (berlin(2026, 5, 16, 10, 0), berlin(2026, 5, 18, 9, 0)),  # Saturday
        (berlin(2026, 5, 15, 17, 0), berlin(2026, 5, 18, 9, 0)),  # Friday at closing time
        (berlin(2026, 5, 12, 6, 45), berlin(2026, 5, 12, 9, 0)),  # before opening
        (berlin(2026, 5, 12, 11, 20), berlin(2026, 5, 12, 11, 20)),  # open: no move
    ],
)
def test_zero_minutes_outside_hours_moves_to_the_next_opening(
    start: datetime, expected: datetime
) -> None:
    assert OFFICE.add_working(start, 0) == expected


def test_business_hours_must_be_usable() -> None:
    with pytest.raises(ValueError, match="working day"):
        Calendar.business(timezone="UTC", weekdays=[], opens_at=time(9), closes_at=time(17))
    with pytest.raises(ValueError, match="close after"):
        Calendar.business(timezone="UTC", weekdays=[1], opens_at=time(17), closes_at=time(9))


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(
        # hypothesis takes naive bounds and adds the zone
        min_value=datetime(2026, 1, 1),  # noqa: DTZ001
        max_value=datetime(2027, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    minutes=st.integers(min_value=0, max_value=30 * 8 * 60),
)
def test_working_time_added_is_the_working_time_measured(start: datetime, minutes: int) -> None:
    due = OFFICE.add_working(start, minutes)
    assert OFFICE.working_minutes_between(start, due) == minutes
    assert due >= start
    if minutes:
        opening = datetime.combine(local(due).date(), time(9), tzinfo=BERLIN)
        assert local(due).isoweekday() <= 5
        assert opening < due <= opening + timedelta(hours=8)


# --- Pause and resume ----------------------------------------------------------------

START = datetime(2026, 5, 11, 8, 0, tzinfo=UTC)  # Monday 10:00 in Berlin


@pytest.fixture
def org(tenant_a: Tenant) -> Iterator[Tenant]:
    with tenant_context(tenant_a.organization):
        yield tenant_a


def _at(moment: datetime) -> Any:
    return time_machine.travel(moment, tick=False)


def _move(case: Case, status: str, moment: datetime) -> Case:
    with _at(moment):
        return case_transition(case=case, to_status=status, actor=SYSTEM)


def test_waiting_on_the_customer_moves_both_due_times_by_the_time_waited(org: Tenant) -> None:
    with _at(START):
        case = case_factory()
    assert case.first_response_due_at == START + timedelta(hours=24)
    assert case.resolution_due_at == START + timedelta(hours=48)

    case = _move(case, CaseStatus.WAITING, START + timedelta(hours=2))
    assert case.paused_at == START + timedelta(hours=2)
    assert case.next_escalation_at is None
    case = _move(case, CaseStatus.IN_PROGRESS, START + timedelta(hours=7))

    case.refresh_from_db()
    assert case.paused_at is None
    assert case.paused_minutes == 5 * 60
    assert case.first_response_due_at == START + timedelta(hours=29)
    assert case.resolution_due_at == START + timedelta(hours=53)
    assert case.next_escalation_at == START + timedelta(hours=18 + 5)


def test_with_business_hours_only_working_time_counts_as_paused(org: Tenant) -> None:
    business_hours_factory()  # 09-17 Monday to Friday, Europe/Berlin
    SlaPolicy.objects.update(business_hours_only=True)
    with _at(START):
        case = case_factory()
    # 24 working hours from Monday 10:00: Thursday 10:00; 48: Tuesday next week 10:00.
    assert case.first_response_due_at == berlin(2026, 5, 14, 10, 0)
    assert case.resolution_due_at == berlin(2026, 5, 19, 10, 0)

    # Waiting from Monday 16:00 to Tuesday 11:00: 19 hours, 3 of them working hours.
    case = _move(case, CaseStatus.WAITING, berlin(2026, 5, 11, 16, 0))
    case = _move(case, CaseStatus.IN_PROGRESS, berlin(2026, 5, 12, 11, 0))
    case.refresh_from_db()
    assert case.paused_minutes == 180
    assert case.first_response_due_at == berlin(2026, 5, 14, 13, 0)
    assert case.resolution_due_at == berlin(2026, 5, 19, 13, 0)


def test_nothing_escalates_while_the_case_waits(org: Tenant) -> None:
    with _at(START):
        case = case_factory()
    case = _move(case, CaseStatus.WAITING, START + timedelta(hours=1))
    assert Case.objects.get(pk=case.pk).next_escalation_at is None

    # Long past every due time: the sweep has nothing to do.
    with _at(START + timedelta(hours=80)):
        assert escalation_sweep_task() == 0
    # Even a stale next_escalation_at (an older release) fires nothing and is cleared.
    Case.objects.filter(pk=case.pk).update(next_escalation_at=START + timedelta(hours=18))
    with _at(START + timedelta(hours=80)):
        assert escalation_sweep_task() == 0
    assert Case.objects.get(pk=case.pk).next_escalation_at is None
    assert not CaseEscalation.objects.exists()

    # Back after 79 hours: the clock goes on where it stopped.
    case = _move(case, CaseStatus.IN_PROGRESS, START + timedelta(hours=80))
    case.refresh_from_db()
    assert case.paused_minutes == 79 * 60
    assert case.next_escalation_at == START + timedelta(hours=18 + 79)
    with _at(START + timedelta(hours=18 + 79)):
        assert escalation_sweep_task() == 1  # the first-contact reminder at 75 %
    assert list(CaseEscalation.objects.values_list("key", flat=True)) == [
        f"step:{step}" for step in _reminder_steps(case)
    ]


def _reminder_steps(case: Case) -> list[int]:
    assert case.sla_policy is not None
    return list(
        case.sla_policy.steps.filter(at_percent=75, target="first_response").values_list(
            "pk", flat=True
        )
    )
