"""The dashboard's overview: ``/o/<org>/dashboard/``.

NPS, CES and CSAT of the filtered period with intervals and the change against the
period of the same length before it, the distribution of answers, the trend with its
interval band, and a snapshot per journey. Everything comes from the daily rollup
(``metrics.selectors.scores``): a handful of aggregate queries, whatever the volume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET

from metrics import charts
from metrics.forms import GRAIN_LABELS
from metrics.scoring import SMALL_SAMPLE_THRESHOLD
from metrics.selectors.filters import GRAINS
from metrics.selectors.scores import Comparison, Scores, TrendPoint, breakdown, compare, trend
from metrics.views.common import dashboard_request
from metrics.views.display import (
    DASH,
    LEVEL,
    Change,
    Chart,
    ChartTable,
    Figure,
    ScoreSet,
    change,
    interval_label,
    mean_figure,
    nps_figure,
    number,
    percent,
    score_set,
    share_figure,
)
from responses.branding import brand_palette
from tenants.permissions import Capability, capability_required


@dataclass(frozen=True, slots=True)
class Tile:
    key: str
    title: str
    measure: str  # what the main figure is ("mean, 1-7")
    main: Figure
    change: Change
    extra: list[tuple[str, Figure]] = field(default_factory=list)


def tiles(comparison: Comparison) -> list[Tile]:
    now = comparison.current
    return [
        Tile(
            key="nps",
            title=_("NPS"),
            measure=_("Net Promoter Score, from -100 to +100"),
            main=nps_figure(now.nps),
            change=change(comparison.nps, unit=_("points")),
        ),
        Tile(
            key="ces",
            title=_("CES"),
            measure=_("Customer Effort Score, mean of 1 (very difficult) to 7 (very easy)"),
            main=mean_figure(now.ces.mean),
            change=change(comparison.ces_mean, decimals=2),
            extra=[(_("Easy (5-7)"), share_figure(now.ces.easy))],
        ),
        Tile(
            key="csat",
            title=_("CSAT"),
            measure=_("Customer satisfaction, share of 4 and 5 on a 1-5 scale (top two box)"),
            main=share_figure(now.csat.top_two_box),
            change=change(comparison.csat_top_two_box, unit=_("percentage points")),
            extra=[(_("Mean (1-5)"), mean_figure(now.csat.mean))],
        ),
    ]


def period_label(start: date, end: date) -> str:
    if start == end:
        return date_format(start, "SHORT_DATE_FORMAT")
    return (
        f"{date_format(start, 'SHORT_DATE_FORMAT')} {DASH} {date_format(end, 'SHORT_DATE_FORMAT')}"
    )


def distribution_charts(scores: Scores) -> list[Chart]:
    result = []
    if scores.nps.n:
        result.append(
            _distribution_chart(
                "chart-nps-distribution",
                _("NPS answers (0-10)"),
                scores.nps_histogram,
                charts.nps_distribution(scores.nps_histogram),
                group=lambda value: (
                    _("Detractor") if value <= 6 else _("Passive") if value <= 8 else _("Promoter")
                ),
            )
        )
    if scores.ces.n:
        result.append(
            _distribution_chart(
                "chart-ces-distribution",
                _("CES answers (1 very difficult to 7 very easy)"),
                scores.ces_histogram,
                charts.scale_distribution(
                    scores.ces_histogram,
                    low=1,
                    high=7,
                    bad_max=3,
                    good_min=5,
                    title=_("Answer (1-7)"),
                ),
            )
        )
    if scores.csat.n:
        result.append(
            _distribution_chart(
                "chart-csat-distribution",
                _("CSAT answers (1 very dissatisfied to 5 very satisfied)"),
                scores.csat_histogram,
                charts.scale_distribution(
                    scores.csat_histogram,
                    low=1,
                    high=5,
                    bad_max=2,
                    good_min=4,
                    title=_("Answer (1-5)"),
                ),
            )
        )
    return result


def _distribution_chart(
    chart_id: str,
    title: str,
    histogram: dict[int, int],
    figure: dict[str, Any],
    group: Any = None,
) -> Chart:
    total = sum(histogram.values())
    headers = [_("Answer"), _("Answers"), pgettext("proportion", "Share")]
    if group:
        headers.insert(1, _("Group"))
    rows = []
    for value, count in sorted(histogram.items()):
        row: list[Any] = [value, count, percent(100.0 * count / total if total else None)]
        if group:
            row.insert(1, group(value))
        rows.append(row)
    numeric = [False, False, True, True] if group else [False, True, True]
    return Chart(
        id=chart_id,
        title=title,
        figure=figure,
        table=ChartTable(caption=title, headers=headers, rows=rows, numeric=numeric),
    )


TREND_TITLES = {
    "nps": lambda: _("NPS over time"),
    "ces": lambda: _("CES mean over time"),
    "csat": lambda: _("CSAT top two box over time"),
}


def trend_charts(points: list[TrendPoint], scores: Scores, accent: str) -> list[Chart]:
    result = []
    available = {"nps": scores.nps.n, "ces": scores.ces.n, "csat": scores.csat.n}
    for metric in charts.TREND_METRICS:
        if not available[metric]:
            continue
        title = TREND_TITLES[metric]()
        decimals = 2 if metric == "ces" else 1
        rows = []
        for point in points:
            value, low, high, n = charts.trend_estimate(point, metric)
            shown = number(value, decimals) if metric != "csat" else percent(value)
            interval = (
                f"{number(low, decimals)} {DASH} {number(high, decimals)}"
                if value is not None
                else ""
            )
            rows.append(
                [
                    period_label(point.start, point.end),
                    shown,
                    interval,
                    n,
                    _("indicative only") if 0 < n < SMALL_SAMPLE_THRESHOLD else "",
                ]
            )
        result.append(
            Chart(
                id=f"chart-trend-{metric}",
                title=title,
                figure=charts.trend_chart(points, metric, accent=accent),
                table=ChartTable(
                    caption=title,
                    headers=[
                        _("Period"),
                        _("Value"),
                        interval_label(),
                        "n",
                        pgettext("remark", "Note"),
                    ],
                    rows=rows,
                    numeric=[False, True, True, True, False],
                ),
                description=_(
                    "The line is the score per period, the shaded band its %(level)s "
                    "interval. Gaps are periods without answers; a period between gaps "
                    "shows its interval as whiskers."
                )
                % {"level": LEVEL},
            )
        )
    return result


@dataclass(frozen=True, slots=True)
class JourneySnapshot:
    id: int
    name: str
    scores: ScoreSet
    query: str  # the filters of the journey view for this journey


@capability_required(Capability.METRICS_VIEW)
@require_GET
def overview_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    board = dashboard_request(request)
    filters = board.filters
    comparison = compare(filters)
    current = comparison.current
    accent = brand_palette(request.organization.brand_colour).ink  # type: ignore[attr-defined]
    by_journey = {row.key: row.scores for row in breakdown(filters, "journey")}
    # Filtered to one touchpoint or survey, other journeys cannot have feedback here.
    narrowed = filters.touchpoint_id is not None or filters.survey_id is not None
    journeys = [
        JourneySnapshot(
            id=pk,
            name=name,
            scores=score_set(by_journey.get(pk) or Scores.from_counts({})),
            query=filters.querystring(journey_id=pk, touchpoint_id=None),
        )
        for pk, name in board.choices.journeys
        if (filters.journey_id is None or pk == filters.journey_id)
        and (pk in by_journey or not narrowed)
    ]
    journeys.sort(key=lambda journey: (-journey.scores.responses, journey.name.casefold()))
    points = trend(filters) if not current.empty else []
    previous = comparison.previous_filters
    return render(
        request,
        "metrics/overview.html",
        board.context(
            scores=score_set(current),
            tiles=tiles(comparison),
            previous_label=period_label(previous.start, previous.end),
            previous_responses=comparison.previous.responses,
            distribution_charts=distribution_charts(current) if not current.empty else [],
            trend_charts=trend_charts(points, current, accent),
            journeys=journeys,
            longer_query=filters.querystring(period="12m"),
            grain_links=[
                {
                    "key": grain,
                    "label": GRAIN_LABELS[grain],
                    "query": filters.querystring(grain=grain),
                    "current": grain == filters.grain,
                }
                for grain in GRAINS
            ],
        ),
    )
