"""Benchmark the escalation sweep over 100,000 open cases (PostgreSQL).

    DATABASE_URL=postgres://feedback_dev@127.0.0.1:5432/bench_sweep \\
        .venv/bin/python bench/sweep.py [--cases 100000] [--due 1000,5000] [--overdue 1000]

PostgreSQL only (the sweep's ``FOR UPDATE SKIP LOCKED`` and the partial index are the
point). Applies migrations, creates a throwaway organization (it gets the default SLA
policies and routing rules), a team with a lead and an owner, a published NPS survey
and a few detractor responses, and bulk-inserts ``--cases`` open detractor cases whose
next escalation lies in the future. Then it times, each with the beat's entry point
``escalation_sweep()``:

a. the sweep when nothing is due (the indexed due query over all open cases), and the
   due query alone;
b. a sweep over ``--due`` cases that have just reached 75 % of their first-contact time
   (one reminder each: the steady state of a busy minute), then a sweep over
   ``--overdue`` cases 74 hours old (all seven points of the detractors' ladder at once:
   a beat that was down for days);
c. a second sweep right after each: nothing is left, nothing fires twice.

Prints milliseconds, points and cases per second, and the database rows written per
point; checks that each point fired exactly once; deletes the organization afterwards.
Notification emails are published to an in-memory broker (no worker runs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
    sys.exit(
        "bench/sweep.py measures PostgreSQL (row locks, partial index): set DATABASE_URL, "
        "e.g. DATABASE_URL=postgres://feedback_dev@127.0.0.1:5432/bench_sweep"
    )

import django  # noqa: E402

django.setup()

from django.apps import apps  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from closedloop.models import (  # noqa: E402
    Case,
    CaseEscalation,
    CaseEvent,
    Notification,
    Priority,
    SlaPolicy,
)
from closedloop.services import escalations  # noqa: E402
from closedloop.services.escalations import escalation_sweep  # noqa: E402
from config.celery import app as celery_app  # noqa: E402
from responses.models import OutboxEvent  # noqa: E402
from responses.services import response_submit  # noqa: E402
from surveys.models import SurveyVersion  # noqa: E402
from surveys.services import (  # noqa: E402
    journey_create,
    survey_create_from_template,
    survey_publish,
    touchpoint_add,
)
from tenants.context import cross_tenant, tenant_context  # noqa: E402
from tenants.models import Membership, Organization, Role, Team, TeamMember, TenantModel  # noqa: E402
from tenants.services import Actor  # noqa: E402

ACTOR = Actor(label="bench/sweep.py")
HOUR = timedelta(hours=1)
RESPONSES = 20  # cases share a few responses (Case.response is not unique)


class Fixture:
    """The throwaway organization and what its cases point at."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:10]
        self.organization = Organization.objects.create(
            slug=f"bench-{tag}", name="Benchmark (throwaway)"
        )
        users = get_user_model().objects
        self.users = [
            users.create(
                username=f"bench-{role}-{tag}@example.com", email=f"{role}-{tag}@example.com"
            )
            for role in ("lead", "owner")
        ]
        with tenant_context(self.organization):
            for user in self.users:
                Membership.objects.create(user=user, role=Role.OWNER)
            lead, owner = self.users
            self.team = Team.objects.create(name="Customer care", lead=lead)
            TeamMember.objects.create(team=self.team, user=owner)
            journey = journey_create(actor=ACTOR, name="Bench")
            touchpoint = touchpoint_add(actor=ACTOR, journey=journey, name="Renewal")
            touchpoint.team = self.team
            touchpoint.save(update_fields=["team"])
            survey = survey_create_from_template(
                actor=ACTOR,
                touchpoint=touchpoint,
                template_key="relationship-nps",
                name="Bench NPS",
                languages=["en"],
                default_language="en",
            )
            survey_publish(actor=ACTOR, survey=survey)
            version = SurveyVersion.objects.select_related("survey__touchpoint").get(survey=survey)
            self.responses = []
            for n in range(RESPONSES):
                result = response_submit(
                    version=version,
                    channel="import",  # history: routing leaves it alone
                    language="en",
                    answers={"recommend": n % 7, "recommend-reason": "Parcel was late"},
                )
                assert result.response is not None
                self.responses.append(result.response)
            self.touchpoint = touchpoint
            self.policy = SlaPolicy.objects.get(first_response_minutes=24 * 60)
        self.owner_id = owner.pk

    def case(self, number: int, created_at: datetime) -> Case:
        response = self.responses[number % RESPONSES]
        return Case(
            number=number,
            title=f"NPS {response.nps} at Renewal",
            priority=Priority.HIGH,
            impact=12.0,
            response=response,
            touchpoint=self.touchpoint,
            journey_id=self.touchpoint.journey_id,
            sla_policy=self.policy,
            owner_id=self.owner_id,
            team=self.team,
            created_at=created_at,
            updated_at=created_at,
            **clock(created_at),
        )


