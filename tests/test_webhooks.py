"""Signed outbound webhooks: what events produce, how they are signed, retried,
disabled and redelivered (docs/integrations/webhooks.md).

Receivers are real HTTP servers on loopback (tests/fakes.py) spoken to with
``requests``; each request is verified with the documented signature scheme.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client

from closedloop.models import Case
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from integrations.services import webhooks as webhook_services
from integrations.services.webhooks import (
    DISABLE_AFTER,
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_ping,
    webhook_redeliver,
)
from integrations.tasks import webhook_deliver_task, webhook_deliveries_due_task
from responses.models import OutboxEvent
from responses.services.outbox import outbox_dispatch
from surveys.models import Invitation
from surveys.services.invitations import invitation_transition
from tenants.context import tenant_context
from tenants.models import AuditLog, Role
from tenants.services import Actor
from tests.conftest import Tenant
from tests.distribution_support import make_contact, published_survey, scheduled_invitation
from tests.factories import ContactFactory, case_factory
from tests.fakes import FakeProvider, Received, Reply

START = datetime(2026, 5, 11, 8, 0, tzinfo=UTC)
Capture = Callable[..., AbstractContextManager[Any]]


@pytest.fixture
def receiver() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        provider.default = Reply(body=b"ok")
        yield provider


def verify(secret: str, request: Received, now: float) -> dict[str, Any]:
    """The documented check: HMAC-SHA256 of "<timestamp>.<body>", 5 minutes' tolerance."""
    timestamp = request.headers["Webhook-Timestamp"]
    assert abs(now - int(timestamp)) <= 300
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    signatures = [part for part in request.headers["Webhook-Signature"].split() if part]
    assert any(hmac.compare_digest(s, f"v1={expected}") for s in signatures), signatures
    event: dict[str, Any] = json.loads(request.body)
    assert request.headers["Webhook-Id"] == event["id"]
    return event


def _admin_actor(tenant: Tenant) -> Actor:
    return Actor.of_user(tenant.admin)


def _endpoint(tenant: Tenant, url: str, events: list[str] | None = None) -> WebhookEndpoint:
    return webhook_endpoint_create(
        actor=_admin_actor(tenant),
        url=url,
        events=events or ["case.created", "response.completed"],
        description="CRM",
    )


def _open_case(capture: Capture, **kwargs: Any) -> Case:
    with capture(execute=True):
        return case_factory(contact=ContactFactory(crm_id="C-4711"), **kwargs)


# --- Events and payloads ----------------------------------------------------------------


