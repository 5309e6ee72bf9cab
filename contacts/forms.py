"""Forms for contacts: the list filters, a contact, a staff consent record, CSV imports."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.csvfile import ATTRIBUTE_PREFIX, CONTACT_TARGETS
from contacts.models import Channel, ConsentAction, ConsentState, Contact
from contacts.selectors import ATTRIBUTE_OPERATORS, NUMERIC_OPERATORS, AttributeFilter
from contacts.services.imports import MAX_FILE_BYTES
from contacts.validation import (
    AttributeValue,
    attribute_key_for,
    parse_attribute_value,
    validate_attribute_key,
)

OPERATOR_LABELS = {
    "eq": _("is"),
    "gt": _("greater than"),
    "gte": _("at least"),
    "lt": _("less than"),
    "lte": _("at most"),
}
CONSENT_FILTER_CHOICES = [("", _("any")), *ConsentState.choices]


class ContactFilterForm(forms.Form):
    """The list's search and filters (GET)."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        help_text=_("Name, email, phone or CRM id."),
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    key = forms.CharField(
        label=_("Attribute"),
        required=False,
        max_length=50,
        help_text=_("e.g. segment"),
        widget=forms.TextInput(attrs={"list": "attribute-keys", "autocomplete": "off"}),
    )
    op = forms.ChoiceField(
        label=_("Comparison"),
        required=False,
        choices=[(op, OPERATOR_LABELS[op]) for op in ATTRIBUTE_OPERATORS],
    )
    value = forms.CharField(label=_("Value"), required=False, max_length=200)
    consent_email = forms.ChoiceField(
        label=_("Email consent"), required=False, choices=CONSENT_FILTER_CHOICES
    )
    consent_sms = forms.ChoiceField(
        label=_("SMS consent"), required=False, choices=CONSENT_FILTER_CHOICES
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        key = (data.get("key") or "").strip().lower()
        data["attribute"] = None
        if not key:
            return data
        try:
            validate_attribute_key(key)
        except ValidationError as exc:
            self.add_error("key", exc)
            return data
        operator = data.get("op") or "eq"
        raw = (data.get("value") or "").strip()
        value: AttributeValue = parse_attribute_value(raw)
        if operator in NUMERIC_OPERATORS and not isinstance(value, int | float):
            self.add_error("value", _("Give a number for this comparison, e.g. 100000."))
            return data
        data["attribute"] = AttributeFilter(key, operator, value)
        return data

    def consent(self) -> dict[str, str]:
        return {
            channel: self.cleaned_data[f"consent_{channel}"]
            for channel in Channel.values
            if self.cleaned_data.get(f"consent_{channel}")
        }


def _language_choices() -> list[tuple[str, Any]]:
    return [("", _("Organization default")), *settings.LANGUAGES]


class ContactForm(forms.Form):
    """A contact's fields; the service normalises and validates them."""

    crm_id = forms.CharField(
        label=_("CRM id"),
        max_length=100,
        help_text=_("The customer number in your CRM: it identifies the contact in imports."),
    )
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.CharField(
        label=_("Email"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        help_text=_("National numbers are read in your organization's country."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    language = forms.ChoiceField(label=_("Language"), required=False, choices=_language_choices)
    timezone = forms.CharField(
        label=_("Time zone"),
        max_length=64,
        required=False,
        help_text=_("e.g. Europe/Zurich. Empty: the organization's time zone."),
    )
    attributes = forms.CharField(
        label=_("CRM attributes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "class": "mono"}),
        help_text=_(
            "One per line: key = value, e.g. “segment = enterprise”. Numbers are stored as numbers."
        ),
    )

    @staticmethod
    def initial_for(contact: Contact) -> dict[str, Any]:
        return {
            "crm_id": contact.crm_id,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "email": contact.email,
            "phone": contact.phone,
            "language": contact.language,
            "timezone": contact.timezone,
            "attributes": "\n".join(
                f"{key} = {value}" for key, value in sorted(contact.attributes.items())
            ),
        }

    def clean_attributes(self) -> dict[str, AttributeValue]:
        text = self.cleaned_data.get("attributes") or ""
        attributes: dict[str, AttributeValue] = {}
        errors: list[str] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep:
                key, sep, value = line.partition(":")
            key = key.strip().lower()
            if not sep or not key:
                errors.append(str(_("Line %(number)d: write key = value.") % {"number": number}))
                continue
            try:
                validate_attribute_key(key)
            except ValidationError as exc:
                errors.extend(
                    str(_("Line %(number)d: %(error)s") % {"number": number, "error": message})
                    for message in exc.messages
                )
                continue
            attributes[key] = parse_attribute_value(value)
        if errors:
            raise ValidationError(errors)
        return attributes


class ConsentForm(forms.Form):
    """A staff member records a grant or withdrawal (e.g. given on the phone)."""

    channel = forms.ChoiceField(
        label=_("Channel"), choices=Channel.choices, widget=forms.RadioSelect
    )
    action = forms.ChoiceField(
        label=_("Decision"), choices=ConsentAction.choices, widget=forms.RadioSelect
    )
    wording = forms.CharField(
        label=_("Wording"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "What the customer agreed to, as they heard or read it, e.g. “May we invite you "
            "to short surveys by email?” Required for a grant."
        ),
    )
    occurred_at = forms.DateTimeField(
        label=_("When"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text=_("In your organization's time zone. Empty: now."),
    )

    def __init__(self, *args: Any, timezone_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zoneinfo.ZoneInfo(timezone_name)

    def clean_occurred_at(self) -> datetime | None:
        value = self.cleaned_data.get("occurred_at")
        if value is None:
            return None
        # The field read the wall-clock time in the server's zone: read it in the
        # organization's instead.
        wall_clock = value.astimezone(timezone.get_current_timezone()).replace(tzinfo=None)
        return wall_clock.replace(tzinfo=self.zone)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == ConsentAction.GRANT and not (data.get("wording") or "").strip():
            self.add_error("wording", _("Give the wording the customer agreed to, as proof."))
        return data


class ContactEraseForm(forms.Form):
    """Confirm a GDPR erasure by typing the contact's CRM id."""

    confirm = forms.CharField(
        label=_("CRM id of the contact"),
        max_length=100,
        help_text=_("Type the CRM id to confirm. The erasure cannot be undone."),
    )

    def __init__(self, *args: Any, contact: Contact, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contact = contact

    def clean_confirm(self) -> str:
        value = str(self.cleaned_data.get("confirm", "")).strip()
        if self.contact.erased_at is None and value != self.contact.crm_id:
            raise ValidationError(_("This is not the contact's CRM id."))
        return value


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8 (Excel: “CSV UTF-8”), comma or semicolon separated, with a header row. "
            "At most %(mb)d MB."
        )
        % {"mb": MAX_FILE_BYTES // 2**20},
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise ValidationError(
                _("The file is larger than %(mb)d MB.") % {"mb": MAX_FILE_BYTES // 2**20}
            )
        return upload


IGNORE = ""
ATTRIBUTE = "attribute"


def target_choices() -> list[tuple[str, Any]]:
    return [
        (IGNORE, _("Do not import")),
        *CONTACT_TARGETS.items(),
        (ATTRIBUTE, _("CRM attribute")),
    ]


class ImportMappingForm(forms.Form):
    """One target (and attribute key) per column of the uploaded file, and consent."""

    consent_email = forms.BooleanField(
        label=_("Record email consent (grant) for the imported contacts"), required=False
    )
    consent_sms = forms.BooleanField(
        label=_("Record SMS consent (grant) for the imported contacts"), required=False
    )
    consent_wording = forms.CharField(
        label=_("Consent wording"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "The text the customers agreed to, e.g. from your checkout page. Contacts who "
            "withdrew their consent are not changed."
        ),
    )

    def __init__(
        self, *args: Any, columns: list[str], mapping: dict[str, str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.columns = columns
        for index, column in enumerate(columns):
            target = mapping.get(column, IGNORE)
            is_attribute = target.startswith(ATTRIBUTE_PREFIX)
            self.fields[f"target_{index}"] = forms.ChoiceField(
                label=_("Import “%(column)s” as") % {"column": column},
                choices=target_choices,
                required=False,
                initial=ATTRIBUTE if is_attribute else target,
            )
            self.fields[f"key_{index}"] = forms.CharField(
                label=_("Attribute key for “%(column)s”") % {"column": column},
                required=False,
                max_length=50,
                initial=target.removeprefix(ATTRIBUTE_PREFIX)
                if is_attribute
                else attribute_key_for(column),
            )

    def rows(self) -> list[tuple[str, forms.BoundField, forms.BoundField]]:
        return [
            (column, self[f"target_{index}"], self[f"key_{index}"])
            for index, column in enumerate(self.columns)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        mapping: dict[str, str] = {}
        for index, column in enumerate(self.columns):
            target = data.get(f"target_{index}") or IGNORE
            if target == ATTRIBUTE:
                key = (data.get(f"key_{index}") or "").strip().lower()
                try:
                    validate_attribute_key(key)
                except ValidationError as exc:
                    self.add_error(f"key_{index}", exc)
                    continue
                mapping[column] = f"{ATTRIBUTE_PREFIX}{key}"
            elif target != IGNORE:
                mapping[column] = target
        data["mapping"] = mapping
        data["channels"] = tuple(
            channel for channel in Channel.values if data.get(f"consent_{channel}")
        )
        return data
