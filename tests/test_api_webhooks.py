"""The webhooks API: /api/v1/webhooks/ and its deliveries, ping and redelivery."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.test import Client

from integrations.models import WebhookDelivery, WebhookEndpoint
from tenants.context import tenant_context
from tests.conftest import Tenant, is_postgres
from tests.factories import api_key_with_secret, webhook_delivery_factory, webhook_endpoint_factory

START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
API = "/api/v1/webhooks/"


def _auth(raw_key: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}


def _post(tenant: Tenant, path: str, body: Any = None, **headers: Any) -> Any:
    return Client().post(
        path, data=body or {}, content_type="application/json", **_auth(tenant.raw_key), **headers
    )


def test_register_answers_the_secret_once_and_lists_without_it(tenant_a: Tenant) -> None:
    body = {
        "url": "http://127.0.0.1:9000/",
        "events": ["case.created", "response.completed"],
        "description": "CRM round trip",
    }
    with time_machine.travel(START, tick=False):
        created = _post(tenant_a, API, body)
    assert created.status_code == 201, created.content
    data = created.json()
    with tenant_context(tenant_a.organization):
        endpoint = WebhookEndpoint.objects.get()
    assert data == {
        "id": endpoint.pk,
        "url": "http://127.0.0.1:9000/",
        "description": "CRM round trip",
        "events": ["response.completed", "case.created"],
        "is_active": True,
        "disabled_at": None,
        "disabled_reason": "",
        "failure_streak": 0,
        "last_success_at": None,
        "last_failure_at": None,
        "created_at": "2026-11-23T14:00:00Z",
        "updated_at": "2026-11-23T14:00:00Z",
        "secret": endpoint.secret,
    }
    assert endpoint.secret.startswith("whsec_")
    assert len(endpoint.secret) == 38
    listed = Client().get(API, **_auth(tenant_a.raw_key)).json()
    assert listed["results"] == [{k: v for k, v in data.items() if k != "secret"}]
    detail = Client().get(f"{API}{endpoint.pk}/", **_auth(tenant_a.raw_key)).json()
    assert "secret" not in detail


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["case.created"]}, "url"),
        ({"url": "ftp://crm.example.com/", "events": ["case.created"]}, "url"),
        ({"url": "https://crm.example.com/", "events": []}, "events"),
        ({"url": "https://crm.example.com/", "events": ["case.exploded"]}, "events"),
        (
            {
                "url": "https://crm.example.com/",
                "events": ["case.created"],
                "description": "x" * 201,
            },
            "description",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(
    tenant_a: Tenant, body: dict[str, Any], field: str
) -> None:
    response = _post(tenant_a, API, body)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert field in response.json()["errors"]
    with tenant_context(tenant_a.organization):
        assert not WebhookEndpoint.objects.exists()


def test_private_network_url_is_a_400_when_not_allowed(tenant_a: Tenant, settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    response = _post(tenant_a, API, {"url": "https://10.0.0.7/hook", "events": ["case.created"]})
    assert response.status_code == 400
    assert "private network" in response.json()["errors"]["url"][0]


def test_scopes(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        _key, read_only = api_key_with_secret(scopes=["webhooks:read"])
        _key, none = api_key_with_secret(scopes=["cases:read"])
        endpoint = webhook_endpoint_factory()
    body = {"url": "https://crm.example.com/", "events": ["case.created"]}
    client = Client()
    assert client.get(API, **_auth(read_only)).status_code == 200
    assert client.get(API, **_auth(none)).status_code == 403
    assert (
        client.post(API, body, content_type="application/json", **_auth(read_only)).status_code
        == 403
    )
    for method in ("patch", "delete"):
        answer = getattr(client, method)(
            f"{API}{endpoint.pk}/", {}, content_type="application/json", **_auth(read_only)
        )
        assert answer.status_code == 403
    assert client.post(f"{API}{endpoint.pk}/ping/", **_auth(read_only)).status_code == 403
    assert client.get(f"{API}{endpoint.pk}/deliveries/", **_auth(none)).status_code == 403


def test_idempotent_register(tenant_a: Tenant) -> None:
    body = {"url": "https://crm.example.com/", "events": ["case.created"]}
    key = str(uuid.uuid4())
    first = _post(tenant_a, API, body, HTTP_IDEMPOTENCY_KEY=key)
    again = _post(tenant_a, API, body, HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    with tenant_context(tenant_a.organization):
        assert WebhookEndpoint.objects.count() == 1


def test_patch_changes_and_disables_and_delete_removes(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        endpoint = webhook_endpoint_factory()
        pending = webhook_delivery_factory(endpoint=endpoint)
    client = Client()
    url = f"{API}{endpoint.pk}/"
    changed = client.patch(
        url,
        {"events": ["case.closed"], "description": "closed only", "is_active": False},
        content_type="application/json",
        **_auth(tenant_a.raw_key),
    )
    assert changed.status_code == 200, changed.content
    data = changed.json()
    assert (data["events"], data["description"], data["is_active"]) == (
        ["case.closed"],
        "closed only",
        False,
    )
    assert data["disabled_reason"] == "Disabled by hand."
    with tenant_context(tenant_a.organization):
        pending.refresh_from_db()
    assert pending.status == "failed"
    bad = client.patch(
        url, {"url": "nope"}, content_type="application/json", **_auth(tenant_a.raw_key)
    )
    assert bad.status_code == 400
    assert "url" in bad.json()["errors"]
    assert client.post(f"{url}ping/", **_auth(tenant_a.raw_key)).status_code == 409
    enabled = client.patch(
        url, {"is_active": True}, content_type="application/json", **_auth(tenant_a.raw_key)
    )
    assert enabled.json()["is_active"] is True
    assert client.delete(url, **_auth(tenant_a.raw_key)).status_code == 204
    with tenant_context(tenant_a.organization):
        assert not WebhookEndpoint.objects.exists()
        assert not WebhookDelivery.objects.exists()


def test_deliveries_filter_paginate_and_stay_lean(
    tenant_a: Tenant, django_assert_max_num_queries: Any
) -> None:
    with tenant_context(tenant_a.organization):
        endpoint = webhook_endpoint_factory()
        other = webhook_endpoint_factory()
        failed = [
            webhook_delivery_factory(endpoint=endpoint, status="failed", topic="case.created")
            for _ in range(3)
        ]
        ok = webhook_delivery_factory(
            endpoint=endpoint, status="succeeded", topic="response.completed"
        )
        webhook_delivery_factory(endpoint=other, status="failed")
    url = f"{API}{endpoint.pk}/deliveries/"
    client = Client()
    with django_assert_max_num_queries(14 if is_postgres() else 8):
        everything = client.get(url, **_auth(tenant_a.raw_key)).json()
    assert [d["id"] for d in everything["results"]] == [ok.pk, *(d.pk for d in reversed(failed))]
    first = everything["results"][0]
    assert set(first) == {
        "id", "event_id", "topic", "status", "attempts", "next_attempt_at", "last_status_code",
        "last_latency_ms", "last_error", "redelivery_of", "created_at", "delivered_at", "payload",
    }  # fmt: skip
    assert first["next_attempt_at"] is None
    only_failed = client.get(url + "?status=failed&limit=2", **_auth(tenant_a.raw_key)).json()
    assert [d["id"] for d in only_failed["results"]] == [failed[2].pk, failed[1].pk]
    rest = client.get(only_failed["next"], **_auth(tenant_a.raw_key)).json()
    assert [d["id"] for d in rest["results"]] == [failed[0].pk]
    assert rest["next"] is None
    by_topic = client.get(url + "?topic=response.completed", **_auth(tenant_a.raw_key)).json()
    assert [d["id"] for d in by_topic["results"]] == [ok.pk]
    bad = client.get(url + "?status=lost", **_auth(tenant_a.raw_key))
    assert bad.status_code == 400
    assert "status" in bad.json()["errors"]


def test_redeliver_and_ping(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        endpoint = webhook_endpoint_factory()
        original = webhook_delivery_factory(endpoint=endpoint, status="failed")
        other = webhook_endpoint_factory()
    key = str(uuid.uuid4())
    path = f"{API}{endpoint.pk}/deliveries/{original.pk}/redeliver/"
    first = _post(tenant_a, path, HTTP_IDEMPOTENCY_KEY=key)
    again = _post(tenant_a, path, HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    data = first.json()
    assert data["redelivery_of"] == original.pk
    assert data["event_id"] == str(original.event_id)
    assert data["payload"] == original.payload
    assert data["status"] == "pending"
    with tenant_context(tenant_a.organization):
        assert WebhookDelivery.objects.filter(redelivery_of=original).count() == 1
    # The delivery must belong to the endpoint in the path.
    wrong = _post(tenant_a, f"{API}{other.pk}/deliveries/{original.pk}/redeliver/")
    assert wrong.status_code == 404
    ping = _post(tenant_a, f"{API}{endpoint.pk}/ping/")
    assert ping.status_code == 202
    assert ping.json()["topic"] == "ping"
    assert ping.json()["payload"]["type"] == "ping"
    assert ping.json()["payload"]["organization"] == "alpha"


def test_another_organizations_webhook_is_a_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with tenant_context(tenant_b.organization):
        endpoint = webhook_endpoint_factory()
    assert Client().get(f"{API}{endpoint.pk}/", **_auth(tenant_a.raw_key)).status_code == 404
    assert _post(tenant_a, f"{API}{endpoint.pk}/ping/").status_code == 404