def test_case_and_response_events_arrive_signed(
    tenant_a: Tenant, receiver: FakeProvider, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        endpoint = _endpoint(tenant_a, receiver.url + "/hooks")
        other = _endpoint(tenant_a, receiver.url + "/closed-only", events=["case.closed"])
        with time_machine.travel(START, tick=False):
            case = _open_case(django_capture_on_commit_callbacks)
        case.refresh_from_db()
    by_type = {verify(endpoint.secret, r, START.timestamp())["type"]: r for r in receiver.received}
    assert set(by_type) == {"case.created", "response.completed"}
    assert all(r.path == "/hooks" for r in receiver.received)  # not the closed-only one
    request = by_type["case.created"]
    assert request.headers["User-Agent"] == "FeedbackPlatform-Webhooks/1"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Webhook-Timestamp"] == str(int(START.timestamp()))
    body = request.json
    assert set(body) == {"id", "type", "created_at", "organization", "data"}
    assert body["organization"] == "alpha"
    assert body["created_at"] == "2026-05-11T08:00:00+00:00"
    data = body["data"]
    assert data["number"] == case.number
    assert data["status"] == "new"
    assert data["priority"] == {1: "low", 2: "normal", 3: "high", 4: "urgent"}[case.priority]
    assert data["contact"] == {"id": case.contact_id, "crm_id": "C-4711"}
    assert data["response"]["id"] == case.response_id
    assert data["response"]["nps"] == 2
    assert data["change"]["kind"] == "opened"
    response = by_type["response.completed"].json["data"]
    assert response["id"] == case.response_id
    assert response["nps_group"] == "detractor"
    assert response["contact"]["crm_id"] == "C-4711"
    assert "answers" not in response
    assert "comment" not in response
    with tenant_context(tenant_a.organization):
        rows = list(WebhookDelivery.objects.filter(endpoint=endpoint))
        assert {(d.status, d.attempts, d.last_status_code) for d in rows} == {("succeeded", 1, 200)}
        assert not WebhookDelivery.objects.filter(endpoint=other).exists()
        assert WebhookAttempt.objects.filter(delivery__in=rows).count() == 2
        endpoint.refresh_from_db()
        assert endpoint.last_success_at == START


def test_handling_an_event_again_creates_no_second_delivery(
    tenant_a: Tenant, receiver: FakeProvider, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        _endpoint(tenant_a, receiver.url, events=["case.created"])
        case = _open_case(django_capture_on_commit_callbacks)
        opened = OutboxEvent.objects.get(topic="case.created", payload__case_id=case.pk)
        OutboxEvent.objects.filter(pk=opened.pk).update(dispatched_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_dispatch(organization_id=tenant_a.organization.pk, event_id=opened.pk)
    assert len(receiver.received) == 1
    with tenant_context(tenant_a.organization):
        assert WebhookDelivery.objects.count() == 1


def test_disabled_or_unsubscribed_endpoints_get_nothing(
    tenant_a: Tenant, receiver: FakeProvider, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        off = _endpoint(tenant_a, receiver.url + "/off")
        WebhookEndpoint.objects.filter(pk=off.pk).update(is_active=False)
        _endpoint(tenant_a, receiver.url + "/other", events=["contact.opted_out"])
        _open_case(django_capture_on_commit_callbacks)
        assert WebhookDelivery.objects.count() == 0
    assert receiver.received == []


def test_unsubscribe_link_publishes_contact_opted_out_once(
    tenant_a: Tenant, receiver: FakeProvider, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        endpoint = _endpoint(tenant_a, receiver.url, events=["contact.opted_out"])
        contact = make_contact("C-9", email="kim@example.com", grant=("email",))
        invitation = scheduled_invitation(contact, published_survey(), channel="email")
        invitation_transition(invitation=invitation, to_status="sent", reason="test")
    with django_capture_on_commit_callbacks(execute=True):
        assert Client().post(f"/u/{invitation.token}/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):  # a second click: no new opt-out
        assert Client().post(f"/u/{invitation.token}/").status_code == 200
    [request] = receiver.received
    event = verify(endpoint.secret, request, datetime.now(UTC).timestamp())
    assert event["type"] == "contact.opted_out"
    data = event["data"]
    assert data["contact"] == {"id": contact.pk, "crm_id": "C-9"}
    assert data["channel"] == "email"
    assert data["source"] == "unsubscribe_link"
    assert datetime.fromisoformat(data["occurred_at"]).tzinfo is not None
    assert "kim@example.com" not in request.body.decode()


def test_anymail_bounce_publishes_invitation_bounced(
    tenant_a: Tenant,
    receiver: FakeProvider,
    settings: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret"}
    with tenant_context(tenant_a.organization):
        endpoint = _endpoint(
            tenant_a, receiver.url, events=["invitation.bounced", "contact.opted_out"]
        )
        contact = make_contact("C-7", email="kim@example.com", grant=("email",))
        invitation = scheduled_invitation(contact, published_survey(), channel="email")
        invitation_transition(
            invitation=invitation,
            to_status="sent",
            reason="test",
            provider="postmark",
            provider_message_id="pm-9",
        )
    bounce = {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "TypeCode": 1,
        "MessageID": "pm-9",
        "Email": "kim@example.com",
        "BouncedAt": "2026-11-23T10:00:00Z",
        "Description": "The server was unable to deliver your message",
    }
    auth = base64.b64encode(b"hook:s3cret").decode()
    with django_capture_on_commit_callbacks(execute=True):
        answer = Client().post(
            "/integrations/anymail/postmark/tracking/",
            data=bounce,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Basic {auth}",
        )
    assert answer.status_code == 200
    events = {
        e["type"]: e
        for e in (
            verify(endpoint.secret, r, datetime.now(UTC).timestamp()) for r in receiver.received
        )
    }
    assert set(events) == {"invitation.bounced", "contact.opted_out"}
    data = events["invitation.bounced"]["data"]
    assert data["invitation"]["id"] == invitation.pk
    assert data["invitation"]["status"] == "bounced"
    assert data["invitation"]["channel"] == "email"
    assert data["contact"] == {"id": contact.pk, "crm_id": "C-7"}
    assert data["provider"] == "postmark"
    assert events["contact.opted_out"]["data"]["source"] == "bounce"
    with tenant_context(tenant_a.organization):
        assert Invitation.objects.get(pk=invitation.pk).status == "bounced"


# --- Retries ---------------------------------------------------------------------------------


def test_a_receiver_that_fails_twice_gets_exactly_one_successful_delivery(
    tenant_a: Tenant, receiver: FakeProvider, django_capture_on_commit_callbacks: Capture
) -> None:
    receiver.queue(Reply(status=503, body=b"busy"), Reply(status=500, body=b"oops"))
    with tenant_context(tenant_a.organization):
        endpoint = _endpoint(tenant_a, receiver.url, events=["case.created"])
    with time_machine.travel(START, tick=False) as clock:
        with tenant_context(tenant_a.organization):
            _open_case(django_capture_on_commit_callbacks)
            delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
            "pending",
            1,
            503,
        )
        assert timedelta(minutes=1) <= delivery.next_attempt_at - START <= timedelta(seconds=66)
        webhook_deliveries_due_task.apply()  # not due yet
        assert len(receiver.received) == 1
        clock.move_to(delivery.next_attempt_at)
        webhook_deliveries_due_task.apply()
        with tenant_context(tenant_a.organization):
            delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
            "pending",
            2,
            500,
        )
        assert delivery.next_attempt_at - START >= timedelta(minutes=3)
        clock.move_to(delivery.next_attempt_at)
        webhook_deliveries_due_task.apply()
        webhook_deliveries_due_task.apply()  # nothing left to send
        # A duplicated task for the finished row sends nothing.
        assert (
            webhook_deliver_task.apply(
                kwargs={"organization_id": tenant_a.organization.pk, "delivery_id": delivery.pk}
            ).result
            == "skipped"
        )
    assert [r.json["id"] for r in receiver.received] == [str(delivery.event_id)] * 3
    for request in receiver.received:
        verify(endpoint.secret, request, int(request.headers["Webhook-Timestamp"]))
    with tenant_context(tenant_a.organization):
        delivery.refresh_from_db()
        attempts = list(WebhookAttempt.objects.filter(delivery=delivery))
        endpoint.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 3, 200)
    assert [(a.status_code, a.response_excerpt) for a in attempts] == [
        (503, "busy"),
        (500, "oops"),
        (200, "ok"),
    ]
    assert all(a.latency_ms is not None for a in attempts)
    assert endpoint.failure_streak == 0


def test_a_delivery_stuck_in_sending_is_sent_again_by_the_sweep(
    tenant_a: Tenant, receiver: FakeProvider
) -> None:
    with tenant_context(tenant_a.organization):
        endpoint = _endpoint(tenant_a, receiver.url)
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            topic="ping",
            payload={"id": "x"},
            status="sending",
            claimed_at=START,
            attempts=1,
            created_at=START,
        )
    with time_machine.travel(START + timedelta(minutes=4), tick=False):
        assert webhook_deliveries_due_task.apply().result == 0
    with time_machine.travel(START + timedelta(minutes=6), tick=False):
        assert webhook_deliveries_due_task.apply().result == 1
    with tenant_context(tenant_a.organization):
        delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    assert len(receiver.received) == 1


def test_repeated_permanent_failures_disable_the_endpoint_and_email_the_admins(
    tenant_a: Tenant, receiver: FakeProvider, django_capture_on_commit_callbacks: Capture
) -> None:
    receiver.default = Reply(status=500, body=b"down")
    second_admin = tenant_a.member(Role.ADMIN, email="root@alpha.example")
    tenant_a.member(Role.CX_MANAGER, email="cx@alpha.example")
    tenant_a.admin.email = "admin@alpha.example"
    tenant_a.admin.save()
    with tenant_context(tenant_a.organization):
        endpoint = _endpoint(tenant_a, receiver.url)
        with time_machine.travel(START, tick=False):
            for _ in range(DISABLE_AFTER):
                webhook_ping(actor=_admin_actor(tenant_a), endpoint=endpoint)
            waiting = WebhookDelivery.objects.create(
                endpoint=endpoint,
                topic="ping",
                payload={},
                next_attempt_at=START + timedelta(days=9),
            )
    now = START
    with django_capture_on_commit_callbacks(execute=True):
        while now < START + timedelta(hours=26):
            with time_machine.travel(now, tick=False):
                webhook_deliveries_due_task.apply()
            now += timedelta(minutes=30)
    with tenant_context(tenant_a.organization):
        endpoint.refresh_from_db()
        statuses = list(WebhookDelivery.objects.values_list("status", flat=True))
        waiting.refresh_from_db()
        audit = AuditLog.objects.filter(action="webhook.disable").get()
    assert not endpoint.is_active
    assert endpoint.disabled_at is not None
    assert "5 deliveries in a row failed" in endpoint.disabled_reason
    assert endpoint.failure_streak == DISABLE_AFTER
    assert set(statuses) == {"failed"}
    assert waiting.last_error == "endpoint disabled"
    assert audit.actor_label == "system"
    recipients = sorted(m.to[0] for m in mail.outbox)
    assert recipients == sorted(["admin@alpha.example", second_admin.email])
    assert "Webhook switched off" in mail.outbox[0].subject
    assert f"/o/alpha/settings/webhooks/{endpoint.pk}/" in mail.outbox[0].body
    # Attempts stopped once each delivery passed its 24 hours.
    sent = len(receiver.received)
    with time_machine.travel(now + timedelta(hours=2), tick=False):
        webhook_deliveries_due_task.apply()
        with tenant_context(tenant_a.organization), pytest.raises(ValidationError):
            webhook_ping(actor=_admin_actor(tenant_a), endpoint=endpoint)
    assert len(receiver.received) == sent


# --- Redelivery, ping, rotation --------------------------------------------------------------


def test_redelivery_keeps_the_event_id_and_payload(
    tenant_a: Tenant, receiver: FakeProvider, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        _endpoint(tenant_a, receiver.url, events=["case.created"])
        _open_case(django_capture_on_commit_callbacks)
        first = WebhookDelivery.objects.get()
        with django_capture_on_commit_callbacks(execute=True):
            copy = webhook_redeliver(actor=_admin_actor(tenant_a), delivery=first)
        copy.refresh_from_db()
    assert copy.redelivery_of_id == first.pk
    assert copy.event_id == first.event_id
    assert copy.payload == first.payload
    assert copy.status == "succeeded"
    first_request, again = receiver.received
    assert first_request.headers["Webhook-Id"] == again.headers["Webhook-Id"] == str(first.event_id)
    assert first_request.body == again.body


def test_ping_and_rotated_secret_sign_with_both_secrets_for_a_day(
    tenant_a: Tenant, receiver: FakeProvider, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        endpoint = _endpoint(tenant_a, receiver.url)
        old = endpoint.secret
        with time_machine.travel(START, tick=False):
            rotated = webhook_endpoint_rotate_secret(
                actor=_admin_actor(tenant_a), endpoint=endpoint
            )
            with django_capture_on_commit_callbacks(execute=True):
                webhook_ping(actor=_admin_actor(tenant_a), endpoint=rotated)
        later = START + timedelta(hours=25)
        with (
            time_machine.travel(later, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            webhook_ping(actor=_admin_actor(tenant_a), endpoint=rotated)
    assert rotated.secret != old
    assert rotated.secret.startswith("whsec_")
    during, after = receiver.received
    assert during.json["type"] == "ping"
    assert during.json["data"]["endpoint_id"] == endpoint.pk
    assert len(during.headers["Webhook-Signature"].split()) == 2
    verify(rotated.secret, during, START.timestamp())
    verify(old, during, START.timestamp())
    assert len(after.headers["Webhook-Signature"].split()) == 1
    verify(rotated.secret, after, (START + timedelta(hours=25)).timestamp())


# --- SSRF ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.5/hook",
        "https://192.168.1.10/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://224.0.0.1/hook",
        "https://localhost/hook",
        "http://crm.example.com/hook",  # plain http
    ],
)
def test_private_network_urls_are_refused_when_the_setting_is_off(
    tenant_a: Tenant, settings: Any, monkeypatch: Any, url: str
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    monkeypatch.setattr(
        webhook_services,
        "_resolve",
        lambda host, port: ["127.0.0.1"] if host == "localhost" else ["93.184.215.14"],
    )
    with tenant_context(tenant_a.organization), pytest.raises(ValidationError) as refused:
        _endpoint(tenant_a, url)
    assert "url" in refused.value.message_dict
    with tenant_context(tenant_a.organization):
        assert not WebhookEndpoint.objects.exists()


def test_a_public_https_url_is_accepted_and_checked_again_at_send_time(
    tenant_a: Tenant, settings: Any, monkeypatch: Any
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    addresses = ["93.184.215.14"]
    monkeypatch.setattr(webhook_services, "_resolve", lambda host, port: addresses)
    with tenant_context(tenant_a.organization):
        endpoint = _endpoint(tenant_a, "https://crm.example.com/hook")
        delivery = WebhookDelivery.objects.create(endpoint=endpoint, topic="ping", payload={})
    addresses[:] = ["10.1.2.3"]  # the DNS answer changed since
    result = webhook_deliver_task.apply(
        kwargs={"organization_id": tenant_a.organization.pk, "delivery_id": delivery.pk}
    ).result
    assert result == "retry"
    with tenant_context(tenant_a.organization):
        attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("refused: The URL points into a private network")
