"""Touchpoints whose scores moved most between two periods.

Two rollup aggregates (one per period, by touchpoint); the tests for each change are
the scoring maths (``metrics.scoring``) on the summed histograms.
"""

from __future__ import annotations

from dataclasses import dataclass

from metrics.scoring import ChangeResult, mean_compare, nps_compare, proportion_compare
from metrics.selectors.filters import DashboardFilters
from metrics.selectors.scores import Scores, breakdown


@dataclass(frozen=True, slots=True)
class TouchpointChange:
    touchpoint_id: int
    previous: Scores
    current: Scores
    nps: ChangeResult
    ces_mean: ChangeResult
    csat_top_two_box: ChangeResult

    @property
    def small_sample(self) -> bool:
        return self.nps.small_sample


def _magnitude(change: TouchpointChange) -> tuple[int, float]:
    """Biggest NPS move first; touchpoints without an NPS change by CSAT, then CES."""
    for rank, result in enumerate((change.nps, change.csat_top_two_box, change.ces_mean)):
        if result.difference is not None:
            return (rank, -abs(result.difference))
    return (3, 0.0)


def touchpoint_movers(
    filters: DashboardFilters, previous: DashboardFilters
) -> list[TouchpointChange]:
    """Every touchpoint with answers in either period and its changes, biggest movers
    first."""
    now = {row.key: row.scores for row in breakdown(filters, "touchpoint")}
    before = {row.key: row.scores for row in breakdown(previous, "touchpoint")}
    empty = Scores.from_counts({})
    changes = []
    for touchpoint_id in now.keys() | before.keys():
        current = now.get(touchpoint_id, empty)
        old = before.get(touchpoint_id, empty)
        changes.append(
            TouchpointChange(
                touchpoint_id=touchpoint_id,
                previous=old,
                current=current,
                nps=nps_compare(old.nps, current.nps),
                ces_mean=mean_compare(old.ces.mean, current.ces.mean),
                csat_top_two_box=proportion_compare(old.csat.top_two_box, current.csat.top_two_box),
            )
        )
    changes.sort(key=lambda change: (*_magnitude(change), change.touchpoint_id))
    return changes
