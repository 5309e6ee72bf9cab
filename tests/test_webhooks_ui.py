"""The webhook settings pages under /o/<org>/settings/webhooks/ (admins only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.test import Client

from integrations.models import WebhookDelivery, WebhookEndpoint
from tenants.context import tenant_context
from tenants.models import AuditLog, Role
from tests.conftest import Tenant
from tests.factories import webhook_attempt_factory, webhook_delivery_factory
from tests.fakes import FakeProvider, Reply

Capture = Callable[..., AbstractContextManager[Any]]


@pytest.fixture
def receiver() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        provider.default = Reply(body=b"ok")
        yield provider


def _base(tenant: Tenant) -> str:
    return tenant.url("settings/webhooks/")


def test_create_shows_the_secret_once_then_list_and_detail(
    tenant_a: Tenant, receiver: FakeProvider
) -> None:
    client = Client(enforce_csrf_checks=False)
    client.force_login(tenant_a.admin)
    assert client.get(_base(tenant_a) + "new/").status_code == 200
    created = client.post(
        _base(tenant_a) + "new/",
        {"url": receiver.url + "/hook", "description": "CRM", "events": ["case.created"]},
    )
    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    with tenant_context(tenant_a.organization):
        endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in created.content.decode()
    assert endpoint.events == ["case.created"]
    listing = client.get(_base(tenant_a)).content.decode()
    assert receiver.url + "/hook" in listing
    assert "Case created" in listing
    detail = client.get(f"{_base(tenant_a)}{endpoint.pk}/").content.decode()
    assert endpoint.secret not in detail
    assert endpoint.secret not in listing


def test_bad_form_input_names_the_field_and_writes_nothing(tenant_a: Tenant, settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    page = tenant_a.client.post(
        _base(tenant_a) + "new/", {"url": "https://192.168.0.3/x", "events": ["case.created"]}
    )
    assert page.status_code == 200
    assert "private network" in page.content.decode()
    no_events = tenant_a.client.post(_base(tenant_a) + "new/", {"url": "https://crm.example.com/"})
    assert no_events.status_code == 200
    with tenant_context(tenant_a.organization):
        assert not WebhookEndpoint.objects.exists()


def test_edit_disable_enable_rotate_ping_delete(
    tenant_a: Tenant, receiver: FakeProvider, django_capture_on_commit_callbacks: Capture
) -> None:
    client = tenant_a.client
    with tenant_context(tenant_a.organization):
        endpoint = WebhookEndpoint.objects.create(
            url=receiver.url, secret="whsec_old", events=["case.created"]
        )
    base = f"{_base(tenant_a)}{endpoint.pk}/"
    edited = client.post(
        base + "edit/", {"url": receiver.url + "/v2", "events": ["case.closed", "case.created"]}
    )
    assert edited.status_code == 302
    assert client.post(base + "active/", {"active": "off"}).status_code == 302
    with tenant_context(tenant_a.organization):
        endpoint.refresh_from_db()
    assert endpoint.url == receiver.url + "/v2"
    assert endpoint.events == ["case.created", "case.closed"]
    assert not endpoint.is_active
    assert client.post(base + "active/", {"active": "on"}).status_code == 302
    rotated = client.post(base + "rotate-secret/")
    with tenant_context(tenant_a.organization):
        endpoint.refresh_from_db()
    assert endpoint.is_active
    assert endpoint.previous_secret == "whsec_old"
    assert endpoint.secret in rotated.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(base + "ping/").status_code == 302
    [ping] = receiver.received
    assert ping.path == "/v2"
    assert ping.json["type"] == "ping"
    with tenant_context(tenant_a.organization):
        actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {
        "webhook.update",
        "webhook.disable",
        "webhook.enable",
        "webhook.rotate_secret",
        "webhook.ping",
    } <= actions
    assert client.post(base + "delete/").status_code == 302
    with tenant_context(tenant_a.organization):
        assert not WebhookEndpoint.objects.exists()


def test_delivery_log_filter_detail_and_redeliver(
    tenant_a: Tenant, receiver: FakeProvider, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        endpoint = WebhookEndpoint.objects.create(
            url=receiver.url, secret="whsec_x", events=["case.created"]
        )
        failed = webhook_delivery_factory(
            endpoint=endpoint,
            status="failed",
            last_status_code=500,
            last_latency_ms=42,
            attempts=9,
            payload={"id": "e1", "type": "case.created", "data": {"number": 7}},
        )
        webhook_attempt_factory(delivery=failed, status_code=500, response_excerpt="boom")
        ok = webhook_delivery_factory(endpoint=endpoint, status="succeeded")
    base = f"{_base(tenant_a)}{endpoint.pk}/"
    log = tenant_a.client.get(base + "?status=failed").content.decode()
    assert f"deliveries/{failed.pk}/" in log
    assert f"deliveries/{ok.pk}/" not in log
    assert "42 ms" in log
    detail = tenant_a.client.get(f"{base}deliveries/{failed.pk}/").content.decode()
    assert "boom" in detail
    assert str(failed.event_id) in detail
    assert "&quot;number&quot;: 7" in detail
    with django_capture_on_commit_callbacks(execute=True):
        answer = tenant_a.client.post(f"{base}deliveries/{failed.pk}/redeliver/")
    assert answer.status_code == 302
    with tenant_context(tenant_a.organization):
        copy = WebhookDelivery.objects.get(redelivery_of=failed)
    assert answer["Location"].endswith(f"deliveries/{copy.pk}/")
    assert copy.status == "succeeded"
    assert receiver.received[0].headers["Webhook-Id"] == str(failed.event_id)


@pytest.mark.parametrize("role", [Role.CX_MANAGER, Role.OWNER, Role.VIEWER])
def test_only_admins_manage_webhooks(tenant_a: Tenant, role: str) -> None:
    with tenant_context(tenant_a.organization):
        endpoint = WebhookEndpoint.objects.create(
            url="https://crm.example.com/", secret="whsec_x", events=["case.created"]
        )
        delivery = webhook_delivery_factory(endpoint=endpoint)
    client = tenant_a.client_for(tenant_a.member(role))
    base = f"{_base(tenant_a)}{endpoint.pk}/"
    for url in (
        _base(tenant_a),
        _base(tenant_a) + "new/",
        base,
        base + "edit/",
        f"{base}deliveries/{delivery.pk}/",
    ):
        assert client.get(url).status_code == 403, url
    for url in (base + "ping/", base + "delete/", base + "rotate-secret/", base + "active/"):
        assert client.post(url).status_code == 403, url
    assert tenant_a.client.get(_base(tenant_a)).status_code == 200
    assert tenant_a.client.get(base).status_code == 200
    # The settings navigation links the page for admins.
    nav = tenant_a.client.get(tenant_a.url("settings/api-keys/")).content.decode()
    assert _base(tenant_a) in nav
