"""Scope and idempotency census of every API route.

Both walk the URL resolver (tests/api_support.py), so a new endpoint joins by existing:

* scopes: every method a view implements names its scope in ``required_scopes`` (fail
  closed: a forgotten one fails here); a key with every scope but that one gets a 403
  problem and changes nothing; a key with only that scope is let through.
* idempotency: every POST sent twice with the same ``Idempotency-Key`` answers the same
  status and body and has one effect (no tenant table grows on the retry). A POST route
  needs an example body in ``POST_BODIES``; a route without one fails the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tenants.context import tenant_context
from tenants.permissions import API_SCOPES
from tests.api_support import ApiRoute, api_routes, row_counts, seed_api_objects
from tests.conftest import Tenant
from tests.factories import api_key_with_secret
from tests.test_url_census import _snapshot

ROUTES = api_routes()
ROUTE_METHODS = [(route, method) for route in ROUTES for method in route.methods]
POST_ROUTES = [route for route in ROUTES if "POST" in route.methods]

Ids = dict[str, Any]

# One valid request body per POST route (key: the route without converters). The ids
# are those of tests/api_support.py seed_api_objects().
POST_BODIES: dict[str, Callable[[Ids], dict[str, Any]]] = {
    "api/v1/contacts/": lambda ids: {"crm_id": "C-census", "email": "census@example.com"},
    "api/v1/contacts/bulk/": lambda ids: {
        "items": [{"crm_id": "C-census-1", "email": "one@example.com"}, {"crm_id": "C-census-2"}]
    },
    "api/v1/contacts/<contact_id>/erase/": lambda ids: {},
    "api/v1/cases/<number>/notes/": lambda ids: {"text": "Called the customer back."},
    "api/v1/responses/": lambda ids: {
        "survey": ids["survey_id"],
        "answers": {"recommend": 3, "recommend-reason": "Late parcel."},
        "responded_at": "2026-11-23T10:12:00+01:00",
    },
    "api/v1/events/": lambda ids: {
        "type": "order_completed",
        "contact": {"crm_id": "C-census-event", "email": "event@example.com"},
    },
    "api/v1/events/batch/": lambda ids: {
        "events": [{"type": "order_completed", "contact": {"crm_id": "C-census-batch"}}]
    },
    "api/v1/invitations/": lambda ids: {
        "contact": ids["uninvited_contact_id"],
        "survey": ids["survey_id"],
    },
    "api/v1/webhooks/": lambda ids: {
        "url": "https://crm.example.com/hooks/census",
        "events": ["case.created"],
    },
    "api/v1/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver/": lambda ids: {},
    "api/v1/webhooks/<webhook_id>/ping/": lambda ids: {},
}

# A valid body for PATCH routes too, so "only this scope" reaches the view's own logic.
PATCH_BODIES: dict[str, Callable[[Ids], dict[str, Any]]] = {
    "api/v1/contacts/<contact_id>/": lambda ids: {"attributes": {"segment": "smb"}},
    "api/v1/cases/<number>/": lambda ids: {"priority": "high"},
    "api/v1/webhooks/<webhook_id>/": lambda ids: {"description": "census"},
}


def _body(route: ApiRoute, method: str, ids: Ids) -> str:
    bodies = {"POST": POST_BODIES, "PATCH": PATCH_BODIES}.get(method, {})
    make = bodies.get(route.key)
    return json.dumps(make(ids) if make else {})


def _send(raw_key: str, route: ApiRoute, method: str, ids: Ids, **headers: str) -> Any:
    client = Client()
    send = getattr(client, method.lower())
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}", **headers}
    if method in ("GET", "DELETE"):
        return send(route.url(ids), **auth)
    return send(
        route.url(ids), data=_body(route, method, ids), content_type="application/json", **auth
    )


def _state(tenant: Tenant) -> dict[str, Any]:
    return {"rows": row_counts(tenant), "fields": _snapshot(tenant)}


def test_the_census_sees_the_api() -> None:
    assert any(r.route == "api/v1/organization/" for r in ROUTES)
    assert all(route.methods for route in ROUTES), [r.route for r in ROUTES if not r.methods]


@pytest.mark.parametrize(
    ("route", "method"), ROUTE_METHODS, ids=[f"{m} {r.route}" for r, m in ROUTE_METHODS]
)
def test_every_method_needs_its_scope(route: ApiRoute, method: str, tenant_a: Tenant) -> None:
    scopes: dict[str, str] = getattr(route.view, "required_scopes", {})
    assert method in scopes, f"{route.view.__name__}.required_scopes has no scope for {method}"
    scope = scopes[method]
    assert scope in API_SCOPES, f"{route.view.__name__}: unknown scope {scope!r}"
    ids = seed_api_objects(tenant_a)
    with tenant_context(tenant_a.organization):
        _, without = api_key_with_secret(scopes=[s for s in API_SCOPES if s != scope])
        _, only = api_key_with_secret(scopes=[scope])
    before = _state(tenant_a)

    refused = _send(without, route, method, ids)

    assert refused.status_code == 403, f"{method} {route.route} without {scope}"
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["status"] == 403
    assert _state(tenant_a) == before, f"{method} {route.route} changed data on a 403"

    allowed = _send(only, route, method, ids)
    assert allowed.status_code != 403, f"{method} {route.route} refuses a key with {scope}"
    assert allowed.status_code < 500


def test_every_post_route_has_an_example_body() -> None:
    missing = [route.key for route in POST_ROUTES if route.key not in POST_BODIES]
    assert not missing, f"add a valid example body to POST_BODIES for {missing}"
    stale = set(POST_BODIES) - {route.key for route in POST_ROUTES}
    assert not stale, f"POST_BODIES names routes that do not exist: {sorted(stale)}"


@pytest.mark.parametrize("route", POST_ROUTES, ids=[r.route for r in POST_ROUTES])
def test_every_post_is_idempotent(route: ApiRoute, tenant_a: Tenant) -> None:
    if route.key not in POST_BODIES:
        pytest.fail(f"add a valid example body to POST_BODIES for {route.key}")
    ids = seed_api_objects(tenant_a)
    headers = {"HTTP_IDEMPOTENCY_KEY": "census-1"}

    first = _send(tenant_a.raw_key, route, "POST", ids, **headers)
    assert 200 <= first.status_code < 300, (
        f"POST {route.route}: the example body is refused: {first.status_code} {first.content!r}"
    )
    after_first = row_counts(tenant_a)
    second = _send(tenant_a.raw_key, route, "POST", ids, **headers)

    assert second.status_code == first.status_code
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert row_counts(tenant_a) == after_first, f"POST {route.route}: the retry had an effect"
