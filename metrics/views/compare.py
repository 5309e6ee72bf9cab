"""Period comparison: ``/o/<org>/dashboard/compare/?compare_start=...&compare_end=...``.

The filtered period against another one (by default the period of the same length just
before it): every score of both periods with n, the difference, its interval, the
p-value and a plain verdict, overall and per touchpoint (biggest movers first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from metrics import charts
from metrics.forms_dashboard import CompareForm, compare_period
from metrics.selectors.movers import touchpoint_movers
from metrics.selectors.scores import compare
from metrics.views.common import dashboard_request
from metrics.views.display import (
    LEVEL,
    Change,
    Chart,
    Figure,
    change,
    mean_figure,
    nps_figure,
    share_figure,
)
from metrics.views.overview import period_label
from tenants.permissions import Capability, capability_required

CHART_ROWS = 30


@dataclass(frozen=True, slots=True)
class MetricRow:
    key: str
    label: str
    previous: Figure
    current: Figure
    change: Change


@dataclass(frozen=True, slots=True)
class MoverRow:
    touchpoint_id: int
    label: str
    previous_responses: int
    current_responses: int
    metrics: list[MetricRow]
    small_sample: bool


@capability_required(Capability.METRICS_VIEW)
@require_GET
def compare_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    board = dashboard_request(request)
    filters = board.filters
    period = compare_period(request.GET, filters)
    board.form.ignored.extend(period.ignored)
    comparison = compare(filters, period.filters)
    before, now = comparison.previous, comparison.current
    points, pp = _("points"), _("percentage points")
    metrics = [
        MetricRow(
            "nps",
            _("NPS"),
            nps_figure(before.nps),
            nps_figure(now.nps),
            change(comparison.nps, unit=points),
        ),
        MetricRow(
            "ces_mean",
            _("CES mean (1-7)"),
            mean_figure(before.ces.mean),
            mean_figure(now.ces.mean),
            change(comparison.ces_mean, decimals=2),
        ),
        MetricRow(
            "ces_easy",
            _("CES easy (5-7)"),
            share_figure(before.ces.easy),
            share_figure(now.ces.easy),
            change(comparison.ces_easy, unit=pp),
        ),
        MetricRow(
            "csat_top_two_box",
            _("CSAT top two box (4-5)"),
            share_figure(before.csat.top_two_box),
            share_figure(now.csat.top_two_box),
            change(comparison.csat_top_two_box, unit=pp),
        ),
        MetricRow(
            "csat_mean",
            _("CSAT mean (1-5)"),
            mean_figure(before.csat.mean),
            mean_figure(now.csat.mean),
            change(comparison.csat_mean, decimals=2),
        ),
    ]
    names = {pk: name for pk, name, _journey in board.choices.touchpoints}
    found = touchpoint_movers(filters, period.filters)
    movers = [
        MoverRow(
            touchpoint_id=mover.touchpoint_id,
            label=names.get(mover.touchpoint_id, str(mover.touchpoint_id)),
            previous_responses=mover.previous.responses,
            current_responses=mover.current.responses,
            metrics=[
                row
                for row in (
                    MetricRow(
                        "nps",
                        _("NPS"),
                        nps_figure(mover.previous.nps),
                        nps_figure(mover.current.nps),
                        change(mover.nps, unit=points),
                    ),
                    MetricRow(
                        "ces_mean",
                        _("CES mean"),
                        mean_figure(mover.previous.ces.mean),
                        mean_figure(mover.current.ces.mean),
                        change(mover.ces_mean, decimals=2),
                    ),
                    MetricRow(
                        "csat_top_two_box",
                        _("CSAT top two box"),
                        share_figure(mover.previous.csat.top_two_box),
                        share_figure(mover.current.csat.top_two_box),
                        change(mover.csat_top_two_box, unit=pp),
                    ),
                )
                # Only the scores the touchpoint has answers for (in either period).
                if row.previous.n or row.current.n
            ],
            small_sample=mover.small_sample,
        )
        for mover in found
    ]
    with_nps = [
        (row.label, mover.nps)
        for row, mover in zip(movers, found, strict=True)
        if mover.nps.difference is not None
    ][:CHART_ROWS]
    chart = None
    if with_nps:
        chart = Chart(
            id="chart-compare-nps",
            title=_("NPS change per touchpoint"),
            figure=charts.change_chart(
                [label for label, _result in with_nps],
                [result for _label, result in with_nps],
                axis_title=_("NPS change (points)"),
            ),
            description=_(
                "Dots show the change of the NPS, whiskers its %(level)s interval; green and "
                "red dots are significant rises and falls, grey ones are not significant."
            )
            % {"level": LEVEL},
        )
    compare_form = CompareForm(
        initial={"compare_start": period.filters.start, "compare_end": period.filters.end}
    )
    context: dict[str, Any] = {
        "metrics": metrics,
        "movers": movers,
        "chart": chart,
        "current_label": period_label(filters.start, filters.end),
        "previous_label": period_label(period.filters.start, period.filters.end),
        "current_responses": now.responses,
        "previous_responses": before.responses,
        "custom_period": period.custom,
        "compare_form": compare_form,
        "hidden_params": sorted(filters.query().items()),
    }
    return render(request, "metrics/compare.html", board.context(**context))
