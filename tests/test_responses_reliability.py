"""Reliability of response capture, proved under load and faults.

* Concurrency (PostgreSQL): twenty submits of one invitation, or twenty first submits of
  an open link with one idempotency key, released at once on their own connections,
  store one response (through the submit service, and through HTTP against the live
  server).
* Broker outage (PostgreSQL with Redis): a private redis-server is the Celery broker and
  is stopped (or frozen); the submit still succeeds quickly, its outbox event waits, and
  the beat sweep delivers it exactly once when the broker is back. A failing handler
  keeps the event with its error until a later sweep succeeds.
* Every database: a submit whose outbox write fails leaves no response behind and
  raises (nothing half-written, nothing silently lost).
"""

from __future__ import annotations

import logging
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
import requests
import time_machine
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from kombu import pools as kombu_pools

from config.celery import app as celery_app
from responses.events import outbox_handlers
from responses.models import OutboxEvent, Response
from responses.services import outbox_dispatch_due, response_submit
from responses.services.submit import SubmitResult
from responses.tasks import outbox_dispatch_task
from surveys.models import SurveyVersion
from surveys.models_distribution import Invitation, InvitationEvent, InvitationStatus
from tenants.context import tenant_context
from tenants.models import AuditLog
from tests.conftest import Tenant, is_postgres
from tests.factories import InvitationFactory, published_survey

CONCURRENCY = 20


@pytest.fixture
def postgres_only(transactional_db: None) -> None:
    if not is_postgres():
        pytest.skip("concurrent submits need PostgreSQL; SQLite serializes writers")


def _race(
    count: int, work: Callable[[Any], Any], prepare: Callable[[int], Any] = lambda n: n
) -> list[Any]:
    """In ``count`` threads, each with its own database connection (closed at the end):
    ``prepare(n)``, then all wait for each other, then ``work(prepared)`` at once.
    Returns the results; re-raises the first error."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            prepared = prepare(n)
            barrier.wait(timeout=30)
            results[n] = work(prepared)
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a submit did not finish"
    if errors:
        raise errors[0]
    return results


def _sent_invitation(version: SurveyVersion) -> Invitation:
    invitation: Any = InvitationFactory(
        survey_version=version,
        survey=version.survey,
        status=InvitationStatus.SENT,
        sent_at=timezone.now(),
    )
    return invitation


def _loaded(organization: Any, version_id: int) -> SurveyVersion:
    """The version as a view loads it (every thread reads its own copy)."""
    with tenant_context(organization):
        return SurveyVersion.objects.select_related("survey__touchpoint__journey").get(
            pk=version_id
        )


# --- Concurrency: the submit service ------------------------------------------------


def test_concurrent_submits_of_one_invitation_store_one_response(
    postgres_only: None, tenant_a: Tenant
) -> None:
    organization = tenant_a.organization
    with tenant_context(organization):
        version = published_survey()
        invitation = _sent_invitation(version)

    def load(n: int) -> tuple[SurveyVersion, Invitation]:
        loaded = _loaded(organization, version.pk)
        with tenant_context(organization):
            return loaded, Invitation.objects.get(pk=invitation.pk)

    def submit(loaded: tuple[SurveyVersion, Invitation]) -> SubmitResult:
        with tenant_context(organization):
            return response_submit(
                version=loaded[0],
                channel="email",
                language="en",
                answers={"recommend": 9},
                question_ids=["recommend"],
                complete=False,
                invitation=loaded[1],
            )

    results = _race(CONCURRENCY, submit, prepare=load)

    assert all(result.ok for result in results)
    assert sum(result.created for result in results) == 1
    assert len({result.response.pk for result in results}) == 1
    with tenant_context(organization):
        assert Response.objects.filter(invitation=invitation).count() == 1
        # One response event (the case it opened adds case events of its own).
        assert OutboxEvent.objects.filter(topic__startswith="response.").count() == 1
        answered = InvitationEvent.objects.filter(
            invitation=invitation, to_status=InvitationStatus.ANSWERED
        )
        assert answered.count() == 1
        assert Invitation.objects.get(pk=invitation.pk).status == InvitationStatus.ANSWERED


def test_concurrent_first_submits_with_one_idempotency_key_store_one_response(
    postgres_only: None, tenant_a: Tenant
) -> None:
    organization = tenant_a.organization
    with tenant_context(organization):
        version = published_survey(open_link_enabled=True)
    key = uuid.uuid4().hex

    def submit(loaded: SurveyVersion) -> SubmitResult:
        with tenant_context(organization):
            return response_submit(
                version=loaded,
                channel="link",
                language="en",
                answers={"recommend": 4},
                question_ids=["recommend"],
                complete=False,
                idempotency_key=key,
            )

    results = _race(CONCURRENCY, submit, prepare=lambda n: _loaded(organization, version.pk))

    assert all(result.ok for result in results)
    assert sum(result.created for result in results) == 1
    assert len({result.response.pk for result in results}) == 1
    with tenant_context(organization):
        response = Response.objects.get()
        assert response.idempotency_key == key
        assert (response.nps, response.nps_group, response.status) == (4, "detractor", "partial")
        topics = OutboxEvent.objects.filter(topic__startswith="response.")
        assert list(topics.values_list("topic", flat=True)) == ["response.created"]


# --- Concurrency: through HTTP -------------------------------------------------------


def _post_together(url: str, data: dict[str, str]) -> list[int]:
    """POST ``data`` to ``url`` from CONCURRENCY threads at once; the status codes."""

    def post(_n: int) -> int:
        return requests.post(url, data=data, allow_redirects=False, timeout=30).status_code

    return _race(CONCURRENCY, post)


@pytest.fixture
def no_rate_limits(settings: Any) -> None:
    settings.PUBLIC_RATE_LIMIT_PER_IP = 0
    settings.PUBLIC_RATE_LIMIT_PER_TOKEN = 0


def test_concurrent_http_posts_of_one_invitation_store_one_response(
    postgres_only: None, live_server: Any, tenant_a: Tenant, no_rate_limits: None
) -> None:
    with tenant_context(tenant_a.organization):
        invitation = _sent_invitation(published_survey())

    statuses = _post_together(
        f"{live_server.url}/s/{invitation.token}/", {"recommend": "9", "step": "0"}
    )

    assert set(statuses) <= {200, 303}, statuses
    with tenant_context(tenant_a.organization):
        assert Response.objects.filter(invitation=invitation).count() == 1
        assert (
            InvitationEvent.objects.filter(
                invitation=invitation, to_status=InvitationStatus.ANSWERED
            ).count()
            == 1
        )


def test_concurrent_http_first_posts_of_an_open_link_store_one_response(
    postgres_only: None, live_server: Any, tenant_a: Tenant, no_rate_limits: None
) -> None:
    with tenant_context(tenant_a.organization):
        survey = published_survey(open_link_enabled=True).survey

    statuses = _post_together(
        f"{live_server.url}/l/{survey.public_id}/",
        {"recommend": "9", "step": "0", "idempotency_key": uuid.uuid4().hex},
    )

    assert set(statuses) <= {200, 303}, statuses
    with tenant_context(tenant_a.organization):
        assert Response.objects.count() == 1


# --- Broker outage (PostgreSQL with Redis) --------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server of this test only (the shared one is never touched)."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a frozen server cannot exit
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def freeze(self) -> None:
        """The broker that hangs: connections are accepted, nothing is answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def queued(self, queue: str = "default") -> int:
        return int(redis.Redis(port=self.port, socket_timeout=2).llen(queue))


