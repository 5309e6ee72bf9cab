"""Creating and editing single contacts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from contacts.models import Contact
from contacts.selectors import organization_phone_region
from contacts.validation import (
    normalize_crm_id,
    normalize_email,
    normalize_language,
    normalize_name,
    normalize_phone,
    normalize_timezone,
    validate_attribute_key,
)
from tenants.services import Actor, audit_log_record

EDITABLE_FIELDS = (
    "crm_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "language",
    "timezone",
    "attributes",
)
AttributeValue = str | int | float | bool | None


def _normalizers(region: str) -> dict[str, Callable[[str], str]]:
    return {
        "crm_id": normalize_crm_id,
        "first_name": normalize_name,
        "last_name": normalize_name,
        "email": normalize_email,
        "phone": lambda raw: normalize_phone(raw, region),
        "language": normalize_language,
        "timezone": normalize_timezone,
    }


def clean_attributes(attributes: dict[str, Any]) -> dict[str, AttributeValue]:
    """Check CRM attributes: valid keys, and plain values (text, number, yes/no, empty)."""
    errors: list[str] = []
    for key, value in attributes.items():
        try:
            validate_attribute_key(key)
        except ValidationError as exc:
            errors.extend(exc.messages)
        if not isinstance(value, str | int | float | bool | type(None)):
            errors.append(_("The value of “%(key)s” must be text or a number.") % {"key": key})
        elif isinstance(value, str) and len(value) > 1000:
            errors.append(_("The value of “%(key)s” is too long.") % {"key": key})
    if errors:
        raise ValidationError({"attributes": errors})
    return dict(sorted(attributes.items()))


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    normalizers = _normalizers(organization_phone_region())
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in fields.items():
        try:
            if name == "attributes":
                cleaned[name] = clean_attributes(value or {})
            else:
                cleaned[name] = normalizers[name](value or "")
        except ValidationError as exc:
            errors.setdefault(name, []).extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    return cleaned


def _check_crm_id_free(crm_id: str, contact: Contact | None = None) -> None:
    others = Contact.objects.filter(crm_id=crm_id)
    if contact is not None:
        others = others.exclude(pk=contact.pk)
    if others.exists():
        raise ValidationError({"crm_id": _("A contact with this CRM id exists already.")})


def _audit_value(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def attribute_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[AttributeValue]]:
    """Audit entries for changed attributes: ``attributes.<key>: [old, new]``."""
    return {
        f"attributes.{key}": [_audit_value(old.get(key)), _audit_value(new.get(key))]
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    }


def contact_create(
    *,
    actor: Actor,
    crm_id: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    phone: str = "",
    language: str = "",
    timezone: str = "",
    attributes: dict[str, Any] | None = None,
) -> Contact:
    """Create a contact. Email is lower-cased, phone stored in E.164 (national numbers are
    read in the organization's region), language and time zone checked."""
    cleaned = _clean(
        {
            "crm_id": crm_id,
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "phone": phone,
            "language": language,
            "timezone": timezone,
            "attributes": attributes or {},
        }
    )
    with transaction.atomic():
        _check_crm_id_free(cleaned["crm_id"])
        try:
            with transaction.atomic():
                contact = Contact.objects.create(**cleaned)
        except IntegrityError:
            raise ValidationError(
                {"crm_id": _("A contact with this CRM id exists already.")}
            ) from None
        changes: dict[str, Any] = {
            name: [None, value]
            for name, value in cleaned.items()
            if name != "attributes" and value != ""
        }
        changes.update(attribute_changes({}, cleaned["attributes"]))
        audit_log_record(actor=actor, action="contact.create", obj=contact, changes=changes)
    return contact


def contact_update(*, actor: Actor, contact: Contact, **fields: Any) -> Contact:
    """Change some of a contact's fields (``EDITABLE_FIELDS``); records what changed."""
    cleaned = _clean(fields)
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        if contact.erased_at is not None:
            raise ValidationError(
                _("This contact was erased; it cannot be changed."), code="erased"
            )
        if "crm_id" in cleaned and cleaned["crm_id"] != contact.crm_id:
            _check_crm_id_free(cleaned["crm_id"], contact)
        changes: dict[str, Any] = {}
        for name, value in cleaned.items():
            old = getattr(contact, name)
            if old == value:
                continue
            if name == "attributes":
                changes.update(attribute_changes(old, value))
            else:
                changes[name] = [old, value]
            setattr(contact, name, value)
        if changes:
            contact.save()
            audit_log_record(actor=actor, action="contact.update", obj=contact, changes=changes)
    return contact


def contact_mark_surveyed(*, contact_id: int, at: datetime) -> None:
    """Record that the contact was surveyed (an invitation went out) at ``at``.

    Only moves forward: a late-reported earlier send never turns the clock back. No
    audit entry: the invitation that caused it is the record, and this runs per send.
    """
    with transaction.atomic():
        Contact.objects.filter(pk=contact_id).filter(
            Q(last_surveyed_at__isnull=True) | Q(last_surveyed_at__lt=at)
        ).update(last_surveyed_at=at)
