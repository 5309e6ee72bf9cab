"""Bulk upsert of contacts by CRM id: the API's ``POST /contacts/bulk/``.

All or nothing: every item is checked first (the same normalisers as the forms and the
CSV import), and if any is invalid nothing is written and every bad item is reported
with its index. Otherwise all contacts are written in one transaction through the CSV
import's machinery (``contacts.services.imports``: plan, then one batched upsert by CRM
id and one batched insert of their audit entries).

Rules for the values of an item:

* A field that is present is set (``""`` or ``null`` clears it); a field that is left
  out keeps the contact's value (a new contact gets ``""``).
* ``attributes`` are merged into the contact's: keys given are set, a key with ``null``
  is removed, other keys are kept.
* ``consent`` (optional) records a grant or withdrawal per channel with source ``api``,
  only when it changes the contact's current state (so sending a batch again records
  nothing twice). A grant needs the ``wording`` the customer agreed to and an address
  for the channel. Withdrawals go through ``consent_record`` one by one (they are rare
  and may notify integrations); grants are inserted in batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.bulk import insert_rows
from contacts.models import (
    Channel,
    ConsentAction,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Contact,
)
from contacts.selectors import contact_consent_states, organization_phone_region
from contacts.services.consent import WORDING_MAX_LENGTH, consent_record
from contacts.services.contact import clean_attributes
from contacts.services.imports import (
    CHANNEL_ADDRESS,
    FIELD_TARGETS,
    _Plan,
    _plan,
    _Prepared,
    _write_contacts,
)
from contacts.validation import (
    normalize_crm_id,
    normalize_email,
    normalize_language,
    normalize_name,
    normalize_phone,
    normalize_timezone,
)
from tenants.context import require_organization_id
from tenants.services import Actor

MAX_ITEMS = 10_000
ERASED_PREFIX = "erased-"
ITEM_FIELDS = frozenset({"crm_id", *FIELD_TARGETS, "attributes", "consent"})
CONSENT_KEYS = frozenset({*Channel.values, "wording"})
STATE_AFTER = {
    ConsentAction.GRANT.value: ConsentState.GRANTED.value,
    ConsentAction.WITHDRAW.value: ConsentState.WITHDRAWN.value,
}


class ContactBulkInvalid(Exception):
    """At least one item is invalid; nothing was written."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} invalid item(s)")
        self.errors = errors


@dataclass
class BulkItemResult:
    index: int
    crm_id: str
    status: str  # created, updated, unchanged
    id: int | None = None


@dataclass
class BulkResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    consent_recorded: int = 0
    results: list[BulkItemResult] = field(default_factory=list)


@dataclass
class _Item:
    index: int
    crm_id: str
    record: dict[str, Any]  # present fields, normalised; "attributes" (merge patch)
    consent: dict[str, str]  # channel -> action
    wording: str


class _Normalizers:
    """The field normalisers, each distinct raw value normalised once per request."""

    def __init__(self, region: str) -> None:
        self.functions: dict[str, Callable[[str], str]] = {
            "first_name": normalize_name,
            "last_name": normalize_name,
            "email": normalize_email,
            "phone": lambda raw: normalize_phone(raw, region),
            "language": normalize_language,
            "timezone": normalize_timezone,
        }
        self.cache: dict[tuple[str, str], tuple[str, str | None]] = {}

    def __call__(self, name: str, raw: str) -> str:
        key = (name, raw)
        found = self.cache.get(key)
        if found is None:
            try:
                found = (self.functions[name](raw), None)
            except ValidationError as exc:
                found = ("", exc.messages[0])
            self.cache[key] = found
        value, error = found
        if error is not None:
            raise ValidationError(error)
        return value


