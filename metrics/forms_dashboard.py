"""Page parameters of the drill-down and the period comparison (GET forms).

Like the filter bar (``metrics.forms``), an invalid value falls back to its default and
is named in ``ignored`` instead of failing the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from metrics.forms import MAX_DAYS
from metrics.selectors.filters import DashboardFilters
from metrics.selectors.scores import DIMENSIONS

DIMENSION_LABELS = {
    "touchpoint": _("Touchpoint"),
    "journey": _("Journey"),
    "survey": _("Survey"),
    "channel": _("Channel"),
    "language": _("Language"),
    "team": _("Team"),
    "segment": _("Segment"),
}
DIMENSION_HEADINGS = {
    "touchpoint": _("Scores per touchpoint"),
    "journey": _("Scores per journey"),
    "survey": _("Scores per survey"),
    "channel": _("Scores per channel"),
    "language": _("Scores per language"),
    "team": _("Scores per team"),
    "segment": _("Scores per segment"),
}
# Natural direction: volume largest first, scores lowest first (where it hurts);
# a leading "-" reverses it.
SORT_KEYS = ("volume", "nps", "ces", "csat")
DEFAULT_DIMENSION = "touchpoint"


def _sort_choices() -> list[tuple[str, str]]:
    return [(key, key) for key in SORT_KEYS] + [(f"-{key}", f"-{key}") for key in SORT_KEYS]


class BreakdownForm(forms.Form):
    by = forms.ChoiceField(
        label=_("Break down by"),
        required=False,
        choices=[(key, DIMENSION_LABELS[key]) for key in DIMENSIONS],
    )
    sort = forms.ChoiceField(label=_("Sort by"), required=False, choices=_sort_choices)

    def parsed(self) -> tuple[str, str, list[str]]:
        """(dimension, sort, names of ignored parameters)."""
        self.is_valid()
        ignored = [str(self.fields[name].label) for name in self.errors]
        data = getattr(self, "cleaned_data", {})
        return (
            data.get("by") or DEFAULT_DIMENSION,
            data.get("sort") or "volume",
            ignored,
        )


class CompareForm(forms.Form):
    compare_start = forms.DateField(
        label=_("Compare from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    compare_end = forms.DateField(
        label=_("Compare to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


@dataclass(frozen=True, slots=True)
class ComparePeriod:
    filters: DashboardFilters
    custom: bool  # chosen with compare_start/compare_end
    ignored: list[str]


def compare_period(data: Any, filters: DashboardFilters) -> ComparePeriod:
    """The period to compare the filtered one with: ``compare_start``/``compare_end``
    (local days, inclusive; one of them alone keeps the length of the filtered period),
    else the period of the same length just before."""
    form = CompareForm(data)
    form.is_valid()
    ignored = [str(form.fields[name].label) for name in form.errors]
    cleaned = getattr(form, "cleaned_data", {})
    start: date | None = cleaned.get("compare_start")
    end: date | None = cleaned.get("compare_end")
    if start is None:
        if end is None:
            return ComparePeriod(filters=filters.previous(), custom=False, ignored=ignored)
        start = end - timedelta(days=filters.days - 1)
    elif end is None:
        end = start + timedelta(days=filters.days - 1)
    if start > end:
        start, end = end, start
    if (end - start).days >= MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS - 1)
        ignored.append(str(_("Period longer than three years")))
    return ComparePeriod(filters=filters.with_period(start, end), custom=True, ignored=ignored)
