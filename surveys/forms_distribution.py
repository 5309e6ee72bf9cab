"""Forms of the distribution pages: settings, rules, testing a rule, manual sends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from contacts.models import Channel, ConsentState
from contacts.selectors import ATTRIBUTE_OPERATORS, NUMERIC_OPERATORS, AttributeFilter
from surveys.models import Survey, SurveyStatus
from surveys.models_distribution import (
    DistributionRule,
    DistributionSettings,
    RecurringSchedule,
    RuleChannel,
)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def _time_input() -> forms.TimeInput:
    return forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class DistributionSettingsForm(forms.Form):
    min_days_between_invitations = forms.IntegerField(
        label=_("Minimum days between invitations"),
        min_value=0,
        max_value=3650,
        help_text=DistributionSettings._meta.get_field("min_days_between_invitations").help_text,
    )
    require_explicit_email_consent = forms.BooleanField(
        label=_("Require explicit email consent"),
        required=False,
        help_text=DistributionSettings._meta.get_field("require_explicit_email_consent").help_text,
    )
    quiet_hours_start = forms.TimeField(label=_("SMS quiet hours start"), widget=_time_input())
    quiet_hours_end = forms.TimeField(label=_("SMS quiet hours end"), widget=_time_input())
    quiet_on_sundays = forms.BooleanField(label=_("No SMS on Sundays"), required=False)
    reminder_days = forms.IntegerField(label=_("Reminder after (days)"), min_value=1, max_value=60)
    expires_days = forms.IntegerField(
        label=_("Link expires after (days)"), min_value=1, max_value=365
    )

    @classmethod
    def initial_from(cls, current: DistributionSettings) -> dict[str, Any]:
        return {
            "min_days_between_invitations": current.min_days_between_invitations,
            "require_explicit_email_consent": current.require_explicit_email_consent,
            "quiet_hours_start": current.quiet_hours_start,
            "quiet_hours_end": current.quiet_hours_end,
            "quiet_on_sundays": current.quiet_on_sundays,
            "reminder_days": current.reminder_after // DAY,
            "expires_days": current.expires_after // DAY,
        }

    def service_fields(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["reminder_after"] = data.pop("reminder_days") * DAY
        data["expires_after"] = data.pop("expires_days") * DAY
        return data


def parse_conditions(text: str) -> dict[str, str]:
    """``key = value`` per line into a dict; raises ValidationError on a bad line."""
    conditions: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValidationError(
                _("Line %(number)d: write key = value."), params={"number": number}
            )
        conditions[key.strip()] = value.strip()
    return conditions


def format_conditions(conditions: dict[str, Any]) -> str:
    return "\n".join(f"{key} = {value}" for key, value in conditions.items())


def survey_choices() -> list[tuple[str, str]]:
    surveys = Survey.objects.exclude(status=SurveyStatus.ARCHIVED).order_by("name", "id")
    return [("", "—"), *((str(s.pk), s.name) for s in surveys)]


class DistributionRuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    event_type = forms.SlugField(
        label=_("CRM event"), max_length=100, help_text=_("For example order_completed.")
    )
    survey = forms.ChoiceField(label=_("Survey"))
    channel = forms.ChoiceField(label=_("Channel"), choices=RuleChannel.choices)
    delay_hours = forms.IntegerField(
        label=_("Delay (hours)"),
        min_value=0,
        max_value=24 * 90,
        help_text=_("How long after the event the invitation goes out."),
    )
    conditions = forms.CharField(
        label=_("Conditions"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One contact attribute per line: key = value. Empty: every contact."),
    )
    survey_min_days = forms.IntegerField(
        label=_("Minimum days between this survey"),
        min_value=0,
        max_value=3650,
        help_text=DistributionRule._meta.get_field("survey_min_days").help_text,
    )
    reminder_days = forms.IntegerField(
        label=_("Reminder after (days)"),
        min_value=1,
        max_value=60,
        required=False,
        help_text=_("Empty: the organization's setting."),
    )
    defer_when_blocked = forms.BooleanField(
        label=_("Defer when blocked by timing"),
        required=False,
        help_text=DistributionRule._meta.get_field("defer_when_blocked").help_text,
    )
    is_active = forms.BooleanField(label=_("Active"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["survey"]).choices = survey_choices()

    @classmethod
    def initial_from(cls, rule: DistributionRule | None) -> dict[str, Any]:
        if rule is None:
            return {
                "delay_hours": 2,
                "survey_min_days": 0,
                "defer_when_blocked": True,
                "is_active": True,
                "channel": RuleChannel.PREFERRED,
            }
        return {
            "name": rule.name,
            "event_type": rule.event_type,
            "survey": str(rule.survey_id),
            "channel": rule.channel,
            "delay_hours": rule.delay // HOUR,
            "conditions": format_conditions(rule.conditions or {}),
            "survey_min_days": rule.survey_min_days,
            "reminder_days": rule.reminder_after // DAY if rule.reminder_after else None,
            "defer_when_blocked": rule.defer_when_blocked,
            "is_active": rule.is_active,
        }

    def clean_conditions(self) -> dict[str, str]:
        return parse_conditions(self.cleaned_data.get("conditions") or "")

    def clean_survey(self) -> Survey:
        survey = Survey.objects.filter(pk=self.cleaned_data["survey"]).first()
        if survey is None:
            raise ValidationError(_("Choose a survey."))
        return survey

    def service_fields(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["delay"] = data.pop("delay_hours") * HOUR
        days = data.pop("reminder_days")
        data["reminder_after"] = days * DAY if days else None
        return data


class RuleTestForm(forms.Form):
    crm_id = forms.CharField(label=_("Contact CRM id"), max_length=100)
    attributes = forms.CharField(
        label=_("Event attributes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line: key = value."),
    )
    dry_run = forms.BooleanField(
        label=_("Dry run (show the decision, schedule nothing)"), required=False, initial=True
    )

    def clean_attributes(self) -> dict[str, str]:
        return parse_conditions(self.cleaned_data.get("attributes") or "")


CONSENT_CHOICES = [("", _("any")), *ConsentState.choices]


class ManualSendForm(forms.Form):
    survey = forms.ChoiceField(label=_("Survey"))
    channel = forms.ChoiceField(label=_("Channel"), choices=RuleChannel.choices)
    search = forms.CharField(label=_("Search"), required=False, max_length=200)
    attribute_key = forms.CharField(label=_("Attribute"), required=False, max_length=100)
    attribute_operator = forms.ChoiceField(
        label=_("Comparison"),
        required=False,
        choices=[(op, op) for op in ATTRIBUTE_OPERATORS],
    )
    attribute_value = forms.CharField(label=_("Value"), required=False, max_length=200)
    consent_email = forms.ChoiceField(
        label=_("Email consent"), required=False, choices=CONSENT_CHOICES
    )
    consent_sms = forms.ChoiceField(label=_("SMS consent"), required=False, choices=CONSENT_CHOICES)
    defer_when_blocked = forms.BooleanField(
        label=_("Defer sends blocked by quiet hours or the contact budget"), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["survey"]).choices = survey_choices()

    def clean_survey(self) -> Survey:
        survey = Survey.objects.filter(pk=self.cleaned_data["survey"]).first()
        if survey is None:
            raise ValidationError(_("Choose a survey."))
        return survey

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        key = (data.get("attribute_key") or "").strip()
        data["attribute"] = None
        if key:
            operator = data.get("attribute_operator") or "eq"
            raw = (data.get("attribute_value") or "").strip()
            value: str | int | float = raw
            if operator in NUMERIC_OPERATORS:
                try:
                    value = float(raw) if "." in raw else int(raw)
                except ValueError:
                    self.add_error("attribute_value", _("Give a number for this comparison."))
                    return data
            data["attribute"] = AttributeFilter(key, operator, value)
        return data

    def consent(self) -> dict[str, str]:
        return {
            channel: self.cleaned_data[f"consent_{channel}"]
            for channel in Channel.values
            if self.cleaned_data.get(f"consent_{channel}")
        }


class RecurringScheduleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    survey = forms.ChoiceField(label=_("Survey"))
    channel = forms.ChoiceField(label=_("Channel"), choices=RuleChannel.choices)
    interval_months = forms.IntegerField(label=_("Every (months)"), min_value=1, max_value=60)
    conditions = forms.CharField(
        label=_("Conditions"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One contact attribute per line: key = value. Empty: every contact."),
    )
    window_start = forms.TimeField(label=_("Working hours start"), widget=_time_input())
    window_end = forms.TimeField(label=_("Working hours end"), widget=_time_input())
    is_active = forms.BooleanField(label=_("Active"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["survey"]).choices = survey_choices()

    @classmethod
    def initial_from(cls, schedule: RecurringSchedule | None) -> dict[str, Any]:
        if schedule is None:
            return {
                "channel": RuleChannel.PREFERRED,
                "interval_months": 6,
                "window_start": "09:00",
                "window_end": "17:00",
                "is_active": True,
            }
        return {
            "name": schedule.name,
            "survey": str(schedule.survey_id),
            "channel": schedule.channel,
            "interval_months": schedule.interval_months,
            "conditions": format_conditions(schedule.conditions or {}),
            "window_start": schedule.window_start,
            "window_end": schedule.window_end,
            "is_active": schedule.is_active,
        }

    def clean_conditions(self) -> dict[str, str]:
        return parse_conditions(self.cleaned_data.get("conditions") or "")

    def clean_survey(self) -> Survey:
        survey = Survey.objects.filter(pk=self.cleaned_data["survey"]).first()
        if survey is None:
            raise ValidationError(_("Choose a survey."))
        return survey
