"""Importing contacts from CSV: upsert by CRM id, in bulk, with a per-row error report.

An import is all or nothing at the file level (an unreadable file or a bad mapping
imports nothing) and row by row inside it: good rows are written, bad rows are
reported with their row number, column and reason, and skipped. The whole import is
one transaction; contacts, their audit entries and consent events are written in
batched multi-row statements (``contacts.bulk``: an upsert by CRM id), never row by row.

Rules for imported values:

* The file is the source of truth for the mapped columns: an empty cell clears the
  field. Columns that are not mapped leave the contact's fields alone.
* Attributes are merged: mapped keys are set (an empty cell removes the key), other
  keys the contact already has are kept.
* Optional consent: a grant with source ``import`` for contacts that have an address
  for the channel and no consent yet. A contact who withdrew consent is not re-granted
  by an import (only by the customer: API, staff record); those are counted as skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypedDict

import pandas as pd
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.bulk import insert_rows
from contacts.csvfile import (
    ATTRIBUTE_PREFIX,
    CsvTable,
    auto_mapping,
    read_csv_table,
    validate_mapping,
)
from contacts.models import (
    Channel,
    ConsentAction,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Contact,
    ContactImport,
)
from contacts.selectors import (
    contact_consent_states,
    contact_values_by_crm_id,
    organization_phone_region,
)
from contacts.services.consent import WORDING_MAX_LENGTH
from contacts.services.contact import attribute_changes
from contacts.validation import (
    CRM_ID_MAX_LENGTH,
    normalize_email,
    normalize_language,
    normalize_name,
    normalize_phone,
    normalize_timezone,
    parse_attribute_value,
)
from tenants.context import require_organization_id
from tenants.models import AuditLog
from tenants.services import Actor, audit_log_record

MAX_FILE_BYTES = 64 * 1024 * 1024
# Uploads that were never mapped and run are deleted after this long (with the next
# upload of the organization): they hold customer data nobody is using.
PENDING_UPLOAD_TTL = timedelta(hours=24)
FIELD_TARGETS = ("first_name", "last_name", "email", "phone", "language", "timezone")
CHANNEL_ADDRESS = {Channel.EMAIL: "email", Channel.SMS: "phone"}


class RowError(TypedDict):
    row: int
    column: str
    message: str


@dataclass(frozen=True)
class ImportConsent:
    """Record a consent grant (source ``import``) for these channels, with this wording."""

    channels: tuple[str, ...] = ()
    wording: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"channels": list(self.channels), "wording": self.wording} if self.channels else {}


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    consent_recorded: int = 0
    consent_skipped: int = 0
    errors: list[RowError] = field(default_factory=list)


@dataclass
class _Prepared:
    """The valid rows, normalised, by CRM id; and the report of the others."""

    records: dict[str, dict[str, Any]]
    fields: list[str]
    errors: list[RowError]
    failed: int


# --- Reading and checking rows ------------------------------------------------------


def _normalize_column(
    series: pd.Series, normalize: Callable[[str], Any]
) -> tuple[dict[str, Any], pd.Series]:
    """Normalise every distinct value once: value by raw text, and an error per row."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for raw in series.unique():
        try:
            values[raw] = normalize(raw)
        except ValidationError as exc:
            errors[raw] = exc.messages[0]
    return values, series.map(errors)


def _attribute_value(raw: str) -> Any:
    return parse_attribute_value(raw) if raw.strip() else None


