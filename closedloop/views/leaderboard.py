"""The leaderboard: ``/o/<org>/cases/leaderboard/?period=this_month``.

Per owner and per team, for the cases resolved in the period (this week, this month,
last month, this quarter; in the organization's time zone): how many, how many within
the resolution SLA, the SLA compliance, the median time to first contact and the
recovery rate (recovered customers among the answered follow-up surveys).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from closedloop.forms_cases import PERIOD_LABELS, LeaderboardForm
from closedloop.selectors import PERIODS, LeaderboardRow, leaderboard, period_bounds
from closedloop.views.inbox import duration_text
from tenants.permissions import Capability, capability_required


def _display(row: LeaderboardRow) -> dict[str, Any]:
    median = row.median_first_contact
    return {"row": row, "median": duration_text(median) if median is not None else ""}


@capability_required(Capability.CASES_WORK)
@require_GET
def leaderboard_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = LeaderboardForm(request.GET)
    period = form.chosen_period()
    organization = request.organization  # type: ignore[attr-defined]
    start, end = period_bounds(period, now=timezone.now(), timezone_name=organization.timezone)
    board = leaderboard(start=start, end=end)
    return render(
        request,
        "closedloop/leaderboard.html",
        {
            "form": form,
            "period": period,
            "period_label": PERIOD_LABELS[period],
            "periods": [
                {
                    "key": key,
                    "label": PERIOD_LABELS[key],
                    "url": "?" + urlencode({"period": key}),
                    "current": key == period,
                }
                for key in PERIODS
            ],
            "start": board.start,
            "until": board.end - timedelta(seconds=1),
            "owners": [_display(row) for row in board.owners],
            "teams": [_display(row) for row in board.teams],
            "total": _display(board.total),
        },
    )
