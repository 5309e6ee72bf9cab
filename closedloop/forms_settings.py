"""Forms of the closed-loop settings pages. They parse what a person typed; the
services in ``closedloop.services.configuration`` decide what is allowed.

A routing rule's conditions are a formset of rows (field, name, operator, value, and a
list of journeys and touchpoints), so the form works without JavaScript. Each row
becomes one condition of ``closedloop.routing`` and is checked with
``conditions_clean``; its message is shown beside the row.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.conf import settings
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from closedloop.messages import PLACEHOLDERS, template_errors
from closedloop.models import (
    AssignMode,
    EscalationAction,
    MessageChannel,
    MessageTemplate,
    Priority,
    RoutingRule,
    SlaPolicy,
    SlaTarget,
)
from closedloop.routing import OPERATORS, conditions_clean

# --- Routing rules --------------------------------------------------------------------

FIELD_CHOICES = [
    ("", gettext_lazy("— no condition —")),
    ("nps_group", gettext_lazy("NPS group")),
    ("nps", gettext_lazy("NPS score (0-10)")),
    ("ces", gettext_lazy("CES score (1-7)")),
    ("csat", gettext_lazy("CSAT score (1-5)")),
    ("journey", gettext_lazy("Journey")),
    ("touchpoint", gettext_lazy("Touchpoint")),
    ("channel", gettext_lazy("Channel")),
    ("comment", gettext_lazy("Keywords in the comment")),
    ("answer", gettext_lazy("Answer to question…")),
    ("attribute", gettext_lazy("CRM attribute…")),
]
OP_CHOICES = [
    ("", gettext_lazy("— the usual one —")),
    ("in", gettext_lazy("is one of")),
    ("eq", gettext_lazy("is")),
    ("gte", gettext_lazy("is at least")),
    ("lte", gettext_lazy("is at most")),
    ("between", gettext_lazy("is between")),
    ("contains_any", gettext_lazy("contains any of the words")),
    ("exists", gettext_lazy("is present")),
]
PREFIXED_FIELDS = ("answer", "attribute")
ID_FIELDS = ("journey", "touchpoint")
# "3-6", "3 - 6", "3 to 6", "3..6", "1000-5000.50"
RANGE = re.compile(
    r"^\s*(?P<low>-?\d+(?:\.\d+)?)\s*(?:-|\u2013|\.\.|to|bis|,)\s*(?P<high>-?\d+(?:\.\d+)?)\s*$",
    re.IGNORECASE,
)
# conditions_clean numbers its messages ("Condition 1: ..."); beside a row that is noise.
NUMBERED = re.compile(r"^[^:]*\b1\b[^:]*:\s*")
CONDITION_ROWS_EXTRA = 3
CONDITION_ROWS_MAX = 20


def _operators(field: str) -> tuple[str, ...]:
    return OPERATORS[f"{field}:"] if field in PREFIXED_FIELDS else OPERATORS.get(field, ())


def _split(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]


def _row_message(message: str) -> str:
    text = NUMBERED.sub("", message, count=1)
    return text[:1].upper() + text[1:]


class ConditionForm(forms.Form):
    field = forms.ChoiceField(
        label=gettext_lazy("Ask about"), choices=FIELD_CHOICES, required=False
    )
    name = forms.CharField(
        label=gettext_lazy("Question id or attribute name"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("Only for “Answer to question…” and “CRM attribute…”."),
        widget=forms.TextInput(attrs={"list": "question-ids"}),
    )
    op = forms.ChoiceField(label=gettext_lazy("Compare"), choices=OP_CHOICES, required=False)
    value = forms.CharField(
        label=gettext_lazy("Value"),
        max_length=500,
        required=False,
        help_text=gettext_lazy(
            "Several values or words separated by commas (detractor, passive); a number "
            "(5000); a range for “is between” (3-6)."
        ),
    )
    items = forms.MultipleChoiceField(
        label=gettext_lazy("Journeys and touchpoints"),
        required=False,
        help_text=gettext_lazy("For “Journey” and “Touchpoint”: choose one or more."),
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )

    def __init__(
        self, *args: Any, item_choices: list[tuple[str, list[tuple[str, str]]]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["items"].choices = item_choices  # type: ignore[attr-defined]
        self._names: dict[str, dict[str, list[str]]] = {"journey": {}, "touchpoint": {}}
        for _group, options in item_choices:
            for value, label in options:
                kind, _sep, pk = value.partition(":")
                self._names[kind].setdefault(label.casefold(), []).append(pk)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["condition"] = None
        if self.errors:
            return data
        field = data.get("field") or ""
        name = (data.get("name") or "").strip()
        op = data.get("op") or ""
        value = (data.get("value") or "").strip()
        items: list[str] = data.get("items") or []
        if not field:
            if name or value or items:
                self.add_error("field", _("Choose what this condition asks about."))
            return data
        key = field
        if field in PREFIXED_FIELDS:
            if not name:
                self.add_error(
                    "name",
                    _("Name the question (its id).")
                    if field == "answer"
                    else _("Name the CRM attribute."),
                )
                return data
            key = f"{field}:{name}"
        allowed = _operators(field)
        if not op:
            if len(allowed) == 1:
                op = allowed[0]
            elif "between" in allowed and RANGE.match(value):
                op = "between"
            else:
                self.add_error("op", _("Choose how to compare."))
                return data
        raw = self._value(field, op, value, items)
        if raw is None:
            return data
        clean, problems = conditions_clean([{"field": key, "op": op, "value": raw}])
        if problems:
            target = "op" if op not in allowed else ("items" if field in ID_FIELDS else "value")
            self.add_error(target, _row_message(problems[0]))
            return data
        data["condition"] = clean[0]
        return data

    def _value(self, field: str, op: str, value: str, items: list[str]) -> Any:
        if op == "exists":
            return True
        if op == "between":
            match = RANGE.match(value)
            return [match["low"], match["high"]] if match else value
        if op == "in" and field in ID_FIELDS:
            ids = [item.partition(":")[2] for item in items if item.startswith(f"{field}:")]
            for typed in _split(value):
                found = self._names[field].get(typed.casefold())
                if typed.isdigit():
                    ids.append(typed)
                elif not found:
                    self.add_error(
                        "value",
                        (
                            _("No journey is called “%(name)s”.")
                            if field == "journey"
                            else _("No touchpoint is called “%(name)s”.")
                        )
                        % {"name": typed},
                    )
                    return None
                else:
                    ids.extend(found)
            return list(dict.fromkeys(ids))
        if op == "in" and field in ("nps_group", "channel"):
            return [item.lower() for item in _split(value)]
        if op == "in":
            # A list keeps the case of CRM values ("Enterprise"); text would be lowered.
            return _split(value)
        return value


def condition_initial(condition: dict[str, Any]) -> dict[str, Any]:
    """A stored condition as the values of a row."""
    key, op, value = str(condition["field"]), condition["op"], condition.get("value")
    field, _sep, name = key.partition(":")
    row: dict[str, Any] = {"field": field, "name": name, "op": op, "value": "", "items": []}
    if op == "exists":
        return row
    if field in ID_FIELDS:
        row["items"] = [f"{field}:{pk}" for pk in (value or [])]
    elif op == "between" and isinstance(value, list) and len(value) == 2:
        row["value"] = f"{value[0]}-{value[1]}"
    elif isinstance(value, list):
        row["value"] = ", ".join(str(v) for v in value)
    else:
        row["value"] = "" if value is None else str(value)
    return row


class BaseConditionFormSet(forms.BaseFormSet[ConditionForm]):
    def conditions(self) -> list[dict[str, Any]]:
        """The filled-in rows as conditions, in order (valid formset only)."""
        return [
            form.cleaned_data["condition"]
            for form in self.forms
            if form.cleaned_data.get("condition") is not None
        ]


ConditionFormSet = forms.formset_factory(
    ConditionForm,
    formset=BaseConditionFormSet,
    extra=CONDITION_ROWS_EXTRA,
    max_num=CONDITION_ROWS_MAX,
    validate_max=True,
)


def condition_formset(
    data: Any = None,
    *,
    item_choices: list[tuple[str, list[tuple[str, str]]]],
    rule: RoutingRule | None = None,
) -> BaseConditionFormSet:
    # A bound formset compares rows with blank ones: a filled row is always read, so a
    # stored condition cannot vanish because a row "did not change".
    initial = [condition_initial(c) for c in rule.conditions] if rule and data is None else []
    return cast(
        BaseConditionFormSet,
        ConditionFormSet(
            data,
            initial=initial or None,
            prefix="conditions",
            form_kwargs={"item_choices": item_choices},
        ),
    )


class RoutingRuleForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    enabled = forms.BooleanField(label=gettext_lazy("Enabled"), required=False, initial=True)
    position = forms.TypedChoiceField(
        label=gettext_lazy("Place in the order"),
        coerce=int,
        required=False,
        empty_value=None,
        help_text=gettext_lazy("Rules are asked from the top; the first that matches decides."),
    )
    open_case = forms.BooleanField(
        label=gettext_lazy("Open a case"),
        required=False,
        initial=True,
        help_text=gettext_lazy(
            "Off: matching responses open no case, and the rules below are not asked."
        ),
    )
    priority = forms.TypedChoiceField(
        label=gettext_lazy("Priority"),
        choices=Priority.choices,
        coerce=int,
        initial=Priority.NORMAL,
    )
    sla_policy = forms.TypedChoiceField(
        label=gettext_lazy("SLA policy"), coerce=int, required=False, empty_value=None
    )
    assign_mode = forms.ChoiceField(
        label=gettext_lazy("Assign to"),
        choices=AssignMode.choices,
        initial=AssignMode.TOUCHPOINT_TEAM,
        widget=forms.RadioSelect,
    )
    assign_user = forms.TypedChoiceField(
        label=gettext_lazy("User"),
        coerce=int,
        required=False,
        empty_value=None,
        help_text=gettext_lazy("For “A user”."),
    )
    assign_team = forms.TypedChoiceField(
        label=gettext_lazy("Team"),
        coerce=int,
        required=False,
        empty_value=None,
        help_text=gettext_lazy(
            "For the team modes; with “A user”, the case's team. The contact's account "
            "owner and the touchpoint's team use the touchpoint's team."
        ),
    )
    account_owner_attribute = forms.CharField(
        label=gettext_lazy("CRM attribute naming the account owner"),
        max_length=100,
        required=False,
        help_text=gettext_lazy(
            "For “The contact's account owner”: the attribute holding the owner's email "
            "address, e.g. account_owner. Without a matching member, the touchpoint's team "
            "gets the case."
        ),
    )

    def __init__(
        self,
        *args: Any,
        policies: list[tuple[int, str]],
        members: list[tuple[int, str]],
        teams: list[tuple[int, str]],
        places: list[tuple[int, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sla_policy"].choices = [("", _("— none: no due times —")), *policies]  # type: ignore[attr-defined]
        self.fields["assign_user"].choices = [("", _("— choose —")), *members]  # type: ignore[attr-defined]
        self.fields["assign_team"].choices = [("", _("— choose —")), *teams]  # type: ignore[attr-defined]
        if places is None:
            del self.fields["position"]
        else:
            self.fields["position"].choices = places  # type: ignore[attr-defined]

    @staticmethod
    def initial_from(rule: RoutingRule) -> dict[str, Any]:
        return {
            "name": rule.name,
            "enabled": rule.enabled,
            "open_case": rule.open_case,
            "priority": rule.priority,
            "sla_policy": rule.sla_policy_id,
            "assign_mode": rule.assign_mode,
            "assign_user": rule.assign_user_id,
            "assign_team": rule.assign_team_id,
            "account_owner_attribute": rule.account_owner_attribute,
        }

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        kwargs = {
            "name": data["name"],
            "enabled": data["enabled"],
            "open_case": data["open_case"],
            "priority": data["priority"],
            "sla_policy_id": data["sla_policy"],
            "assign_mode": data["assign_mode"],
            "assign_user_id": data["assign_user"],
            "assign_team_id": data["assign_team"],
            "account_owner_attribute": data["account_owner_attribute"],
        }
        if "position" in self.fields:
            kwargs["position"] = data.get("position")
        return kwargs


def place_choices(rule_names: list[str]) -> list[tuple[int, str]]:
    """Where a new rule can go: before each existing rule, or last."""
    places = [
        (number, _("Before “%(name)s” (place %(n)s)") % {"name": name, "n": number})
        for number, name in enumerate(rule_names, start=1)
    ]
    return [*places, (len(rule_names) + 1, _("Last"))]


# --- SLA policies ---------------------------------------------------------------------

HOURS_MAX = Decimal(366 * 24)


def _minutes(hours: Decimal | None) -> int | None:
    return None if hours is None else int((hours * 60).to_integral_value())


def _hours(minutes: int | None) -> Decimal | None:
    if minutes is None:
        return None
    return (Decimal(minutes) / 60).quantize(Decimal("0.01")).normalize()


class SlaPolicyForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    first_response_hours = forms.DecimalField(
        label=gettext_lazy("First contact within (hours)"),
        required=False,
        min_value=Decimal("0.02"),
        max_value=HOURS_MAX,
        decimal_places=2,
        help_text=gettext_lazy("Leave empty when the customer need not be contacted first."),
    )
    resolution_hours = forms.DecimalField(
        label=gettext_lazy("Resolution within (hours)"),
        min_value=Decimal("0.02"),
        max_value=HOURS_MAX,
        decimal_places=2,
        help_text=gettext_lazy("24 = one day, 48 = two days, 120 = five days."),
    )
    business_hours_only = forms.BooleanField(
        label=gettext_lazy("Count business hours only"),
        required=False,
        help_text=gettext_lazy(
            "The clock runs only during the organization's business hours (when they are set)."
        ),
    )

    @staticmethod
    def initial_from(policy: SlaPolicy) -> dict[str, Any]:
        return {
            "name": policy.name,
            "first_response_hours": _hours(policy.first_response_minutes),
            "resolution_hours": _hours(policy.resolution_minutes),
            "business_hours_only": policy.business_hours_only,
        }

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "first_response_minutes": _minutes(data["first_response_hours"]),
            "resolution_minutes": _minutes(data["resolution_hours"]),
            "business_hours_only": data["business_hours_only"],
        }


class EscalationStepForm(forms.Form):
    target = forms.ChoiceField(label=gettext_lazy("Target"), choices=SlaTarget.choices)
    at_percent = forms.IntegerField(
        label=gettext_lazy("At this percentage of the time"),
        required=False,
        min_value=1,
        max_value=1000,
        help_text=gettext_lazy("75 = three quarters of the time; 100 = at the due time."),
    )
    after_due_hours = forms.DecimalField(
        label=gettext_lazy("Or hours after the due time"),
        required=False,
        min_value=Decimal("0.02"),
        max_value=HOURS_MAX,
        decimal_places=2,
    )
    action = forms.ChoiceField(label=gettext_lazy("Action"), choices=EscalationAction.choices)

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "target": data["target"],
            "action": data["action"],
            "at_percent": data["at_percent"],
            "after_due_minutes": _minutes(data["after_due_hours"]),
        }


# --- Business hours -------------------------------------------------------------------


def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class BusinessHoursForm(forms.Form):
    timezone = forms.ChoiceField(label=gettext_lazy("Time zone"), choices=timezone_choices)
    weekdays = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Working days"),
        coerce=int,
        choices=[(number + 1, name) for number, name in WEEKDAYS.items()],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Choose at least one working day.")},
    )
    opens_at = forms.TimeField(
        label=gettext_lazy("Opens at"),
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
    )
    closes_at = forms.TimeField(
        label=gettext_lazy("Closes at"),
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
    )
    holidays = forms.CharField(
        label=gettext_lazy("Holidays"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy(
            "One date per line, written 2026-12-24. Nobody works on these days."
        ),
    )

    def clean_holidays(self) -> list[date]:
        days: list[date] = []
        problems: list[str] = []
        for number, line in enumerate(self.cleaned_data.get("holidays", "").splitlines(), 1):
            text = line.strip()
            if not text:
                continue
            try:
                days.append(date.fromisoformat(text))
            except ValueError:
                problems.append(
                    _("Line %(n)s: “%(text)s” is not a date; write it like 2026-12-24.")
                    % {"n": number, "text": text[:40]}
                )
        if problems:
            raise forms.ValidationError(problems)
        return sorted(set(days))

    @staticmethod
    def initial_from(hours: Any, *, default_timezone: str) -> dict[str, Any]:
        if hours is None:
            return {
                "timezone": default_timezone,
                "weekdays": [1, 2, 3, 4, 5],
                "opens_at": "09:00",
                "closes_at": "17:00",
            }
        return {
            "timezone": hours.timezone,
            "weekdays": [int(day) for day in hours.weekdays],
            "opens_at": hours.opens_at,
            "closes_at": hours.closes_at,
            "holidays": "\n".join(hours.holidays),
        }


# --- Root causes ----------------------------------------------------------------------


class RootCauseForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    description = forms.CharField(
        label=gettext_lazy("Description"),
        max_length=300,
        required=False,
        help_text=gettext_lazy("When to choose it, for the people who tag cases."),
    )


# --- Reply templates ------------------------------------------------------------------


def placeholder_help() -> str:
    return _("Placeholders: %(names)s.") % {
        "names": ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    }


class MessageTemplateForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"), choices=MessageChannel.choices, widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for code, language in settings.LANGUAGES:
            self.fields[f"subject_{code}"] = forms.CharField(
                label=_("Subject (%(language)s)") % {"language": language},
                max_length=300,
                required=False,
                help_text=_("Email only."),
            )
            self.fields[f"body_{code}"] = forms.CharField(
                label=_("Text (%(language)s)") % {"language": language},
                required=False,
                max_length=5000,
                widget=forms.Textarea(attrs={"rows": 8}),
                help_text=placeholder_help(),
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in self.fields:
            if name.startswith(("subject_", "body_")):
                for problem in template_errors(data.get(name) or ""):
                    self.add_error(name, problem)
        return data

    def language_fields(self) -> list[tuple[str, forms.BoundField, forms.BoundField]]:
        """(language name, subject field, body field) for each language."""
        return [
            (str(language), self[f"subject_{code}"], self[f"body_{code}"])
            for code, language in settings.LANGUAGES
        ]

    @staticmethod
    def initial_from(template: MessageTemplate) -> dict[str, Any]:
        initial: dict[str, Any] = {"name": template.name, "channel": template.channel}
        for code, _language in settings.LANGUAGES:
            initial[f"subject_{code}"] = (template.subject or {}).get(code, "")
            initial[f"body_{code}"] = (template.body or {}).get(code, "")
        return initial

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        codes = [code for code, _language in settings.LANGUAGES]
        return {
            "name": data["name"],
            "channel": data["channel"],
            "subject": {code: data.get(f"subject_{code}", "") for code in codes},
            "body": {code: data.get(f"body_{code}", "") for code in codes},
        }
