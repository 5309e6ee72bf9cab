"""Bounded load test: public submits, API events and dashboard reads at the same time.

    python bench/load.py [--duration 60] [--short] [--submit-clients 4] [--api-clients 2]
                         [--dashboard-clients 2] [--workers 2] [--history 3000]
                         [--admin-url postgres://postgres@127.0.0.1:5432/postgres]
                         [--owner feedback_dev] [--redis-url redis://127.0.0.1:6379/13]
                         [--json FILE]

On 127.0.0.1 only, PostgreSQL and Redis required. Creates a throwaway database
``bench_load_<pid>`` owned by the application role, migrates it and seeds one
organization: a published NPS survey with its open link on, a distribution rule that
surveys every ``order_completed`` event by email, an API key, an administrator, and
``--history`` earlier responses for the dashboard. Starts the platform as production
runs it: gunicorn (sync workers, persistent connections, DEBUG off), a Celery worker and
beat, Redis as cache and broker; rate limits are raised so the load is not refused.

For ``--duration`` seconds, three groups of client processes (keep-alive connections)
run at once:

* **submit**: a customer answers on the open link (``POST /l/<id>/``, first step with an
  NPS score and a fresh idempotency key; 303 on success);
* **api**: a CRM posts ``order_completed`` for a new contact (``POST /api/v1/events/``;
  the answer lists the scheduled invitation);
* **dashboard**: a signed-in manager reads the dashboard and the response feed.

Prints per workload and in total: requests, throughput, p50/p95/p99 latency and errors.
Then checks that nothing was lost: the database holds a response for every submit that
was answered with success (and an invitation for every accepted event), and the worker
drained the outbox (within 5 minutes; the time it took is printed). Exits 1 on any error
or loss. ``--short`` is the CI form (15 s).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.submit import create_database, drop_database, free_port, stop  # noqa: E402
from bench.submit import seed as submit_seed  # noqa: E402

HOST = "127.0.0.1"
ORG = "bench"


# --- Figures ------------------------------------------------------------------------------


@dataclass
class Result:
    """What one workload measured."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + self.errors

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def merge(self, other: Result) -> None:
        self.latencies_ms += other.latencies_ms
        self.errors += other.errors
        self.error_samples += other.error_samples[: max(0, 5 - len(self.error_samples))]
        self.seconds = max(self.seconds, other.seconds)


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(share * len(ordered))))
    return ordered[rank - 1]


def summary(result: Result) -> dict[str, Any]:
    return {
        "workload": result.name,
        "requests": result.requests,
        "rate": round(result.rate, 1),
        "p50_ms": round(percentile(result.latencies_ms, 0.50), 1),
        "p95_ms": round(percentile(result.latencies_ms, 0.95), 1),
        "p99_ms": round(percentile(result.latencies_ms, 0.99), 1),
        "errors": result.errors,
        "error_rate": round(result.errors / result.requests, 4) if result.requests else 0.0,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'workload':<11} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'errors':>7} {'error rate':>10}"
    ]
    for row in rows:
        lines.append(
            f"{row['workload']:<11} {row['requests']:>9,} {row['rate']:>8,.1f} "
            f"{row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f} {row['p99_ms']:>8.1f} "
            f"{row['errors']:>7,} {row['error_rate']:>10.2%}"
        )
    return "\n".join(lines)


# --- Seeding --------------------------------------------------------------------------------


