"""Plotly figures of the dashboard, built in Python and drawn by ``static/js/dashboard.js``.

Each builder returns the figure as plain JSON data (``{"data": [...], "layout": {...}}``)
for ``json_script``; the page renders it with ``Plotly.newPlot``. Every chart on a page
has a data table beside it, so the figures carry no information of their own.

Colours follow ``static/css/app.css``: detractors and worse answers red (``--danger``),
passives and middle answers amber, promoters and better answers green (``--success``);
lines and bars use the organization's brand colour, darkened to be readable on white.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go  # type: ignore[import-untyped]
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from metrics.scoring import ChangeResult
from metrics.selectors.scores import TrendPoint

RED = "#b42318"
AMBER = "#b26b00"
GREEN = "#146c2e"
GREY = "#8c959f"
TEXT = "#1b1f24"
GRID = "#d0d7de"
DEFAULT_ACCENT = "#1f5f8b"
DASH = "\u2013"  # between the ends of an interval
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'


@dataclass(frozen=True, slots=True)
class Estimate:
    """One value of a chart with its interval (``None`` when there is no data)."""

    label: str
    value: float | None
    low: float | None
    high: float | None
    n: int
    small_sample: bool = False


# --- Common layout -------------------------------------------------------------------


def _rgba(colour: str, alpha: float) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _layout(**overrides: Any) -> dict[str, Any]:
    german = (get_language() or "en").startswith("de")
    layout: dict[str, Any] = {
        "template": "none",
        "font": {"family": FONT, "size": 13, "color": TEXT},
        "separators": ",." if german else ".,",
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "margin": {"l": 56, "r": 16, "t": 16, "b": 48},
        "height": 320,
        "showlegend": False,
        "hoverlabel": {"font": {"family": FONT}},
        "xaxis": {"gridcolor": GRID, "linecolor": GRID, "zerolinecolor": GREY, "automargin": True},
        "yaxis": {"gridcolor": GRID, "linecolor": GRID, "zerolinecolor": GREY, "automargin": True},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


def _figure(traces: Sequence[Any], **layout: Any) -> dict[str, Any]:
    figure = go.Figure(data=list(traces), layout=_layout(**layout))
    data: dict[str, Any] = json.loads(figure.to_json())
    return data


def _share(count: int, total: int) -> float:
    return round(100.0 * count / total, 1) if total else 0.0


# --- Distributions -------------------------------------------------------------------


def nps_distribution(histogram: Mapping[int, int]) -> dict[str, Any]:
    """Answers 0-10 as bars: detractors red, passives amber, promoters green."""
    values = list(range(11))
    counts = [int(histogram.get(value, 0)) for value in values]
    total = sum(counts)
    colours = [RED if value <= 6 else AMBER if value <= 8 else GREEN for value in values]
    groups = [
        _("Detractor") if value <= 6 else _("Passive") if value <= 8 else _("Promoter")
        for value in values
    ]
    bar = go.Bar(
        x=[str(value) for value in values],
        y=counts,
        marker={"color": colours},
        customdata=[
            [group, _share(count, total)] for group, count in zip(groups, counts, strict=True)
        ],
        hovertemplate=(
            f"{_('Score')} %{{x}} (%{{customdata[0]}})<br>"
            f"{_('Answers')}: %{{y}} (%{{customdata[1]}} %)<extra></extra>"
        ),
    )
    return _figure(
        [bar],
        height=260,
        xaxis={"title": {"text": _("Score (0-10)")}, "type": "category"},
        yaxis={"title": {"text": _("Answers")}, "rangemode": "tozero"},
        bargap=0.15,
    )


def scale_distribution(
    histogram: Mapping[int, int], *, low: int, high: int, bad_max: int, good_min: int, title: str
) -> dict[str, Any]:
    """Answers of a CES (1-7) or CSAT (1-5) scale: bad answers red, middle ones grey,
    good ones green."""
    values = list(range(low, high + 1))
    counts = [int(histogram.get(value, 0)) for value in values]
    total = sum(counts)
    colours = [
        RED if value <= bad_max else GREEN if value >= good_min else GREY for value in values
    ]
    bar = go.Bar(
        x=[str(value) for value in values],
        y=counts,
        marker={"color": colours},
        customdata=[_share(count, total) for count in counts],
        hovertemplate=(
            f"{_('Answer')} %{{x}}<br>{_('Answers')}: %{{y}} (%{{customdata}} %)<extra></extra>"
        ),
    )
    return _figure(
        [bar],
        height=260,
        xaxis={"title": {"text": title}, "type": "category"},
        yaxis={"title": {"text": _("Answers")}, "rangemode": "tozero"},
        bargap=0.15,
    )


# --- Trend ---------------------------------------------------------------------------

TREND_METRICS = ("nps", "ces", "csat")


def trend_estimate(
    point: TrendPoint, metric: str
) -> tuple[float | None, float | None, float | None, int]:
    """(value, interval low, interval high, n) of one trend period."""
    scores = point.scores
    if metric == "nps":
        nps = scores.nps
        return nps.score, nps.ci_low, nps.ci_high, nps.n
    if metric == "ces":
        mean = scores.ces.mean
        return mean.mean, mean.ci_low, mean.ci_high, mean.n
    if metric == "csat":
        box = scores.csat.top_two_box
        return box.pct, box.ci_low, box.ci_high, box.n
    raise ValueError(f"unknown trend metric {metric!r}")


def trend_chart(
    points: Sequence[TrendPoint], metric: str, *, accent: str = DEFAULT_ACCENT
) -> dict[str, Any]:
    """A metric per period as a line, its 95 % interval as a shaded band (the area
    between the interval's upper and lower line). Periods without answers are gaps."""
    x = [point.start.isoformat() for point in points]
    values, lows, highs, ns = [], [], [], []
    for point in points:
        value, low, high, n = trend_estimate(point, metric)
        values.append(_round(value))
        lows.append(_round(low))
        highs.append(_round(high))
        ns.append(n)
    name, axis, value_range = {
        "nps": (_("NPS"), _("NPS (points)"), [-100, 100]),
        "ces": (_("CES mean"), _("CES mean (1-7)"), [1, 7]),
        "csat": (_("CSAT top two box"), _("CSAT top two box (per cent)"), [0, 100]),
    }[metric]
    interval = _("%(level)s interval") % {"level": "95\u00a0%"}
    upper = go.Scatter(
        x=x,
        y=highs,
        mode="lines",
        line={"width": 0, "color": accent},
        hoverinfo="skip",
        name=interval,
        connectgaps=False,
    )
    lower = go.Scatter(
        x=x,
        y=lows,
        mode="lines",
        line={"width": 0, "color": accent},
        fill="tonexty",
        fillcolor=_rgba(accent, 0.18),
        hoverinfo="skip",
        name=interval,
        connectgaps=False,
    )
    # A period between two gaps has no band to show: it gets whiskers instead.
    isolated = [
        value is not None
        and (index == 0 or values[index - 1] is None)
        and (index == len(values) - 1 or values[index + 1] is None)
        for index, value in enumerate(values)
    ]
    whiskers = {
        "type": "data",
        "symmetric": False,
        "array": [
            _round(high - value) if alone and value is not None and high is not None else None
            for alone, value, high in zip(isolated, values, highs, strict=True)
        ],
        "arrayminus": [
            _round(value - low) if alone and value is not None and low is not None else None
            for alone, value, low in zip(isolated, values, lows, strict=True)
        ],
        "color": accent,
        "thickness": 1.5,
        "width": 5,
    }
    line = go.Scatter(
        x=x,
        y=values,
        error_y=whiskers,
        mode="lines+markers",
        line={"width": 2.5, "color": accent},
        marker={"size": 7, "color": accent},
        name=name,
        customdata=[[n, low, high] for n, low, high in zip(ns, lows, highs, strict=True)],
        hovertemplate=(
            f"%{{x}}<br>{name}: %{{y}}<br>{interval}: %{{customdata[1]}} {DASH} %{{customdata[2]}}"
            f"<br>n = %{{customdata[0]}}<extra></extra>"
        ),
        connectgaps=False,
    )
    finite = [v for v in [*lows, *highs] if v is not None]
    y_range: list[float] = list(value_range)
    if finite:
        padding = max(2.0, (max(finite) - min(finite)) * 0.1)
        y_range = [
            max(value_range[0], min(finite) - padding),
            min(value_range[1], max(finite) + padding),
        ]
    return _figure(
        [upper, lower, line],
        xaxis={"type": "date", "title": {"text": _("Period starting")}},
        yaxis={"title": {"text": axis}, "range": y_range},
        hovermode="closest",
    )


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


# --- Estimates with intervals (touchpoints, breakdowns) ------------------------------


def interval_bars(
    estimates: Sequence[Estimate],
    *,
    axis_title: str,
    horizontal: bool = False,
    value_range: tuple[float, float] | None = None,
    highlight: str | None = None,
    accent: str = DEFAULT_ACCENT,
) -> dict[str, Any]:
    """One bar per estimate with its interval as an error bar. Small samples are drawn
    pale, ``highlight`` (a label) in red; estimates without data leave an empty slot."""
    labels = [estimate.label for estimate in estimates]
    values = [_round(estimate.value) for estimate in estimates]
    plus = [
        _round(e.high - e.value) if e.value is not None and e.high is not None else None
        for e in estimates
    ]
    minus = [
        _round(e.value - e.low) if e.value is not None and e.low is not None else None
        for e in estimates
    ]
    colours = [RED if e.label == highlight else accent for e in estimates]
    opacity = [0.45 if e.small_sample else 0.9 for e in estimates]
    customdata = [[e.n, _round(e.low), _round(e.high)] for e in estimates]
    error = {
        "type": "data",
        "symmetric": False,
        "array": plus,
        "arrayminus": minus,
        "color": TEXT,
        "thickness": 1.5,
        "width": 4,
    }
    value_axis: dict[str, Any] = {"title": {"text": axis_title}, "zeroline": True}
    if value_range:
        value_axis["range"] = list(value_range)
    bar_args: dict[str, Any] = {
        "marker": {"color": colours, "opacity": opacity},
        "customdata": customdata,
    }
    interval = _("%(level)s interval") % {"level": "95\u00a0%"}
    if horizontal:
        bar = go.Bar(
            x=values,
            y=labels,
            orientation="h",
            error_x=error,
            hovertemplate=(
                f"%{{y}}: %{{x}}<br>{interval}: %{{customdata[1]}} {DASH} %{{customdata[2]}}"
                "<br>n = %{customdata[0]}<extra></extra>"
            ),
            **bar_args,
        )
        return _figure(
            [bar],
            height=max(200, 70 + 30 * len(estimates)),
            xaxis=value_axis,
            yaxis={"autorange": "reversed", "type": "category"},
            margin={"l": 16},
        )
    bar = go.Bar(
        x=labels,
        y=values,
        error_y=error,
        hovertemplate=(
            f"%{{x}}: %{{y}}<br>{interval}: %{{customdata[1]}} {DASH} %{{customdata[2]}}"
            "<br>n = %{customdata[0]}<extra></extra>"
        ),
        **bar_args,
    )
    return _figure(
        [bar],
        xaxis={"type": "category", "tickangle": -20 if len(estimates) > 4 else 0},
        yaxis=value_axis,
    )


def change_chart(
    labels: Sequence[str], changes: Sequence[ChangeResult], *, axis_title: str
) -> dict[str, Any]:
    """Changes between two periods with their intervals (a dot and a whisker per row):
    significant rises green, significant falls red, the rest grey."""
    x = [_round(change.difference) for change in changes]
    colours = [
        (GREEN if (change.difference or 0) > 0 else RED) if change.significant else GREY
        for change in changes
    ]
    plus = [
        _round(c.ci_high - c.difference)
        if c.ci_high is not None and c.difference is not None
        else None
        for c in changes
    ]
    minus = [
        _round(c.difference - c.ci_low)
        if c.ci_low is not None and c.difference is not None
        else None
        for c in changes
    ]
    dots = go.Scatter(
        x=x,
        y=list(labels),
        mode="markers",
        marker={"size": 10, "color": colours},
        error_x={
            "type": "data",
            "symmetric": False,
            "array": plus,
            "arrayminus": minus,
            "color": TEXT,
            "thickness": 1.5,
            "width": 4,
        },
        customdata=[[_round(c.p_value, 4), c.current_n, c.previous_n] for c in changes],
        hovertemplate=(
            f"%{{y}}: %{{x}}<br>p = %{{customdata[0]}}<br>n = %{{customdata[1]}}"
            f" ({_('before')}: %{{customdata[2]}})<extra></extra>"
        ),
    )
    return _figure(
        [dots],
        height=max(200, 70 + 30 * len(changes)),
        xaxis={"title": {"text": axis_title}, "zeroline": True, "zerolinewidth": 2},
        yaxis={"autorange": "reversed", "type": "category"},
        margin={"l": 16},
    )