def _reset_producer_pools() -> None:
    """Drop Celery's connection and producer pools, so the next publish connects to the
    broker the configuration names now."""
    app: Any = celery_app  # the pools are private attributes (no type stubs)
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    # kombu keeps producer pools per connection in a global registry: a pool closed
    # above would be handed out again for the same broker URL.
    kombu_pools.reset()


@pytest.fixture
def private_broker(db: None) -> Iterator[PrivateRedis]:
    """A private Redis as Celery's broker; tasks are published, not run eagerly."""
    binary = shutil.which("redis-server")
    if not (is_postgres() and django_settings.REDIS_URL):
        pytest.skip("the broker outage test runs in the PostgreSQL + Redis configuration")
    if binary is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(binary)
    server.start()
    broker_url = celery_app.conf.broker_url
    celery_app.conf.update(broker_url=server.url)
    celery_app.conf.task_always_eager = False  # conftest puts it back
    _reset_producer_pools()
    try:
        yield server
    finally:
        server.stop()
        _reset_producer_pools()
        celery_app.conf.update(broker_url=broker_url)


@pytest.fixture
def recorded() -> Iterator[list[int]]:
    """The ids of the events a registered outbox handler saw, in order."""
    seen: list[int] = []

    def record(event: OutboxEvent) -> None:
        seen.append(event.pk)

    outbox_handlers.register(record)
    yield seen
    outbox_handlers.unregister(record)


def _submit_link(version: SurveyVersion, score: int) -> Response:
    result = response_submit(
        version=version,
        channel="link",
        language="en",
        answers={"recommend": score},
        idempotency_key=uuid.uuid4().hex,
    )
    assert result.ok, result.errors
    assert result.response is not None
    return result.response


def _event_of(response: Response) -> OutboxEvent:
    return OutboxEvent.objects.get(response=response)