def clock(created_at: datetime) -> dict[str, datetime]:
    """The detractor policy's due times and first escalation point (75 % of 24 h)."""
    return {
        "first_response_due_at": created_at + 24 * HOUR,
        "resolution_due_at": created_at + 48 * HOUR,
        "next_escalation_at": created_at + 18 * HOUR,
    }


def insert_cases(fixture: Fixture, count: int, now: datetime) -> None:
    """Open cases aged 0-17 h: their next escalation (at 18 h) is still ahead."""
    started = time.perf_counter()
    step = (17 * 3600) / max(count, 1)
    batch = 5000
    with tenant_context(fixture.organization):
        for first in range(0, count, batch):
            Case.objects.bulk_create(
                [
                    fixture.case(n + 1, now - timedelta(seconds=n * step))
                    for n in range(first, min(first + batch, count))
                ],
                batch_size=batch,
            )
    seconds = time.perf_counter() - started
    print(f"inserted {count:,} open cases in {seconds:.1f} s ({count / seconds:,.0f}/s)")
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{Case._meta.db_table}"')


def make_due(fixture: Fixture, count: int, age: timedelta, now: datetime, offset: int) -> None:
    """Give ``count`` of the open cases the age ``age`` (so their points have come)."""
    created_at = now - age
    with tenant_context(fixture.organization):
        ids = list(
            Case.objects.filter(next_escalation_at__gt=now)
            .order_by("pk")
            .values_list("pk", flat=True)[offset : offset + count]
        )
        Case.objects.filter(pk__in=ids).update(created_at=created_at, **clock(created_at))


def due_query_ms(now: datetime, runs: int = 20) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        with transaction.atomic(), cross_tenant(reason="bench: the sweep's due query"):
            escalations._due_batch(now, escalations.BATCH)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def explain_due_query(now: datetime) -> str:
    with transaction.atomic(), cross_tenant(reason="bench: plan of the due query"):
        queryset = (
            Case.objects.filter(next_escalation_at__lte=now)
            .order_by("next_escalation_at")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("organization_id", "pk")[: escalations.BATCH]
        )
        return queryset.explain()


def timed_sweep(now: datetime) -> tuple[int, float]:
    started = time.perf_counter()
    fired = escalation_sweep(now=now)
    return fired, time.perf_counter() - started


def counts(organization_id: int) -> dict[str, int]:
    with cross_tenant(reason="bench: rows written by the sweep"):
        return {
            "escalations": CaseEscalation.objects.filter(organization_id=organization_id).count(),
            "events": CaseEvent.objects.filter(organization_id=organization_id).count(),
            "notifications": Notification.objects.filter(organization_id=organization_id).count(),
            "outbox": OutboxEvent.objects.filter(
                organization_id=organization_id, response__isnull=True
            ).count(),
        }


