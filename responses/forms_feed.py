"""The response feed's filters: a GET form, so a filtered feed is a link to share."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.utils.translation import gettext_lazy as _

from responses.models import NpsGroup, ResponseChannel, ResponseStatus
from responses.selectors import FeedFilters, feed_filter_choices


class ResponseFilterForm(forms.Form):
    survey = forms.TypedChoiceField(label=_("Survey"), required=False, coerce=int)
    touchpoint = forms.TypedChoiceField(label=_("Touchpoint"), required=False, coerce=int)
    journey = forms.TypedChoiceField(label=_("Journey"), required=False, coerce=int)
    channel = forms.ChoiceField(
        label=_("Channel"),
        required=False,
        choices=[("", _("All channels")), *ResponseChannel.choices],
    )
    nps_group = forms.ChoiceField(
        label=_("NPS group"),
        required=False,
        choices=[
            ("", _("All")),
            (NpsGroup.DETRACTOR, _("Detractors (0-6)")),
            (NpsGroup.PASSIVE, _("Passives (7-8)")),
            (NpsGroup.PROMOTER, _("Promoters (9-10)")),
        ],
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("", _("All")),
            (ResponseStatus.COMPLETE, _("Complete")),
            (ResponseStatus.PARTIAL, _("Partial (not finished)")),
        ],
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, data: Any, *, timezone_name: str) -> None:
        super().__init__(data)
        self.timezone = ZoneInfo(timezone_name)
        choices = feed_filter_choices()
        self.fields["survey"].choices = [("", _("All surveys")), *choices["survey"]]  # type: ignore[attr-defined]
        self.fields["touchpoint"].choices = [  # type: ignore[attr-defined]
            ("", _("All touchpoints")),
            *choices["touchpoint"],
        ]
        self.fields["journey"].choices = [("", _("All journeys")), *choices["journey"]]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def filters(self) -> FeedFilters:
        """The valid form as feed filters; dates are days in the organization's zone."""
        data = self.cleaned_data
        start, end = data.get("date_from"), data.get("date_to")
        return FeedFilters(
            survey_id=data.get("survey") or None,
            touchpoint_id=data.get("touchpoint") or None,
            journey_id=data.get("journey") or None,
            channel=data.get("channel") or "",
            nps_group=data.get("nps_group") or "",
            status=data.get("status") or "",
            since=datetime.combine(start, time.min, tzinfo=self.timezone) if start else None,
            until=datetime.combine(end + timedelta(days=1), time.min, tzinfo=self.timezone)
            if end
            else None,
        )

    def params(self) -> dict[str, str]:
        """The filters as given (for links that keep them: older page, refresh, polling)."""
        return {name: str(self.data[name]) for name in self.fields if self.data.get(name)}

    @property
    def is_filtered(self) -> bool:
        return bool(self.params())
