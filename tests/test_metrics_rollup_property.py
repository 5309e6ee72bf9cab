"""Property: the daily rollup equals an independent recomputation from the responses.

Random responses (NPS, CES and CSAT scores or none, partial or complete, channels,
languages, two touchpoints, CRM attribute values of a segment attribute, comments) at
random times around local midnights and the 2026 daylight-saving changes of Berlin and
New York go through the real submit path and the outbox handler. Then:

* the rollup rows equal counts grouped by local day (``zoneinfo``) computed here;
* ``rollups_rebuild()`` writes exactly the same rows;
* ``scores()`` and the segment breakdown over a random range of local days equal the NPS
  and the counts taken directly from the responses of those days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.models import COUNT_FIELDS, DailyRollup, SegmentAttribute
from metrics.selectors.filters import DashboardFilters
from metrics.selectors.scores import breakdown, scores
from metrics.services.rollups import rollups_rebuild
from responses.services import response_submit
from surveys.models import SurveyVersion
from tenants.context import tenant_context
from tests.factories import OrganizationFactory, published_survey

Capture = Callable[..., AbstractContextManager[Any]]

ZONES = ("Europe/Berlin", "America/New_York")
# The 2026 clock changes (UTC instants): Berlin 29 March and 25 October at 01:00 UTC,
# New York 8 March at 07:00 UTC and 1 November at 06:00 UTC.
DST_CHANGES = (
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
    datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
)
MIDNIGHT_DAYS = (
    date(2026, 3, 8),
    date(2026, 3, 9),
    date(2026, 3, 29),
    date(2026, 3, 30),
    date(2026, 10, 25),
    date(2026, 10, 26),
    date(2026, 11, 1),
    date(2026, 11, 2),
    date(2027, 1, 1),
)
ANCHORS = sorted(
    {*DST_CHANGES}
    | {
        datetime.combine(day, time.min, tzinfo=ZoneInfo(zone))
        for day in MIDNIGHT_DAYS
        for zone in ZONES
    }
)
# Local days a random range may start or end on (every day the responses can fall on).
RANGE_DAYS = sorted(
    {
        (anchor + timedelta(hours=hours)).astimezone(ZoneInfo(zone)).date()
        for anchor in ANCHORS
        for hours in (-4, 0, 4)
        for zone in ZONES
    }
)
MISSING = object()  # the attribute is not in the snapshot at all
TIERS = [MISSING, None, "gold", " gold ", "silver", "", 5, 2.5, True, False]
CHANNELS = ["email", "sms", "link", "widget", "api", "import"]
COMMENTS = ["", "", "Parcel was late", "Sehr freundliche Beratung", "Warteschleife"]


@dataclass(frozen=True)
class Answer:
    survey: str  # "nps" (relationship NPS, optional CSAT) or "ces" (support effort)
    at: datetime
    channel: str
    language: str
    tier: Any
    comment: str
    nps: int | None
    ces: int | None
    csat: int | None
    complete: bool


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    survey = draw(st.sampled_from(["nps", "ces"]))
    at = draw(st.sampled_from(ANCHORS)) + timedelta(seconds=draw(st.integers(-3 * 3600, 3 * 3600)))
    common: dict[str, Any] = {
        "survey": survey,
        "at": at,
        "channel": draw(st.sampled_from(CHANNELS)),
        "language": draw(st.sampled_from(["en", "de"])),
        "tier": draw(st.sampled_from(TIERS)),
    }
    if survey == "ces":
        return Answer(
            **common,
            comment=draw(st.sampled_from(COMMENTS)),
            nps=None,
            ces=draw(st.integers(1, 7)),
            csat=None,
            complete=True,
        )
    complete = draw(st.booleans())
    return Answer(
        **common,
        comment=draw(st.sampled_from(COMMENTS)) if complete else "",
        nps=draw(st.integers(0, 10)),
        ces=None,
        csat=draw(st.none() | st.integers(1, 5)) if complete else None,
        complete=complete,
    )


def segment_text(value: Any) -> str:
    """How a CRM value is grouped, written out independently of the service."""
    if value is MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.strip()
    return repr(value)  # 5 -> "5", 2.5 -> "2.5"


def submit(answer: Answer, versions: dict[str, SurveyVersion]) -> None:
    version = versions[answer.survey]
    if answer.survey == "ces":
        values: dict[str, Any] = {"support-effort": answer.ces}
        if answer.comment:
            values["support-easier"] = answer.comment
        question_ids = None
    else:
        values = {"recommend": answer.nps}
        if answer.comment:
            values["recommend-reason"] = answer.comment
        if answer.csat is not None:
            values["value-for-money"] = answer.csat
        question_ids = None if answer.complete else ["recommend"]
    result = response_submit(
        version=version,
        channel=answer.channel,
        language=answer.language,
        answers=values,
        question_ids=question_ids,
        complete=answer.complete,
        attributes={} if answer.tier is MISSING else {"tier": answer.tier},
        responded_at=answer.at,
    )
    assert result.ok, result.errors


def expected_rows(
    drawn: list[Answer], versions: dict[str, SurveyVersion], zone: ZoneInfo
) -> dict[tuple[Any, ...], dict[str, int]]:
    rows: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for answer in drawn:
        survey = versions[answer.survey].survey
        base = (
            answer.at.astimezone(zone).date(),
            survey.touchpoint.journey_id,
            survey.touchpoint_id,
            survey.pk,
            answer.channel,
            answer.language,
        )
        for segment in (("", ""), ("tier", segment_text(answer.tier))):
            counts = rows[(*base, *segment)]
            counts["responses"] += 1
            counts["completed"] += answer.complete
            counts["comments"] += bool(answer.comment)
            for name, value in (("nps", answer.nps), ("ces", answer.ces), ("csat", answer.csat)):
                if value is not None:
                    counts[f"{name}_{value}"] += 1
    return {key: {name: n for name, n in counts.items() if n} for key, counts in rows.items()}


def rollup_rows() -> dict[tuple[Any, ...], dict[str, int]]:
    keys = (
        "day",
        "journey_id",
        "touchpoint_id",
        "survey_id",
        "channel",
        "language",
        "segment_key",
        "segment_value",
    )
    found = {}
    for row in DailyRollup.objects.values(*keys, *COUNT_FIELDS):
        key = tuple(row[name] for name in keys)
        assert key not in found, f"two rollup rows for {key}"
        found[key] = {name: row[name] for name in COUNT_FIELDS if row[name]}
    return found


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    zone_name=st.sampled_from(ZONES),
    drawn=st.lists(answers(), min_size=1, max_size=12),
    first=st.sampled_from(RANGE_DAYS),
    last=st.sampled_from(RANGE_DAYS),
)
def test_rollup_equals_an_independent_recomputation(
    db: None,
    django_capture_on_commit_callbacks: Capture,
    zone_name: str,
    drawn: list[Answer],
    first: date,
    last: date,
) -> None:
    zone = ZoneInfo(zone_name)
    organization: Any = OrganizationFactory(timezone=zone_name)  # a fresh one per example
    with tenant_context(organization):
        SegmentAttribute.objects.create(key="tier")
        versions = {"nps": published_survey(), "ces": published_survey("support-ces")}
        for answer in drawn:
            with django_capture_on_commit_callbacks(execute=True):
                submit(answer, versions)

        expected = expected_rows(drawn, versions, zone)
        assert rollup_rows() == expected
        result = rollups_rebuild()
        assert result.responses == len(drawn)
        assert rollup_rows() == expected

        start, end = min(first, last), max(first, last)
        in_range = [a for a in drawn if start <= a.at.astimezone(zone).date() <= end]
        rated = [a.nps for a in in_range if a.nps is not None]
        promoters = sum(score >= 9 for score in rated)
        detractors = sum(score <= 6 for score in rated)
        filters = DashboardFilters(start=start, end=end)
        overview = scores(filters)
        assert overview.responses == len(in_range)
        assert overview.completed == sum(a.complete for a in in_range)
        assert overview.nps.n == len(rated)
        if rated:
            assert overview.nps.score == pytest.approx(100 * (promoters - detractors) / len(rated))
        else:
            assert overview.nps.score is None

        by_tier: dict[str, int] = defaultdict(int)
        for answer in in_range:
            by_tier[segment_text(answer.tier)] += 1
        segments = breakdown(DashboardFilters(start=start, end=end, segment_key="tier"), "segment")
        assert {row.key: row.scores.responses for row in segments} == dict(by_tier)
