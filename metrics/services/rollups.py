"""The daily rollup: maintained per response, rebuilt from the raw responses.

One function, :func:`rollup_rows_for`, turns responses into rollup rows; the outbox
handler calls it for the one bucket a response belongs to (``rollup_refresh``), the
rebuild command for a whole organization (``rollups_rebuild``). So a refreshed bucket is
by construction what a rebuild would write.

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
from collections import defaultdict
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


def rollup_rows_for(
    rows: Iterable[tuple[Any, ...]], *, zone: zoneinfo.ZoneInfo, keys: Sequence[str]
) -> list[DailyRollup]:
    """Rollup rows (unsaved) for response rows in the order of ``_COLUMNS`` (+ the
    CRM attributes when there are segment keys)."""
    counts: dict[tuple[Any, ...], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(COUNT_FIELDS, 0)
    )
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
        targets = [counts[(*base, "", "")]]
        if keys:
            attributes = row[11] if isinstance(row[11], Mapping) else {}
            targets.extend(
                counts[(*base, key, segment_value_text(attributes.get(key)))] for key in keys
            )
        for target in targets:
            target["responses"] += 1
            if status == ResponseStatus.COMPLETE:
                target["completed"] += 1
            if has_comment:
                target["comments"] += 1
            if nps is not None:
                target[f"nps_{nps}"] += 1
            if ces is not None:
                target[f"ces_{ces}"] += 1
            if csat is not None:
                target[f"csat_{csat}"] += 1
    now = timezone.now()
    return [
        DailyRollup(
            day=day,
            journey_id=journey,
            touchpoint_id=touchpoint,
            survey_id=survey,
            channel=channel,
            language=language,
            segment_key=key,
            segment_value=value,
            refreshed_at=now,
            **values,
        )
        for (
            day,
            journey,
            touchpoint,
            survey,
            channel,
            language,
            key,
            value,
        ), values in counts.items()
    ]


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
            rows = rollup_rows_for(_response_rows(responses, keys), zone=zone, keys=keys)
            DailyRollup.objects.filter(
                day=bucket.day,
                touchpoint_id=bucket.touchpoint_id,
                survey_id=bucket.survey_id,
                channel=bucket.channel,
                language=bucket.language,
            ).delete()
            DailyRollup.objects.bulk_create(rows)
            written += len(rows)
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
    assert not current_state().cross_tenant, "rebuild one organization at a time"  # noqa: S101
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
        rows = rollup_rows_for(counting(_response_rows(responses, keys)), zone=zone, keys=keys)
        DailyRollup.objects.bulk_create(rows, batch_size=BATCH)
    return RebuildResult(responses=counted, rows=len(rows))
