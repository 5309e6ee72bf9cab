"""Forms for organization settings, members, teams and API keys."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tenants.models import Organization, Role
from tenants.permissions import scope_choices
from tenants.services import LOGO_MAX_BYTES


class OrganizationForm(forms.ModelForm[Organization]):
    logo_file = forms.ImageField(
        label=_("Logo"),
        required=False,
        help_text=_("PNG, JPEG or WebP, at most 256 KB. Shown on survey pages and emails."),
    )
    remove_logo = forms.BooleanField(label=_("Remove the logo"), required=False)

    class Meta:
        model = Organization
        fields = ["name", "timezone", "default_language", "brand_colour", "retention_months"]
        widgets = {"brand_colour": forms.TextInput(attrs={"type": "color"})}

    def clean_logo_file(self) -> Any:
        upload = self.cleaned_data.get("logo_file")
        if upload is not None and upload.size > LOGO_MAX_BYTES:
            raise forms.ValidationError(_("The logo must be at most 256 KB."))
        return upload


class MemberAddForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    name = forms.CharField(label=_("Name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.OWNER)
    password = forms.CharField(
        label=_("Initial password"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Only for people without an account yet. Leave empty to set it later."),
    )


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    lead = forms.TypedChoiceField(
        label=_("Team lead"), required=False, coerce=int, empty_value=None
    )
    members = forms.TypedMultipleChoiceField(
        label=_("Members"), required=False, coerce=int, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, member_choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lead"].choices = [("", _("— none —")), *member_choices]  # type: ignore[attr-defined]
        self.fields["members"].choices = member_choices  # type: ignore[attr-defined]


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("Which system uses it, e.g. “Salesforce”.")
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"), choices=scope_choices, widget=forms.CheckboxSelectMultiple
    )


def member_choices() -> list[tuple[int, str]]:
    from tenants.selectors import membership_list

    return [(m.user_id, _label(m.user)) for m in membership_list()]


def _label(user: Any) -> str:
    full = user.get_full_name()
    return f"{full} <{user.email}>" if full else str(user.email or user.get_username())
