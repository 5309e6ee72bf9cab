"""The closed-loop KPI page: ``/o/<org>/dashboard/closed-loop/`` (every dashboard reader).

SLA compliance, time to first contact, closure and recovery rates of the cases opened in
the filtered period, the open backlog by age, per team and per owner, and the weekly
trend of opened and resolved cases. Aggregates only: owners see it like everyone else.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from closedloop.views.inbox import duration_text
from metrics.selectors.kpis import AGE_KEYS, KpiRow, TrendWeek, closed_loop_kpis
from metrics.views.common import dashboard_request
from tenants.permissions import Capability, capability_required

AGE_LABELS = {
    "under_1d": _("Less than 1 day"),
    "1d_2d": _("1 to 2 days"),
    "2d_7d": _("2 to 7 days"),
    "over_7d": _("More than 7 days"),
}


def _row(row: KpiRow) -> dict[str, Any]:
    median = row.median_first_contact
    return {
        "row": row,
        "median": duration_text(median) if median is not None else "",
        "backlog": [
            {
                "key": key,
                "label": AGE_LABELS[key],
                "open": row.backlog[key],
                "breached": row.backlog_breached[key],
            }
            for key in AGE_KEYS
        ],
    }


def _trend_chart(trend: list[TrendWeek]) -> dict[str, Any]:
    """A grouped bar chart of opened and resolved cases per week, for
    ``metrics/_chart.html`` (drawn by static/js/dashboard.js; the page's trend table
    holds the same numbers)."""
    weeks = [date_format(week.start, "SHORT_DATE_FORMAT") for week in trend]
    german = (get_language() or "en").startswith("de")
    figure = {
        "data": [
            {
                "type": "bar",
                "name": gettext_now("Opened"),
                "x": weeks,
                "y": [week.opened for week in trend],
                "marker": {"color": "#1f5f8b"},
            },
            {
                "type": "bar",
                "name": gettext_now("Resolved"),
                "x": weeks,
                "y": [week.resolved for week in trend],
                "marker": {"color": "#146c2e"},
            },
        ],
        "layout": {
            "barmode": "group",
            "height": 300,
            "separators": ",." if german else ".,",
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "margin": {"l": 48, "r": 16, "t": 16, "b": 48},
            "legend": {"orientation": "h", "y": -0.2},
            "xaxis": {"type": "category", "title": {"text": gettext_now("Week from")}},
            "yaxis": {"rangemode": "tozero", "tickformat": "d", "gridcolor": "#d0d7de"},
        },
    }
    return {
        "id": "kpi-trend",
        "data_id": "kpi-trend-data",
        "title": _("Cases opened and resolved, by week"),
        "description": _("The table below holds the same numbers."),
        "figure": figure,
        "table": None,
    }


@capability_required(Capability.METRICS_VIEW)
@require_GET
def kpis(request: HttpRequest, org_slug: str) -> HttpResponse:
    board = dashboard_request(request)
    report = closed_loop_kpis(filters=board.filters, timezone_name=board.timezone_name)
    return render(
        request,
        "metrics/kpis.html",
        board.context(
            report=report,
            total=_row(report.total),
            tables=[
                {
                    "id": "kpi-teams",
                    "title": _("By team"),
                    "caption": _("Closed-loop KPIs per team"),
                    "first": _("Team"),
                    "rows": [_row(row) for row in report.teams],
                },
                {
                    "id": "kpi-owners",
                    "title": _("By owner"),
                    "caption": _("Closed-loop KPIs per case owner"),
                    "first": _("Owner"),
                    "rows": [_row(row) for row in report.owners],
                },
            ],
            age_labels=[AGE_LABELS[key] for key in AGE_KEYS],
            trend=report.trend,
            trend_chart=_trend_chart(report.trend),
            # Filters of the bar that cases cannot follow (they hold no segment or score).
            filters_not_applied=bool(report.filters.segment_key or report.filters.nps_group),
        ),
    )
