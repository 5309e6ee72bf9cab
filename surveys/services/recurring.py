"""Recurring relationship surveys: each contact every N months, spread evenly over
working days and hours (Monday to Friday, the schedule's window) in the contact's time
zone (fallback: the organization's).

Each contact gets a stable phase inside the period (a hash of schedule and contact), so
the first round is spread evenly over the working minutes of the first period and every
later round follows N calendar months after the previous one. The beat task plans only
what falls due within ``PLAN_AHEAD`` (invitations planned months ahead would use up the
contact budget for every other survey meanwhile); each planned round becomes an
invitation or a suppressed send with its reason, through the same budget, consent and
quiet-hour checks as every other send.
"""

from __future__ import annotations

import calendar
import hashlib
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from django.db import transaction
from django.db.models import Max, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Contact
from contacts.selectors import AttributeFilter
from surveys.models import Survey, SurveyStatus
from surveys.models_distribution import (
    Invitation,
    InvitationTrigger,
    RecurringSchedule,
    RuleChannel,
    SuppressedSend,
)
from surveys.selectors import distribution_settings_get, survey_version_current
from surveys.services._common import clean_text_field, raise_if
from surveys.services.distribution import (
    Origin,
    Policy,
    _build,
    _facts,
    _lock,
    _organization_timezone,
    _write,
    decide,
)
from tenants.context import require_organization_id
from tenants.services import Actor, _diff, _plain, audit_log_record

PLAN_AHEAD = timedelta(days=1)
BATCH_SIZE = 500
SCHEDULE_FIELDS = (
    "name",
    "survey",
    "channel",
    "interval_months",
    "conditions",
    "window_start",
    "window_end",
    "is_active",
)


# --- Writes of the schedule itself ------------------------------------------------------


