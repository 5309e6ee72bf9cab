"""Dashboard filters: what every dashboard page, chart and export is restricted to.

``DashboardFilters`` is a frozen value parsed from the URL (``metrics.forms``), so a
link reproduces the page. Periods are local days (inclusive) in the organization's time
zone; the rollup is keyed by the same days.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q

GRAINS = ("day", "week", "month", "quarter")


@dataclass(frozen=True, slots=True)
class DashboardFilters:
    start: date
    end: date  # inclusive
    period: str = "custom"  # the preset that chose start/end (kept in links)
    grain: str = "week"
    journey_id: int | None = None
    touchpoint_id: int | None = None
    survey_id: int | None = None
    channel: str = ""
    language: str = ""
    segment_key: str = ""
    segment_value: str | None = None  # only with segment_key; "" = attribute not set
    # Raw-response filters (verbatims, themes, exports); the rollup cannot apply them.
    nps_group: str = ""
    theme_id: int | None = None
    search: str = ""

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> DashboardFilters:
        """The period of the same length just before this one (for comparisons)."""
        return replace(
            self,
            start=self.start - timedelta(days=self.days),
            end=self.start - timedelta(days=1),
            period="custom",
        )

    def with_period(self, start: date, end: date) -> DashboardFilters:
        return replace(self, start=start, end=end, period="custom")

    def bounds(self, timezone_name: str) -> tuple[datetime, datetime]:
        """[start, end) as aware datetimes: local midnight to the midnight after ``end``."""
        zone = zoneinfo.ZoneInfo(timezone_name)
        return (
            datetime.combine(self.start, time.min, tzinfo=zone),
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=zone),
        )

    def rollup_q(self) -> Q:
        """The rollup rows of these filters (the totals, or one segment attribute)."""
        q = Q(day__gte=self.start, day__lte=self.end, segment_key=self.segment_key)
        if self.segment_key and self.segment_value is not None:
            q &= Q(segment_value=self.segment_value)
        return q & self._dimension_q("")

    def response_q(self, timezone_name: str, prefix: str = "") -> Q:
        """The same filters on raw responses (``prefix`` for a join, e.g. "response__")."""
        start, end = self.bounds(timezone_name)
        q = Q(**{f"{prefix}responded_at__gte": start, f"{prefix}responded_at__lt": end})
        q &= self._dimension_q(prefix)
        if self.segment_key and self.segment_value is not None:
            path = f"{prefix}contact_attributes__{self.segment_key}"
            if self.segment_value == "":
                q &= Q(**{f"{path}__isnull": True}) | Q(**{path: ""})
            else:
                q &= Q(**{path: self.segment_value}) | Q(**{f"{path}": _number(self.segment_value)})
        if self.nps_group:
            q &= Q(**{f"{prefix}nps_group": self.nps_group})
        if self.search:
            q &= Q(**{f"{prefix}comment__icontains": self.search})
        return q

    def _dimension_q(self, prefix: str) -> Q:
        q = Q()
        for name in ("journey_id", "touchpoint_id", "survey_id"):
            value = getattr(self, name)
            if value is not None:
                q &= Q(**{f"{prefix}{name}": value})
        for name in ("channel", "language"):
            value = getattr(self, name)
            if value:
                q &= Q(**{f"{prefix}{name}": value})
        return q

    def query(self, **changes: Any) -> dict[str, str]:
        """The URL parameters of these filters (with ``changes`` applied)."""
        filters = replace(self, **changes) if changes else self
        params: dict[str, str] = {}
        if filters.period and filters.period != "custom":
            params["period"] = filters.period
        else:
            params["start"] = filters.start.isoformat()
            params["end"] = filters.end.isoformat()
        if filters.grain != "week":
            params["grain"] = filters.grain
        for name, key in (
            ("journey_id", "journey"),
            ("touchpoint_id", "touchpoint"),
            ("survey_id", "survey"),
            ("theme_id", "theme"),
        ):
            value = getattr(filters, name)
            if value is not None:
                params[key] = str(value)
        for name, key in (
            ("channel", "channel"),
            ("language", "language"),
            ("nps_group", "group"),
            ("search", "q"),
            ("segment_key", "segment"),
        ):
            value = getattr(filters, name)
            if value:
                params[key] = value
        if filters.segment_key and filters.segment_value is not None:
            params["value"] = filters.segment_value
        return params

    def querystring(self, **changes: Any) -> str:
        return urlencode(self.query(**changes))


def _number(text: str) -> Any:
    """CRM attributes keep JSON numbers: "5" also matches the number 5."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text