def sweep_round(label: str, fixture: Fixture, cases: int, age: timedelta, offset: int) -> None:
    now = timezone.now()
    make_due(fixture, cases, age, now, offset)
    before = counts(fixture.organization.pk)
    fired, seconds = timed_sweep(now)
    after = counts(fixture.organization.pk)
    again, again_seconds = timed_sweep(now)
    points = after["escalations"] - before["escalations"]
    rows = sum(after.values()) - sum(before.values())
    print(
        f"{label:<34} {cases:>6,} cases {fired:>7,} points  {seconds * 1000:9.0f} ms  "
        f"{fired / seconds:>7,.0f} points/s  {cases / seconds:>7,.0f} cases/s  "
        f"({rows / max(points, 1):.1f} rows written per point)"
    )
    print(f"{'  second sweep right after':<34} {again:>21,} points  {again_seconds * 1000:9.0f} ms")
    assert points == fired, (points, fired)
    assert again == 0


def delete_organization(fixture: Fixture) -> None:
    """Every tenant table's rows of the organization, then the organization and users.
    One transaction: PostgreSQL checks the (deferred) foreign keys at its end."""
    started = time.perf_counter()
    organization_id = fixture.organization.pk
    tenant_models = [
        model
        for model in apps.get_models()
        if issubclass(model, TenantModel) and not model._meta.proxy
    ]
    with transaction.atomic(), cross_tenant(reason="bench: delete the throwaway organization"):
        with connection.cursor() as cursor:
            for model in tenant_models:
                cursor.execute(
                    f'DELETE FROM "{model._meta.db_table}" WHERE organization_id = %s',  # noqa: S608
                    [organization_id],
                )
            cursor.execute(
                f'DELETE FROM "{Organization._meta.db_table}" WHERE id = %s',  # noqa: S608
                [organization_id],
            )
        get_user_model().objects.filter(pk__in=[user.pk for user in fixture.users]).delete()
    print(f"deleted the benchmark organization in {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000, help="open cases in the database")
    parser.add_argument(
        "--due", default="1000,5000", help="rounds of cases at 75 %% of their first-contact time"
    )
    parser.add_argument(
        "--overdue", type=int, default=1000, help="cases 74 h old (seven points each)"
    )
    args = parser.parse_args()
    rounds = [int(n) for n in args.due.split(",") if n.strip()]
    if sum(rounds) + args.overdue > args.cases:
        parser.error("--due and --overdue together need at most --cases cases")

    call_command("migrate", verbosity=0)
    # Notification emails are published on commit: to memory, where no worker takes them.
    celery_app.conf.update(task_always_eager=False, broker_url="memory://")
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")

    fixture = Fixture()
    try:
        now = timezone.now()
        insert_cases(fixture, args.cases, now)
        plan = explain_due_query(now).splitlines()
        print("due query plan: " + " / ".join(line.strip() for line in plan[:3]))
        print(f"due query alone (nothing due)       {due_query_ms(now):9.1f} ms (median of 20)")
        quiet = []
        for _ in range(10):
            fired, seconds = timed_sweep(timezone.now())
            assert fired == 0
            quiet.append(seconds * 1000)
        print(
            f"sweep over {args.cases:,} open cases, nothing due "
            f"{statistics.median(quiet):6.1f} ms (median of 10)"
        )
        offset = 0
        for due in rounds:
            sweep_round(
                "sweep: first-contact reminders",
                fixture,
                due,
                18 * HOUR + timedelta(minutes=30),
                offset,
            )
            offset += due
        if args.overdue:
            sweep_round("sweep: 74 h old, all points due", fixture, args.overdue, 74 * HOUR, offset)
        totals = counts(fixture.organization.pk)
        print(
            f"written: {totals['escalations']:,} escalations, {totals['events']:,} timeline "
            f"events, {totals['notifications']:,} notifications, {totals['outbox']:,} outbox events"
        )
    finally:
        delete_organization(fixture)


if __name__ == "__main__":
    main()
