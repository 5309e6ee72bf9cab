"""Organization settings, members, teams and API keys through the web UI."""

from __future__ import annotations

import io

from django.test import Client
from PIL import Image

from tenants.context import tenant_context
from tenants.models import ApiKey, AuditLog, Membership, Role, Team, TeamMember
from tests.conftest import Tenant


def _png(size: tuple[int, int] = (40, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (31, 95, 139)).save(buffer, "PNG")
    return buffer.getvalue()


def _actions(tenant: Tenant) -> list[str]:
    with tenant_context(tenant.organization):
        return list(AuditLog.objects.order_by("id").values_list("action", flat=True))


def test_admin_updates_profile_and_logo(tenant_a: Tenant) -> None:
    upload = io.BytesIO(_png())
    upload.name = "logo.png"
    response = tenant_a.client.post(
        tenant_a.url("settings/"),
        {
            "name": "Alpha Retail",
            "timezone": "Europe/Zurich",
            "default_language": "de",
            "brand_colour": "#aa3300",
            "logo_file": upload,
        },
    )
    assert response.status_code == 302
    org = tenant_a.organization
    org.refresh_from_db()
    assert (org.name, org.timezone, org.default_language, org.brand_colour) == (
        "Alpha Retail",
        "Europe/Zurich",
        "de",
        "#aa3300",
    )
    logo = Client().get(f"/branding/{org.slug}/logo")
    assert logo.status_code == 200
    assert logo["Content-Type"] == "image/png"
    assert "organization.update" in _actions(tenant_a)
    assert "organization.logo_set" in _actions(tenant_a)
    page = tenant_a.client.get(tenant_a.url()).content.decode()
    assert "--brand: #aa3300" in page


def test_bad_profile_input_is_explained_and_nothing_changes(tenant_a: Tenant) -> None:
    not_an_image = io.BytesIO(b"<svg onload=alert(1)>")
    not_an_image.name = "logo.png"
    response = tenant_a.client.post(
        tenant_a.url("settings/"),
        {
            "name": "",
            "timezone": "Mars/Olympus",
            "default_language": "xx",
            "brand_colour": "red",
            "logo_file": not_an_image,
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="error"') >= 4
    assert "is not a known time zone" in html
    org = tenant_a.organization
    org.refresh_from_db()
    assert org.name == "ALPHA Corp"
    assert org.logo is None
    assert _actions(tenant_a) == ["api_key.create"]


def test_admin_adds_a_member_who_can_then_sign_in(tenant_a: Tenant) -> None:
    response = tenant_a.client.post(
        tenant_a.url("settings/members/"),
        {
            "email": "New.Person@Example.com",
            "name": "Nina",
            "role": Role.OWNER,
            "password": "a-long-enough-secret-7",
        },
    )
    assert response.status_code == 302
    client = Client()
    signed_in = client.post(
        "/accounts/login/",
        {"login": "new.person@example.com", "password": "a-long-enough-secret-7"},
    )
    assert signed_in.status_code == 302
    assert client.get("/", follow=True).request["PATH_INFO"] == tenant_a.url()
    again = tenant_a.client.post(
        tenant_a.url("settings/members/"), {"email": "new.person@example.com", "role": Role.VIEWER}
    )
    assert "already a member" in again.content.decode()


def test_role_changes_and_the_last_admin_is_protected(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        own = Membership.objects.get(user=tenant_a.admin)
    response = tenant_a.client.post(
        tenant_a.url(f"settings/members/{own.pk}/"), {"action": "role", "role": Role.VIEWER}
    )
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        own.refresh_from_db()
    assert own.role == Role.ADMIN
    messages = tenant_a.client.get(tenant_a.url("settings/members/")).content.decode()
    assert "at least one administrator" in messages

    colleague = tenant_a.member(Role.VIEWER)
    with tenant_context(tenant_a.organization):
        theirs = Membership.objects.get(user=colleague)
    tenant_a.client.post(
        tenant_a.url(f"settings/members/{theirs.pk}/"), {"action": "role", "role": Role.CX_MANAGER}
    )
    with tenant_context(tenant_a.organization):
        theirs.refresh_from_db()
    assert theirs.role == Role.CX_MANAGER
    tenant_a.client.post(tenant_a.url(f"settings/members/{theirs.pk}/"), {"action": "remove"})
    with tenant_context(tenant_a.organization):
        assert not Membership.objects.filter(user=colleague).exists()
    assert Client().login(username=colleague.username, password="correct-horse-9")
    assert _actions(tenant_a)[-2:] == ["membership.change_role", "membership.delete"]


def test_teams_are_created_edited_and_deleted(tenant_a: Tenant) -> None:
    lead = tenant_a.member(Role.OWNER, first_name="Lena")
    agent = tenant_a.member(Role.OWNER)
    response = tenant_a.client.post(
        tenant_a.url("teams/"), {"name": "Call centre", "lead": lead.pk, "members": [agent.pk]}
    )
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        team = Team.objects.get(name="Call centre")
        assert team.lead == lead
        assert set(TeamMember.objects.filter(team=team).values_list("user_id", flat=True)) == {
            lead.pk,
            agent.pk,
        }
    duplicate = tenant_a.client.post(tenant_a.url("teams/"), {"name": "call centre"})
    assert "already exists" in duplicate.content.decode()

    tenant_a.client.post(
        tenant_a.url(f"teams/{team.pk}/"), {"name": "Call centre DE", "lead": "", "members": []}
    )
    with tenant_context(tenant_a.organization):
        team.refresh_from_db()
        assert (team.name, team.lead_id) == ("Call centre DE", None)
        assert not TeamMember.objects.filter(team=team).exists()
    tenant_a.client.post(tenant_a.url(f"teams/{team.pk}/"), {"action": "delete"})
    with tenant_context(tenant_a.organization):
        assert not Team.objects.exists()
    assert _actions(tenant_a)[-3:] == ["team.create", "team.update", "team.delete"]


def test_team_members_must_belong_to_the_organization(tenant_a: Tenant, tenant_b: Tenant) -> None:
    response = tenant_a.client.post(
        tenant_a.url("teams/"), {"name": "Mixed", "members": [tenant_b.admin.pk]}
    )
    assert response.status_code == 200
    with tenant_context(tenant_a.organization):
        assert not Team.objects.exists()


def test_api_key_is_shown_once_works_and_can_be_revoked(tenant_a: Tenant) -> None:
    response = tenant_a.client.post(
        tenant_a.url("settings/api-keys/"), {"name": "Salesforce", "scopes": ["organization:read"]}
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    raw = html.split('id="new-key" class="mono" readonly value="')[1].split('"')[0]
    assert raw.startswith("fbk_")
    api = Client().get("/api/v1/organization/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.status_code == 200
    listing = tenant_a.client.get(tenant_a.url("settings/api-keys/")).content.decode()
    assert raw not in listing
    with tenant_context(tenant_a.organization):
        key = ApiKey.objects.get(name="Salesforce")
        assert raw not in key.hashed_secret
    tenant_a.client.post(tenant_a.url(f"settings/api-keys/{key.pk}/revoke/"))
    api = Client().get("/api/v1/organization/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.status_code == 401
    assert "api_key.revoke" in _actions(tenant_a)


def test_audit_log_page_lists_changes_with_actor(tenant_a: Tenant) -> None:
    tenant_a.client.post(tenant_a.url("teams/"), {"name": "Online shop"})
    with tenant_context(tenant_a.organization):
        team = Team.objects.get(name="Online shop")
    tenant_a.client.post(
        tenant_a.url(f"teams/{team.pk}/"),
        {"name": "Web shop", "lead": tenant_a.admin.pk, "members": [tenant_a.admin.pk]},
    )
    page = tenant_a.client.get(tenant_a.url("settings/audit-log/")).content.decode()
    assert "team.create" in page
    assert "admin@alpha.example" in page
    assert "<del>Online shop</del> → <ins>Web shop</ins>" in page
    assert "<strong>lead</strong>: <ins>admin@alpha.example</ins>" in page


PAGES = ("", "teams/", "settings/members/", "settings/api-keys/", "settings/audit-log/")


def _queries_per_page(tenant: Tenant) -> dict[str, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for page in PAGES:
        with CaptureQueriesContext(connection) as captured:
            assert tenant.client.get(tenant.url(page)).status_code == 200
        counts[page] = len(captured)
    return counts


def _add_team(tenant: Tenant, i: int) -> None:
    member = tenant.member(Role.OWNER)
    tenant.client.post(
        tenant.url("teams/"), {"name": f"T{i}", "lead": member.pk, "members": [member.pk]}
    )
    tenant.client.post(
        tenant.url("settings/api-keys/"), {"name": f"K{i}", "scopes": ["organization:read"]}
    )


def test_list_pages_do_not_query_per_row(tenant_a: Tenant) -> None:
    _add_team(tenant_a, 0)
    few = _queries_per_page(tenant_a)
    for i in range(1, 20):
        _add_team(tenant_a, i)
    assert _queries_per_page(tenant_a) == few
    assert max(few.values()) <= 20  # PostgreSQL adds set_config() per tenant context


def test_german_user_interface(tenant_a: Tenant) -> None:
    tenant_a.client.cookies["django_language"] = "de"
    html = tenant_a.client.get(tenant_a.url()).content.decode()
    assert '<html lang="de">' in html
    assert "Organisation" in html
