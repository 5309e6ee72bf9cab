"""Reads for contacts: search and filters, the consent state derived from the ledger,
the proof export, a contact's history and the import list.

All of them run inside the caller's organization context.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    F,
    Func,
    Lookup,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Coalesce
from django.db.models.sql.compiler import SQLCompiler
from django.db.utils import NotSupportedError
from django.utils import timezone

from contacts.csvfile import read_csv_table
from contacts.models import (
    STATE_OF_ACTION,
    Channel,
    ConsentAction,
    ConsentEvent,
    ConsentState,
    Contact,
    ContactImport,
)
from contacts.validation import (
    ATTRIBUTE_KEY,
    phone_search_variant,
    region_for_timezone,
)
from tenants.context import require_organization_id
from tenants.models import AuditLog, Organization


def organization_phone_region() -> str:
    """The region national phone numbers are read in, from the organization's time zone."""
    timezone_name = (
        Organization.objects.filter(pk=require_organization_id())
        .values_list("timezone", flat=True)
        .get()
    )
    return region_for_timezone(timezone_name)


# --- Consent derived from the ledger ------------------------------------------------


def consent_field(channel: str) -> str:
    """Name of the annotation holding a channel's derived state (``consent_email``)."""
    return f"consent_{channel}"


def _latest_state(channel: str) -> Coalesce:
    latest = (
        ConsentEvent.objects.filter(contact=OuterRef("pk"), channel=channel)
        .order_by("-occurred_at", "-id")
        .annotate(
            state=Case(
                When(action=ConsentAction.GRANT, then=Value(ConsentState.GRANTED.value)),
                default=Value(ConsentState.WITHDRAWN.value),
                output_field=CharField(),
            )
        )
        .values("state")[:1]
    )
    return Coalesce(Subquery(latest), Value(ConsentState.UNKNOWN.value), output_field=CharField())


def with_consent_states(queryset: QuerySet[Contact]) -> QuerySet[Contact]:
    """Annotate ``consent_email`` and ``consent_sms``: the latest event per channel wins,
    no event is ``unknown``. One correlated subquery per channel, filterable."""
    return queryset.annotate(
        **{consent_field(channel): _latest_state(channel) for channel in Channel.values}
    )


def contact_consent_state(contact: Contact) -> dict[str, str]:
    """The current consent state per channel, derived from the contact's ledger."""
    fields = [consent_field(channel) for channel in Channel.values]
    row = with_consent_states(Contact.objects.filter(pk=contact.pk)).values(*fields).get()
    return {channel: row[consent_field(channel)] for channel in Channel.values}


def contact_channel_consent_state(*, contact_id: int, channel: str) -> str:
    """The current consent state of one contact for one channel."""
    state = (
        Contact.objects.filter(pk=contact_id)
        .annotate(state=_latest_state(channel))
        .values_list("state", flat=True)
        .first()
    )
    return state or ConsentState.UNKNOWN.value


def consent_ledger(contact: Contact) -> QuerySet[ConsentEvent]:
    """Every consent event of the contact, newest first."""
    return (
        ConsentEvent.objects.filter(contact=contact)
        .select_related("actor")
        .order_by("-occurred_at", "-id")
    )