def test_a_broker_outage_loses_no_event_and_the_sweep_delivers_it_once(
    private_broker: PrivateRedis,
    tenant_a: Tenant,
    recorded: list[int],
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    organization = tenant_a.organization
    with tenant_context(organization):
        version = published_survey()
        # The broker is up: the event is published (and will be lost with the broker).
        with django_capture_on_commit_callbacks(execute=True):
            before = _submit_link(version, 10)
        assert private_broker.queued() == 1

        private_broker.stop()
        started = time.monotonic()
        with (
            caplog.at_level(logging.WARNING, logger="responses.services.submit"),
            django_capture_on_commit_callbacks(execute=True) as callbacks,
        ):
            during = _submit_link(version, 2)
        took = time.monotonic() - started

        assert len(callbacks) == 1  # the publish ran, failed, and was logged
        assert "left for the sweep: broker unavailable" in caplog.text
        assert took < 0.5, f"the submit waited {took:.2f} s on a dead broker"
        assert Response.objects.filter(pk=during.pk).exists()
        assert _event_of(during).dispatched_at is None
    assert recorded == []

    private_broker.start()  # empty: what was queued before the outage is gone
    assert private_broker.queued() == 0
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        assert outbox_dispatch_due() == 2
        assert outbox_dispatch_due() == 0
    with tenant_context(organization):
        events = [_event_of(before), _event_of(during)]
    assert all(event.dispatched_at is not None for event in events)
    assert sorted(recorded) == sorted(event.pk for event in events)
    # A worker that still runs a copy of the task later handles nothing twice.
    assert outbox_dispatch_task.apply(
        kwargs={"organization_id": organization.pk, "event_id": events[1].pk}
    ).get()
    assert sorted(recorded) == sorted(event.pk for event in events)


@pytest.mark.timeout(60)
def test_a_frozen_broker_holds_a_submit_for_about_the_socket_timeout(
    private_broker: PrivateRedis, tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    """A broker that accepts connections and never answers (a hung host, a silent
    network drop): without socket timeouts the publish would wait forever."""
    options = celery_app.conf.broker_transport_options or {}
    assert options.get("socket_timeout"), "without a socket timeout the publish waits forever"
    socket_timeout = float(options["socket_timeout"])
    with tenant_context(tenant_a.organization):
        version = published_survey()
        with django_capture_on_commit_callbacks(execute=True):
            _submit_link(version, 8)  # a pooled connection to the broker exists
        private_broker.freeze()
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            response = _submit_link(version, 3)
        took = time.monotonic() - started
        assert _event_of(response).dispatched_at is None
    assert took < socket_timeout + 1.5, f"the submit waited {took:.2f} s on a frozen broker"


# --- A failing handler is retried by the sweep (every database) -----------------------


def test_a_failing_handler_keeps_the_event_until_a_later_sweep_succeeds(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    attempts: list[int] = []

    def flaky(event: OutboxEvent) -> None:
        if not event.topic.startswith("response."):
            return  # the case the response opened publishes its own events
        attempts.append(event.pk)
        # A write of the handler: it must roll back with the failure.
        AuditLog.objects.create(
            actor_label="test", action="outbox.handled", object_type="response", object_id="1"
        )
        if len(attempts) == 1:
            raise ConnectionError("routing is down")

    outbox_handlers.register(flaky)
    try:
        with tenant_context(tenant_a.organization):
            version = published_survey()
            # Celery runs eagerly in tests: the task scheduled on commit runs right here.
            with django_capture_on_commit_callbacks(execute=True):
                response = _submit_link(version, 1)
            event = _event_of(response)
            assert (event.dispatched_at, event.attempts) == (None, 1)
            assert event.last_error == "ConnectionError: routing is down"
            assert event.next_attempt_at > timezone.now()
            assert not AuditLog.objects.filter(action="outbox.handled").exists()

        assert outbox_dispatch_due() == 0  # backing off: not due yet
        with time_machine.travel(timezone.now() + timedelta(minutes=1)):
            assert outbox_dispatch_due() == 1
            assert outbox_dispatch_due() == 0
        with time_machine.travel(timezone.now() + timedelta(hours=2)):
            outbox_dispatch_due()  # only the events of the case it opened are left

        with tenant_context(tenant_a.organization):
            event.refresh_from_db()
            assert AuditLog.objects.filter(action="outbox.handled").count() == 1
        assert event.dispatched_at is not None
        assert (event.attempts, event.last_error) == (2, "")
        assert attempts == [event.pk, event.pk]
    finally:
        outbox_handlers.unregister(flaky)


# --- Nothing half-written (every database) --------------------------------------------


def test_a_failed_outbox_write_leaves_no_response_and_raises(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey()
        invitation = _sent_invitation(version)

    def broken(**kwargs: Any) -> OutboxEvent:
        raise RuntimeError("outbox table unavailable")

    monkeypatch.setattr(OutboxEvent.objects, "create", broken)
    for kwargs in ({"invitation": invitation}, {"idempotency_key": "retry-me"}):
        with (
            pytest.raises(RuntimeError, match="outbox table unavailable"),
            tenant_context(tenant_a.organization),
        ):
            response_submit(
                version=version,
                channel="email" if "invitation" in kwargs else "link",
                language="en",
                answers={"recommend": 9},
                **kwargs,
            )
    with tenant_context(tenant_a.organization):
        assert Response.objects.count() == 0
        assert OutboxEvent.objects.count() == 0
        assert Invitation.objects.get(pk=invitation.pk).status == InvitationStatus.SENT
        assert not InvitationEvent.objects.filter(invitation=invitation).exists()

    # The customer's retry (same idempotency key) stores the response in full.
    monkeypatch.undo()
    with tenant_context(tenant_a.organization):
        result = response_submit(
            version=version,
            channel="link",
            language="en",
            answers={"recommend": 9},
            idempotency_key="retry-me",
        )
        assert result.created
        assert Response.objects.count() == 1
        assert OutboxEvent.objects.count() == 1
