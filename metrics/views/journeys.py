"""The journey view: ``/o/<org>/dashboard/journeys/?journey=<id>``.

Every touchpoint of one journey in journey order, side by side with NPS (and its
interval), CES, CSAT and volume, the weakest touchpoint highlighted. Without a
``journey`` filter the journey with the most responses in the period is shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from metrics import charts
from metrics.selectors.journeys import Weakest, busiest_journey, journey_scores
from metrics.views.common import dashboard_request
from metrics.views.display import LEVEL, Chart, ScoreSet, score_set
from responses.branding import brand_palette
from tenants.permissions import Capability, capability_required


@dataclass(frozen=True, slots=True)
class TouchpointRow:
    id: int
    position: int
    name: str
    scores: ScoreSet
    weakest: bool
    url: str  # the drill-down filtered by this touchpoint


def weakest_reason(weakest: Weakest) -> str:
    if weakest.reliable:
        return {
            "nps": _("lowest NPS among the touchpoints with at least 30 NPS answers"),
            "csat": _("lowest CSAT top two box among the touchpoints with at least 30 answers"),
            "ces": _("lowest CES mean among the touchpoints with at least 30 answers"),
        }[weakest.metric]
    return {
        "nps": _("lowest NPS, but on fewer than 30 answers: indicative only"),
        "csat": _("lowest CSAT top two box, but on fewer than 30 answers: indicative only"),
        "ces": _("lowest CES mean, but on fewer than 30 answers: indicative only"),
    }[weakest.metric]


@capability_required(Capability.METRICS_VIEW)
@require_GET
def journeys_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    board = dashboard_request(request)
    filters = board.filters
    journeys = board.choices.journeys
    journey_ids = [pk for pk, _name in journeys]
    selected = filters.journey_id
    if selected is None and journeys:
        busiest = busiest_journey(filters)
        selected = busiest if busiest in journey_ids else journey_ids[0]
    context: dict[str, object] = {
        "journey_links": [
            {
                "id": pk,
                "name": name,
                "query": filters.querystring(journey_id=pk, touchpoint_id=None),
                "current": pk == selected,
            }
            for pk, name in journeys
        ],
        "touchpoint_filter_ignored": filters.touchpoint_id is not None,
        "rows": None,
    }
    if selected is not None:
        result = journey_scores(filters, selected)
        weakest_id = result.weakest.touchpoint_id if result.weakest else None
        breakdown_url = reverse("metrics:breakdown", kwargs={"org_slug": org_slug})
        rows = [
            TouchpointRow(
                id=touchpoint.id,
                position=touchpoint.position,
                name=touchpoint.name,
                scores=score_set(touchpoint.scores),
                weakest=touchpoint.id == weakest_id,
                url=breakdown_url
                + "?"
                + result.filters.querystring(touchpoint_id=touchpoint.id)
                + "&by=channel",
            )
            for touchpoint in result.touchpoints
        ]
        labels = {row.id: f"{index}. {row.name}" for index, row in enumerate(rows, 1)}
        accent = brand_palette(request.organization.brand_colour).ink  # type: ignore[attr-defined]
        estimates = [
            charts.Estimate(
                label=labels[row.id],
                value=row.scores.nps.raw,
                low=row.scores.nps.raw_low,
                high=row.scores.nps.raw_high,
                n=row.scores.nps.n,
                small_sample=row.scores.nps.small_sample,
            )
            for row in rows
        ]
        show_chart = any(estimate.value is not None for estimate in estimates)
        context.update(
            journey_name=dict(journeys)[selected],
            rows=rows,
            weakest=next((row for row in rows if row.weakest), None),
            weakest_reason=weakest_reason(result.weakest) if result.weakest else "",
            chart=Chart(
                id="chart-journey-nps",
                title=_("NPS per touchpoint, in journey order"),
                figure=charts.interval_bars(
                    estimates,
                    axis_title=_("NPS (points)"),
                    highlight=labels[weakest_id] if weakest_id else None,
                    accent=accent,
                ),
                description=_(
                    "Bars show the NPS, whiskers its %(level)s interval; pale bars rest on "
                    "fewer than 30 answers, the red bar is the weakest touchpoint."
                )
                % {"level": LEVEL},
            )
            if show_chart
            else None,
        )
    return render(request, "metrics/journeys.html", board.context(**context))
