"""Benchmark the dashboard's overview aggregates over 1,000,000 responses (PostgreSQL).

    DATABASE_URL=postgres://feedback_dev@127.0.0.1:5432/bench_dash \\
        .venv/bin/python bench/dashboard.py [--responses 1000000] [--runs 7] [--reuse]

PostgreSQL only (the comparison is with SQL over the raw table). Applies migrations and
creates the organization ``bench-dashboard`` (time zone Europe/Berlin): two journeys,
nine touchpoints, four published surveys (two relationship NPS, one CSAT after purchase,
one support CES; each touchpoint is answered with one of them), the segment attribute
``segment``, and ``--responses`` responses spread over the last 365 days by one
``INSERT ... SELECT generate_series`` (5 channels, 2 languages, 3 % partial, a comment on
30 %, a CRM ``segment`` on 80 %). ``--reuse`` keeps an organization seeded earlier with
the same number of responses; without it the organization is deleted and seeded again.

Then, in one run:

1. the rollup is rebuilt with ``rollups_rebuild()`` (timed), then vacuumed and analysed
   (what autovacuum does soon after a rebuild);
2. the overview's aggregates of the last 365 local days are computed three ways,
   ``--runs`` times each (min and median):
   a. from the daily rollup, as the dashboard does: ``scores()``, ``trend(grain="month")``
      and ``breakdown("touchpoint")`` of ``metrics.selectors.scores``;
   b. the same numbers by SQL over the raw responses: the histograms as
      ``COUNT(*) FILTER (...)`` columns for the period, per month
      (``date_trunc`` in the organization's zone) and per touchpoint;
   c. with pandas: ``read_sql`` of the needed columns, then ``groupby``;
3. the three are checked to agree (every count, so every NPS, CES and CSAT), and a
   table prints the timings with the ratios raw SQL / rollup and pandas / rollup;
4. one incremental refresh (``rollup_refresh_response``, what the outbox handler runs
   per response) is timed.

The organization stays (for ``--reuse``); drop the database to remove it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402
from django.apps import apps  # noqa: E402

if not apps.ready:  # imported by the smoke test, Django is set up already
    django.setup()

import pandas as pd  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from metrics.models import (  # noqa: E402
    CES_VALUES,
    CSAT_VALUES,
    NPS_VALUES,
    DailyRollup,
    SegmentAttribute,
)
from metrics.selectors.filters import DashboardFilters  # noqa: E402
from metrics.selectors.scores import Scores, breakdown, period_start, scores, trend  # noqa: E402
from metrics.services.rollups import rollup_refresh_response, rollups_rebuild  # noqa: E402
from responses.models import Response  # noqa: E402
from surveys.services import (  # noqa: E402
    journey_create,
    survey_create_from_template,
    survey_publish,
    touchpoint_add,
)
from tenants.context import cross_tenant, tenant_context  # noqa: E402
from tenants.models import Organization, TenantModel  # noqa: E402
from tenants.services import Actor  # noqa: E402

ACTOR = Actor(label="bench/dashboard.py")
SLUG = "bench-dashboard"
ZONE = "Europe/Berlin"
CHUNK = 200_000  # responses per INSERT ... SELECT
JOURNEYS = {
    "Online purchase": ["Awareness", "Purchase", "Delivery", "Support call", "Renewal"],
    "Service & repair": ["Repair request", "Pick-up", "Workshop", "Repair completed"],
}
# (template, survey name, its kind): touchpoint n is answered with survey n % 4.
SURVEYS = [
    ("relationship-nps", "Relationship NPS", "nps"),
    ("purchase-csat", "Satisfaction after purchase", "csat"),
    ("support-ces", "Support effort", "ces"),
    ("relationship-nps", "NPS after repair", "nps"),
]
CHANNELS = ["email", "sms", "link", "widget", "api"]
SEGMENTS = ["consumer", "smb", "enterprise", "public"]
COMMENTS = ["Parcel was late", "Sehr freundliche Beratung", "Too expensive", "Warteschleife"]


# --- The data -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    touchpoint_id: int
    journey_id: int
    survey_id: int
    version_id: int
    kind: str


def organization_delete(organization: Organization) -> None:
    """Every tenant table's rows of the organization, then the organization (one
    transaction: PostgreSQL checks the deferred foreign keys at its end)."""
    tenant_models = [
        model
        for model in apps.get_models()
        if issubclass(model, TenantModel) and not model._meta.proxy
    ]
    with (
        transaction.atomic(),
        cross_tenant(reason="bench: delete the benchmark organization"),
        connection.cursor() as cursor,
    ):
        for model in tenant_models:
            cursor.execute(
                f'DELETE FROM "{model._meta.db_table}" WHERE organization_id = %s',  # noqa: S608
                [organization.pk],
            )
        cursor.execute(
            f'DELETE FROM "{Organization._meta.db_table}" WHERE id = %s',  # noqa: S608
            [organization.pk],
        )


def structure(organization: Organization) -> list[Target]:
    """Journeys, touchpoints, published surveys and the segment attribute."""
    with tenant_context(organization):
        touchpoints = []
        for journey_name, names in JOURNEYS.items():
            journey = journey_create(actor=ACTOR, name=journey_name)
            touchpoints += [touchpoint_add(actor=ACTOR, journey=journey, name=n) for n in names]
        versions = []
        for index, (template, name, kind) in enumerate(SURVEYS):
            survey = survey_create_from_template(
                actor=ACTOR,
                touchpoint=touchpoints[index],
                template_key=template,
                name=name,
                languages=["de", "en"],
                default_language="de",
            )
            versions.append((survey_publish(actor=ACTOR, survey=survey), kind))
        SegmentAttribute.objects.create(key="segment", label="Customer segment")
        return [
            Target(
                touchpoint_id=touchpoint.pk,
                journey_id=touchpoint.journey_id,
                survey_id=versions[n % len(versions)][0].survey_id,
                version_id=versions[n % len(versions)][0].pk,
                kind=versions[n % len(versions)][1],
            )
            for n, touchpoint in enumerate(touchpoints)
        ]


def insert_responses(organization: Organization, targets: list[Target], count: int) -> None:
    """``count`` responses over the 365 days before now, generated in SQL."""
    values = ", ".join(
        f"({n}, {t.touchpoint_id}, {t.journey_id}, {t.survey_id}, {t.version_id}, '{t.kind}')"
        for n, t in enumerate(targets)
    )
    array = "ARRAY[" + ", ".join(f"'{v}'" for v in CHANNELS) + "]"
    segments = "ARRAY[" + ", ".join(f"'{v}'" for v in SEGMENTS) + "]"
    comments = "ARRAY[" + ", ".join(f"'{v}'" for v in COMMENTS) + "]"
    table = Response._meta.db_table
    sql = f"""
        INSERT INTO {table} (
            organization_id, survey_id, survey_version_id, touchpoint_id, journey_id,
            channel, language, status, answers, nps, nps_group, ces, csat, comment,
            contact_attributes, metadata, idempotency_key, token, responded_at,
            completed_at, updated_at
        )
        SELECT
            %(organization)s, t.survey_id, t.version_id, t.touchpoint_id, t.journey_id,
            ({array})[1 + r.channel],
            CASE WHEN r.language < 0.7 THEN 'de' ELSE 'en' END,
            CASE WHEN r.partial < 0.03 THEN 'partial' ELSE 'complete' END,
            '{{}}'::jsonb,
            CASE WHEN t.kind = 'nps' THEN r.nps END,
            CASE WHEN t.kind = 'nps' THEN
                CASE WHEN r.nps >= 9 THEN 'promoter' WHEN r.nps >= 7 THEN 'passive'
                ELSE 'detractor' END
            END,
            CASE WHEN t.kind = 'ces' THEN r.ces END,
            CASE WHEN t.kind = 'csat' OR (t.kind = 'nps' AND r.optional < 0.6) THEN r.csat END,
            CASE WHEN r.commented < 0.3 THEN ({comments})[1 + r.comment] ELSE '' END,
            CASE WHEN r.segment < 4
                THEN jsonb_build_object('segment', ({segments})[1 + r.segment])
                ELSE '{{}}'::jsonb END,
            '{{}}'::jsonb, '', 'bench-' || r.i, r.at, r.at + interval '2 minutes',
            r.at + interval '2 minutes'
        FROM (
            SELECT
                i,
                floor(random() * {len(targets)})::int AS target,
                floor(random() * {len(CHANNELS)})::int AS channel,
                random() AS language,
                random() AS partial,
                LEAST(10, floor(11 * sqrt(random())))::int AS nps,
                1 + floor(7 * sqrt(random()))::int AS ces,
                1 + floor(5 * sqrt(random()))::int AS csat,
                random() AS optional,
                random() AS commented,
                floor(random() * {len(COMMENTS)})::int AS comment,
                floor(random() * 5)::int AS segment,
                %(now)s - random() * interval '365 days' AS at
            FROM generate_series(%(first)s, %(last)s) AS i
        ) AS r
        JOIN (VALUES {values}) AS t(n, touchpoint_id, journey_id, survey_id, version_id, kind)
            ON t.n = r.target
    """  # noqa: S608 - every interpolated value is a constant or an id of ours
    now = timezone.now()
    started = time.perf_counter()
    with tenant_context(organization), connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.2026)")
        for first in range(1, count + 1, CHUNK):
            last = min(first + CHUNK - 1, count)
            cursor.execute(
                sql,
                {"organization": organization.pk, "now": now, "first": first, "last": last},
            )
    seconds = time.perf_counter() - started
    print(f"inserted {count:,} responses in {seconds:.1f} s ({count / seconds:,.0f}/s)")
    analyze(Response)


def analyze(model: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{model._meta.db_table}"')


def seeded(count: int, reuse: bool) -> Organization:
    """The benchmark organization with ``count`` responses (reused or seeded now)."""
    organization = Organization.objects.filter(slug=SLUG).first()
    if organization is not None:
        with tenant_context(organization):
            existing = Response.objects.count()
        if reuse and existing == count:
            print(f"reusing organization {SLUG!r} with {existing:,} responses")
            return organization
        organization_delete(organization)
    organization = Organization.objects.create(slug=SLUG, name="Dashboard benchmark", timezone=ZONE)
    insert_responses(organization, structure(organization), count)
    return organization


# --- The three ways ---------------------------------------------------------------------


Counts = dict[str, int]


@dataclass(frozen=True, slots=True)
class Overview:
    """What the overview page needs: the period's counts, per month, per touchpoint."""

    total: Counts
    months: dict[date, Counts]
    touchpoints: dict[int, Counts]