def _prepare(table: CsvTable, mapping: dict[str, str], region: str) -> _Prepared:
    frame = table.frame
    row_numbers = table.row_numbers()
    problems: list[tuple[int, int, str, str]] = []  # (row, column position, column, message)
    failed = pd.Series(False, index=frame.index)
    position = {column: i for i, column in enumerate(table.columns)}

    def report(messages: pd.Series, column: str) -> None:
        bad = messages.notna() & (messages != "")
        if bad.any():
            failed.loc[bad[bad].index] = True
            problems.extend(
                (int(row_numbers[i]), position.get(column, -1), column, str(messages[i]))
                for i in bad[bad].index
            )

    if table.malformed_rows:
        malformed = frame.index.isin([r - 2 for r in table.malformed_rows])
        report(
            pd.Series(
                _("The row has more fields than the header; check its quotes and delimiters."),
                index=frame.index[malformed],
            ),
            "",
        )
        frame = frame[~malformed]

    by_target = {target: column for column, target in mapping.items()}
    crm_column = by_target["crm_id"]
    crm = frame[crm_column].str.strip()
    missing = crm == ""
    report(pd.Series(_("The CRM id is missing."), index=crm.index[missing]), crm_column)
    too_long = crm.str.len() > CRM_ID_MAX_LENGTH
    report(
        pd.Series(
            _("The CRM id is longer than %(max)d characters.") % {"max": CRM_ID_MAX_LENGTH},
            index=crm.index[too_long],
        ),
        crm_column,
    )
    present = crm[~missing & ~too_long]
    duplicate = present.duplicated(keep="first")
    if duplicate.any():
        firsts = present[~duplicate]
        first_rows = dict(zip(firsts, row_numbers[firsts.index], strict=True))
        report(
            pd.Series(
                {
                    i: _("The CRM id “%(crm_id)s” appears already in row %(row)d.")
                    % {"crm_id": crm[i], "row": first_rows[crm[i]]}
                    for i in duplicate[duplicate].index
                },
                dtype=object,
            ),
            crm_column,
        )

    normalizers: dict[str, Callable[[str], Any]] = {
        "first_name": normalize_name,
        "last_name": normalize_name,
        "email": normalize_email,
        "phone": lambda raw: normalize_phone(raw, region),
        "language": normalize_language,
        "timezone": normalize_timezone,
    }
    fields = [target for target in FIELD_TARGETS if target in by_target]
    value_maps: dict[str, dict[str, Any]] = {}
    for target in fields:
        value_maps[target], errors = _normalize_column(
            frame[by_target[target]], normalizers[target]
        )
        report(errors, by_target[target])
    attribute_columns = {
        column: target.removeprefix(ATTRIBUTE_PREFIX)
        for column, target in mapping.items()
        if target.startswith(ATTRIBUTE_PREFIX)
    }
    for column in attribute_columns:
        value_maps[column], _errors = _normalize_column(frame[column], _attribute_value)

    # Plain Python from here: pandas would turn 42 into 42.0 next to an empty cell.
    good = ~failed.loc[frame.index]
    rows = frame[good]
    crm_ids = crm[good].tolist()
    columns = {
        target: [value_maps[target][raw] for raw in rows[by_target[target]].tolist()]
        for target in fields
    }
    attribute_values = {
        key: [value_maps[column][raw] for raw in rows[column].tolist()]
        for column, key in attribute_columns.items()
    }
    records: dict[str, dict[str, Any]] = {}
    for i, crm_id in enumerate(crm_ids):
        record = {target: values[i] for target, values in columns.items()}
        record["attributes"] = {key: values[i] for key, values in attribute_values.items()}
        records[crm_id] = record
    problems.sort()
    return _Prepared(
        records=records,
        fields=fields,
        errors=[RowError(row=r, column=c, message=m) for r, _p, c, m in problems],
        failed=int(failed.sum()),
    )


# --- Writing ------------------------------------------------------------------------

_LABEL_FIELDS = ("first_name", "last_name", "email")  # what ``str(contact)`` shows


def _existing_contacts(crm_ids: list[str], fields: list[str]) -> dict[str, dict[str, Any]]:
    names = ["id", "crm_id", "attributes", *_LABEL_FIELDS, "phone", *fields]
    return contact_values_by_crm_id(crm_ids, names)


def _merged_attributes(old: dict[str, Any], mapped: dict[str, Any]) -> dict[str, Any]:
    merged = dict(old)
    for key, value in mapped.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return dict(sorted(merged.items()))


def _label(values: dict[str, Any], crm_id: str) -> str:
    """``str(contact)`` without building a model instance."""
    name = " ".join(part for part in (values["first_name"], values["last_name"]) if part)
    return (name or values["email"] or crm_id)[:200]


