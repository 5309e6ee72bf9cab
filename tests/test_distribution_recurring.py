"""Recurring relationship surveys: every N months per contact, spread evenly over
working days and hours in the contact's time zone, planned by the beat task."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from datetime import UTC, datetime, time, timedelta

import time_machine

from surveys.models import Invitation, RecurringSchedule, SuppressedSend
from surveys.services.distribution import distribution_settings_update
from surveys.services.recurring import (
    add_months,
    into_working_hours,
    recurring_schedule_create,
    slot_in_period,
)
from surveys.tasks import recurring_dispatch_task
from tenants.context import tenant_context
from tenants.models import Role
from tenants.services import SYSTEM
from tests.conftest import Tenant
from tests.distribution_support import make_contact, published_survey

START = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday
WINDOW = (time(9, 0), time(17, 0))


def test_add_months_keeps_the_day_or_takes_the_months_last() -> None:
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 15, tzinfo=UTC), 3) == datetime(2027, 2, 15, tzinfo=UTC)


def test_slots_fall_on_working_days_and_hours_spread_over_the_period() -> None:
    tz = zoneinfo.ZoneInfo("America/New_York")
    slots = [slot_in_period(START, 3, n / 1000, "America/New_York", WINDOW) for n in range(1000)]
    local = [slot.astimezone(tz) for slot in slots]
    assert all(moment.weekday() < 5 for moment in local)
    assert all(time(9, 0) <= moment.time() < time(17, 0) for moment in local)
    assert slots == sorted(slots)
    assert slots[0] > START
    assert slots[-1] < add_months(START, 3)
    # Evenly: each of the ~13 weeks of the period gets about the same share.
    weeks = Counter((slot - START).days // 7 for slot in slots)
    full_weeks = [count for week, count in weeks.items() if 0 < week < 12]
    assert max(full_weeks) - min(full_weeks) <= 3


def test_a_later_round_moves_off_the_weekend_and_out_of_the_night() -> None:
    saturday_noon = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)  # 12:00 in Berlin
    assert into_working_hours(saturday_noon, "Europe/Berlin", WINDOW) == datetime(
        2026, 11, 30, 11, 0, tzinfo=UTC
    )
    late = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)  # 20:00 in Berlin
    assert into_working_hours(late, "Europe/Berlin", WINDOW) == datetime(
        2026, 11, 25, 8, 0, tzinfo=UTC
    )


def test_beat_plans_each_contact_once_per_period_and_again_months_later(
    tenant_a: Tenant,
) -> None:
    with time_machine.travel(START, tick=False), tenant_context(tenant_a.organization):
        distribution_settings_update(actor=SYSTEM, min_days_between_invitations=30)
        survey = published_survey()
        for n in range(40):
            make_contact(f"r-{n}", email=f"{n}@example.com", attributes={"segment": "b2b"})
        make_contact("other", email="o@example.com", attributes={"segment": "b2c"})
        schedule = recurring_schedule_create(
            actor=SYSTEM,
            name="Relationship NPS",
            survey=survey,
            channel="email",
            interval_months=1,
            conditions={"segment": "b2b"},
            window_start=time(9, 0),
            window_end=time(17, 0),
            is_active=True,
        )
    planned_per_day = []
    day = START
    # Through the first period (slots lie on its full days, the last on 22 December).
    while day < add_months(START, 1) - timedelta(days=1):
        with time_machine.travel(day, tick=False):
            recurring_dispatch_task()
        with tenant_context(tenant_a.organization):
            planned_per_day.append(Invitation.objects.filter(recurring=schedule).count())
        day += timedelta(hours=12)
    with tenant_context(tenant_a.organization):
        invitations = list(Invitation.objects.filter(recurring=schedule))
        contacts = {i.contact.crm_id for i in invitations}
    assert len(invitations) == 40  # everyone once in the first month, nobody twice
    assert "other" not in contacts
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    assert all(i.send_at.astimezone(berlin).weekday() < 5 for i in invitations)
    assert all(time(9) <= i.send_at.astimezone(berlin).time() < time(17) for i in invitations)
    assert planned_per_day[0] < 10  # spread, not all at once
    first = min(invitations, key=lambda i: i.send_at)
    with tenant_context(tenant_a.organization):
        Invitation.objects.filter(recurring=schedule).update(status="answered")
    with time_machine.travel(add_months(first.send_at, 1) + timedelta(days=3), tick=False):
        recurring_dispatch_task()
    with tenant_context(tenant_a.organization):
        again = Invitation.objects.filter(recurring=schedule, contact=first.contact).count()
    assert again == 2


def test_a_blocked_round_is_recorded_once(tenant_a: Tenant) -> None:
    with time_machine.travel(START, tick=False), tenant_context(tenant_a.organization):
        survey = published_survey()
        make_contact("r-1", email="", attributes={})
        schedule = recurring_schedule_create(
            actor=SYSTEM, name="Quarterly", survey=survey, channel="email", interval_months=3
        )
    for days in range(0, 93):
        with time_machine.travel(START + timedelta(days=days), tick=False):
            recurring_dispatch_task()
    with tenant_context(tenant_a.organization):
        [skipped] = SuppressedSend.objects.filter(recurring=schedule)  # once, not daily
    assert skipped.reason == "unreachable"
    with time_machine.travel(add_months(skipped.created_at, 3) + timedelta(days=3), tick=False):
        recurring_dispatch_task()
        recurring_dispatch_task()
    with tenant_context(tenant_a.organization):
        assert SuppressedSend.objects.filter(recurring=schedule).count() == 2


def test_recurring_pages(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        survey = published_survey()
    created = tenant_a.client.post(
        tenant_a.url("distribution/recurring/new/"),
        {
            "name": "Half-yearly",
            "survey": survey.pk,
            "channel": "preferred",
            "interval_months": 6,
            "window_start": "08:00",
            "window_end": "18:00",
            "is_active": "on",
        },
    )
    assert created.status_code == 302
    with tenant_context(tenant_a.organization):
        schedule = RecurringSchedule.objects.get()
    assert (schedule.interval_months, schedule.window_start) == (6, time(8, 0))
    bad = tenant_a.client.post(
        tenant_a.url(f"distribution/recurring/{schedule.pk}/"),
        {
            "name": "Half-yearly",
            "survey": survey.pk,
            "channel": "preferred",
            "interval_months": 6,
            "window_start": "18:00",
            "window_end": "08:00",
        },
    )
    assert bad.status_code == 200
    assert "window_end" in bad.context["form"].errors
    listing = tenant_a.client.get(tenant_a.url("distribution/recurring/"))
    assert "Half-yearly" in listing.content.decode()
    viewer = tenant_a.client_for(tenant_a.member(Role.VIEWER))
    assert viewer.get(tenant_a.url("distribution/recurring/new/")).status_code == 403
    deleted = tenant_a.client.post(tenant_a.url(f"distribution/recurring/{schedule.pk}/delete/"))
    assert deleted.status_code == 302
    with tenant_context(tenant_a.organization):
        assert not RecurringSchedule.objects.exists()
