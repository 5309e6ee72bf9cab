"""The SLA clock: adding working time to an instant, and measuring working time.

A ``Calendar`` is either around the clock (``Calendar.always()``) or the
organization's business hours: working days, opening and closing time in its time
zone, and holidays. Times are computed day by day in the local zone, so a day that
changes to or from daylight saving time still opens at 09:00 local time and its working
hours are as long as the wall clock says.

Due times: ``add_working(start, minutes)``. Pauses (a case waiting on the customer)
are measured with ``working_minutes_between`` and added to the budget, so a due time
moves by exactly the working time the case spent paused.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

# A calendar without a single working day would never reach a due time.
MAX_DAYS_SCANNED = 3 * 366


@dataclass(frozen=True, slots=True)
class Calendar:
    timezone: str = "UTC"
    weekdays: frozenset[int] = frozenset()  # ISO weekdays, 1 = Monday
    opens_at: time = time(0)
    closes_at: time = time(0)
    holidays: frozenset[date] = field(default_factory=frozenset)
    around_the_clock: bool = True

    @classmethod
    def always(cls) -> Calendar:
        return cls()

    @classmethod
    def business(
        cls,
        *,
        timezone: str,
        weekdays: list[int] | set[int] | frozenset[int],
        opens_at: time,
        closes_at: time,
        holidays: list[date] | set[date] | frozenset[date] = frozenset(),
    ) -> Calendar:
        if not weekdays:
            raise ValueError("business hours need at least one working day")
        if closes_at <= opens_at:
            raise ValueError("business hours must close after they open")
        return cls(
            timezone=timezone,
            weekdays=frozenset(weekdays),
            opens_at=opens_at,
            closes_at=closes_at,
            holidays=frozenset(holidays),
            around_the_clock=False,
        )

    def _zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """The working window of a local day, in UTC, or None on a day off."""
        if day.isoweekday() not in self.weekdays or day in self.holidays:
            return None
        zone = self._zone()
        opens = datetime.combine(day, self.opens_at, tzinfo=zone).astimezone(UTC)
        closes = datetime.combine(day, self.closes_at, tzinfo=zone).astimezone(UTC)
        return opens, closes

    def add_working(self, start: datetime, minutes: float) -> datetime:
        """The instant at which ``minutes`` of working time after ``start`` have passed."""
        # In UTC: arithmetic on a local time would count wall-clock hours (23 or 25
        # in a day that changes to or from daylight saving time).
        cursor = start.astimezone(UTC)
        if self.around_the_clock:
            return cursor + timedelta(minutes=minutes)
        remaining = timedelta(minutes=minutes)
        day = cursor.astimezone(self._zone()).date()
        for _ in range(MAX_DAYS_SCANNED):
            window = self._window(day)
            if window is not None:
                opens, closes = window
                begin = max(cursor, opens)
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        # Zero minutes still moves a start outside hours to the opening.
                        return begin + remaining
                    remaining -= available
            day += timedelta(days=1)
        raise ValueError("the business hours have no working time in the next three years")

    def working_minutes_between(self, start: datetime, end: datetime) -> float:
        """Working time between two instants, in minutes (0 when ``end`` <= ``start``)."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start:
            return 0.0
        if self.around_the_clock:
            return (end - start).total_seconds() / 60
        zone = self._zone()
        total = timedelta()
        day = start.astimezone(zone).date()
        last = end.astimezone(zone).date()
        while day <= last:
            window = self._window(day)
            if window is not None:
                begin, finish = max(window[0], start), min(window[1], end)
                if finish > begin:
                    total += finish - begin
            day += timedelta(days=1)
        return total.total_seconds() / 60