@dataclass
class _Write:
    crm_id: str
    values: dict[str, Any]  # every contact field, ``attributes`` included
    changes: dict[str, Any]  # for the audit log: field -> [old, new]
    contact_id: int | None = None


@dataclass
class _Plan:
    create: list[_Write] = field(default_factory=list)
    update: list[_Write] = field(default_factory=list)
    unchanged: int = 0
    # Every imported contact's id (None until created), email and phone after the import.
    final: dict[str, dict[str, Any]] = field(default_factory=dict)


def _plan(prepared: _Prepared) -> _Plan:
    plan = _Plan()
    existing = _existing_contacts(list(prepared.records), prepared.fields)
    for crm_id, record in prepared.records.items():
        mapped_attributes = record.pop("attributes")
        old = existing.get(crm_id)
        if old is None:
            values = {name: record.get(name, "") for name in FIELD_TARGETS}
            values["attributes"] = _merged_attributes({}, mapped_attributes)
            changes: dict[str, Any] = {"crm_id": [None, crm_id]}
            changes.update({name: [None, v] for name, v in record.items() if v != ""})
            changes.update(attribute_changes({}, values["attributes"]))
            plan.create.append(_Write(crm_id, values, changes))
            plan.final[crm_id] = {"id": None, "email": values["email"], "phone": values["phone"]}
            continue
        attributes = _merged_attributes(old["attributes"], mapped_attributes)
        changes = {name: [old[name], value] for name, value in record.items() if old[name] != value}
        changes.update(attribute_changes(old["attributes"], attributes))
        values = {name: record.get(name, old.get(name, "")) for name in FIELD_TARGETS}
        values["attributes"] = attributes
        plan.final[crm_id] = {"id": old["id"], "email": values["email"], "phone": values["phone"]}
        if changes:
            plan.update.append(_Write(crm_id, values, changes, contact_id=old["id"]))
        else:
            plan.unchanged += 1
    return plan


def _write_contacts(
    plan: _Plan,
    fields: list[str],
    actor: Actor,
    now: datetime,
    *,
    action: str = "contact.import",
    error_field: str = "file",
) -> None:
    """Upsert the new and changed contacts by CRM id, then their audit entries (one per
    written contact, ``action``). Also used by the API's bulk upsert."""
    organization_id = require_organization_id()
    writes = [*plan.create, *plan.update]
    columns = ["organization", "crm_id", *FIELD_TARGETS, "attributes", "created_at", "updated_at"]
    rows = [
        (
            organization_id,
            write.crm_id,
            *(write.values[name] for name in FIELD_TARGETS),
            write.values["attributes"],
            now,
            now,
        )
        for write in writes
    ]
    try:
        with transaction.atomic():
            returned = insert_rows(
                Contact,
                columns,
                rows,
                conflict=["organization", "crm_id"],
                update=[*fields, "attributes", "updated_at"],
                returning=["id", "crm_id"],
            )
    except IntegrityError:
        raise ValidationError(
            {error_field: _("The contacts could not be saved. Run the import again.")}
        ) from None
    ids = {crm_id: contact_id for contact_id, crm_id in returned}
    for write in writes:
        write.contact_id = ids[write.crm_id]
        plan.final[write.crm_id]["id"] = write.contact_id

    actor_id = _actor_user_id(actor)
    label = actor.label[:200]
    object_type = Contact._meta.label_lower
    insert_rows(
        AuditLog,
        [
            "organization",
            "actor",
            "actor_label",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
            "created_at",
        ],
        [
            (
                organization_id,
                actor_id,
                label,
                action,
                object_type,
                str(write.contact_id),
                _label(write.values, write.crm_id),
                write.changes,
                now,
            )
            for write in writes
        ],
    )


def _actor_user_id(actor: Actor) -> int | None:
    return actor.user.pk if actor.user is not None and actor.user.pk else None


