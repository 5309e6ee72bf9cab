"""Batched INSERT (and upsert) for contact imports.

This is the SQL that ``QuerySet.bulk_create(..., update_conflicts=True)`` emits, without
its per-value Python cost: Django prepares every value of every row through the field
machinery (~150 µs per 12-column row on a 2-core box), which alone would take more than
the whole import budget for 100,000 contacts.

* SQLite: multi-row ``INSERT ... VALUES (...), (...)``, up to 1,000 rows a statement.
* PostgreSQL: ``INSERT ... SELECT ... FROM json_to_recordset(%s)``: the rows travel as
  one JSON document, 10,000 rows a statement. (A ``VALUES`` list of 10,000 placeholders
  spends its time in client-side parameter parsing and in the planner; ``unnest`` of one
  array per column in psycopg's per-element array quoting.)

Raw SQL bypasses the tenant manager: every row carries the current organization's id
explicitly (the callers take it from ``require_organization_id``), and on PostgreSQL
row-level security refuses any other. SQLite 3.35+ (``RETURNING``) and PostgreSQL only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db import NotSupportedError, connection, models

SQLITE_ROWS_PER_STATEMENT = 1000
POSTGRES_ROWS_PER_STATEMENT = 10_000


def _isoformat(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _adapter(field: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    """How a plain Python value of this field is sent to SQLite."""
    if isinstance(field, models.JSONField):
        return json.dumps
    if isinstance(field, models.DateTimeField):
        return lambda value: (
            connection.ops.adapt_datetimefield_value(value)
            if isinstance(value, datetime)
            else value
        )
    return None


def insert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (plain Python values in the order of ``fields``) in batches.

    With ``conflict`` (the fields of a unique constraint) an existing row is updated
    instead: its ``update`` fields take the new values. ``returning`` fields are
    returned for every inserted or updated row.
    """
    if connection.vendor not in ("sqlite", "postgresql"):
        raise NotSupportedError("Bulk upserts need SQLite or PostgreSQL.")
    if returning and not connection.features.can_return_rows_from_bulk_insert:
        raise NotSupportedError("This database cannot return rows from INSERT.")
    if not rows:
        return []
    quote = connection.ops.quote_name
    model_fields: list[models.Field[Any, Any]] = [
        model._meta.get_field(name)  # type: ignore[misc]
        for name in fields
    ]

    def column(name: str) -> str:
        return quote(str(model._meta.get_field(name).column))  # type: ignore[union-attr]

    columns = ", ".join(column(name) for name in fields)
    suffix = ""
    if conflict:
        targets = ", ".join(column(name) for name in conflict)
        assignments = ", ".join(f"{column(name)} = excluded.{column(name)}" for name in update)
        suffix += f" ON CONFLICT ({targets}) DO UPDATE SET {assignments}"
    if returning:
        suffix += " RETURNING " + ", ".join(column(name) for name in returning)
    table = quote(model._meta.db_table)

    results: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            definitions = ", ".join(
                f"{column(name)} {field.cast_db_type(connection)}"
                for name, field in zip(fields, model_fields, strict=True)
            )
            sql = (
                f"INSERT INTO {table} ({columns}) SELECT {columns} "  # noqa: S608 - names from model meta
                f"FROM json_to_recordset(%s::json) AS source({definitions}){suffix}"
            )
            keys = [str(model._meta.get_field(name).column) for name in fields]  # type: ignore[union-attr]
            for start in range(0, len(rows), POSTGRES_ROWS_PER_STATEMENT):
                batch = rows[start : start + POSTGRES_ROWS_PER_STATEMENT]
                document = json.dumps(
                    [dict(zip(keys, row, strict=True)) for row in batch], default=_isoformat
                )
                cursor.execute(sql, [document])
                if returning:
                    results.extend(tuple(row) for row in cursor.fetchall())
            return results
        adapters = [_adapter(field) for field in model_fields]
        if any(adapters):
            rows = [
                tuple(
                    value if adapt is None or value is None else adapt(value)
                    for adapt, value in zip(adapters, row, strict=True)
                )
                for row in rows
            ]
        max_params = connection.features.max_query_params or 999
        size = max(1, min(SQLITE_ROWS_PER_STATEMENT, max_params // len(fields)))
        placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
        for start in range(0, len(rows), size):
            batch = rows[start : start + size]
            values = ", ".join([placeholder] * len(batch))
            sql = f"INSERT INTO {table} ({columns}) VALUES {values}{suffix}"  # noqa: S608 - names from model meta
            cursor.execute(sql, [value for row in batch for value in row])
            if returning:
                results.extend(tuple(row) for row in cursor.fetchall())
    return results
