"""Django admin: staff see only the organizations they belong to; superusers see all."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Permission
from django.test import Client

from tenants.context import tenant_context
from tenants.models import Team
from tests.conftest import Tenant
from tests.factories import UserFactory


def _admin_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_staff_member_sees_only_their_organizations_rows(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with tenant_context(tenant_a.organization):
        Team.objects.create(name="Alpha care")
    with tenant_context(tenant_b.organization):
        team_b = Team.objects.create(name="Bravo care")
    tenant_a.admin.is_staff = True
    tenant_a.admin.is_superuser = False
    tenant_a.admin.save()
    tenant_a.admin.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="tenants")
    )
    client = _admin_client(tenant_a.admin)
    listing = client.get("/admin/tenants/team/").content.decode()
    assert "Alpha care" in listing
    assert "Bravo care" not in listing
    assert client.get(f"/admin/tenants/team/{team_b.pk}/change/").status_code == 302
    orgs = client.get("/admin/tenants/organization/").content.decode()
    assert "BRAVO Corp" not in orgs


def test_superuser_sees_every_organization(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with tenant_context(tenant_b.organization):
        Team.objects.create(name="Bravo care")
    root: Any = UserFactory(username="root@example.com", is_staff=True, is_superuser=True)
    listing = _admin_client(root).get("/admin/tenants/team/").content.decode()
    assert "Bravo care" in listing


def test_audit_log_is_read_only_in_the_admin(tenant_a: Tenant) -> None:
    root: Any = UserFactory(username="root@example.com", is_staff=True, is_superuser=True)
    client = _admin_client(root)
    assert client.get("/admin/tenants/auditlog/add/").status_code == 403
    assert client.get("/admin/tenants/auditlog/").status_code == 200
