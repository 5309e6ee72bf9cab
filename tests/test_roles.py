"""Roles: each role sees and may do exactly what the capability table grants."""

from __future__ import annotations

from typing import Any

import pytest

from tenants.context import tenant_context
from tenants.models import Organization, Role, Team
from tenants.permissions import ROLE_CAPABILITIES, Capability
from tests.conftest import Tenant

SETTINGS_PAGES = ["settings/", "settings/members/", "settings/api-keys/", "settings/audit-log/"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OWNER, Role.CX_MANAGER])
def test_only_admins_reach_settings(tenant_a: Tenant, role: str) -> None:
    client = tenant_a.client_for(tenant_a.member(role))
    for page in SETTINGS_PAGES:
        assert client.get(tenant_a.url(page)).status_code == 403, page
    response = client.post(tenant_a.url("settings/"), {"name": "Renamed"})
    assert response.status_code == 403
    tenant_a.organization.refresh_from_db()
    assert tenant_a.organization.name != "Renamed"


def test_viewer_cannot_change_settings_or_teams(tenant_a: Tenant) -> None:
    client = tenant_a.client_for(tenant_a.member(Role.VIEWER))
    assert client.post(tenant_a.url("teams/"), {"name": "Sneaky"}).status_code == 403
    assert client.get(tenant_a.url("teams/")).status_code == 403
    with tenant_context(tenant_a.organization):
        assert not Team.objects.exists()


def test_owner_sees_only_what_owners_see(tenant_a: Tenant) -> None:
    owner = tenant_a.member(Role.OWNER, first_name="Olivia")
    client = tenant_a.client_for(owner)
    home = client.get(tenant_a.url()).content.decode()
    assert "Olivia" in home
    assert tenant_a.url("settings/") not in home
    assert tenant_a.url("settings/api-keys/") not in home
    assert "Set up your organization" not in home
    # Owners may look at teams (to know who to hand a case to) but not change them.
    assert client.get(tenant_a.url("teams/")).status_code == 200
    assert client.post(tenant_a.url("teams/"), {"name": "Mine"}).status_code == 403


def test_admin_sees_the_setup_checklist(tenant_a: Tenant) -> None:
    home = tenant_a.client.get(tenant_a.url()).content.decode()
    assert "Set up your organization" in home
    for page in SETTINGS_PAGES:
        assert tenant_a.url(page) in home or page == "settings/audit-log/" or page == "settings/"


def test_cx_manager_manages_teams(tenant_a: Tenant) -> None:
    client = tenant_a.client_for(tenant_a.member(Role.CX_MANAGER))
    response = client.post(tenant_a.url("teams/"), {"name": "Call centre"})
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        assert Team.objects.filter(name="Call centre").exists()


def test_capability_table_covers_every_role_and_admins_have_all() -> None:
    assert set(ROLE_CAPABILITIES) == set(Role.values)
    assert ROLE_CAPABILITIES[Role.ADMIN] == frozenset(Capability)
    for role in (Role.CX_MANAGER, Role.OWNER, Role.VIEWER):
        assert ROLE_CAPABILITIES[role] < ROLE_CAPABILITIES[Role.ADMIN]


def test_member_of_two_organizations_switches_between_them(tenant_a: Tenant, db: None) -> None:
    other = Organization.objects.create(slug="second", name="Second GmbH")
    with tenant_context(other):
        from tenants.models import Membership

        Membership.objects.create(user=tenant_a.admin, role=Role.VIEWER)
    start = tenant_a.client.get("/")
    assert start.status_code == 200  # a chooser, not a redirect
    page = tenant_a.client.get(tenant_a.url()).content.decode()
    assert "Switch organization" in page
    assert "/o/second/" in page
    second = tenant_a.client.get("/o/second/")
    assert second.status_code == 200
    assert "Viewer" in second.content.decode()
    assert "Set up your organization" not in second.content.decode()


def test_single_organization_user_lands_in_it(tenant_a: Tenant) -> None:
    response = tenant_a.client.get("/")
    assert response.status_code == 302
    assert response["Location"] == tenant_a.url()


def test_signed_in_user_without_organization_is_told_what_to_do(db: None) -> None:
    from django.test import Client

    from tests.factories import UserFactory

    client = Client()
    lonely: Any = UserFactory(username="lonely@example.com")
    client.force_login(lonely)
    page = client.get("/").content.decode()
    assert "No organization yet" in page
    assert "lonely@example.com" in page
