"""The drill-down: ``/o/<org>/dashboard/breakdown/?by=<dimension>&sort=<key>``.

NPS, CES and CSAT with intervals and n per touchpoint, journey, survey, channel,
language, team or CRM segment, sortable, each row a link that applies its value as a
filter (and breaks down one level further). By channel, the response rate of the
invitations sent in the period is shown beside the scores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from metrics import charts
from metrics.forms_dashboard import (
    DIMENSION_HEADINGS,
    DIMENSION_LABELS,
    SORT_KEYS,
    BreakdownForm,
)
from metrics.selectors.filters import DashboardFilters
from metrics.selectors.labels import dimension_labels
from metrics.selectors.rates import ResponseRate, response_rates_by_channel
from metrics.selectors.scores import DIMENSIONS, BreakdownRow, Scores, breakdown
from metrics.views.common import dashboard_request
from metrics.views.display import LEVEL, Chart, Figure, ScoreSet, percent, score_set
from responses.branding import brand_palette
from responses.models import ResponseChannel
from tenants.permissions import Capability, capability_required

# The filter a row's value becomes, and the dimension to break down by next.
DRILL = {
    "journey": ("journey_id", "touchpoint"),
    "touchpoint": ("touchpoint_id", "channel"),
    "survey": ("survey_id", "channel"),
    "channel": ("channel", "touchpoint"),
    "language": ("language", "touchpoint"),
    "segment": ("segment_value", "touchpoint"),
}
CHART_ROWS = 30

_SORT_VALUES: dict[str, Callable[[ScoreSet], float | None]] = {
    "volume": lambda s: float(s.responses),
    "nps": lambda s: s.nps.raw,
    "ces": lambda s: s.ces_mean.raw,
    "csat": lambda s: s.csat_top_two_box.raw,
}


@dataclass(frozen=True, slots=True)
class Row:
    key: Any
    label: str
    scores: ScoreSet
    query: str  # "" when the value cannot be a filter (teams)
    rate: ResponseRate | None = None

    @property
    def rate_text(self) -> str:
        return percent(self.rate.pct) if self.rate else ""


def sort_rows(rows: list[Row], sort: str) -> list[Row]:
    """Sort by ``volume`` (largest first) or a score (lowest first); ``-key`` reverses.
    Rows without a value for the score come last either way."""
    reverse = sort.startswith("-")
    key = sort.lstrip("-")
    measure = _SORT_VALUES[key]
    natural_descending = key == "volume"
    descending = natural_descending != reverse
    with_value = [row for row in rows if measure(row.scores) is not None]
    without = [row for row in rows if measure(row.scores) is None]
    with_value.sort(key=lambda row: row.label.casefold())
    with_value.sort(key=lambda row: measure(row.scores) or 0.0, reverse=descending)
    without.sort(key=lambda row: row.label.casefold())
    return with_value + without


def _row_query(filters: DashboardFilters, dimension: str, key: Any) -> str:
    if dimension not in DRILL or key is None:
        return ""
    if dimension == "channel" and key not in ResponseChannel.values:
        return ""
    field, next_dimension = DRILL[dimension]
    return filters.querystring(**{field: key}) + f"&by={next_dimension}"


def _labels(
    board_touchpoints: list[tuple[int, str, int]], dimension: str, keys: list[Any]
) -> dict[Any, str]:
    if dimension == "touchpoint":
        return {pk: name for pk, name, _journey in board_touchpoints}
    return dimension_labels(dimension, keys)


def _sort_links(filters_query: str, dimension: str, sort: str) -> list[dict[str, Any]]:
    links = []
    for key in SORT_KEYS:
        current = sort.lstrip("-") == key
        next_sort = (key if sort.startswith("-") else f"-{key}") if current else key
        descending = (key == "volume") != sort.startswith("-")
        links.append(
            {
                "key": key,
                "query": f"{filters_query}&by={dimension}&sort={next_sort}",
                "current": current,
                "aria_sort": ("descending" if descending else "ascending") if current else "",
            }
        )
    return links


def _chart(rows: list[Row], sort: str, dimension_label: str, accent: str) -> Chart | None:
    key = sort.lstrip("-")
    order = [key] if key != "volume" else []
    order += [metric for metric in ("nps", "csat", "ces") if metric not in order]
    for metric in order:
        figures: list[Figure] = [_metric_figure(row.scores, metric) for row in rows[:CHART_ROWS]]
        if not any(not figure.empty for figure in figures):
            continue
        name, axis = {
            "nps": (_("NPS"), _("NPS (points)")),
            "csat": (_("CSAT top two box"), _("CSAT top two box (per cent)")),
            "ces": (_("CES mean"), _("CES mean (1-7)")),
        }[metric]
        title = f"{name} · {dimension_label}"
        estimates = [
            charts.Estimate(
                label=row.label,
                value=figure.raw,
                low=figure.raw_low,
                high=figure.raw_high,
                n=figure.n,
                small_sample=figure.small_sample,
            )
            for row, figure in zip(rows, figures, strict=False)
        ]
        description = _(
            "Bars show the score, whiskers its %(level)s interval; pale bars rest on fewer "
            "than 30 answers."
        ) % {"level": LEVEL}
        if len(rows) > CHART_ROWS:
            description += " " + _("The chart shows the first %(count)s rows of the table.") % {
                "count": CHART_ROWS
            }
        return Chart(
            id="chart-breakdown",
            title=title,
            figure=charts.interval_bars(estimates, axis_title=axis, horizontal=True, accent=accent),
            description=description,
        )
    return None


def _metric_figure(scores: ScoreSet, metric: str) -> Figure:
    if metric == "nps":
        return scores.nps
    if metric == "csat":
        return scores.csat_top_two_box
    return scores.ces_mean


@capability_required(Capability.METRICS_VIEW)
@require_GET
def breakdown_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    board = dashboard_request(request)
    filters = board.filters
    dimension, sort, ignored = BreakdownForm(request.GET).parsed()
    board.form.ignored.extend(ignored)
    organization = request.organization  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "dimension": dimension,
        "dimension_label": DIMENSION_LABELS[dimension],
        "dimension_heading": DIMENSION_HEADINGS[dimension],
        "sort": sort,
        "dimension_links": [
            {
                "key": key,
                "label": DIMENSION_LABELS[key],
                "query": f"{filters.querystring()}&by={key}",
                "current": key == dimension,
            }
            for key in DIMENSIONS
        ],
        "rows": None,
        "segment_missing": False,
        "segment_links": [],
    }
    if dimension == "segment" and not filters.segment_key:
        context["segment_missing"] = True
        context["segment_links"] = [
            {"label": label, "query": filters.querystring(segment_key=key) + "&by=segment"}
            for key, label in board.choices.segments
        ]
        return render(request, "metrics/breakdown.html", board.context(**context))

    found: list[BreakdownRow] = breakdown(filters, dimension)
    rates: dict[str, ResponseRate] = {}
    if dimension == "channel":
        rates = response_rates_by_channel(filters, organization.timezone)
        present = {row.key for row in found}
        empty = Scores.from_counts({})
        found += [
            BreakdownRow(key=channel, scores=empty) for channel in rates if channel not in present
        ]
    labels = _labels(board.choices.touchpoints, dimension, [row.key for row in found])
    rows = sort_rows(
        [
            Row(
                key=row.key,
                label=labels.get(row.key, str(row.key)),
                scores=score_set(row.scores),
                query=_row_query(filters, dimension, row.key),
                rate=rates.get(row.key) if dimension == "channel" else None,
            )
            for row in found
        ],
        sort,
    )
    accent = brand_palette(organization.brand_colour).ink
    context.update(
        rows=rows,
        chart=_chart(rows, sort, str(DIMENSION_LABELS[dimension]), accent) if rows else None,
        sort_links={
            link["key"]: link for link in _sort_links(filters.querystring(), dimension, sort)
        },
        rates=sorted(rates.values(), key=lambda rate: rate.channel),
        segment_label=dict(board.choices.segments).get(filters.segment_key, filters.segment_key),
    )
    return render(request, "metrics/breakdown.html", board.context(**context))
