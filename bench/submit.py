"""Benchmark the public submit path over HTTP against a bare Django insert.

    python bench/submit.py [--duration 15] [--warmup 3] [--connections 8] [--threads 2]
                           [--workers 2] [--admin-url postgres://postgres@127.0.0.1:5432/postgres]
                           [--owner feedback_dev] [--redis-url redis://127.0.0.1:6379/14]

PostgreSQL only. Creates a throwaway database ``bench_submit_<pid>`` owned by the
application role (``--owner``, through the superuser connection ``--admin-url``),
migrates it, and seeds one organization with a published NPS survey whose open link is
on. Starts gunicorn as production runs it (sync workers, persistent database
connections, DEBUG off, Redis as cache and broker) with the rate limits off and
bench/submit_settings.py, whose URLconf adds the baseline ``POST /bench/bare/``: a plain
Django view that inserts one row with the ORM.

A load generator in separate processes (wrk with a Lua script; a Python generator when
wrk is not installed) posts, with the same connections, threads and duration, each
after a warm-up:

* ``/l/<public_id>/``, the open link's first step: ``step=0``, a fresh
  ``idempotency_key`` per request and an NPS score 0-10. Each request stores a partial
  response with its outbox event and answers 303;
* ``/bench/bare/`` with ``payload=x``; answers 204.

Prints requests/s, p50 and p99 latency of both and the ratio submit/bare, and checks
that the database holds one response (and one outbox event) per submit the server
took. The outbox events are published to Redis on commit (``--redis-url``, db 14 by
default); no worker runs, so they queue up: they are counted and removed at the end,
and the database is dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUEUE = "default"  # the Celery queue the outbox task goes to

# wrk: one Lua state per thread. ``request`` builds every body (a unique idempotency
# key per request); ``done`` prints the figures as one JSON line.
WRK_SCRIPT = r"""
kind = "%(kind)s"
run = "%(run)s"
qid = "%(qid)s"
thread_id = 0
written = 0
threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + thread_id * 7919)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

function request()
  written = written + 1
  local body = "payload=x"
  if kind == "submit" then
    body = string.format("step=0&idempotency_key=%%s%%03d%%010d&%%s=%%d",
                         run, thread_id, written, qid, math.random(0, 10))
  end
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("written") end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %%d, "seconds": %%f, "written": %%d, "status_errors": %%d, ' ..
    '"socket_errors": %%d, "p50_ms": %%f, "p99_ms": %%f}\n',
    summary.requests, summary.duration / 1e6, total, e.status,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


@dataclass
class Load:
    """What one load run measured. ``written``: requests sent, including those still in
    flight when the time was up (the server may have stored them)."""

    requests: int
    seconds: float
    written: int
    status_errors: int
    socket_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def succeeded(self) -> int:
        return self.requests - self.status_errors

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass
class Target:
    label: str
    path: str
    kind: str  # "submit" or "bare"


# --- Database ------------------------------------------------------------------------


def create_database(admin_url: str, name: str, owner: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(owner)
            )
        )
    parts = urlsplit(admin_url)
    return f"postgres://{owner}@{parts.hostname}:{parts.port or 5432}/{name}"


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def seed() -> tuple[str, str]:
    """One organization with a published NPS survey whose open link is on; the survey's
    public id and the NPS question's id."""
    from django.core.management import call_command
    from django.db import connection

    from surveys.schema import NPS
    from surveys.services import (
        journey_create,
        survey_create_from_template,
        survey_publish,
        touchpoint_add,
    )
    from surveys.services.lifecycle import survey_sharing_update
    from tenants.context import tenant_context
    from tenants.models import Organization
    from tenants.services import Actor

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_row (id bigserial PRIMARY KEY, payload text NOT NULL, "
            "created_at timestamptz NOT NULL)"
        )
    actor = Actor(label="bench/submit.py")
    organization = Organization.objects.create(slug="bench", name="Benchmark (throwaway)")
    with tenant_context(organization):
        journey = journey_create(actor=actor, name="Bench")
        touchpoint = touchpoint_add(actor=actor, journey=journey, name="Checkout")
        survey = survey_create_from_template(
            actor=actor,
            touchpoint=touchpoint,
            template_key="relationship-nps",
            name="NPS",
            languages=["en", "de"],
            default_language="en",
        )
        version = survey_publish(actor=actor, survey=survey)
        survey.refresh_from_db()
        survey_sharing_update(
            actor=actor,
            survey=survey,
            open_link_enabled=True,
            widget_enabled=False,
            allowed_origins=[],
            answer_change_window=survey.answer_change_window,
        )
        qid = next(str(q["id"]) for q in version.questions if q.get("type") == NPS)
    return survey.public_id, qid


