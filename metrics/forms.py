"""The dashboard's filter form: a GET form, so every filtered view is a link to share.

Invalid values are dropped with a message rather than failing the page: a stale link
(a deleted touchpoint, a mistyped date) still shows the dashboard, with the filter bar
saying what was ignored.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from metrics.selectors.filters import GRAINS, DashboardFilters
from metrics.selectors.labels import FilterChoices

PERIOD_LABELS = {
    "7d": _("Last 7 days"),
    "30d": _("Last 30 days"),
    "90d": _("Last 90 days"),
    "12m": _("Last 12 months"),
    "this_month": _("This month"),
    "last_month": _("Last month"),
    "this_quarter": _("This quarter"),
    "last_quarter": _("Last quarter"),
    "this_year": _("This year"),
    "custom": _("Custom dates"),
}
GRAIN_LABELS = {
    "day": _("Day"),
    "week": _("Week"),
    "month": _("Month"),
    "quarter": _("Quarter"),
}
GROUP_LABELS = {
    "promoter": _("Promoters (9-10)"),
    "passive": _("Passives (7-8)"),
    "detractor": _("Detractors (0-6)"),
}
DEFAULT_PERIOD = "90d"
MAX_DAYS = 3 * 366 + 1  # longest custom period


def _month_start(day: date, months: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_dates(period: str, today: date) -> tuple[date, date]:
    """The inclusive local days of a preset period, ``today`` included."""
    if period == "7d":
        return today - timedelta(days=6), today
    if period == "30d":
        return today - timedelta(days=29), today
    if period == "12m":
        return _month_start(today, -11), today
    if period == "this_month":
        return _month_start(today), today
    if period == "last_month":
        start = _month_start(today, -1)
        return start, _month_start(today) - timedelta(days=1)
    quarter = _month_start(today.replace(month=(today.month - 1) // 3 * 3 + 1))
    if period == "this_quarter":
        return quarter, today
    if period == "last_quarter":
        return _month_start(quarter, -3), quarter - timedelta(days=1)
    if period == "this_year":
        return date(today.year, 1, 1), today
    return today - timedelta(days=89), today  # 90d


def local_today(timezone_name: str, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(zoneinfo.ZoneInfo(timezone_name)).date()


class DashboardFilterForm(forms.Form):
    period = forms.ChoiceField(
        label=_("Period"), required=False, choices=list(PERIOD_LABELS.items())
    )
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    grain = forms.ChoiceField(
        label=_("Trend by"), required=False, choices=list(GRAIN_LABELS.items())
    )
    journey = forms.TypedChoiceField(
        label=_("Journey"), required=False, coerce=int, empty_value=None
    )
    touchpoint = forms.TypedChoiceField(
        label=_("Touchpoint"), required=False, coerce=int, empty_value=None
    )
    survey = forms.TypedChoiceField(label=_("Survey"), required=False, coerce=int, empty_value=None)
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    language = forms.ChoiceField(label=_("Language"), required=False)
    segment = forms.ChoiceField(label=_("Segment"), required=False)
    value = forms.CharField(label=_("Segment value"), required=False, max_length=200)
    group = forms.ChoiceField(
        label=_("Score group"),
        required=False,
        choices=[("", _("All")), *GROUP_LABELS.items()],
    )
    theme = forms.TypedChoiceField(label=_("Theme"), required=False, coerce=int, empty_value=None)
    q = forms.CharField(label=_("Search comments"), required=False, max_length=200)

    def __init__(
        self,
        data: Any,
        *,
        choices: FilterChoices,
        timezone_name: str,
        themes: list[tuple[int, str]] | None = None,
        now: datetime | None = None,
    ) -> None:
        super().__init__(data)
        self.timezone_name = timezone_name
        self.now = now
        any_ = ("", _("All"))
        fields: dict[str, Any] = self.fields
        fields["journey"].choices = [any_, *choices.journeys]
        fields["touchpoint"].choices = [any_, *((pk, name) for pk, name, _j in choices.touchpoints)]
        fields["survey"].choices = [any_, *choices.surveys]
        fields["channel"].choices = [any_, *choices.channels]
        fields["language"].choices = [any_, *choices.languages]
        fields["segment"].choices = [("", _("None")), *choices.segments]
        fields["theme"].choices = [any_, *(themes or [])]
        self.ignored: list[str] = []

    def filters(self) -> DashboardFilters:
        """The filters of the request; invalid parts fall back to their defaults and
        are named in ``self.ignored``."""
        valid = self.is_valid()
        data: dict[str, Any] = self.cleaned_data if valid else {}
        if not valid:
            for name in self.errors:
                field = self.fields.get(name)
                self.ignored.append(str(field.label) if field else name)
            data = {
                name: value
                for name, value in getattr(self, "cleaned_data", {}).items()
                if name not in self.errors
            }
        today = local_today(self.timezone_name, self.now)
        period = data.get("period") or ""
        start, end = data.get("start"), data.get("end")
        if period and period != "custom":
            start, end = period_dates(period, today)
        elif start or end:
            period = "custom"
            end = end or today
            start = start or end - timedelta(days=89)
            if start > end:
                start, end = end, start
            if (end - start).days >= MAX_DAYS:
                start = end - timedelta(days=MAX_DAYS - 1)
                self.ignored.append(str(_("Period longer than three years")))
        else:
            period = DEFAULT_PERIOD
            start, end = period_dates(period, today)
        segment = data.get("segment") or ""
        grain = data.get("grain") or "week"
        return DashboardFilters(
            start=start,
            end=end,
            period=period,
            grain=grain if grain in GRAINS else "week",
            journey_id=data.get("journey"),
            touchpoint_id=data.get("touchpoint"),
            survey_id=data.get("survey"),
            channel=data.get("channel") or "",
            language=data.get("language") or "",
            segment_key=segment,
            segment_value=(data.get("value", "") if segment and "value" in self.data else None),
            nps_group=data.get("group") or "",
            theme_id=data.get("theme"),
            search=(data.get("q") or "").strip(),
        )
