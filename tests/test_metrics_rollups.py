"""The daily rollup: maintained from the response outbox, equal to a rebuild, repeatable,
isolated per organization, race-free on PostgreSQL; and ``manage.py rollups_rebuild``."""

from __future__ import annotations

import importlib.util
import io
import re
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from metrics.models import COUNT_FIELDS, DailyRollup, ResponseTheme, SegmentAttribute, Theme
from metrics.selectors.filters import DashboardFilters
from metrics.selectors.scores import breakdown, compare, scores, trend
from metrics.services.rollups import rollup_refresh_response, rollups_rebuild
from responses.models import OutboxEvent, Response
from responses.services import response_submit
from responses.services.outbox import outbox_dispatch
from surveys.models import SurveyVersion
from tenants.context import tenant_context
from tests.conftest import Tenant, is_postgres
from tests.factories import ContactFactory, OrganizationFactory, published_survey, response_factory

Capture = Callable[..., AbstractContextManager[Any]]

# 10:00 UTC on a Wednesday: noon in Berlin, far from midnight.
NOON = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)
JUNE = DashboardFilters(start=date(2026, 6, 1), end=date(2026, 6, 30))


def rollup_snapshot() -> list[tuple[Any, ...]]:
    return sorted(
        DailyRollup.objects.values_list(
            "day",
            "touchpoint_id",
            "survey_id",
            "channel",
            "language",
            "segment_key",
            "segment_value",
            "responses",
            "completed",
            "comments",
            "nps_0",
            "nps_6",
            "nps_9",
            "nps_10",
        )
    )


def full_snapshot() -> list[tuple[Any, ...]]:
    """Every rollup row of the current organization with all its counts."""
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
    return sorted(DailyRollup.objects.values_list(*keys, *COUNT_FIELDS))


def response_topics() -> list[str]:
    """The topics of the response events in the outbox (routing adds case events)."""
    events = OutboxEvent.objects.filter(topic__startswith="response.").order_by("pk")
    return list(events.values_list("topic", flat=True))


def totals() -> dict[str, int]:
    """The summed counts of the total rows (non-zero ones only)."""
    rows = DailyRollup.objects.filter(segment_key="").values(*COUNT_FIELDS)
    summed = {name: sum(row[name] for row in rows) for name in COUNT_FIELDS}
    return {name: value for name, value in summed.items() if value}


