"""A journey's touchpoints side by side: where does the journey break?

Scores per touchpoint come from the daily rollup (one aggregate query); the touchpoints
themselves (every one, in journey order, with or without feedback) from one more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from metrics.scoring import SMALL_SAMPLE_THRESHOLD
from metrics.selectors.filters import DashboardFilters
from metrics.selectors.scores import Scores, breakdown
from surveys.models import Touchpoint


@dataclass(frozen=True, slots=True)
class TouchpointScores:
    id: int
    position: int
    name: str
    scores: Scores


@dataclass(frozen=True, slots=True)
class Weakest:
    """The touchpoint with the lowest score and which score decided it."""

    touchpoint_id: int
    metric: str  # "nps", "csat" (top two box) or "ces" (mean)
    reliable: bool  # every compared touchpoint had at least SMALL_SAMPLE_THRESHOLD answers


@dataclass(frozen=True, slots=True)
class JourneyScores:
    journey_id: int
    filters: DashboardFilters  # the filters the scores were computed with
    touchpoints: list[TouchpointScores]
    weakest: Weakest | None


def busiest_journey(filters: DashboardFilters) -> int | None:
    """The journey with the most responses in the filtered period (None without any)."""
    rows = breakdown(replace(filters, journey_id=None, touchpoint_id=None), "journey")
    return rows[0].key if rows else None


def journey_scores(filters: DashboardFilters, journey_id: int) -> JourneyScores:
    """Every touchpoint of the journey in journey order with its scores in the period
    (the touchpoint filter does not apply: the page compares all of them)."""
    scoped = replace(filters, journey_id=journey_id, touchpoint_id=None)
    by_touchpoint = {row.key: row.scores for row in breakdown(scoped, "touchpoint")}
    empty = Scores.from_counts({})
    touchpoints = [
        TouchpointScores(id=pk, position=position, name=name, scores=by_touchpoint.get(pk, empty))
        for pk, position, name in Touchpoint.objects.filter(journey_id=journey_id)
        .order_by("position", "pk")
        .values_list("pk", "position", "name")
    ]
    return JourneyScores(
        journey_id=journey_id,
        filters=scoped,
        touchpoints=touchpoints,
        weakest=weakest_touchpoint(touchpoints),
    )


_MEASURES: tuple[tuple[str, Callable[[Scores], tuple[float | None, int]]], ...] = (
    ("nps", lambda s: (s.nps.score, s.nps.n)),
    ("csat", lambda s: (s.csat.top_two_box.pct, s.csat.top_two_box.n)),
    ("ces", lambda s: (s.ces.mean.mean, s.ces.mean.n)),
)


def weakest_touchpoint(touchpoints: list[TouchpointScores]) -> Weakest | None:
    """The lowest NPS among touchpoints with at least 30 NPS answers; without two such
    touchpoints the lowest CSAT top two box, then the lowest CES mean, on the same rule.
    When no score has two touchpoints with enough answers, the same order is tried with
    any number of answers and the result is marked as not reliable (indicative only)."""
    for minimum, reliable in ((SMALL_SAMPLE_THRESHOLD, True), (1, False)):
        for metric, measure in _MEASURES:
            candidates = []
            for touchpoint in touchpoints:
                value, n = measure(touchpoint.scores)
                if value is not None and n >= minimum:
                    candidates.append((value, touchpoint.position, touchpoint.id))
            if len(candidates) >= 2:
                _value, _position, touchpoint_id = min(candidates)
                return Weakest(touchpoint_id=touchpoint_id, metric=metric, reliable=reliable)
    return None
