"""The daily rollup: maintained per response, rebuilt from the raw responses.

One function, ``_count`` (behind :func:`rollup_rows_for`), turns responses into the
counts of rollup rows, and one, ``_insert``, writes them; the outbox handler uses them
for the one bucket a response belongs to (``rollup_refresh``), the rebuild command for a
whole organization (``rollups_rebuild``). So a refreshed bucket is by construction what
a rebuild would write. A rebuild writes the rows of each segment key (the totals first)
in day order, so a dashboard read of a period finds them in neighbouring pages.

A bucket is a day in the organization's time zone x touchpoint x survey x channel x
language. Refreshing recomputes the bucket from its responses (a few dozen rows) and
replaces its rollup rows, so handling an event twice changes nothing. On PostgreSQL a
transaction-level advisory lock per bucket serialises two workers refreshing the same
bucket, and a shared lock per organization keeps refreshes out of a running rebuild.
"""

from __future__ import annotations

import json
import zlib
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, Q, When
from django.db.models import Value as V
from django.db.models.fields import BooleanField
from django.utils import timezone

from metrics.models import COUNT_FIELDS, SEGMENT_VALUE_MAX, DailyRollup, SegmentAttribute
from responses.models import Response, ResponseStatus
from tenants.context import current_state, require_organization_id

BATCH = 2000
INSERT_ROWS = 10_000  # rollup rows per INSERT statement (PostgreSQL)
# First key of the two-int advisory locks of metrics (an arbitrary constant).
_ORG_LOCK_CLASS = 0x6D657472  # "metr"

_COLUMNS = (
    "responded_at",
    "journey_id",
    "touchpoint_id",
    "survey_id",
    "channel",
    "language",
    "status",
    "nps",
    "ces",
    "csat",
    "has_comment",
)


@dataclass(frozen=True, slots=True)
class Bucket:
    day: date
    touchpoint_id: int
    survey_id: int
    channel: str
    language: str


def segment_value_text(value: Any) -> str:
    """The text a CRM attribute value is grouped under (``""`` when missing)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int | float):
        text = json.dumps(value)
    else:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text[:SEGMENT_VALUE_MAX]


def segment_keys() -> list[str]:
    return list(SegmentAttribute.objects.order_by("position", "key").values_list("key", flat=True))


def _zone() -> zoneinfo.ZoneInfo:
    from tenants.models import Organization

    name = Organization.objects.filter(pk=require_organization_id()).values_list(
        "timezone", flat=True
    )[0]
    return zoneinfo.ZoneInfo(name)


def day_bounds(day: date, zone: zoneinfo.ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a local day as aware datetimes (23 or 25 hours across DST)."""
    return (
        datetime.combine(day, time.min, tzinfo=zone),
        datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone),
    )