def test_submits_update_the_rollup_and_equal_a_rebuild(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        SegmentAttribute.objects.create(key="tier")
        version = published_survey()
        gold: Any = ContactFactory(attributes={"tier": "gold"})
        scores_in = [(10, gold), (9, None), (3, gold), (7, None)]
        with time_machine.travel(datetime(2026, 3, 28, 22, 30, tzinfo=UTC), tick=False):
            for score, contact in scores_in:
                with django_capture_on_commit_callbacks(execute=True):
                    response_factory(
                        version=version,
                        answers={"recommend": score, "recommend-reason": "late parcel"},
                        contact=contact,
                    )
        before = rollup_snapshot()
        assert before, "the outbox handler wrote the rollup"
        # 22:30 UTC on 28 March is 23:30 in Berlin: still the 28th locally.
        assert {row[0] for row in before} == {date(2026, 3, 28)}
        result = rollups_rebuild()
        assert result.responses == 4
        assert rollup_snapshot() == before
        filters = DashboardFilters(start=date(2026, 3, 1), end=date(2026, 3, 31))
        overall = scores(filters)
        assert overall.responses == 4
        assert overall.nps.score == pytest.approx(25.0)
        march_by_tier = DashboardFilters(
            start=date(2026, 3, 1), end=date(2026, 3, 31), segment_key="tier"
        )
        by_tier = {row.key: row.scores.responses for row in breakdown(march_by_tier, "segment")}
        assert by_tier == {"gold": 2, "": 2}
        points = trend(filters, "week")
        assert sum(p.scores.responses for p in points) == 4
        assert compare(filters).current.responses == 4
        assert Response.objects.count() == 4


# --- Reliability ------------------------------------------------------------------------


def test_handling_the_same_outbox_event_twice_changes_nothing(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        Theme.objects.create(name="Parcels", keywords=["deliver", "parcel"])
        SegmentAttribute.objects.create(key="tier")
        version = published_survey()
        with time_machine.travel(NOON, tick=False):
            for score in (2, 9):
                with django_capture_on_commit_callbacks(execute=True):
                    response_factory(
                        version=version,
                        answers={"recommend": score, "recommend-reason": "Delivery was late"},
                        attributes={"tier": "gold"},
                    )
        events = list(OutboxEvent.objects.filter(topic__startswith="response.").order_by("pk"))
        assert len(events) == 2
        assert all(event.dispatched_at is not None for event in events)
        rollup = full_snapshot()
        themes = sorted(ResponseTheme.objects.values_list("response_id", "theme__name"))
        assert len([name for _response, name in themes if name == "Parcels"]) == 2
        # A redelivered event (a worker crashed after the handlers ran): handled again.
        OutboxEvent.objects.filter(pk=events[0].pk).update(dispatched_at=None)
        assert outbox_dispatch(organization_id=tenant_a.organization.pk, event_id=events[0].pk)
        # And the handler twice more in a row, by the event of the other response.
        for _ in range(2):
            OutboxEvent.objects.filter(pk=events[1].pk).update(dispatched_at=None)
            assert outbox_dispatch(organization_id=tenant_a.organization.pk, event_id=events[1].pk)
        assert full_snapshot() == rollup
        assert sorted(ResponseTheme.objects.values_list("response_id", "theme__name")) == themes
        assert totals() == {"responses": 2, "completed": 2, "comments": 2, "nps_2": 1, "nps_9": 1}


def test_an_updated_response_moves_its_counts_to_the_new_scores(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey()  # answers may be changed for a day
        with time_machine.travel(NOON, tick=False):
            with django_capture_on_commit_callbacks(execute=True):
                first = response_factory(
                    version=version,
                    answers={"recommend": 3, "recommend-reason": "Parcel was late"},
                )
            with django_capture_on_commit_callbacks(execute=True):
                response_factory(version=version, answers={"recommend": 10})
        assert totals() == {"responses": 2, "completed": 2, "comments": 1, "nps_3": 1, "nps_10": 1}
        assert scores(JUNE).nps.score == pytest.approx(0.0)
        # Twenty minutes later the customer opens the link again and changes the answers.
        with (
            time_machine.travel(NOON + timedelta(minutes=20), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            result = response_submit(
                version=version,
                channel="link",
                language="en",
                answers={"recommend": 9, "recommend-reason": "", "value-for-money": 4},
                response=first,
            )
        assert result.ok
        assert result.changed
        assert not result.created
        topics = response_topics()
        assert topics[-1] == "response.updated"
        assert totals() == {"responses": 2, "completed": 2, "nps_9": 1, "nps_10": 1, "csat_4": 1}
        assert scores(JUNE).nps.score == pytest.approx(100.0)
        snapshot = full_snapshot()
        rollups_rebuild()
        assert full_snapshot() == snapshot


def test_a_partial_response_counts_and_then_completes(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey()
        with time_machine.travel(NOON, tick=False):
            with django_capture_on_commit_callbacks(execute=True):
                partial = response_factory(
                    version=version,
                    answers={"recommend": 6},
                    question_ids=["recommend"],
                    complete=False,
                )
            assert partial.status == "partial"
            assert totals() == {"responses": 1, "nps_6": 1}
            overview = scores(JUNE)
            assert (overview.responses, overview.completed, overview.nps.n) == (1, 0, 1)
        with (
            time_machine.travel(NOON + timedelta(minutes=3), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            result = response_submit(
                version=version,
                channel="link",
                language="en",
                answers={"recommend-reason": "Waited on hold", "value-for-money": 2},
                question_ids=["recommend-reason", "value-for-money"],
                response=partial,
            )
        assert result.ok
        topics = response_topics()
        assert topics == ["response.created", "response.completed"]
        assert totals() == {
            "responses": 1,
            "completed": 1,
            "comments": 1,
            "nps_6": 1,
            "csat_2": 1,
        }
        overview = scores(JUNE)
        assert (overview.responses, overview.completed, overview.comments) == (1, 1, 1)
        assert overview.nps.score == pytest.approx(-100.0)


def test_segment_attributes_get_their_own_rows(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        SegmentAttribute.objects.create(key="segment", label="Customer segment", position=1)
        SegmentAttribute.objects.create(key="region", position=2)
        version = published_survey()
        smb: Any = ContactFactory(attributes={"segment": "smb", "region": "Nord"})
        consumer: Any = ContactFactory(attributes={"segment": " consumer ", "region": 7})
        answers_of = [
            (smb, 10, {}),
            (smb, 2, {}),
            (consumer, 9, {}),
            (None, 8, {}),  # anonymous: no attributes at all
            (None, 0, {"segment": "smb", "region": True}),  # signed open-link parameters
        ]
        with time_machine.travel(NOON, tick=False):
            for contact, score, attributes in answers_of:
                with django_capture_on_commit_callbacks(execute=True):
                    response_factory(
                        version=version,
                        answers={"recommend": score},
                        contact=contact,
                        attributes=attributes,
                    )
        rows = {
            (key, value): count
            for key, value, count in DailyRollup.objects.values_list(
                "segment_key", "segment_value", "responses"
            )
        }
        assert rows == {
            ("", ""): 5,
            ("segment", "smb"): 3,
            ("segment", "consumer"): 1,
            ("segment", ""): 1,
            ("region", "Nord"): 2,
            ("region", "7"): 1,
            ("region", "true"): 1,
            ("region", ""): 1,
        }
        by_segment = breakdown(
            DashboardFilters(start=JUNE.start, end=JUNE.end, segment_key="segment"), "segment"
        )
        assert [(row.key, row.scores.responses) for row in by_segment] == [
            ("smb", 3),
            ("", 1),
            ("consumer", 1),
        ]
        smb_only = DashboardFilters(
            start=JUNE.start, end=JUNE.end, segment_key="segment", segment_value="smb"
        )
        assert scores(smb_only).nps_histogram[0] == 1
        assert scores(smb_only).nps.score == pytest.approx(-100 / 3)
        # The raw-response filter of the same segment finds the same responses.
        assert Response.objects.filter(smb_only.response_q("Europe/Berlin")).count() == 3
        snapshot = full_snapshot()
        rollups_rebuild()
        assert full_snapshot() == snapshot


@pytest.mark.parametrize(
    "value",
    ['A "quoted", {braced} \\ value', "NULL", "Ümlaut ✓", "x" * 250, ""],
)
def test_any_segment_value_is_stored_as_given(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture, value: str
) -> None:
    with tenant_context(tenant_a.organization):
        SegmentAttribute.objects.create(key="segment")
        version = published_survey()
        with time_machine.travel(NOON, tick=False):
            for score in (3, 10):
                with django_capture_on_commit_callbacks(execute=True):
                    response_factory(
                        version=version, answers={"recommend": score}, attributes={"segment": value}
                    )
        rows = list(
            DailyRollup.objects.filter(segment_key="segment").values_list(
                "segment_value", "responses"
            )
        )
        assert rows == [(value[:200], 2)]
        snapshot = full_snapshot()
        rollups_rebuild()
        assert full_snapshot() == snapshot


def test_another_organizations_responses_never_show_in_this_rollup(
    tenant_a: Tenant, tenant_b: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with time_machine.travel(NOON, tick=False):
        for tenant, score_list in ((tenant_a, [10, 9]), (tenant_b, [0, 1, 2])):
            with tenant_context(tenant.organization):
                version = published_survey()
                for score in score_list:
                    with django_capture_on_commit_callbacks(execute=True):
                        response_factory(version=version, answers={"recommend": score})
    with tenant_context(tenant_b.organization):
        rows_of_b = full_snapshot()
        assert scores(JUNE).nps.score == pytest.approx(-100.0)
    with tenant_context(tenant_a.organization):
        assert totals() == {"responses": 2, "completed": 2, "nps_9": 1, "nps_10": 1}
        assert scores(JUNE).nps.score == pytest.approx(100.0)
        assert rollups_rebuild().responses == 2
        assert totals() == {"responses": 2, "completed": 2, "nps_9": 1, "nps_10": 1}
    with tenant_context(tenant_b.organization):
        assert full_snapshot() == rows_of_b  # A's rebuild left B's rows alone


def test_days_are_local_days_of_the_organization(
    django_capture_on_commit_callbacks: Capture, db: None
) -> None:
    organization: Any = OrganizationFactory(timezone="America/New_York")
    with tenant_context(organization):
        version = published_survey()
        # 03:30 UTC on 11 June is 23:30 on 10 June in New York.
        at = datetime(2026, 6, 11, 3, 30, tzinfo=UTC)
        with django_capture_on_commit_callbacks(execute=True):
            response_factory(version=version, answers={"recommend": 9}, responded_at=at)
        assert list(DailyRollup.objects.values_list("day", flat=True)) == [date(2026, 6, 10)]
        assert scores(DashboardFilters(start=date(2026, 6, 10), end=date(2026, 6, 10))).nps.n == 1
        assert scores(DashboardFilters(start=date(2026, 6, 11), end=date(2026, 6, 11))).nps.n == 0


# --- Concurrency (PostgreSQL) -----------------------------------------------------------


def test_two_workers_refreshing_one_bucket_at_once_end_with_the_right_counts(
    transactional_db: None,
) -> None:
    if not is_postgres():
        pytest.skip("advisory locks are PostgreSQL's; SQLite serialises writers itself")
    organization: Any = OrganizationFactory(slug="race")
    with tenant_context(organization):
        SegmentAttribute.objects.create(key="tier")
        version = published_survey()
        version_id = version.pk
    at = NOON - timedelta(days=1)
    responses = []
    for score in (1, 9, 10, 7):
        with tenant_context(organization):
            result = response_submit(
                version=SurveyVersion.objects.select_related("survey__touchpoint").get(
                    pk=version_id
                ),
                channel="email",
                language="de",
                answers={"recommend": score, "recommend-reason": "Lieferung"},
                attributes={"tier": "gold" if score > 5 else "silver"},
                responded_at=at,
            )
        assert result.response is not None
        responses.append(result.response)
    with tenant_context(organization):
        expected = full_snapshot()  # what the (eager) outbox handler wrote, one by one
        assert sum(row[8] for row in expected if row[6] == "") == 4
        DailyRollup.objects.all().delete()

    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def refresh(response: Response) -> None:
        try:
            with tenant_context(organization), transaction.atomic():
                barrier.wait(timeout=30)
                rollup_refresh_response(response=response)
                # Keep the transaction (and the bucket's lock) open a moment: the other
                # worker's refresh must wait for it, not write beside it.
                time.sleep(0.3)
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread below
            errors.append(exc)
        finally:
            connection.close()

    for _round in range(3):
        threads = [threading.Thread(target=refresh, args=(r,)) for r in responses[:2]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        assert not errors, errors
        with tenant_context(organization):
            assert full_snapshot() == expected


# --- The rebuild command ----------------------------------------------------------------


def _seed_two_days(tenant: Tenant, capture: Capture) -> None:
    """Responses on 9 and 10 June (Berlin days) of ``tenant``."""
    with tenant_context(tenant.organization):
        version = published_survey()
        for day_offset, score in ((1, 4), (0, 9), (0, 10)):
            with capture(execute=True):
                response_factory(
                    version=version,
                    answers={"recommend": score},
                    responded_at=NOON - timedelta(days=day_offset),
                )


def test_rebuild_command_rebuilds_every_organization(
    tenant_a: Tenant, tenant_b: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    _seed_two_days(tenant_a, django_capture_on_commit_callbacks)
    _seed_two_days(tenant_b, django_capture_on_commit_callbacks)
    snapshots = {}
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant.organization):
            snapshots[tenant.organization.slug] = full_snapshot()
            DailyRollup.objects.filter(day=date(2026, 6, 10)).update(responses=99)
    out = io.StringIO()
    call_command("rollups_rebuild", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("alpha: 3 responses read, 2 rollup rows written in ")
    assert lines[1].startswith("bravo: 3 responses read, 2 rollup rows written in ")
    assert lines[2].startswith("Rebuilt 2 organization(s): 6 responses, 4 rows in ")
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant.organization):
            assert full_snapshot() == snapshots[tenant.organization.slug]


def test_rebuild_command_for_one_organization_and_some_days(
    tenant_a: Tenant, tenant_b: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    _seed_two_days(tenant_a, django_capture_on_commit_callbacks)
    _seed_two_days(tenant_b, django_capture_on_commit_callbacks)
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant.organization):
            DailyRollup.objects.update(responses=99)
    out = io.StringIO()
    call_command(
        "rollups_rebuild", "--org", "alpha", "--since", "2026-06-10", "--until", "2026-06-30",
        stdout=out,
    )  # fmt: skip
    assert out.getvalue().startswith("alpha: 2 responses read, 1 rollup rows written in ")
    assert "(local days 2026-06-10 to 2026-06-30)" in out.getvalue()
    with tenant_context(tenant_a.organization):
        by_day = dict(DailyRollup.objects.values_list("day", "responses"))
        # The day before --since keeps its (wrong) counts: it was not rebuilt.
        assert by_day == {date(2026, 6, 9): 99, date(2026, 6, 10): 2}
    with tenant_context(tenant_b.organization):
        assert set(DailyRollup.objects.values_list("responses", flat=True)) == {99}
    call_command("rollups_rebuild", "--org=alpha", "--org=bravo", stdout=io.StringIO())
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant.organization):
            by_day = dict(DailyRollup.objects.values_list("day", "responses"))
            assert by_day == {date(2026, 6, 9): 1, date(2026, 6, 10): 2}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "nope"], "No organization with slug 'nope'."),
        (["--org", "alpha", "--org", "x", "--org", "y"], "No organization with slug 'x', 'y'."),
        (["--since", "2026-13-01"], "--since must be a date like 2026-03-29, not '2026-13-01'."),
        (["--until", "yesterday"], "--until must be a date like 2026-03-29, not 'yesterday'."),
        (["--since", "2026-06-02", "--until", "2026-06-01"], "--since 2026-06-02 is after"),
    ],
)
def test_rebuild_command_refuses_bad_arguments(
    tenant_a: Tenant, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("rollups_rebuild", *args, stdout=io.StringIO())


# --- The dashboard benchmark's functions (bench/dashboard.py) ---------------------------


def test_the_dashboard_benchmark_agrees_on_a_tiny_dataset(
    db: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if not is_postgres():
        pytest.skip("the benchmark compares with SQL of PostgreSQL (date_trunc, FILTER)")
    path = Path(__file__).resolve().parent.parent / "bench" / "dashboard.py"
    spec = importlib.util.spec_from_file_location("bench_dashboard", path)
    assert spec is not None
    assert spec.loader is not None
    bench: Any = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_dashboard", bench)  # its dataclasses look it up
    spec.loader.exec_module(bench)

    organization: Any = OrganizationFactory(timezone=bench.ZONE)
    bench.insert_responses(organization, bench.structure(organization), 400)
    with tenant_context(organization):
        assert rollups_rebuild().responses == 400
    today = datetime.now(ZoneInfo(bench.ZONE)).date()
    filters = DashboardFilters(start=today - timedelta(days=364), end=today)
    results = bench.compare_ways(organization, filters, runs=1)
    nps = bench.check_agreement(results["rollup"], results["sql"], results["pandas"])
    assert nps is not None
    assert (
        sum(c["responses"] for c in results["sql"].touchpoints.values())
        == (results["sql"].total["responses"])
    )
    assert len(results["rollup"].touchpoints) == 9
    bench.print_table(results["timings"], 1, 400)
    assert bench.time_refresh(organization, 2).median > 0
    assert "overview (all three)" in capsys.readouterr().out