def _check_consent(raw: Any, errors: dict[str, list[str]]) -> tuple[dict[str, str], str]:
    if raw is None:
        return {}, ""
    if not isinstance(raw, dict):
        errors["consent"] = [_("Give an object such as {“email”: “grant”, “wording”: “…”}.")]
        return {}, ""
    messages: list[str] = []
    unknown = sorted(set(raw) - CONSENT_KEYS)
    if unknown:
        messages.append(_("Unknown keys: %(keys)s.") % {"keys": ", ".join(unknown)})
    actions: dict[str, str] = {}
    for channel in Channel.values:
        action = raw.get(channel)
        if action is None:
            continue
        if action not in ConsentAction.values:
            messages.append(_("%(channel)s: use grant or withdraw.") % {"channel": channel})
        else:
            actions[channel] = action
    wording = raw.get("wording", "")
    if not isinstance(wording, str):
        messages.append(_("The wording must be text."))
        wording = ""
    wording = wording.strip()
    if len(wording) > WORDING_MAX_LENGTH:
        messages.append(
            _("The wording is longer than %(max)d characters.") % {"max": WORDING_MAX_LENGTH}
        )
    if ConsentAction.GRANT in actions.values() and not wording:
        messages.append(_("A grant needs the wording the customer agreed to, as proof."))
    if messages:
        errors["consent"] = messages
    return actions, wording


def _check_item(
    index: int, raw: Any, normalize: _Normalizers
) -> tuple[_Item | None, dict[str, Any]]:
    """The item normalised, or its errors by field."""
    if not isinstance(raw, dict):
        return None, {"non_field_errors": [_("Each item must be an object.")]}
    errors: dict[str, list[str]] = {}
    for name in sorted(set(raw) - ITEM_FIELDS):
        errors[name] = [_("Unknown field.")]
    crm_id = ""
    raw_crm_id = raw.get("crm_id")
    if not isinstance(raw_crm_id, str):
        errors["crm_id"] = [_("The CRM id is required (text).")]
    else:
        try:
            crm_id = normalize_crm_id(raw_crm_id)
        except ValidationError as exc:
            errors["crm_id"] = exc.messages
    record: dict[str, Any] = {}
    for name in FIELD_TARGETS:
        if name not in raw:
            continue
        value = raw[name]
        if value is None:
            value = ""
        if not isinstance(value, str):
            errors[name] = [_("Must be text.")]
            continue
        try:
            record[name] = normalize(name, value)
        except ValidationError as exc:
            errors[name] = exc.messages
    attributes = raw.get("attributes")
    if attributes is None:
        record["attributes"] = {}
    elif not isinstance(attributes, dict):
        errors["attributes"] = [_("Give an object of keys and plain values.")]
    else:
        try:
            record["attributes"] = clean_attributes(attributes)
        except ValidationError as exc:
            errors["attributes"] = exc.message_dict["attributes"]
    actions, wording = _check_consent(raw.get("consent"), errors)
    if errors:
        return None, errors
    return _Item(index, crm_id, record, actions, wording), {}


def _erased_crm_ids(crm_ids: list[str]) -> set[str]:
    """CRM ids among ``crm_ids`` that are tombstones of erased contacts."""
    candidates = [crm_id for crm_id in crm_ids if crm_id.startswith(ERASED_PREFIX)]
    if not candidates:
        return set()
    return set(
        Contact.objects.filter(crm_id__in=candidates, erased_at__isnull=False).values_list(
            "crm_id", flat=True
        )
    )


def _error(index: int, crm_id: Any, errors: dict[str, Any]) -> dict[str, Any]:
    return {"index": index, "crm_id": crm_id if isinstance(crm_id, str) else None, "errors": errors}


def _validate(items: Sequence[Any]) -> tuple[list[_Item], list[dict[str, Any]]]:
    normalize = _Normalizers(organization_phone_region())
    good: list[_Item] = []
    errors: list[dict[str, Any]] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(items):
        item, item_errors = _check_item(index, raw, normalize)
        if item is not None:
            if item.crm_id in first_index:
                item_errors = {
                    "crm_id": [
                        _("The CRM id “%(crm_id)s” appears already at index %(index)d.")
                        % {"crm_id": item.crm_id, "index": first_index[item.crm_id]}
                    ]
                }
            else:
                first_index[item.crm_id] = index
                good.append(item)
                continue
        errors.append(
            _error(index, raw.get("crm_id") if isinstance(raw, dict) else None, item_errors)
        )
    erased = _erased_crm_ids([item.crm_id for item in good])
    for item in good:
        if item.crm_id in erased:
            errors.append(
                _error(
                    item.index,
                    item.crm_id,
                    {"crm_id": [_("This contact was erased; it cannot be changed.")]},
                )
            )
    return good, errors