def seed(history: int) -> dict[str, Any]:
    """The organization, its survey, rule, key, administrator and earlier responses."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.utils import timezone

    from metrics.services.rollups import rollups_rebuild
    from responses.models import OutboxEvent
    from responses.services import response_submit
    from surveys.models import Survey
    from surveys.selectors import survey_version_current
    from surveys.services.distribution import distribution_rule_create
    from tenants.context import tenant_context
    from tenants.models import Membership, Organization, Role
    from tenants.services import Actor, api_key_create

    public_id, qid = submit_seed()  # migrates; the organization "bench", its open-link survey
    call_command("collectstatic", interactive=False, verbosity=0)  # as a release does
    actor = Actor(label="bench/load.py")
    organization = Organization.objects.get(slug=ORG)
    user = get_user_model().objects.create_user(
        "manager@bench.example", "manager@bench.example", secrets.token_urlsafe(16)
    )
    with tenant_context(organization):
        Membership.objects.create(user=user, role=Role.ADMIN)
        survey = Survey.objects.get(public_id=public_id)
        version = survey_version_current(survey)
        assert version is not None
        distribution_rule_create(
            actor=actor,
            name="Order completed",
            event_type="order_completed",
            survey=survey,
            channel="email",
            delay=timedelta(0),
            defer_when_blocked=False,
            is_active=True,
        )
        _key, raw_key = api_key_create(actor=actor, name="load", scopes=["events:write"])
        for index in range(history):
            response_submit(
                version=version,
                channel="link",
                language="en",
                answers={qid: index % 11, "recommend-reason": f"History {index}"},
            )
        rollups_rebuild()
        # The history is settled: its follow-up work is not part of the measured load.
        OutboxEvent.objects.filter(dispatched_at__isnull=True).update(dispatched_at=timezone.now())
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return {
        "public_id": public_id,
        "qid": qid,
        "api_key": raw_key,
        "session": session.session_key,
    }


def stored() -> dict[str, int]:
    from responses.models import OutboxEvent, Response
    from surveys.models import Invitation
    from tenants.context import cross_tenant

    with cross_tenant(reason="bench: count what the run stored"):
        return {
            "responses": Response.objects.count(),
            "invitations": Invitation.objects.count(),
            "outbox_waiting": OutboxEvent.objects.filter(dispatched_at__isnull=True).count(),
        }


# --- Processes ------------------------------------------------------------------------------


def platform_env(database_url: str, redis_url: str, var_dir: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CONN_MAX_AGE": "60",
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("BENCH_SECRET_KEY", "x" * 60),
        "ALLOWED_HOSTS": f"{HOST},localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "PUBLIC_RATE_LIMIT_PER_IP": "0",
        "PUBLIC_RATE_LIMIT_PER_TOKEN": "0",
        "API_RATE_LIMIT": "1000000/min",
        "VAR_DIR": var_dir,
        "LOG_LEVEL": "WARNING",
    }


def start(env: dict[str, str], port: int, workers: int) -> list[subprocess.Popen[bytes]]:
    logs = Path(env["VAR_DIR"])
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--workers",
         str(workers), "--worker-class", "sync", "--bind", f"{HOST}:{port}",
         "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "warning",
         "-Q", "default,messages,sla,webhooks", "--concurrency", "2",
         "--logfile", str(logs / "worker.log")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "warning",
         "-s", str(logs / "celerybeat-schedule"), "--logfile", str(logs / "beat.log")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    processes = [web, worker, beat]
    deadline = time.monotonic() + 40
    while True:
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return processes
        except OSError:
            pass
        if web.poll() is not None or time.monotonic() > deadline:
            for process in processes:
                process.kill()
            raise SystemExit("gunicorn did not start")
        time.sleep(0.3)


# --- Clients --------------------------------------------------------------------------------


def client(kind: str, port: int, seconds: float, number: int, seeded: dict[str, Any]) -> Result:
    """One client process: requests of one kind over a keep-alive connection."""
    import random

    result = Result(kind)
    rng = random.Random(number)
    run = secrets.token_hex(4)
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    started = time.perf_counter()
    deadline = started + seconds
    count = 0
    while time.perf_counter() < deadline:
        count += 1
        if kind == "submit":
            method, path = "POST", f"/l/{seeded['public_id']}/"
            body = (
                f"step=0&idempotency_key=load-{run}-{number}-{count}"
                f"&{seeded['qid']}={rng.randint(0, 10)}"
            )
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            ok = {303}
        elif kind == "api":
            method, path = "POST", "/api/v1/events/"
            body = json.dumps(
                {
                    "type": "order_completed",
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "contact": {
                        "crm_id": f"L-{run}-{number}-{count}",
                        "email": f"load-{run}-{number}-{count}@example.com",
                    },
                }
            )
            headers = {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {seeded['api_key']}",
            }
            ok = {200, 201, 202}
        else:
            method = "GET"
            path = f"/o/{ORG}/dashboard/" if count % 2 else f"/o/{ORG}/responses/"
            body = None
            headers = {"Cookie": f"sessionid={seeded['session']}"}
            ok = {200}
        begun = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            payload = answer.read()
        except OSError as exc:
            result.errors += 1
            result.error_samples.append(f"{path}: {exc!r}"[:200])
            connection.close()
            connection = http.client.HTTPConnection(HOST, port, timeout=30)
            continue
        elapsed = (time.perf_counter() - begun) * 1000
        if answer.status in ok:
            result.latencies_ms.append(elapsed)
        else:
            result.errors += 1
            if len(result.error_samples) < 5:
                result.error_samples.append(f"{path}: {answer.status} {payload[:120]!r}")
    result.seconds = time.perf_counter() - started
    connection.close()
    return result


def drive(
    port: int, seconds: float, clients: dict[str, int], seeded: dict[str, Any]
) -> list[Result]:
    jobs = [(kind, n) for kind, count in clients.items() for n in range(count)]
    with ProcessPoolExecutor(len(jobs)) as pool:
        futures = [
            pool.submit(client, kind, port, seconds, number, seeded) for kind, number in jobs
        ]
        parts = [future.result() for future in futures]
    merged = {kind: Result(kind) for kind in clients}
    for part in parts:
        merged[part.name].merge(part)
    return list(merged.values())


# --- The run --------------------------------------------------------------------------------


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--short", action="store_true", help="the CI form: 15 s, less history")
    parser.add_argument("--submit-clients", type=int, default=4)
    parser.add_argument("--api-clients", type=int, default=2)
    parser.add_argument("--dashboard-clients", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--history", type=int, default=3000, help="earlier responses")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--owner", default=os.environ.get("BENCH_OWNER", "feedback_dev"))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.short:
        args.duration = min(args.duration, 15.0)
        args.history = min(args.history, 500)
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    name = f"bench_load_{os.getpid()}"
    database_url = create_database(args.admin_url, name, args.owner)
    var_dir = tempfile.mkdtemp(prefix="bench-load-")
    env = platform_env(database_url, args.redis_url, var_dir)
    os.environ.update(env)  # this process seeds with the same settings as the servers
    processes: list[subprocess.Popen[bytes]] = []
    try:
        import django

        django.setup()
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
        begun = time.perf_counter()
        seeded = seed(args.history)
        before = stored()
        print(f"seeded in {time.perf_counter() - begun:.1f} s: {before}")
        port = free_port()
        processes = start(env, port, args.workers)
        clients = {
            "submit": args.submit_clients,
            "api": args.api_clients,
            "dashboard": args.dashboard_clients,
        }
        print(f"load for {args.duration:.0f} s with clients {clients}, {args.workers} web workers")
        results = drive(port, args.duration, clients, seeded)
        total = Result("total")
        for result in results:
            total.merge(result)
        rows = [summary(result) for result in [*results, total]]
        print(table(rows))
        for result in results:
            for sample in result.error_samples:
                print(f"  error ({result.name}): {sample}")

        # Nothing lost: the outbox drains, every accepted submit and event is stored.
        drain_started = time.monotonic()
        while (after := stored())["outbox_waiting"] and time.monotonic() < drain_started + 300:
            time.sleep(1)
        drained_in = time.monotonic() - drain_started
        submits = next(r for r in results if r.name == "submit")
        events = next(r for r in results if r.name == "api")
        new_responses = after["responses"] - before["responses"]
        new_invitations = after["invitations"] - before["invitations"]
        checks = {
            "responses stored for successful submits": new_responses >= len(submits.latencies_ms),
            "responses stored at most once per submit sent": new_responses <= submits.requests,
            "invitations for accepted events": new_invitations >= len(events.latencies_ms),
            "outbox drained by the worker": after["outbox_waiting"] == 0,
            "no errors": total.errors == 0,
        }
        print(
            f"stored: {new_responses:,} responses, {new_invitations:,} invitations; "
            f"outbox waiting: {after['outbox_waiting']} ({drained_in:.0f} s after the load)"
        )
        for label, passed in checks.items():
            print(f"  {'ok  ' if passed else 'FAIL'} {label}")
        if args.json:
            Path(args.json).write_text(
                json.dumps(
                    {"rows": rows, "stored": after, "drained_in_s": drained_in, "checks": checks},
                    indent=2,
                )
            )
        return 0 if all(checks.values()) else 1
    finally:
        for process in processes:
            stop(process)
        from django.db import connections

        connections.close_all()
        drop_database(args.admin_url, name)


if __name__ == "__main__":
    sys.exit(main())