def _grant_consent(
    plan: _Plan, consent: ImportConsent, actor: Actor, now: datetime, *, dry_run: bool
) -> tuple[int, int]:
    """Grant consent where the state is unknown; returns (recorded, skipped as withdrawn)."""
    recorded = skipped = 0
    new = {write.crm_id for write in plan.create}
    organization_id = require_organization_id()
    for channel in consent.channels:
        address = CHANNEL_ADDRESS[Channel(channel)]
        candidates = {crm_id: row for crm_id, row in plan.final.items() if row[address]}
        # New contacts have no ledger yet; ask the database only about the others.
        states = contact_consent_states(
            [row["id"] for crm_id, row in candidates.items() if crm_id not in new], channel
        )
        to_grant = []
        for crm_id, row in candidates.items():
            state = ConsentState.UNKNOWN if crm_id in new else states[row["id"]]
            if state == ConsentState.WITHDRAWN:
                skipped += 1
            elif state == ConsentState.UNKNOWN:
                to_grant.append(crm_id)
        recorded += len(to_grant)
        if dry_run:
            continue
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
                    plan.final[crm_id]["id"],
                    channel,
                    ConsentAction.GRANT.value,
                    ConsentSource.IMPORT.value,
                    consent.wording,
                    _actor_user_id(actor),
                    actor.label[:200],
                    now,
                    now,
                )
                for crm_id in to_grant
            ],
        )
    return recorded, skipped


def _execute(
    *,
    table: CsvTable,
    mapping: dict[str, str],
    consent: ImportConsent,
    actor: Actor,
    dry_run: bool,
) -> ImportResult:
    """Check every row and, unless ``dry_run``, write the good ones. Call in a transaction."""
    prepared = _prepare(table, mapping, organization_phone_region())
    now = timezone.now()
    plan = _plan(prepared)
    if not dry_run:
        _write_contacts(plan, prepared.fields, actor, now)
    recorded, skipped = _grant_consent(plan, consent, actor, now, dry_run=dry_run)
    return ImportResult(
        rows=table.row_count,
        created=len(plan.create),
        updated=len(plan.update),
        unchanged=plan.unchanged,
        failed=prepared.failed,
        consent_recorded=recorded,
        consent_skipped=skipped,
        errors=prepared.errors,
    )


# --- Services -----------------------------------------------------------------------


def _clean_consent(consent: ImportConsent) -> ImportConsent:
    channels = tuple(dict.fromkeys(consent.channels))
    if set(channels) - set(Channel.values):
        raise ValidationError({"consent": _("Unknown channel.")})
    wording = consent.wording.strip()
    if channels and not wording:
        raise ValidationError(
            {"consent_wording": _("Give the wording the customers agreed to, as proof.")}
        )
    if len(wording) > WORDING_MAX_LENGTH:
        raise ValidationError(
            {
                "consent_wording": _("The wording is longer than %(max)d characters.")
                % {"max": WORDING_MAX_LENGTH}
            }
        )
    return ImportConsent(channels=channels, wording=wording)