def stored_counts() -> tuple[int, int, int, int]:
    """Responses, distinct idempotency keys, undispatched outbox events, bench rows."""
    from django.db import connection

    from responses.models import OutboxEvent, Response
    from tenants.context import cross_tenant

    with cross_tenant(reason="bench: count what the run stored"):
        responses = Response.objects.count()
        keys = Response.objects.values("idempotency_key").distinct().count()
        waiting = OutboxEvent.objects.filter(dispatched_at__isnull=True).count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_row")
        rows = int(cursor.fetchone()[0])
    return responses, keys, waiting, rows


# --- The web server ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(database_url: str, redis_url: str, port: int, workers: int) -> Any:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.submit_settings",
        "DATABASE_URL": database_url,
        "CONN_MAX_AGE": "60",
        "REDIS_URL": redis_url,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "PUBLIC_RATE_LIMIT_PER_IP": "0",
        "PUBLIC_RATE_LIMIT_PER_TOKEN": "0",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise SystemExit("gunicorn did not start") from None
            time.sleep(0.2)


def stop(process: Any) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- Load generators -----------------------------------------------------------------


def run_wrk(url: str, target: Target, qid: str, args: argparse.Namespace, seconds: int) -> Load:
    script = WRK_SCRIPT % {"kind": target.kind, "run": secrets.token_hex(6), "qid": qid}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        output = subprocess.run(
            [
                "wrk",
                f"-t{args.threads}",
                f"-c{args.connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                handle.name,
                url + target.path,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    return Load(**json.loads(line.removeprefix("BENCH ")))


def _python_client(url: str, target: Target, qid: str, seconds: float, seed: int) -> Any:
    """One connection of the fallback generator: keep-alive POSTs until the time is up."""
    import http.client
    import random

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    rng = random.Random(seed)
    run = secrets.token_hex(6)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    latencies: list[float] = []
    status_errors = socket_errors = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        body = "payload=x"
        if target.kind == "submit":
            key = f"{run}{len(latencies):012d}"
            body = f"step=0&idempotency_key={key}&{qid}={rng.randint(0, 10)}"
        started = time.perf_counter()
        try:
            connection.request("POST", target.path, body=body, headers=headers)
            answer = connection.getresponse()
            answer.read()
        except OSError:
            socket_errors += 1
            connection.close()
            continue
        latencies.append(time.perf_counter() - started)
        if not 200 <= answer.status < 400:
            status_errors += 1
    connection.close()
    return latencies, status_errors, socket_errors


def run_python(url: str, target: Target, qid: str, args: argparse.Namespace, seconds: int) -> Load:
    from concurrent.futures import ProcessPoolExecutor

    started = time.perf_counter()
    with ProcessPoolExecutor(args.connections) as pool:
        parts = list(
            pool.map(
                _python_client,
                [url] * args.connections,
                [target] * args.connections,
                [qid] * args.connections,
                [seconds] * args.connections,
                range(args.connections),
            )
        )
    elapsed = time.perf_counter() - started
    latencies = sorted(latency for part in parts for latency in part[0])
    count = len(latencies)

    def percentile(share: float) -> float:
        return latencies[min(int(share * count), count - 1)] * 1000 if count else 0.0

    return Load(
        requests=count,
        seconds=min(elapsed, float(seconds)),
        written=count,
        status_errors=sum(part[1] for part in parts),
        socket_errors=sum(part[2] for part in parts),
        p50_ms=percentile(0.50),
        p99_ms=percentile(0.99),
    )


# --- The run -------------------------------------------------------------------------


def report(label: str, load: Load) -> None:
    print(
        f"{label:<44} {load.requests:>8,} {load.rate:>9,.0f} {load.p50_ms:>8.1f} "
        f"{load.p99_ms:>8.1f} {load.status_errors:>7,} {load.socket_errors:>7,}"
    )


def median_of(loads: list[Load]) -> Load:
    """The median figures of several rounds (each figure on its own)."""
    return Load(
        requests=round(median(load.requests for load in loads)),
        seconds=median(load.seconds for load in loads),
        written=round(median(load.written for load in loads)),
        status_errors=round(median(load.status_errors for load in loads)),
        socket_errors=round(median(load.socket_errors for load in loads)),
        p50_ms=median(load.p50_ms for load in loads),
        p99_ms=median(load.p99_ms for load in loads),
    )


def check(label: str, stored: int, runs: list[Load]) -> str:
    """Stored rows against the requests: at least every success, at most every request
    sent (a request in flight when the load generator stopped may have been stored)."""
    succeeded = sum(load.succeeded for load in runs)
    written = sum(load.written for load in runs)
    verdict = "ok" if succeeded <= stored <= written else "MISMATCH"
    return (
        f"{label}: {stored:,} stored for {succeeded:,} requests answered with success "
        f"(+ up to {written - sum(load.requests for load in runs):,} in flight at the stops): "
        f"{verdict}"
    )


def queue_length(redis_url: str) -> int:
    import redis

    return int(redis.Redis.from_url(redis_url, socket_timeout=5).llen(QUEUE))


def remove_queued(redis_url: str, before: int, added: int) -> None:
    """Remove the ``added`` messages this run pushed (kombu LPUSHes: they are the first)."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    if before == 0:
        client.delete(QUEUE)
    elif added > 0:
        client.ltrim(QUEUE, added, -1)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per target")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measured runs per target, alternating the order (medians are reported)",
    )
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL role that may create databases",
    )
    parser.add_argument("--owner", default="feedback_dev", help="the application's role")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument(
        "--generator",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator (default: wrk when installed)",
    )
    return parser.parse_args()


def bench(args: argparse.Namespace, database_url: str, name: str) -> None:
    import django

    django.setup()
    from django.db import connections

    public_id, qid = seed()
    connections.close_all()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    queued_before = queue_length(args.redis_url)
    generator = run_wrk if args.generator == "wrk" else run_python
    bare = Target("bare insert (POST /bench/bare/)", "/bench/bare/", "bare")
    submit = Target("submit (POST /l/<public_id>/, step 0)", f"/l/{public_id}/", "submit")
    every: dict[str, list[Load]] = {"bare": [], "submit": []}  # warm-ups included
    measured: dict[str, list[Load]] = {"bare": [], "submit": []}

    server = start_gunicorn(database_url, args.redis_url, port, args.workers)
    try:
        print(
            f"database: postgresql ({name}); gunicorn {args.workers} sync workers on {url}; "
            f"load: {args.generator}, {args.connections} connections"
            + (f", {args.threads} threads" if args.generator == "wrk" else " (processes)")
            + f"; {args.rounds} x {args.duration} s per target after {args.warmup} s of warm-up"
        )
        print(
            f"{'endpoint':<44} {'requests':>8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'errors':>7} {'socket':>7}"
        )
        for target in (bare, submit):
            every[target.kind].append(generator(url, target, qid, args, args.warmup))
        for number in range(args.rounds):
            for target in (bare, submit) if number % 2 == 0 else (submit, bare):
                load = generator(url, target, qid, args, args.duration)
                every[target.kind].append(load)
                measured[target.kind].append(load)
                label = target.label if args.rounds == 1 else f"{target.label} #{number + 1}"
                report(label, load)
    finally:
        stop(server)

    bare_load, submit_load = median_of(measured["bare"]), median_of(measured["submit"])
    if args.rounds > 1:
        report(f"median: {bare.label}", bare_load)
        report(f"median: {submit.label}", submit_load)
    print(
        f"ratio submit/bare: {submit_load.rate / bare_load.rate:.2f} of the requests/s; "
        f"p50 {submit_load.p50_ms / bare_load.p50_ms:.1f}x, "
        f"p99 {submit_load.p99_ms / bare_load.p99_ms:.1f}x"
    )
    responses, keys, waiting, rows = stored_counts()
    print(check("responses (warm-up included)", responses, every["submit"]))
    print(check("bench rows (warm-up included)", rows, every["bare"]))
    print(f"distinct idempotency keys: {keys:,}; outbox events waiting: {waiting:,}")
    queued = queue_length(args.redis_url) - queued_before
    print(
        f"outbox tasks queued in Redis ({args.redis_url}, queue {QUEUE!r}): {queued:,} "
        "(no worker ran during the bench; removed now)"
    )
    remove_queued(args.redis_url, queued_before, queued)
    connections.close_all()


def main() -> None:
    args = arguments()
    name = f"bench_submit_{os.getpid()}"
    database_url = create_database(args.admin_url, name, args.owner)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": args.redis_url,
        }
    )
    try:
        bench(args, database_url, name)
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        drop_database(args.admin_url, name)
        print(f"dropped database {name}")


if __name__ == "__main__":
    main()