def _counts(source: Scores) -> Counts:
    counts = {"responses": source.responses, "completed": source.completed}
    counts["comments"] = source.comments
    for name, histogram in (
        ("nps", source.nps_histogram),
        ("ces", source.ces_histogram),
        ("csat", source.csat_histogram),
    ):
        counts.update({f"{name}_{value}": n for value, n in histogram.items() if n})
    return counts


def _nonzero(row: dict[str, Any]) -> Counts:
    return {name: int(value) for name, value in row.items() if value}


def overview_from_rollup(filters: DashboardFilters) -> Overview:
    """(a) The dashboard's selectors over the daily rollup."""
    total = scores(filters)
    months = trend(filters, "month")
    touchpoints = breakdown(filters, "touchpoint")
    return Overview(
        total=_counts(total),
        months={
            period_start(p.start, "month"): _counts(p.scores) for p in months if not p.scores.empty
        },
        touchpoints={row.key: _counts(row.scores) for row in touchpoints},
    )


COUNT_COLUMNS = [
    ("responses", "COUNT(*)"),
    ("completed", "COUNT(*) FILTER (WHERE status = 'complete')"),
    ("comments", "COUNT(*) FILTER (WHERE comment <> '')"),
    *[(f"nps_{v}", f"COUNT(*) FILTER (WHERE nps = {v})") for v in NPS_VALUES],
    *[(f"ces_{v}", f"COUNT(*) FILTER (WHERE ces = {v})") for v in CES_VALUES],
    *[(f"csat_{v}", f"COUNT(*) FILTER (WHERE csat = {v})") for v in CSAT_VALUES],
]
_SELECT_COUNTS = ", ".join(f"{sql} AS {name}" for name, sql in COUNT_COLUMNS)
_RAW_WHERE = "organization_id = %s AND responded_at >= %s AND responded_at < %s"


