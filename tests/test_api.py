"""The API shell: API-key authentication, scopes, problem details, offline docs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from tenants.context import tenant_context
from tenants.models import ApiKey
from tenants.services import SYSTEM, api_key_create, api_key_revoke
from tests.conftest import Tenant


def test_organization_endpoint_returns_the_keys_organization(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    response = Client().get(
        "/api/v1/organization/", HTTP_AUTHORIZATION=f"Bearer {tenant_b.raw_key}"
    )
    assert response.status_code == 200
    assert response.json() == {
        "slug": "bravo",
        "name": "BRAVO Corp",
        "timezone": "Europe/Berlin",
        "default_language": "en",
        "brand_colour": "#1f5f8b",
        "created_at": response.json()["created_at"],
    }
    with tenant_context(tenant_b.organization):
        assert ApiKey.objects.get(pk=tenant_b.api_key.pk).last_used_at is not None


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer fbk_nope_nope",
        "Bearer not-a-key",
        "Token abc",
        "Basic dXNlcjpwYXNz",
    ],
)
def test_missing_or_bad_keys_get_401_problem_details(tenant_a: Tenant, header: str | None) -> None:
    headers: dict[str, Any] = {"HTTP_AUTHORIZATION": header} if header else {}
    response = Client().get("/api/v1/organization/", **headers)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert body["status"] == 401
    assert body["title"] == "Not authenticated"
    assert body["instance"] == "/api/v1/organization/"


def test_a_wrong_secret_with_a_real_prefix_is_refused(tenant_a: Tenant) -> None:
    prefix = tenant_a.raw_key.rsplit("_", 1)[0]
    response = Client().get("/api/v1/organization/", HTTP_AUTHORIZATION=f"Bearer {prefix}_wrong")
    assert response.status_code == 401


def test_revoked_key_is_refused(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        api_key_revoke(actor=SYSTEM, api_key=tenant_a.api_key)
    response = Client().get(
        "/api/v1/organization/", HTTP_AUTHORIZATION=f"Bearer {tenant_a.raw_key}"
    )
    assert response.status_code == 401


def test_key_without_the_scope_gets_403(tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    from tenants import permissions, services

    scopes = {**permissions.API_SCOPES, "other:read": "Something else."}
    monkeypatch.setattr(services, "API_SCOPES", scopes)
    with tenant_context(tenant_a.organization):
        _, raw = api_key_create(actor=SYSTEM, name="narrow", scopes=["other:read"])
    response = Client().get("/api/v1/organization/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 403
    assert response.json()["title"] == "Forbidden"


def test_unsupported_method_is_405_problem(tenant_a: Tenant) -> None:
    response = Client().post(
        "/api/v1/organization/",
        data="{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {tenant_a.raw_key}",
    )
    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"


def test_schema_documents_the_endpoint_and_bearer_auth(db: None) -> None:
    response = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/organization/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    operation = schema["paths"]["/api/v1/organization/"]["get"]
    example = operation["responses"]["200"]["content"]["application/json"]["examples"]
    assert example


@pytest.mark.parametrize("page", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_interactive_docs_load_nothing_from_other_hosts(db: None, page: str) -> None:
    response = Client().get(page)
    assert response.status_code == 200
    html = response.content.decode()
    external = re.findall(r"""(?:src|href)=["'](https?:)?//""", html)
    assert not external, f"{page} loads assets from another host"
    assert "/static/drf_spectacular_sidecar/" in html
