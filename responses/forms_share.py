"""The survey's share page: open link, answer change window, website widget."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from surveys.models import Survey
from surveys.services.lifecycle import (
    MAX_ALLOWED_ORIGINS,
    MAX_ANSWER_CHANGE_WINDOW,
    ORIGIN_MAX_LENGTH,
)

HOURS, DAYS = "hours", "days"


class SurveySharingForm(forms.Form):
    open_link_enabled = forms.BooleanField(
        label=_("Open link: anyone with the link or its QR code can answer"), required=False
    )
    change_window_amount = forms.IntegerField(
        label=_("Customers can change their answers for"),
        min_value=0,
        max_value=int(MAX_ANSWER_CHANGE_WINDOW.total_seconds() // 3600),
        help_text=_("0: answers cannot be changed once sent."),
    )
    change_window_unit = forms.ChoiceField(
        label=_("Unit"), choices=[(HOURS, _("hours")), (DAYS, _("days"))]
    )
    widget_enabled = forms.BooleanField(
        label=_("Website widget: the survey can pop up on the websites below"), required=False
    )
    allowed_origins = forms.CharField(
        label=_("Websites allowed to show the widget"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "autocapitalize": "none"}),
        max_length=(ORIGIN_MAX_LENGTH + 2) * MAX_ALLOWED_ORIGINS,
        help_text=_(
            "One per line, e.g. https://shop.example.com or https://shop.example.com:8443 "
            "(no path). http:// only for localhost and 127.0.0.1 while developing."
        ),
    )

    @staticmethod
    def initial_for(survey: Survey) -> dict[str, Any]:
        window = survey.answer_change_window or timedelta(0)
        hours = int(window.total_seconds() // 3600)
        by_days = hours % 24 == 0 and hours > 0
        return {
            "open_link_enabled": survey.open_link_enabled,
            "widget_enabled": survey.widget_enabled,
            "allowed_origins": "\n".join(survey.allowed_origins or []),
            "change_window_amount": hours // 24 if by_days else hours,
            "change_window_unit": DAYS if by_days else HOURS,
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        amount = cleaned.get("change_window_amount")
        unit = cleaned.get("change_window_unit")
        if amount is not None and unit:
            window = timedelta(days=amount) if unit == DAYS else timedelta(hours=amount)
            if window > MAX_ANSWER_CHANGE_WINDOW:
                self.add_error("change_window_amount", _("Choose a period from 0 to 365 days."))
            cleaned["answer_change_window"] = window
        return cleaned

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "open_link_enabled": data["open_link_enabled"],
            "widget_enabled": data["widget_enabled"],
            "allowed_origins": [
                line.strip() for line in data["allowed_origins"].splitlines() if line.strip()
            ],
            "answer_change_window": data["answer_change_window"],
        }