def _consent_changes(
    items: list[_Item], plan: _Plan, new: set[str]
) -> tuple[list[tuple[_Item, str, str]], list[dict[str, Any]]]:
    """The (item, channel, action) that change a state, and the errors of the others."""
    wanted = [item for item in items if item.consent]
    if not wanted:
        return [], []
    existing_ids = [plan.final[item.crm_id]["id"] for item in wanted if item.crm_id not in new]
    states = {
        channel: contact_consent_states(existing_ids, channel) if existing_ids else {}
        for channel in Channel.values
    }
    changes: list[tuple[_Item, str, str]] = []
    errors: list[dict[str, Any]] = []
    for item in wanted:
        final = plan.final[item.crm_id]
        messages: list[str] = []
        for channel, action in item.consent.items():
            if action == ConsentAction.GRANT and not final[CHANNEL_ADDRESS[Channel(channel)]]:
                messages.append(
                    _("A grant for %(channel)s needs an address for it.") % {"channel": channel}
                )
                continue
            state = (
                ConsentState.UNKNOWN.value
                if item.crm_id in new
                else states[channel].get(final["id"], ConsentState.UNKNOWN.value)
            )
            if state != STATE_AFTER[action]:
                changes.append((item, channel, action))
        if messages:
            errors.append(_error(item.index, item.crm_id, {"consent": messages}))
    return changes, errors


def _record_consent(changes: list[tuple[_Item, str, str]], plan: _Plan, actor: Actor) -> None:
    organization_id = require_organization_id()
    now = timezone.now()
    grants = [(item, channel) for item, channel, action in changes if action == "grant"]
    insert_rows(
        ConsentEvent,
        [
            "organization",
            "contact",
            "channel",
            "action",
            "source",
            "wording",
            "actor",
            "actor_label",
            "occurred_at",
            "created_at",
        ],
        [
            (
                organization_id,
                plan.final[item.crm_id]["id"],
                channel,
                ConsentAction.GRANT.value,
                ConsentSource.API.value,
                item.wording,
                actor.user.pk if actor.user is not None and actor.user.pk else None,
                actor.label[:200],
                now,
                now,
            )
            for item, channel in grants
        ],
    )
    for item, channel, action in changes:
        if action != ConsentAction.WITHDRAW:
            continue
        consent_record(
            contact=Contact.objects.get(pk=plan.final[item.crm_id]["id"]),
            channel=channel,
            action=action,
            source=ConsentSource.API,
            wording=item.wording,
            actor=actor,
        )


def contact_bulk_upsert(*, actor: Actor, items: Sequence[Any]) -> BulkResult:
    """Create or update up to ``MAX_ITEMS`` contacts by CRM id, all or nothing.

    ``items`` are the decoded JSON objects of the request. Raises
    ``ContactBulkInvalid`` (with ``errors``: index, crm_id and messages by field per
    bad item) and writes nothing when any item is invalid.
    """
    if len(items) > MAX_ITEMS:
        raise ValidationError(
            {"items": _("At most %(max)d items per request.") % {"max": MAX_ITEMS}}
        )
    good, errors = _validate(items)
    if errors:
        raise ContactBulkInvalid(sorted(errors, key=lambda error: error["index"]))
    fields = [name for name in FIELD_TARGETS if any(name in item.record for item in good)]
    records = {item.crm_id: dict(item.record) for item in good}
    plan = _plan(_Prepared(records=records, fields=fields, errors=[], failed=0))
    new = {write.crm_id for write in plan.create}
    consent, consent_errors = _consent_changes(good, plan, new)
    if consent_errors:
        raise ContactBulkInvalid(sorted(consent_errors, key=lambda error: error["index"]))
    updated = {write.crm_id for write in plan.update}
    with transaction.atomic():
        _write_contacts(
            plan,
            fields,
            actor,
            timezone.now(),
            action="contact.bulk_upsert",
            error_field="items",
        )
        _record_consent(consent, plan, actor)
    result = BulkResult(
        created=len(plan.create),
        updated=len(plan.update),
        unchanged=plan.unchanged,
        consent_recorded=len(consent),
    )
    for item in good:
        status = (
            "created"
            if item.crm_id in new
            else "updated"
            if item.crm_id in updated
            else "unchanged"
        )
        result.results.append(
            BulkItemResult(item.index, item.crm_id, status, plan.final[item.crm_id]["id"])
        )
    return result
