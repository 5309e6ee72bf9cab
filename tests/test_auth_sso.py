"""Single sign-on with an organization's OpenID Connect provider (faked on a loopback port).

Each test walks the real flow through the test client: the start page's button, the
redirect to the IdP (PKCE), the IdP's code (played by ``FakeIdP.authorize``), the callback
that exchanges the code over HTTP and reads userinfo, and the provisioning rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.test import Client

from tenants.context import tenant_context
from tenants.models import AuditLog, Membership, Organization, Role
from tests.conftest import PASSWORD, Tenant
from tests.oidc_fake import FakeIdP, fake_idp

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def idp() -> Iterator[FakeIdP]:
    with fake_idp() as provider:
        yield provider


def _enable_sso(organization: Organization, idp: FakeIdP, **fields: Any) -> None:
    values = {
        "sso_enabled": True,
        "sso_issuer": idp.issuer,
        "sso_client_id": idp.client_id,
        "sso_client_secret": idp.client_secret,
        "sso_email_domains": "alpha.example, alpha-group.example",
        "sso_default_role": Role.OWNER,
        **fields,
    }
    Organization.objects.filter(pk=organization.pk).update(**values)
    organization.refresh_from_db()


def _sso_sign_in(client: Client, idp: FakeIdP, slug: str, **claims: Any) -> Any:
    """The person presses "Continue with single sign-on" and signs in at the IdP."""
    start = client.get(f"/accounts/sso/{slug}/")
    assert start.status_code == 200
    login_url = start.context["login_url"]
    to_idp = client.post(login_url, {"process": "login"})
    assert to_idp.status_code == 302, to_idp.content[:500]
    callback = idp.authorize(to_idp["Location"], **claims)
    return client.get(callback)


def _membership(organization: Organization, user: Any) -> Membership | None:
    with tenant_context(organization):
        return Membership.objects.filter(user=user).first()


def test_first_sign_in_provisions_a_member_with_the_default_role(
    tenant_a: Tenant, idp: FakeIdP
) -> None:
    _enable_sso(tenant_a.organization, idp)
    client = Client()
    answer = _sso_sign_in(
        client, idp, "alpha", sub="u-1", email="Nora@Alpha.example", name="Nora Nguyen"
    )

    assert answer.status_code == 302
    user = User.objects.get(email="nora@alpha.example")
    assert user.username == "nora@alpha.example"
    assert user.first_name == "Nora"
    assert not user.has_usable_password()
    membership = _membership(tenant_a.organization, user)
    assert membership is not None
    assert membership.role == Role.OWNER
    assert SocialAccount.objects.get(user=user).provider == "org-alpha"
    # The token exchange was a real confidential-client request with PKCE.
    assert idp.token_requests[0]["code_verifier"]
    # Signed in: the organization's pages open.
    assert client.get(tenant_a.url()).status_code == 200
    with tenant_context(tenant_a.organization):
        entry = AuditLog.objects.get(action="membership.provision")
    assert entry.actor_label == "single sign-on"
    assert entry.changes == {"role": [None, "owner"]}


def test_signing_in_again_reuses_the_account_and_keeps_a_changed_role(
    tenant_a: Tenant, idp: FakeIdP
) -> None:
    _enable_sso(tenant_a.organization, idp)
    _sso_sign_in(Client(), idp, "alpha", sub="u-2", email="omar@alpha.example")
    user = User.objects.get(email="omar@alpha.example")
    with tenant_context(tenant_a.organization):
        Membership.objects.filter(user=user).update(role=Role.CX_MANAGER)

    client = Client()
    _sso_sign_in(client, idp, "alpha", sub="u-2", email="omar@alpha.example")

    assert User.objects.filter(email="omar@alpha.example").count() == 1
    assert _membership(tenant_a.organization, user).role == Role.CX_MANAGER  # type: ignore[union-attr]
    assert client.get(tenant_a.url()).status_code == 200


def test_an_address_outside_the_organizations_domains_is_refused(
    tenant_a: Tenant, idp: FakeIdP
) -> None:
    _enable_sso(tenant_a.organization, idp)
    client = Client()
    answer = _sso_sign_in(client, idp, "alpha", sub="u-3", email="mallory@elsewhere.example")

    assert answer.status_code == 302
    assert answer["Location"] == "/accounts/login/"
    page = client.get("/accounts/login/").content.decode()
    assert "mallory@elsewhere.example may not sign in to ALPHA Corp" in page
    assert not User.objects.filter(email="mallory@elsewhere.example").exists()
    assert client.get(tenant_a.url()).status_code == 302  # still signed out


def test_an_existing_member_is_linked_to_the_identity_provider(
    tenant_a: Tenant, idp: FakeIdP
) -> None:
    member = tenant_a.member(Role.VIEWER, username="vera@alpha.example")
    _enable_sso(tenant_a.organization, idp)
    client = Client()
    _sso_sign_in(client, idp, "alpha", sub="u-4", email="vera@alpha.example")

    assert SocialAccount.objects.get(provider="org-alpha", uid="u-4").user == member
    assert _membership(tenant_a.organization, member).role == Role.VIEWER  # type: ignore[union-attr]
    assert client.get(tenant_a.url()).status_code == 200


def test_an_identity_provider_cannot_take_over_another_organizations_member(
    tenant_a: Tenant, tenant_b: Tenant, idp: FakeIdP
) -> None:
    # Bravo's admin controls Bravo's IdP and claims the domain of Alpha's admin.
    _enable_sso(tenant_b.organization, idp, sso_email_domains="alpha.example")
    client = Client()
    _sso_sign_in(client, idp, "bravo", sub="evil", email="admin@alpha.example")

    assert not SocialAccount.objects.exists()
    assert _membership(tenant_b.organization, tenant_a.admin) is None
    assert client.get(tenant_a.url()).status_code == 302
    assert client.get(tenant_b.url()).status_code == 302
    page = client.get("/accounts/login/").content.decode()
    assert "already exists outside BRAVO Corp" in page


def test_a_tampered_callback_signs_nobody_in(tenant_a: Tenant, idp: FakeIdP) -> None:
    _enable_sso(tenant_a.organization, idp)
    client = Client()
    start = client.get("/accounts/sso/alpha/")
    to_idp = client.post(start.context["login_url"], {"process": "login"})
    callback = idp.authorize(to_idp["Location"], sub="u-5", email="tom@alpha.example")

    forged = callback.replace("state=", "state=x")
    assert client.get(forged).status_code == 401  # allauth's error page
    assert not User.objects.filter(email="tom@alpha.example").exists()
    # A code is single use: replaying the legitimate callback in another browser fails.
    assert Client().get(callback).status_code == 401
    assert not User.objects.filter(email="tom@alpha.example").exists()


def test_required_sso_refuses_passwords_except_for_administrators(
    tenant_a: Tenant, idp: FakeIdP
) -> None:
    tenant_a.member(Role.OWNER, username="olga@alpha.example")
    _enable_sso(tenant_a.organization, idp, sso_enforced=True)

    refused = Client().post(
        "/accounts/login/", {"login": "olga@alpha.example", "password": PASSWORD}
    )
    assert refused.status_code == 200
    assert "ALPHA Corp signs in with single sign-on" in refused.content.decode()
    assert "_auth_user_id" not in refused.wsgi_request.session

    admin = Client().post(
        "/accounts/login/", {"login": "admin@alpha.example", "password": PASSWORD}
    )
    assert admin.status_code == 302


def test_sso_sign_in_satisfies_a_two_factor_requirement(tenant_a: Tenant, idp: FakeIdP) -> None:
    _enable_sso(tenant_a.organization, idp, require_two_factor=True)
    client = Client()
    _sso_sign_in(client, idp, "alpha", sub="u-6", email="sam@alpha.example")
    assert client.get(tenant_a.url()).status_code == 200


def test_finding_the_organization_and_unknown_ids(tenant_a: Tenant, idp: FakeIdP) -> None:
    client = Client()
    unknown = client.post("/accounts/sso/", {"organization": "alpha"})
    assert "No organization with single sign-on has this ID." in unknown.content.decode()
    assert client.get("/accounts/sso/alpha/").status_code == 404

    _enable_sso(tenant_a.organization, idp)
    found = client.post("/accounts/sso/", {"organization": "Alpha", "next": "/o/alpha/cases/"})
    assert found.status_code == 302
    assert found["Location"] == "/accounts/sso/alpha/?next=/o/alpha/cases/"
    page = client.get(found["Location"]).content.decode()
    assert "Sign in to ALPHA Corp" in page
    assert 'name="next" value="/o/alpha/cases/"' in page


def test_admin_configures_sso_and_the_discovery_document_is_checked(
    tenant_a: Tenant, idp: FakeIdP
) -> None:
    url = tenant_a.url("settings/sign-in/")
    form = {
        "sso_enabled": "on",
        "sso_issuer": idp.issuer,
        "sso_client_id": idp.client_id,
        "sso_client_secret": idp.client_secret,
        "sso_email_domains": "Alpha.example, @alpha-group.example",
        "sso_default_role": Role.VIEWER,
    }
    wrong = tenant_a.client.post(url, {**form, "sso_issuer": idp.issuer + "/other"})
    assert wrong.status_code == 200
    assert "could not be read" in wrong.content.decode()

    saved = tenant_a.client.post(url, form)
    assert saved.status_code == 302
    organization = Organization.objects.get(pk=tenant_a.organization.pk)
    assert organization.sso_enabled
    assert organization.sso_email_domains == "alpha.example, alpha-group.example"
    page = tenant_a.client.get(url).content.decode()
    assert idp.client_secret not in page
    assert "/accounts/oidc/org-alpha/login/callback/" in page

    # Saving again without a secret keeps the stored one.
    tenant_a.client.post(url, {**form, "sso_client_secret": "", "sso_default_role": Role.OWNER})
    organization.refresh_from_db()
    assert organization.sso_client_secret == idp.client_secret
    assert organization.sso_default_role == Role.OWNER
    with tenant_context(tenant_a.organization):
        entries = list(AuditLog.objects.filter(action="organization.sign_in_policy"))
    assert entries
    assert all(idp.client_secret not in str(entry.changes) for entry in entries)

    # Members sign in through it right away.
    client = Client()
    _sso_sign_in(client, idp, "alpha", sub="u-7", email="ina@alpha-group.example")
    assert client.get(tenant_a.url()).status_code == 200


def test_enabling_sso_needs_the_client_and_domains(tenant_a: Tenant) -> None:
    answer = tenant_a.client.post(
        tenant_a.url("settings/sign-in/"), {"sso_enabled": "on", "sso_enforced": "on"}
    )
    assert answer.status_code == 200
    assert answer.content.decode().count("Required for single sign-on.") == 4
    assert not Organization.objects.get(pk=tenant_a.organization.pk).sso_enabled


def test_only_administrators_see_the_sign_in_settings(tenant_a: Tenant) -> None:
    manager = tenant_a.member(Role.CX_MANAGER)
    answer = tenant_a.client_for(manager).get(tenant_a.url("settings/sign-in/"))
    assert answer.status_code in (403, 404)
