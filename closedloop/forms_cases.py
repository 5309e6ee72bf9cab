"""Forms of the inbox, the case page's actions and the leaderboard.

The inbox filters are a GET form, so a filtered inbox is a link to share. Each action on
the case page is a small POST form of its own; the services do the checking that needs
the database (allowed transitions, members, root causes).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from closedloop.models import CaseStatus, Priority
from closedloop.selectors import PERIODS, TABS, CaseAccess, InboxFilters
from closedloop.services.cases import CONTACT_METHODS, CONTACT_OUTCOMES

TAB_LABELS = {
    "mine": _("My cases"),
    "team": _("My teams"),
    "breaching": _("Breaching soon"),
    "unassigned": _("Unassigned"),
    "all": _("All"),
}
SORT_CHOICES = [
    ("due", _("Due time")),
    ("impact", _("Impact")),
    ("newest", _("Newest")),
    ("priority", _("Priority")),
]
METHOD_LABELS = {
    "phone": _("Phone call"),
    "email": _("Email"),
    "sms": _("SMS"),
    "visit": _("Visit"),
    "other": _("Other"),
}
OUTCOME_LABELS = {
    "reached": _("Reached the customer"),
    "voicemail": _("Left a voicemail"),
    "no_answer": _("No answer"),
    "wrong_number": _("Wrong number"),
}
PERIOD_LABELS = {
    "this_week": _("This week"),
    "this_month": _("This month"),
    "last_month": _("Last month"),
    "this_quarter": _("This quarter"),
}
YES_NO = [("", _("Any")), ("yes", _("Yes")), ("no", _("No"))]
TEXT_MAX = 10_000


def _yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


class InboxFilterForm(forms.Form):
    tab = forms.ChoiceField(label=_("Tab"), required=False)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("open", _("Open")), ("all", _("All")), *CaseStatus.choices],
    )
    priority = forms.TypedChoiceField(
        label=_("Priority"),
        required=False,
        coerce=int,
        choices=[("", _("All priorities")), *Priority.choices],
    )
    team = forms.TypedChoiceField(label=_("Team"), required=False, coerce=int)
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int)
    touchpoint = forms.TypedChoiceField(label=_("Touchpoint"), required=False, coerce=int)
    journey = forms.TypedChoiceField(label=_("Journey"), required=False, coerce=int)
    breached = forms.ChoiceField(label=_("SLA breached"), required=False, choices=YES_NO)
    replied = forms.ChoiceField(label=_("Customer replied"), required=False, choices=YES_NO)
    sort = forms.ChoiceField(label=_("Sort by"), required=False, choices=SORT_CHOICES)

    def __init__(self, data: Any, *, access: CaseAccess, choices: dict[str, list[Any]]) -> None:
        super().__init__(data)
        tabs = [tab for tab in TABS if tab != "all" or access.view_all]
        self.fields["tab"].choices = [(tab, TAB_LABELS[tab]) for tab in tabs]  # type: ignore[attr-defined]
        self.fields["team"].choices = [("", _("All teams")), *choices["team"]]  # type: ignore[attr-defined]
        self.fields["owner"].choices = [("", _("Anybody")), *choices["owner"]]  # type: ignore[attr-defined]
        self.fields["touchpoint"].choices = [  # type: ignore[attr-defined]
            ("", _("All touchpoints")),
            *choices["touchpoint"],
        ]
        self.fields["journey"].choices = [("", _("All journeys")), *choices["journey"]]  # type: ignore[attr-defined]

    def filters(self) -> InboxFilters:
        data = self.cleaned_data
        return InboxFilters(
            tab=data.get("tab") or "mine",
            status=data.get("status") or "open",
            priority=data.get("priority") or None,
            team_id=data.get("team") or None,
            owner_id=data.get("owner") or None,
            touchpoint_id=data.get("touchpoint") or None,
            journey_id=data.get("journey") or None,
            breached=_yes_no(data.get("breached") or ""),
            replied=_yes_no(data.get("replied") or ""),
            sort=data.get("sort") or "due",
        )

    def params(self, *, without: tuple[str, ...] = ()) -> dict[str, str]:
        """The parameters as given (for links that keep them: tabs, pages, sorting)."""
        return {
            name: str(self.data[name])
            for name in self.fields
            if name not in without and self.data.get(name)
        }

    @property
    def is_filtered(self) -> bool:
        return bool(self.params(without=("tab", "sort")))


class IntListField(forms.Field):
    """Several ids from checkboxes of the same name."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"invalid": _("Choose cases from the list.")}

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        try:
            ids = [int(item) for item in value]
        except (TypeError, ValueError):
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if any(pk <= 0 or pk >= 2**63 for pk in ids):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return ids


class BulkAssignForm(forms.Form):
    case = IntListField(
        label=_("Cases"), error_messages={"required": _("Select the cases to assign.")}
    )
    owner = forms.TypedChoiceField(label=_("Assign the selected cases to"), coerce=int)
    back = forms.CharField(required=False, widget=forms.HiddenInput, max_length=2000)

    def __init__(self, *args: Any, owner_choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", _("Choose a person")), *owner_choices]  # type: ignore[attr-defined]


class StatusForm(forms.Form):
    to_status = forms.ChoiceField(label=_("New status"), choices=CaseStatus.choices)
    resolution_summary = forms.CharField(
        label=_("Resolution summary"),
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("How was the concern resolved? Needed to resolve or close the case."),
    )
    send_follow_up = forms.BooleanField(label=_("Send the follow-up survey"), required=False)


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note"),
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Write a note.")},
    )


class ContactAttemptForm(forms.Form):
    method = forms.ChoiceField(
        label=_("How"), choices=[(key, METHOD_LABELS[key]) for key in CONTACT_METHODS]
    )
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=[(key, OUTCOME_LABELS[key]) for key in CONTACT_OUTCOMES]
    )
    text = forms.CharField(
        label=_("What was said"),
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class RootCausesForm(forms.Form):
    root_causes = forms.TypedMultipleChoiceField(
        label=_("What caused the concern?"),
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["root_causes"].choices = choices  # type: ignore[attr-defined]


class PriorityForm(forms.Form):
    priority = forms.TypedChoiceField(label=_("Priority"), coerce=int, choices=Priority.choices)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


class AssignForm(forms.Form):
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    team = forms.TypedChoiceField(label=_("Team"), required=False, coerce=int, empty_value=None)

    def __init__(
        self,
        *args: Any,
        owner_choices: list[tuple[int, str]],
        team_choices: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", _("Nobody (unassigned)")), *owner_choices]  # type: ignore[attr-defined]
        self.fields["team"].choices = [("", _("Keep the team")), *team_choices]  # type: ignore[attr-defined]


class LeaderboardForm(forms.Form):
    period = forms.ChoiceField(
        label=_("Period"),
        required=False,
        choices=[(period, PERIOD_LABELS[period]) for period in PERIODS],
    )

    def chosen_period(self) -> str:
        return (self.cleaned_data.get("period") if self.is_valid() else "") or "this_month"