def _raw(sql: str, params: list[Any]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def raw_total(organization_id: int, filters: DashboardFilters) -> Counts:
    start, end = filters.bounds(ZONE)
    table = Response._meta.db_table
    [row] = _raw(
        f"SELECT {_SELECT_COUNTS} FROM {table} WHERE {_RAW_WHERE}",  # noqa: S608
        [organization_id, start, end],
    )
    return _nonzero(row)


def raw_months(organization_id: int, filters: DashboardFilters) -> dict[date, Counts]:
    start, end = filters.bounds(ZONE)
    table = Response._meta.db_table
    rows = _raw(
        f"SELECT date_trunc('month', responded_at AT TIME ZONE %s)::date AS period, "  # noqa: S608
        f"{_SELECT_COUNTS} FROM {table} WHERE {_RAW_WHERE} GROUP BY 1",
        [ZONE, organization_id, start, end],
    )
    return {row.pop("period"): _nonzero(row) for row in rows}


def raw_touchpoints(organization_id: int, filters: DashboardFilters) -> dict[int, Counts]:
    start, end = filters.bounds(ZONE)
    table = Response._meta.db_table
    rows = _raw(
        f"SELECT touchpoint_id, {_SELECT_COUNTS} FROM {table} "  # noqa: S608
        f"WHERE {_RAW_WHERE} GROUP BY 1",
        [organization_id, start, end],
    )
    return {row.pop("touchpoint_id"): _nonzero(row) for row in rows}


def overview_from_sql(organization_id: int, filters: DashboardFilters) -> Overview:
    """(b) The same numbers by SQL over the raw responses."""
    return Overview(
        total=raw_total(organization_id, filters),
        months=raw_months(organization_id, filters),
        touchpoints=raw_touchpoints(organization_id, filters),
    )


def pandas_frame(organization_id: int, filters: DashboardFilters) -> pd.DataFrame:
    """The columns the overview needs, one row per response of the period."""
    start, end = filters.bounds(ZONE)
    table = Response._meta.db_table
    with warnings.catch_warnings():
        # pandas prefers SQLAlchemy; a plain DB-API connection works (and warns).
        warnings.simplefilter("ignore", UserWarning)
        return pd.read_sql(
            "SELECT responded_at, touchpoint_id, status = 'complete' AS completed, "  # noqa: S608
            f"comment <> '' AS commented, nps, ces, csat FROM {table} WHERE {_RAW_WHERE}",
            connection.connection,
            params=[organization_id, start, end],
        )


def pandas_counts(frame: pd.DataFrame, key: str | None) -> dict[Any, Counts]:
    """Counts per value of ``key`` (one group ``None`` without a key)."""
    if key is None:
        frame = frame.assign(group=0)
        key = "group"
    groups = frame.groupby(key)
    sums: Any = groups[["completed", "commented"]].sum()
    result: dict[Any, Counts] = {
        group: {
            "responses": int(size),
            "completed": int(sums.at[group, "completed"]),
            "comments": int(sums.at[group, "commented"]),
        }
        for group, size in groups.size().items()
    }
    for name in ("nps", "ces", "csat"):
        histogram: Any = frame.groupby([key, name]).size()
        for (group, value), size in histogram.items():
            result[group][f"{name}_{int(value)}"] = int(size)
    return {group: _nonzero(counts) for group, counts in result.items()}


def overview_from_pandas(frame: pd.DataFrame) -> Overview:
    """(c) pandas ``groupby`` over the rows read by ``pandas_frame``."""
    local = frame["responded_at"].dt.tz_convert(ZONE)
    frame = frame.assign(month=local.dt.year * 100 + local.dt.month)
    months = pandas_counts(frame, "month")
    return Overview(
        total=pandas_counts(frame, None).get(0, {}),
        months={date(int(m) // 100, int(m) % 100, 1): counts for m, counts in months.items()},
        touchpoints={int(k): v for k, v in pandas_counts(frame, "touchpoint_id").items()},
    )


# --- Timing ---------------------------------------------------------------------------


@dataclass(slots=True)
class Timing:
    label: str
    seconds: list[float]

    @property
    def low(self) -> float:
        return min(self.seconds) * 1000

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) * 1000

    def cell(self) -> str:
        return f"{self.low:8.1f} / {self.median:8.1f}"


def timed(label: str, runs: int, work: Callable[[], Any]) -> tuple[Timing, Any]:
    seconds, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - started)
    return Timing(label, seconds), result


Work = list[tuple[str, Callable[[], Any]]]


def _time_all(runs: int, work: Work) -> tuple[dict[str, Timing], Any]:
    """Time each named piece of work; the timings and the last result of the last one."""
    timings, result = {}, None
    for name, function in work:
        timings[name], result = timed(name, runs, function)
    return timings, result


def compare_ways(
    organization: Organization, filters: DashboardFilters, runs: int
) -> dict[str, Any]:
    """Time the three ways ``runs`` times each; their overviews (of the last run)."""
    organization_id = organization.pk
    with tenant_context(organization):
        timings: dict[str, dict[str, Timing]] = {}
        timings["rollup"], rollup = _time_all(
            runs,
            [
                ("scores", lambda: scores(filters)),
                ("trend", lambda: trend(filters, "month")),
                ("breakdown", lambda: breakdown(filters, "touchpoint")),
                ("all", lambda: overview_from_rollup(filters)),
            ],
        )
        timings["sql"], sql = _time_all(
            runs,
            [
                ("scores", lambda: raw_total(organization_id, filters)),
                ("trend", lambda: raw_months(organization_id, filters)),
                ("breakdown", lambda: raw_touchpoints(organization_id, filters)),
                ("all", lambda: overview_from_sql(organization_id, filters)),
            ],
        )
        read, frame = timed("read", runs, lambda: pandas_frame(organization_id, filters))
        local = frame["responded_at"].dt.tz_convert(ZONE)
        by_month = frame.assign(month=local.dt.year * 100 + local.dt.month)
        timings["pandas"], pandas = _time_all(
            runs,
            [
                ("scores", lambda: pandas_counts(frame, None)),
                ("trend", lambda: pandas_counts(by_month, "month")),
                ("breakdown", lambda: pandas_counts(frame, "touchpoint_id")),
                ("all", lambda: overview_from_pandas(pandas_frame(organization_id, filters))),
            ],
        )
        timings["pandas"]["read"] = read
    return {"timings": timings, "rollup": rollup, "sql": sql, "pandas": pandas}


def check_agreement(rollup: Overview, sql: Overview, pandas: Overview) -> float | None:
    """Every count of the three ways is the same; the period's NPS."""
    for name, other in (("raw SQL", sql), ("pandas", pandas)):
        for part in ("total", "months", "touchpoints"):
            mine, theirs = getattr(rollup, part), getattr(other, part)
            if mine != theirs:
                raise AssertionError(f"rollup and {name} differ in {part}: {mine} != {theirs}")
    return Scores.from_counts(rollup.total).nps.score


def time_refresh(organization: Organization, runs: int) -> Timing:
    """One response's incremental refresh (the outbox handler's rollup step)."""
    with tenant_context(organization):
        response = Response.objects.order_by("-responded_at").first()
        assert response is not None
        seconds = []
        for _ in range(runs):
            started = time.perf_counter()
            with transaction.atomic():
                rollup_refresh_response(response=response)
            seconds.append(time.perf_counter() - started)
    return Timing("refresh", seconds)


def print_table(timings: dict[str, dict[str, Timing]], runs: int, responses: int) -> None:
    print()
    print(
        f"overview aggregates of the last 365 local days over {responses:,} responses, "
        f"ms (min / median of {runs} runs)"
    )
    header = f"{'':<26}{'(a) rollup':>21}{'(b) raw SQL':>21}{'(c) pandas':>21}"
    print(header + f"{'SQL/rollup':>12}{'pandas/rollup':>15}")
    labels = {
        "scores": "scores (NPS, CES, CSAT)",
        "trend": "trend by month",
        "breakdown": "breakdown by touchpoint",
        "read": "  pandas: read_sql only",
        "all": "overview (all three)",
    }
    for name in ("scores", "trend", "breakdown", "read", "all"):
        row = f"{labels[name]:<26}"
        cells = [timings[way].get(name) for way in ("rollup", "sql", "pandas")]
        row += "".join(f"{cell.cell() if cell else '-':>21}" for cell in cells)
        rollup, sql, pandas = cells
        if rollup is not None:
            row += f"{sql.median / rollup.median if sql else 0:>11.1f}x"
            row += f"{pandas.median / rollup.median if pandas else 0:>14.1f}x"
        print(row)
    print(
        "(pandas rows scores/trend/breakdown: groupby over rows already read; "
        "'overview' includes the read)"
    )


def rollup_stats(organization: Organization) -> str:
    with tenant_context(organization):
        totals = DailyRollup.objects.filter(segment_key="").count()
        segments = DailyRollup.objects.exclude(segment_key="").count()
    return f"{totals:,} total rows + {segments:,} segment rows"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each aggregate")
    parser.add_argument(
        "--reuse", action="store_true", help="keep a benchmark organization of the same size"
    )
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit(
            "bench/dashboard.py compares with SQL over the raw table on PostgreSQL: set "
            "DATABASE_URL, e.g. DATABASE_URL=postgres://feedback_dev@127.0.0.1:5432/bench_dash"
        )
    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    organization = seeded(args.responses, args.reuse)

    started = time.perf_counter()
    with tenant_context(organization):
        rebuilt = rollups_rebuild()
    seconds = time.perf_counter() - started
    # The rebuild leaves the replaced rows behind as dead tuples until autovacuum comes
    # by; measure the table as it is then.
    with connection.cursor() as cursor:
        cursor.execute(f'VACUUM ANALYZE "{DailyRollup._meta.db_table}"')
    print(
        f"rollups_rebuild(): {rebuilt.responses:,} responses -> {rebuilt.rows:,} rollup rows "
        f"({rollup_stats(organization)}) in {seconds:.1f} s "
        f"({rebuilt.responses / seconds:,.0f} responses/s)"
    )

    today = datetime.now(ZoneInfo(ZONE)).date()
    filters = DashboardFilters(start=today - timedelta(days=364), end=today)
    results = compare_ways(organization, filters, args.runs)
    nps = check_agreement(results["rollup"], results["sql"], results["pandas"])
    print(
        f"the three ways agree: {results['rollup'].total['responses']:,} responses, "
        f"NPS {nps:.2f}, {len(results['rollup'].months)} months, "
        f"{len(results['rollup'].touchpoints)} touchpoints"
    )
    print_table(results["timings"], args.runs, args.responses)
    refresh = time_refresh(organization, max(args.runs, 10))
    print()
    print(
        f"incremental refresh of one response's bucket (rollup_refresh_response): "
        f"{refresh.low:.1f} ms min / {refresh.median:.1f} ms median of {len(refresh.seconds)}"
    )


if __name__ == "__main__":
    main()
