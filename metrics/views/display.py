"""How the dashboard pages show scores: formatted numbers, intervals, changes, charts.

Numbers are formatted for the active language (``1,5`` in German); a value that cannot
be computed (no answers) is shown as an em dash. Units: NPS and percentages with one
decimal, means (CES 1-7, CSAT 1-5) with two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext as _

from metrics.scoring import (
    ChangeResult,
    MeanResult,
    NpsResult,
    ProportionResult,
)
from metrics.selectors.scores import Scores

NONE = "—"
MINUS = "\u2212"
DASH = "\u2013"  # between the ends of an interval or a period
LEVEL = "95\u00a0%"  # the confidence level of every interval and test


def interval_label() -> str:
    return _("%(level)s interval") % {"level": LEVEL}


def number(value: float | None, decimals: int = 1) -> str:
    if value is None:
        return NONE
    text = number_format(round(value, decimals), decimal_pos=decimals, use_l10n=True)
    return text.replace("-", MINUS) if text.startswith("-") else text


def signed(value: float | None, decimals: int = 1) -> str:
    """A change or an NPS with its sign: +3.2, 0.0, and a minus sign (U+2212) below 0."""
    if value is None:
        return NONE
    rounded = round(value, decimals)
    text = number(abs(rounded), decimals)
    if rounded > 0:
        return f"+{text}"
    if rounded < 0:
        return f"{MINUS}{text}"
    return text


def p_value(value: float | None) -> str:
    if value is None:
        return NONE
    if value < 0.001:
        return f"< {number(0.001, 3)}"
    return number(value, 3)


@dataclass(frozen=True, slots=True)
class Figure:
    """One estimate as the page shows it: value, interval, n, and the raw numbers."""

    value: str
    low: str
    high: str
    n: int
    small_sample: bool
    raw: float | None
    raw_low: float | None = None
    raw_high: float | None = None

    @property
    def empty(self) -> bool:
        return self.raw is None

    @property
    def interval(self) -> str:
        return "" if self.empty else f"{self.low} {DASH} {self.high}"


def nps_figure(nps: NpsResult) -> Figure:
    return Figure(
        value=signed(nps.score),
        low=signed(nps.ci_low),
        high=signed(nps.ci_high),
        n=nps.n,
        small_sample=nps.small_sample,
        raw=nps.score,
        raw_low=nps.ci_low,
        raw_high=nps.ci_high,
    )


def share_figure(share: ProportionResult) -> Figure:
    return Figure(
        value=percent(share.pct),
        low=percent(share.ci_low),
        high=percent(share.ci_high),
        n=share.n,
        small_sample=share.small_sample,
        raw=share.pct,
        raw_low=share.ci_low,
        raw_high=share.ci_high,
    )


def mean_figure(mean: MeanResult) -> Figure:
    return Figure(
        value=number(mean.mean, 2),
        low=number(mean.ci_low, 2),
        high=number(mean.ci_high, 2),
        n=mean.n,
        small_sample=mean.small_sample,
        raw=mean.mean,
        raw_low=mean.ci_low,
        raw_high=mean.ci_high,
    )


def percent(value: float | None) -> str:
    return NONE if value is None else f"{number(value, 1)}\u00a0%"


@dataclass(frozen=True, slots=True)
class Change:
    """A change between two periods as the page shows it."""

    difference: str
    low: str
    high: str
    p_value: str
    significant: bool
    defined: bool  # both periods have answers
    tested: bool  # a p-value exists
    direction: str  # "up", "down" or "flat"
    small_sample: bool
    raw: float | None
    unit: str = ""

    @property
    def interval(self) -> str:
        return "" if self.low == NONE else f"{self.low} {DASH} {self.high}"

    @property
    def verdict(self) -> str:
        if not self.defined:
            return _("no comparison (no answers in one of the periods)")
        if not self.tested:
            return _("not testable")
        if self.significant:
            return _("significant at %(level)s") % {"level": LEVEL}
        return _("not significant")


def change(result: ChangeResult, *, decimals: int = 1, unit: str = "") -> Change:
    difference = result.difference
    rounded = round(difference, decimals) if difference is not None else None
    direction = "flat" if not rounded else "up" if rounded > 0 else "down"
    suffix = f"\u00a0{unit}" if unit else ""
    return Change(
        difference=signed(difference, decimals) + (suffix if difference is not None else ""),
        low=signed(result.ci_low, decimals),
        high=signed(result.ci_high, decimals),
        p_value=p_value(result.p_value),
        significant=result.significant,
        defined=difference is not None,
        tested=result.p_value is not None,
        direction=direction,
        small_sample=result.small_sample,
        raw=difference,
        unit=unit,
    )


@dataclass(frozen=True, slots=True)
class ScoreSet:
    """The figures of one set of scores (a period, a touchpoint, a breakdown row)."""

    responses: int
    completed: int
    comments: int
    nps: Figure
    ces_mean: Figure
    ces_easy: Figure
    csat_top_two_box: Figure
    csat_mean: Figure

    @property
    def empty(self) -> bool:
        return self.responses == 0


def score_set(scores: Scores) -> ScoreSet:
    return ScoreSet(
        responses=scores.responses,
        completed=scores.completed,
        comments=scores.comments,
        nps=nps_figure(scores.nps),
        ces_mean=mean_figure(scores.ces.mean),
        ces_easy=share_figure(scores.ces.easy),
        csat_top_two_box=share_figure(scores.csat.top_two_box),
        csat_mean=mean_figure(scores.csat.mean),
    )


# --- Charts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChartTable:
    """The data-table alternative of a chart."""

    caption: str
    headers: list[str]
    rows: list[list[Any]]
    numeric: list[bool] = field(default_factory=list)  # per column: right-aligned

    @property
    def cells(self) -> list[list[tuple[Any, bool]]]:
        """Rows as (value, numeric) pairs."""
        flags = self.numeric or [False] * len(self.headers)
        return [list(zip(row, flags, strict=False)) for row in self.rows]


@dataclass(frozen=True, slots=True)
class Chart:
    """A figure for ``metrics/_chart.html``: ``id`` names the drawing area, the figure
    goes to the page as ``<id>-data`` (``json_script``)."""

    id: str
    title: str
    figure: dict[str, Any]
    table: ChartTable | None = None  # None: the page's main table shows the data
    description: str = ""

    @property
    def data_id(self) -> str:
        return f"{self.id}-data"