def _read(data: bytes) -> CsvTable:
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(
            {"file": _("The file is larger than %(mb)d MB.") % {"mb": MAX_FILE_BYTES // 2**20}}
        )
    return read_csv_table(data)


def _upload(*, actor: Actor, file_name: str, data: bytes, table: CsvTable) -> ContactImport:
    ContactImport.objects.filter(
        status=ContactImport.Status.PENDING,
        created_at__lt=timezone.now() - PENDING_UPLOAD_TTL,
    ).delete()
    contact_import = ContactImport.objects.create(
        file_name=file_name.strip()[:255] or "contacts.csv",
        source=data,
        delimiter=table.delimiter,
        columns=table.columns,
        row_count=table.row_count,
        mapping=auto_mapping(table.columns),
        created_by_id=_actor_user_id(actor),
        actor_label=actor.label[:200],
    )
    audit_log_record(
        actor=actor,
        action="contact_import.upload",
        obj=contact_import,
        changes={"rows": [None, table.row_count]},
    )
    return contact_import


def contact_import_upload(*, actor: Actor, file_name: str, data: bytes) -> ContactImport:
    """Store an uploaded file that reads as CSV; it waits for its column mapping.

    Raises ``ValidationError({"file": ...})`` for an unreadable file: nothing is stored.
    """
    table = _read(data)
    with transaction.atomic():
        return _upload(actor=actor, file_name=file_name, data=data, table=table)


def _run(
    *,
    actor: Actor,
    contact_import: ContactImport,
    mapping: dict[str, str],
    consent: ImportConsent,
    table: CsvTable | None = None,
) -> ContactImport:
    contact_import = ContactImport.objects.select_for_update().get(pk=contact_import.pk)
    if not contact_import.is_pending or contact_import.source is None:
        raise ValidationError(_("This import has run already."), code="completed")
    mapping = validate_mapping(mapping, contact_import.columns)
    if table is None:
        table = read_csv_table(bytes(contact_import.source))
    result = _execute(table=table, mapping=mapping, consent=consent, actor=actor, dry_run=False)
    contact_import.status = ContactImport.Status.COMPLETED
    contact_import.source = None
    contact_import.mapping = mapping
    contact_import.consent = consent.as_json()
    contact_import.row_count = result.rows
    contact_import.created_count = result.created
    contact_import.updated_count = result.updated
    contact_import.unchanged_count = result.unchanged
    contact_import.failed_count = result.failed
    contact_import.consent_recorded_count = result.consent_recorded
    contact_import.consent_skipped_count = result.consent_skipped
    contact_import.errors = list(result.errors)
    contact_import.completed_at = timezone.now()
    contact_import.save()
    counts = {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "failed": result.failed,
    }
    if consent.channels:
        counts["consent_recorded"] = result.consent_recorded
        counts["consent_skipped"] = result.consent_skipped
    audit_log_record(
        actor=actor,
        action="contact_import.run",
        obj=contact_import,
        changes={name: [None, count] for name, count in counts.items()},
    )
    return contact_import


def contact_import_run(
    *,
    actor: Actor,
    contact_import: ContactImport,
    mapping: dict[str, str],
    consent: ImportConsent | None = None,
) -> ContactImport:
    """Import a pending upload with a column mapping (``{column: target}``).

    Targets are contact fields (``crm_id``, required; ``first_name``, ``last_name``,
    ``email``, ``phone``, ``language``, ``timezone``) or ``attr:<key>`` for a CRM
    attribute. Good rows are written, bad rows reported on the import and skipped.
    """
    consent = _clean_consent(consent or ImportConsent())
    with transaction.atomic():
        return _run(actor=actor, contact_import=contact_import, mapping=mapping, consent=consent)


def contact_import_discard(*, actor: Actor, contact_import: ContactImport) -> None:
    """Delete an upload that has not been imported, and the customer data in it."""
    with transaction.atomic():
        contact_import = ContactImport.objects.select_for_update().get(pk=contact_import.pk)
        if not contact_import.is_pending:
            raise ValidationError(_("A completed import stays on record."), code="completed")
        audit_log_record(actor=actor, action="contact_import.discard", obj=contact_import)
        contact_import.delete()


def contact_import_file(
    *,
    actor: Actor,
    file_name: str,
    data: bytes,
    mapping: dict[str, str] | None = None,
    consent: ImportConsent | None = None,
    dry_run: bool = False,
) -> tuple[ContactImport | None, ImportResult]:
    """Upload and import in one step (command line, benchmarks).

    Without ``mapping`` the columns are mapped by their header names (``auto_mapping``).
    ``dry_run`` checks every row and counts what would happen, and writes nothing.
    """
    table = _read(data)
    mapping = validate_mapping(mapping or auto_mapping(table.columns), table.columns)
    consent = _clean_consent(consent or ImportConsent())
    with transaction.atomic():
        if dry_run:
            result = _execute(
                table=table, mapping=mapping, consent=consent, actor=actor, dry_run=True
            )
            return None, result
        contact_import = _upload(actor=actor, file_name=file_name, data=data, table=table)
        contact_import = _run(
            actor=actor,
            contact_import=contact_import,
            mapping=mapping,
            consent=consent,
            table=table,
        )
    return contact_import, ImportResult(
        rows=contact_import.row_count,
        created=contact_import.created_count,
        updated=contact_import.updated_count,
        unchanged=contact_import.unchanged_count,
        failed=contact_import.failed_count,
        consent_recorded=contact_import.consent_recorded_count,
        consent_skipped=contact_import.consent_skipped_count,
        errors=list(contact_import.errors),
    )
