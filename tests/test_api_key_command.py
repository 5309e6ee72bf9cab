"""``manage.py api_key_create``: a key for an organization, printed once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from tenants.context import tenant_context
from tenants.models import ApiKey, AuditLog
from tenants.permissions import API_SCOPES
from tests.conftest import Tenant


def _create(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("api_key_create", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_all_scopes_key_is_printed_once_and_works(tenant_a: Tenant) -> None:
    raw_key, note = _create("--org", "alpha", "--name", "CRM", "--all-scopes")

    assert raw_key.startswith("fbk_")
    assert "not shown again" in note
    response = Client().get("/api/v1/organization/", HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert response.status_code == 200
    assert response.json()["slug"] == "alpha"
    with tenant_context(tenant_a.organization):
        key = ApiKey.objects.get(name="CRM", pk__gt=tenant_a.api_key.pk)
        assert key.scopes == sorted(API_SCOPES)
        assert raw_key.split("_")[2] not in key.hashed_secret
        assert AuditLog.objects.filter(action="api_key.create", object_id=str(key.pk)).exists()


def test_named_scopes_only(tenant_a: Tenant) -> None:
    raw_key, _ = _create(
        "--org", "alpha", "--name", "Shop", "--scope", "events:write", "--scope", "contacts:write"
    )

    with tenant_context(tenant_a.organization):
        assert ApiKey.objects.get(name="Shop").scopes == ["contacts:write", "events:write"]
    response = Client().get("/api/v1/organization/", HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "nope", "--name", "CRM", "--all-scopes"], "No active organization"),
        (["--org", "alpha", "--name", " ", "--all-scopes"], "Give the key a name"),
        (["--org", "alpha", "--name", "CRM", "--scope", "everything"], "invalid choice"),
        (["--org", "alpha", "--name", "CRM"], "one of the arguments"),
    ],
)
def test_bad_arguments_create_nothing(tenant_a: Tenant, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        _create(*args)
    with tenant_context(tenant_a.organization):
        assert ApiKey.objects.count() == 1