def _response_rows(queryset: Any, keys: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    columns = list(_COLUMNS) + (["contact_attributes"] if keys else [])
    rows = queryset.order_by().annotate(
        has_comment=Case(
            When(~Q(comment=""), then=V(True)), default=V(False), output_field=BooleanField()
        )
    )
    yield from rows.values_list(*columns).iterator(chunk_size=BATCH)


# Positions of the counters in a bucket's list of counts (the order of COUNT_FIELDS).
_RESPONSES, _COMPLETED, _COMMENTS = 0, 1, 2
_NPS_AT = COUNT_FIELDS.index("nps_0")
_CES_AT = COUNT_FIELDS.index("ces_1") - 1  # ces 1 -> its column
_CSAT_AT = COUNT_FIELDS.index("csat_1") - 1
_KEY_FIELDS = (
    "day",
    "journey_id",
    "touchpoint_id",
    "survey_id",
    "channel",
    "language",
    "segment_key",
    "segment_value",
)

RowKey = tuple[date, int, int, int, str, str, str, str]


def _count(
    rows: Iterable[tuple[Any, ...]], *, zone: zoneinfo.ZoneInfo, keys: Sequence[str]
) -> dict[RowKey, list[int]]:
    """Counts per rollup row (its key in the order of ``_KEY_FIELDS``) of response rows
    in the order of ``_COLUMNS`` (+ the CRM attributes when there are segment keys)."""
    counts: dict[RowKey, list[int]] = {}
    width = len(COUNT_FIELDS)
    complete = ResponseStatus.COMPLETE
    for row in rows:
        responded_at, journey, touchpoint, survey, channel, language = row[:6]
        status, nps, ces, csat, has_comment = row[6:11]
        base = (
            responded_at.astimezone(zone).date(),
            journey,
            touchpoint,
            survey,
            channel,
            language,
        )
        targets = [(*base, "", "")]
        if keys:
            attributes = row[11] if isinstance(row[11], Mapping) else {}
            targets.extend((*base, key, segment_value_text(attributes.get(key))) for key in keys)
        for target in targets:
            found = counts.get(target)
            if found is None:
                found = counts[target] = [0] * width
            found[_RESPONSES] += 1
            if status == complete:
                found[_COMPLETED] += 1
            if has_comment:
                found[_COMMENTS] += 1
            if nps is not None:
                found[_NPS_AT + nps] += 1
            if ces is not None:
                found[_CES_AT + ces] += 1
            if csat is not None:
                found[_CSAT_AT + csat] += 1
    return counts


def rollup_rows_for(
    rows: Iterable[tuple[Any, ...]], *, zone: zoneinfo.ZoneInfo, keys: Sequence[str]
) -> list[DailyRollup]:
    """Rollup rows (unsaved) for response rows in the order of ``_COLUMNS`` (+ the
    CRM attributes when there are segment keys)."""
    now = timezone.now()
    return [
        DailyRollup(
            **dict(zip(_KEY_FIELDS, key, strict=True)),
            **dict(zip(COUNT_FIELDS, values, strict=True)),
            refreshed_at=now,
        )
        for key, values in _count(rows, zone=zone, keys=keys).items()
    ]


def _array_literal(values: Iterable[Any], text: bool = False) -> str:
    """A PostgreSQL array literal (``{1,2}``, ``{"a","b"}``) of dates, numbers or text."""
    if not text:
        return "{" + ",".join(str(value) for value in values) + "}"
    quoted = (str(v).replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return '{"' + '","'.join(quoted) + '"}'


def _storage_order(item: tuple[RowKey, list[int]]) -> tuple[Any, ...]:
    """Rows of one segment key (the totals first) by day: a dashboard read of a period
    then finds its rows in neighbouring pages rather than spread over the table."""
    day, journey, touchpoint, survey, channel, language, key, value = item[0]
    return (key, day, value, touchpoint, survey, channel, language, journey)


def _insert(counts: dict[RowKey, list[int]]) -> int:
    """Insert rollup rows of the current organization; how many. Tuples, not model
    instances: for a rebuild, ``bulk_create`` costs more than the database does. On
    PostgreSQL one ``INSERT ... SELECT FROM unnest(arrays)`` per chunk, the arrays sent
    as literals (binding thousands of placeholders, or sending a row at a time, is
    slower than the insert itself; COPY is not allowed under row-level security)."""
    if not counts:
        return 0
    organization_id = require_organization_id()
    ops, meta = connection.ops, DailyRollup._meta
    names = ("organization_id", *_KEY_FIELDS, *COUNT_FIELDS, "refreshed_at")
    column_of = {field.attname: str(field.column) for field in meta.concrete_fields}
    columns = ", ".join(ops.quote_name(column_of[name]) for name in names)
    insert = f"INSERT INTO {ops.quote_name(meta.db_table)} ({columns}) "
    refreshed_at = timezone.now()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            types = ["date", "bigint", "bigint", "bigint", "text", "text", "text", "text"]
            types += ["integer"] * len(COUNT_FIELDS)
            arrays = ", ".join(f"%s::{kind}[]" for kind in types)
            statement = insert + f"SELECT %s, u.*, %s FROM unnest({arrays}) AS u"  # noqa: S608
            items = sorted(counts.items(), key=_storage_order)
            for first in range(0, len(items), INSERT_ROWS):
                chunk = [(*key, *values) for key, values in items[first : first + INSERT_ROWS]]
                columns_of_chunk = zip(*chunk, strict=True)
                literals = [
                    _array_literal(column, text=kind == "text")
                    for kind, column in zip(types, columns_of_chunk, strict=True)
                ]
                cursor.execute(statement, [organization_id, refreshed_at, *literals])
        else:
            adapted_at = ops.adapt_datetimefield_value(refreshed_at)
            rows = [
                (organization_id, ops.adapt_datefield_value(key[0]), *key[1:], *values, adapted_at)
                for key, values in sorted(counts.items(), key=_storage_order)
            ]
            cursor.executemany(insert + "VALUES (" + ", ".join(["%s"] * len(names)) + ")", rows)
    return len(counts)


def _advisory_lock(*keys: int, shared: bool = False) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite serialises writers itself
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}({', '.join(['%s'] * len(keys))})", keys)


def _bucket_lock_key(organization_id: int, bucket: Bucket) -> int:
    text = (
        ":".join(
            map(
                str,
                (organization_id, bucket.day, bucket.touchpoint_id, bucket.survey_id),
            )
        )
        + f":{bucket.channel}:{bucket.language}"
    )
    return zlib.crc32(text.encode()) - 2**31  # a signed 32-bit value fits bigint


def bucket_of(response: Response, zone: zoneinfo.ZoneInfo) -> Bucket:
    return Bucket(
        day=response.responded_at.astimezone(zone).date(),
        touchpoint_id=response.touchpoint_id,
        survey_id=response.survey_id,
        channel=response.channel,
        language=response.language,
    )


def rollup_refresh(*, buckets: Iterable[Bucket]) -> int:
    """Recompute the rollup rows of the buckets from their responses; rows written."""
    organization_id = require_organization_id()
    zone = _zone()
    keys = segment_keys()
    written = 0
    with transaction.atomic():
        _advisory_lock(_ORG_LOCK_CLASS, organization_id, shared=True)
        for bucket in sorted(
            set(buckets), key=lambda b: (b.day, b.touchpoint_id, b.survey_id, b.channel, b.language)
        ):
            _advisory_lock(_bucket_lock_key(organization_id, bucket))
            start, end = day_bounds(bucket.day, zone)
            responses = Response.objects.filter(
                touchpoint_id=bucket.touchpoint_id,
                survey_id=bucket.survey_id,
                channel=bucket.channel,
                language=bucket.language,
                responded_at__gte=start,
                responded_at__lt=end,
            )
            counts = _count(_response_rows(responses, keys), zone=zone, keys=keys)
            DailyRollup.objects.filter(
                day=bucket.day,
                touchpoint_id=bucket.touchpoint_id,
                survey_id=bucket.survey_id,
                channel=bucket.channel,
                language=bucket.language,
            ).delete()
            written += _insert(counts)
    return written


def rollup_refresh_response(*, response: Response) -> int:
    """Bring the rollup up to date with one response (idempotent)."""
    return rollup_refresh(buckets=[bucket_of(response, _zone())])


@dataclass(frozen=True, slots=True)
class RebuildResult:
    responses: int
    rows: int


def rollups_rebuild(*, since: date | None = None, until: date | None = None) -> RebuildResult:
    """Rebuild the current organization's rollup from its responses, for all days or for
    the local days [since, until]. Refreshes wait for it (and it for them)."""
    organization_id = require_organization_id()
    if current_state().cross_tenant:
        raise RuntimeError("rollups_rebuild runs in one organization's context at a time")
    zone = _zone()
    keys = segment_keys()
    responses = Response.objects.all()
    rollups = DailyRollup.objects.all()
    if since is not None:
        responses = responses.filter(responded_at__gte=day_bounds(since, zone)[0])
        rollups = rollups.filter(day__gte=since)
    if until is not None:
        responses = responses.filter(responded_at__lt=day_bounds(until, zone)[1])
        rollups = rollups.filter(day__lte=until)
    counted = 0

    def counting(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
        nonlocal counted
        for row in rows:
            counted += 1
            yield row

    with transaction.atomic():
        _advisory_lock(_ORG_LOCK_CLASS, organization_id)
        rollups.delete()
        counts = _count(counting(_response_rows(responses, keys)), zone=zone, keys=keys)
        written = _insert(counts)
    return RebuildResult(responses=counted, rows=written)
