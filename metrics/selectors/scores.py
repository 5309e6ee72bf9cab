"""Score aggregates from the daily rollup: totals, trends, breakdowns, comparisons.

Every function sums rollup columns in SQL (one query) and hands the histograms to the
scoring maths (``metrics.scoring``); nothing here loops over responses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import F, QuerySet, Sum
from django.db.models.functions import TruncMonth, TruncQuarter, TruncWeek

from metrics.models import (
    CES_VALUES,
    COUNT_FIELDS,
    CSAT_VALUES,
    NPS_VALUES,
    DailyRollup,
)
from metrics.scoring import (
    CesResult,
    ChangeResult,
    CsatResult,
    NpsResult,
    ces_from_histogram,
    csat_from_histogram,
    mean_compare,
    nps_compare,
    nps_from_histogram,
    proportion_compare,
)
from metrics.selectors.filters import DashboardFilters

_SUMS = {name: Sum(name) for name in COUNT_FIELDS}


@dataclass(frozen=True, slots=True)
class Scores:
    responses: int
    completed: int
    comments: int
    nps_histogram: dict[int, int]
    ces_histogram: dict[int, int]
    csat_histogram: dict[int, int]
    nps: NpsResult
    ces: CesResult
    csat: CsatResult

    @classmethod
    def from_counts(cls, counts: Mapping[str, Any]) -> Scores:
        def get(name: str) -> int:
            return int(counts.get(name) or 0)

        nps = {value: get(f"nps_{value}") for value in NPS_VALUES}
        ces = {value: get(f"ces_{value}") for value in CES_VALUES}
        csat = {value: get(f"csat_{value}") for value in CSAT_VALUES}
        return cls(
            responses=get("responses"),
            completed=get("completed"),
            comments=get("comments"),
            nps_histogram=nps,
            ces_histogram=ces,
            csat_histogram=csat,
            nps=nps_from_histogram(nps),
            ces=ces_from_histogram(ces),
            csat=csat_from_histogram(csat),
        )

    @property
    def empty(self) -> bool:
        return self.responses == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "responses": self.responses,
            "completed": self.completed,
            "comments": self.comments,
            "nps": self.nps.to_dict(),
            "ces": self.ces.to_dict(),
            "csat": self.csat.to_dict(),
            "nps_histogram": self.nps_histogram,
            "ces_histogram": self.ces_histogram,
            "csat_histogram": self.csat_histogram,
        }


def rollup_queryset(filters: DashboardFilters) -> QuerySet[DailyRollup]:
    return DailyRollup.objects.filter(filters.rollup_q()).order_by()


def scores(filters: DashboardFilters) -> Scores:
    """NPS, CES and CSAT (with intervals and counts) of the filtered period."""
    return Scores.from_counts(rollup_queryset(filters).aggregate(**_SUMS))


# --- Trend ---------------------------------------------------------------------------


def period_start(day: date, grain: str) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day


def period_after(start: date, grain: str) -> date:
    if grain == "week":
        return start + timedelta(days=7)
    if grain in ("month", "quarter"):
        months = 1 if grain == "month" else 3
        index = start.year * 12 + start.month - 1 + months
        return date(index // 12, index % 12 + 1, 1)
    return start + timedelta(days=1)


def periods(filters: DashboardFilters, grain: str) -> list[date]:
    """Every period start of the grain that overlaps the filtered days."""
    starts = []
    current = period_start(filters.start, grain)
    while current <= filters.end:
        starts.append(current)
        current = period_after(current, grain)
    return starts


_TRUNC = {"week": TruncWeek, "month": TruncMonth, "quarter": TruncQuarter}


@dataclass(frozen=True, slots=True)
class TrendPoint:
    start: date
    end: date  # inclusive, clipped to the filtered period
    scores: Scores


def trend(filters: DashboardFilters, grain: str | None = None) -> list[TrendPoint]:
    """Scores per day, week, month or quarter (every period, empty ones included)."""
    grain = grain or filters.grain
    queryset = rollup_queryset(filters)
    if grain == "day":
        rows = queryset.values(period=F("day")).annotate(**_SUMS)
    else:
        rows = queryset.annotate(period=_TRUNC[grain]("day")).values("period").annotate(**_SUMS)
    found = {}
    for row in rows:
        start = row["period"]
        start = start.date() if hasattr(start, "date") and callable(start.date) else start
        found[start] = row
    points = []
    for start in periods(filters, grain):
        end = min(period_after(start, grain) - timedelta(days=1), filters.end)
        points.append(
            TrendPoint(
                start=max(start, filters.start),
                end=end,
                scores=Scores.from_counts(found.get(start, {})),
            )
        )
    return points


# --- Breakdowns ----------------------------------------------------------------------

DIMENSIONS = ("journey", "touchpoint", "survey", "channel", "language", "team", "segment")
_DIMENSION_FIELDS = {
    "journey": "journey_id",
    "touchpoint": "touchpoint_id",
    "survey": "survey_id",
    "channel": "channel",
    "language": "language",
    "team": "touchpoint__team_id",
    "segment": "segment_value",
}


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    key: Any  # the id, code or segment value ("" = not set; None = no team)
    scores: Scores


def breakdown(filters: DashboardFilters, dimension: str) -> list[BreakdownRow]:
    """Scores per value of a dimension, largest volume first. For ``segment`` the
    filters name the attribute (``segment_key``); labels are the caller's job
    (``metrics.selectors.labels``)."""
    if dimension not in _DIMENSION_FIELDS:
        raise ValueError(f"unknown dimension {dimension!r}")
    if dimension == "segment" and not filters.segment_key:
        raise ValueError("a segment breakdown needs a segment attribute")
    field = _DIMENSION_FIELDS[dimension]
    rows = rollup_queryset(filters).values(key=F(field)).annotate(**_SUMS)
    result = [BreakdownRow(key=row["key"], scores=Scores.from_counts(row)) for row in rows]
    result.sort(key=lambda row: (-row.scores.responses, str(row.key)))
    return result


# --- Comparison ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comparison:
    previous_filters: DashboardFilters
    previous: Scores
    current: Scores
    nps: ChangeResult
    ces_mean: ChangeResult
    ces_easy: ChangeResult
    csat_top_two_box: ChangeResult
    csat_mean: ChangeResult


def compare(filters: DashboardFilters, previous: DashboardFilters | None = None) -> Comparison:
    """The filtered period against another (default: the same length just before),
    with a two-sided test of each change (``metrics.scoring``)."""
    previous = previous or filters.previous()
    before, now = scores(previous), scores(filters)
    return Comparison(
        previous_filters=previous,
        previous=before,
        current=now,
        nps=nps_compare(before.nps, now.nps),
        ces_mean=mean_compare(before.ces.mean, now.ces.mean),
        ces_easy=proportion_compare(before.ces.easy, now.ces.easy),
        csat_top_two_box=proportion_compare(before.csat.top_two_box, now.csat.top_two_box),
        csat_mean=mean_compare(before.csat.mean, now.csat.mean),
    )