def _clean(fields: dict[str, Any], schedule: RecurringSchedule | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    fields["name"] = clean_text_field(errors, RecurringSchedule, "name", fields.get("name"))
    survey = fields.get("survey")
    if not isinstance(survey, Survey) or survey.organization_id != require_organization_id():
        errors.setdefault("survey", []).append(_("Choose a survey."))
    if fields.get("channel") not in RuleChannel.values:
        errors.setdefault("channel", []).append(_("Choose a channel."))
    months = fields.get("interval_months")
    if not isinstance(months, int) or not 1 <= months <= 60:
        errors.setdefault("interval_months", []).append(_("Use 1 to 60 months."))
    start, end = fields.get("window_start"), fields.get("window_end")
    if not isinstance(start, time) or not isinstance(end, time) or start >= end:
        errors.setdefault("window_end", []).append(_("The end must come after the start."))
    conditions = fields.get("conditions") or {}
    if not isinstance(conditions, dict):
        errors.setdefault("conditions", []).append(_("Use key = value pairs."))
    fields["conditions"] = conditions
    taken = RecurringSchedule.objects.filter(name=fields["name"])
    if schedule is not None:
        taken = taken.exclude(pk=schedule.pk)
    if fields["name"] and taken.exists():
        errors.setdefault("name", []).append(_("A recurring survey with this name exists."))
    raise_if(errors)
    return fields


def recurring_schedule_create(*, actor: Actor, **fields: Any) -> RecurringSchedule:
    fields = {name: fields[name] for name in SCHEDULE_FIELDS if name in fields}
    fields.setdefault("channel", RuleChannel.PREFERRED)
    fields.setdefault("window_start", time(9, 0))
    fields.setdefault("window_end", time(17, 0))
    with transaction.atomic():
        fields = _clean(fields, None)
        schedule = RecurringSchedule.objects.create(**fields)
        audit_log_record(
            actor=actor,
            action="recurring_schedule.create",
            obj=schedule,
            changes={name: [None, _plain(getattr(schedule, name))] for name in fields},
        )
    return schedule


def recurring_schedule_update(
    *, actor: Actor, schedule: RecurringSchedule, **fields: Any
) -> RecurringSchedule:
    merged = {name: getattr(schedule, name) for name in SCHEDULE_FIELDS}
    merged.update({name: value for name, value in fields.items() if name in SCHEDULE_FIELDS})
    with transaction.atomic():
        merged = _clean(merged, schedule)
        changes = _diff(schedule, merged)
        schedule.save()
        audit_log_record(
            actor=actor, action="recurring_schedule.update", obj=schedule, changes=changes
        )
    return schedule


def recurring_schedule_delete(*, actor: Actor, schedule: RecurringSchedule) -> None:
    with transaction.atomic():
        audit_log_record(actor=actor, action="recurring_schedule.delete", obj=schedule)
        schedule.delete()


# --- When each contact is due -------------------------------------------------------


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus calendar months (the 31st becomes the month's last day)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def phase(schedule_id: int, contact_id: int) -> float:
    """A stable number in [0, 1) per schedule and contact: its place in the period."""
    digest = hashlib.sha256(f"{schedule_id}:{contact_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@lru_cache(maxsize=256)
def _working_days(first: date, last: date) -> tuple[date, ...]:
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return tuple(day for day in days if day.weekday() < 5)


def slot_in_period(
    start: datetime,
    months: int,
    fraction: float,
    tz_name: str,
    window: tuple[time, time],
) -> datetime:
    """The working minute at ``fraction`` of the working minutes (Monday to Friday,
    inside ``window``) of the period from ``start`` to ``start + months``, in ``tz_name``."""
    tz = zoneinfo.ZoneInfo(tz_name)
    local_start = start.astimezone(tz)
    end = add_months(local_start, months)
    first = local_start.date() + timedelta(days=1)  # the period's first full day
    last = end.date() - timedelta(days=1)  # and its last
    days = _working_days(first, last) or _working_days(first, first + timedelta(days=7))
    window_start, window_end = window
    minutes_per_day = (
        datetime.combine(first, window_end) - datetime.combine(first, window_start)
    ) // timedelta(minutes=1)
    index = int(fraction * len(days) * minutes_per_day)
    day, minute = days[index // minutes_per_day], index % minutes_per_day
    local = datetime.combine(day, window_start, tzinfo=tz) + timedelta(minutes=minute)
    return local.astimezone(zoneinfo.ZoneInfo("UTC"))


def into_working_hours(moment: datetime, tz_name: str, window: tuple[time, time]) -> datetime:
    """``moment`` if it lies on a working day inside the window, else the next such moment
    (same time of day when only the weekday was wrong)."""
    tz = zoneinfo.ZoneInfo(tz_name)
    local = moment.astimezone(tz)
    start, end = window
    if local.time() < start:
        local = datetime.combine(local.date(), start, tzinfo=tz)
    elif local.time() >= end:
        local = datetime.combine(local.date() + timedelta(days=1), start, tzinfo=tz)
    while local.weekday() >= 5:
        local = datetime.combine(local.date() + timedelta(days=1), local.time(), tzinfo=tz)
    return local.astimezone(zoneinfo.ZoneInfo("UTC"))


# A contact's first slot that passed longer ago than this (a contact added late in a
# period) moves to the next period instead of being invited at once with all the others.
MISSED_SLOT_GRACE = timedelta(days=7)


def next_due(
    schedule: RecurringSchedule,
    contact: Contact,
    last: datetime | None,
    tz_name: str,
    now: datetime,
) -> datetime:
    """When ``contact`` is due next: N months after the last round, or for a first round
    the contact's slot in the current period (or the next one if it is long past)."""
    window = (schedule.window_start, schedule.window_end)
    if last is not None:
        return into_working_hours(add_months(last, schedule.interval_months), tz_name, window)
    fraction = phase(schedule.pk, contact.pk)
    months = schedule.interval_months
    period_start = schedule.starts_at
    while add_months(period_start, months) <= now:
        period_start = add_months(period_start, months)
    slot = slot_in_period(period_start, months, fraction, tz_name, window)
    if slot < now - MISSED_SLOT_GRACE:
        slot = slot_in_period(add_months(period_start, months), months, fraction, tz_name, window)
    return slot


# --- Planning (the beat task) -------------------------------------------------------


@dataclass(slots=True)
class PlanResult:
    scheduled: int = 0
    suppressed: int = 0


def _contacts(schedule: RecurringSchedule) -> QuerySet[Contact]:
    queryset = Contact.objects.all()
    for key, value in (schedule.conditions or {}).items():
        queryset = AttributeFilter(key, "eq", value).apply(queryset)
    invited = (
        Invitation.objects.filter(recurring=schedule, contact=OuterRef("pk"))
        .order_by()
        .values("contact")
        .annotate(last=Max("send_at"))
        .values("last")
    )
    skipped = (
        SuppressedSend.objects.filter(recurring=schedule, contact=OuterRef("pk"))
        .order_by()
        .values("contact")
        .annotate(last=Max("created_at"))
        .values("last")
    )
    return queryset.annotate(
        last_invited=Subquery(invited), last_skipped=Subquery(skipped)
    ).order_by("pk")


def recurring_schedule_plan(
    *, schedule: RecurringSchedule, now: datetime | None = None
) -> PlanResult:
    """Create this schedule's invitations that fall due before ``now + PLAN_AHEAD``."""
    now = now or timezone.now()
    result = PlanResult()
    survey = schedule.survey
    version = survey_version_current(survey)
    if not schedule.is_active or version is None or survey.status != SurveyStatus.ACTIVE:
        return result
    settings = distribution_settings_get()
    organization_tz = _organization_timezone()
    policy = Policy(settings, organization_tz, 0, False)
    origin = Origin(InvitationTrigger.RECURRING, recurring=schedule)
    horizon = now + PLAN_AHEAD
    last_pk = 0
    while True:
        batch = list(_contacts(schedule).filter(pk__gt=last_pk)[:BATCH_SIZE])
        if not batch:
            return result
        last_pk = batch[-1].pk
        due: list[tuple[Contact, datetime]] = []
        for contact in batch:
            latest = max(
                (m for m in (contact.last_invited, contact.last_skipped) if m is not None),  # type: ignore[attr-defined]
                default=None,
            )
            when = next_due(schedule, contact, latest, contact.timezone or organization_tz, now)
            if when <= horizon:
                due.append((contact, max(when, now)))
        if not due:
            continue
        with transaction.atomic():
            _lock([contact.pk for contact, _when in due])
            facts = _facts([contact for contact, _when in due], survey)
            pairs = []
            for contact, when in due:
                decision = decide(
                    contact, facts[contact.pk], wanted=schedule.channel, send_at=when, policy=policy
                )
                if decision.reason:
                    result.suppressed += 1
                else:
                    result.scheduled += 1
                pairs.append(
                    _build(
                        contact,
                        decision,
                        survey=survey,
                        version=version,
                        origin=origin,
                        settings=settings,
                        reminder_after=None,
                    )
                )
            _write(pairs, f"recurring survey {schedule.name}")
