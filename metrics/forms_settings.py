"""Forms of the dashboard settings: segment attributes and the weekly digest."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from django import forms
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from metrics.selectors.settings import CrmKey
from metrics.services.segments import KEY_MAX, LABEL_MAX, segment_key_problem


class SegmentAttributeForm(forms.Form):
    crm_key = forms.ChoiceField(
        label=_("CRM attribute"),
        required=False,
        help_text=_("The attributes your contacts have most often."),
    )
    other_key = forms.CharField(
        label=_("Or another attribute key"),
        required=False,
        max_length=KEY_MAX,
        help_text=_("Exactly as the CRM sends it, e.g. region or customer_tier."),
    )
    label = forms.CharField(
        label=_("Label"),
        required=False,
        max_length=LABEL_MAX,
        help_text=_("The name the dashboard shows; empty: the key."),
    )

    def __init__(self, data: Any = None, *, keys: Iterable[CrmKey], taken: Collection[str]) -> None:
        super().__init__(data)
        choices: list[tuple[str, Any]] = [("", _("— choose —"))]
        for key in keys:
            if key.key in taken or segment_key_problem(key.key):
                continue
            contacts = ngettext("%(count)s contact", "%(count)s contacts", key.contacts) % {
                "count": number_format(key.contacts, force_grouping=True)
            }
            choices.append((key.key, f"{key.key} ({contacts})"))
        field: Any = self.fields["crm_key"]
        field.choices = choices

    def clean_other_key(self) -> str:
        key = (self.cleaned_data.get("other_key") or "").strip()
        problem = segment_key_problem(key) if key else None
        if problem:
            raise forms.ValidationError(problem)
        return key

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        chosen, other = cleaned.get("crm_key") or "", cleaned.get("other_key") or ""
        if "other_key" in self.errors:
            return cleaned
        if chosen and other and chosen != other:
            raise forms.ValidationError(_("Choose an attribute or enter one, not both."))
        if not (chosen or other):
            raise forms.ValidationError(_("Choose or enter a CRM attribute."))
        cleaned["key"] = other or chosen
        return cleaned


class SegmentLabelForm(forms.Form):
    label = forms.CharField(label=_("Label"), required=False, max_length=LABEL_MAX)


class MoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", _("Up")), ("down", _("Down"))])


class DigestSubscriptionForm(forms.Form):
    subscribed = forms.BooleanField(
        label=_("Send me the weekly digest by email (Mondays, 07:00)"), required=False
    )