def contact_consent_proof(contact: Contact) -> dict[str, Any]:
    """The contact's consent ledger as a self-contained proof document.

    Events are oldest first; each carries the state it led to. ``current_state`` names
    the deciding event per channel (none for ``unknown``).
    """
    events = list(consent_ledger(contact).order_by("occurred_at", "id"))
    current: dict[str, dict[str, Any]] = {
        channel: {"state": ConsentState.UNKNOWN.value, "since": None, "event_id": None}
        for channel in Channel.values
    }
    rows = []
    for event in events:
        state = STATE_OF_ACTION[ConsentAction(event.action)].value
        current[event.channel] = {
            "state": state,
            "since": _iso(event.occurred_at),
            "event_id": event.pk,
        }
        rows.append(
            {
                "id": event.pk,
                "channel": event.channel,
                "action": event.action,
                "state_after": state,
                "source": event.source,
                "wording": event.wording,
                "actor": event.actor_label,
                "occurred_at": _iso(event.occurred_at),
                "recorded_at": _iso(event.created_at),
            }
        )
    return {
        "exported_at": _iso(timezone.now()),
        "contact": {
            "id": contact.pk,
            "crm_id": contact.crm_id,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "email": contact.email,
            "phone": contact.phone,
        },
        "current_state": current,
        "events": rows,
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


# --- Lists and filters --------------------------------------------------------------

NUMERIC_OPERATORS = {"gt", "gte", "lt", "lte"}
ATTRIBUTE_OPERATORS = ("eq", *sorted(NUMERIC_OPERATORS))


class JsonValueType(Func):
    """The JSON type of ``attributes -> key`` (``number``/``integer``/``real``/``text``...)."""

    output_field = CharField()

    def __init__(self, field: str, key: str) -> None:
        super().__init__(F(field))
        self.key = key

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> Any:
        raise NotSupportedError("Attribute type checks need SQLite or PostgreSQL.")

    def as_sqlite(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> Any:
        sql, params = compiler.compile(self.get_source_expressions()[0])
        return f"json_type({sql}, %s)", (*params, f'$."{self.key}"')

    def as_postgresql(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> Any:
        sql, params = compiler.compile(self.get_source_expressions()[0])
        return f"jsonb_typeof({sql} -> %s)", (*params, self.key)


_JSON_NUMBER_TYPES = ("number", "integer", "real")  # PostgreSQL: number; SQLite: the others


@dataclass(frozen=True)
class AttributeFilter:
    """``segment eq enterprise`` or ``revenue gte 100000`` (numbers only for gt/gte/lt/lte)."""

    key: str
    operator: str
    value: str | int | float

    def __post_init__(self) -> None:
        if self.operator not in ATTRIBUTE_OPERATORS:
            raise ValueError(f"unknown operator {self.operator!r}")
        if self.operator in NUMERIC_OPERATORS and not isinstance(self.value, int | float):
            raise ValueError("numeric comparisons need a number")

    def apply(self, queryset: QuerySet[Contact]) -> QuerySet[Contact]:
        if not ATTRIBUTE_KEY.match(self.key):
            return queryset.none()  # no stored attribute has such a key
        value_at = KeyTransform(self.key, "attributes")
        if self.operator in NUMERIC_OPERATORS:
            return queryset.alias(
                _attribute_type=JsonValueType("attributes", self.key), _attribute=value_at
            ).filter(
                _attribute_type__in=_JSON_NUMBER_TYPES,
                **{f"_attribute__{self.operator}": self.value},
            )
        queryset = queryset.alias(_attribute=value_at)
        condition = Q(_attribute__iexact=str(self.value))
        if isinstance(self.value, int | float):
            queryset = queryset.alias(_attribute_type=JsonValueType("attributes", self.key))
            condition |= Q(_attribute_type__in=_JSON_NUMBER_TYPES, _attribute=self.value)
        return queryset.filter(condition)


def contact_list(
    *,
    search: str = "",
    attribute: AttributeFilter | None = None,
    consent: dict[str, str] | None = None,
) -> QuerySet[Contact]:
    """Contacts matching a search (every word must match a name, email, phone or CRM id),
    an attribute filter and consent states per channel; annotated with consent states."""
    queryset = with_consent_states(Contact.objects.all())
    words = search.split()
    if words:
        region = organization_phone_region()
        phone = phone_search_variant(search, region)
        per_word = [
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
            | Q(crm_id__icontains=word)
            | Q(phone__contains=word)
            for word in words
        ]
        condition: Q = reduce(operator.and_, per_word)
        if phone:
            condition |= Q(phone=phone)
        queryset = queryset.filter(condition)
    if attribute is not None:
        queryset = attribute.apply(queryset)
    for channel, state in (consent or {}).items():
        if channel in Channel.values and state in ConsentState.values:
            queryset = queryset.filter(**{consent_field(channel): state})
    return queryset.order_by("last_name", "first_name", "id")


def contact_get(*, contact_id: int) -> Contact:
    """One contact with its consent states; ``Contact.DoesNotExist`` outside the organization."""
    return with_consent_states(Contact.objects.all()).get(pk=contact_id)


def contact_history(contact: Contact) -> QuerySet[AuditLog]:
    """The audit log entries about this contact, newest first."""
    return AuditLog.objects.filter(
        object_type=Contact._meta.label_lower, object_id=str(contact.pk)
    ).order_by("-created_at", "-id")


# --- Imports ------------------------------------------------------------------------


class _AnyOf(Lookup[Any]):
    """``column = ANY(%s)`` with one array parameter (PostgreSQL)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        # The column's own type: PostgreSQL then hashes the array instead of scanning it.
        array_type = self.lhs.output_field.cast_db_type(connection)
        return f"{lhs} = ANY(%s::{array_type}[])", (*lhs_params, list(self.rhs))


def rows_where_in(
    queryset: QuerySet[Any], field: str, values: list[Any], names: list[str]
) -> Iterator[dict[str, Any]]:
    """``queryset.values(*names)`` of the rows whose ``field`` is one of ``values``.

    For thousands of values, in a way that uses the index on (organization, field)
    whatever the table's statistics say (after a large import they are stale, and a
    plain ``IN`` list then scans the whole organization once per batch): SQLite gets
    ranges of the sorted values (its binary collation sorts like Python), PostgreSQL
    ``= ANY(array)`` with one parameter however many values.
    """
    names = list(dict.fromkeys([field, *names]))
    queryset = queryset.order_by()
    if connection.vendor == "postgresql":
        for start in range(0, len(values), 20_000):
            chunk = values[start : start + 20_000]
            yield from queryset.filter(_AnyOf(F(field), chunk)).values(*names)
        return
    wanted = set(values)
    ordered = sorted(wanted)
    for start in range(0, len(ordered), 1000):
        chunk = ordered[start : start + 1000]
        rows = queryset.filter(**{f"{field}__gte": chunk[0], f"{field}__lte": chunk[-1]})
        yield from (row for row in rows.values(*names) if row[field] in wanted)


def contact_values_by_crm_id(crm_ids: list[str], names: list[str]) -> dict[str, dict[str, Any]]:
    """The ``names`` fields of the contacts with these CRM ids, by CRM id (for upserts)."""
    rows = rows_where_in(Contact.objects.all(), "crm_id", crm_ids, names)
    return {row["crm_id"]: row for row in rows}


def contact_consent_states(contact_ids: list[int], channel: str) -> dict[int, str]:
    """The derived consent state of many contacts for one channel, by contact id."""
    name = consent_field(channel)
    rows = rows_where_in(with_consent_states(Contact.objects.all()), "id", contact_ids, [name])
    return {row["id"]: row[name] for row in rows}


def contact_import_list() -> QuerySet[ContactImport]:
    return ContactImport.objects.defer("source", "errors").order_by("-created_at", "-id")


def contact_import_preview(contact_import: ContactImport, rows: int = 3) -> dict[str, list[str]]:
    """The first values of every column of a pending upload (for the mapping page)."""
    if contact_import.source is None:
        return {}
    table = read_csv_table(bytes(contact_import.source))
    head = table.frame.head(rows)
    return {column: [str(value) for value in head[column].tolist()] for column in table.columns}


def attribute_keys(sample: int = 200) -> list[str]:
    """Attribute keys in use, from the newest contacts (suggestions for the filter)."""
    keys: set[str] = set()
    recent = Contact.objects.order_by("-id").values_list("attributes", flat=True)
    for attributes in recent[:sample]:
        keys.update(attributes or {})
    return sorted(keys)
