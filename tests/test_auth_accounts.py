"""Sign-in, lockout, password rules and sessions, two-factor authentication (allauth)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone

from tenants.context import tenant_context
from tenants.models import AuditLog, Organization, Role
from tests.conftest import PASSWORD, Tenant

pytestmark = pytest.mark.django_db

User = get_user_model()
LOGIN = "/accounts/login/"


def _sign_in(email: str, password: str = PASSWORD, client: Client | None = None) -> Any:
    client = client or Client()
    return client.post(LOGIN, {"login": email, "password": password})


def _signed_in(response: Any) -> bool:
    return "_auth_user_id" in response.wsgi_request.session


def _totp_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


# --- Sign-in --------------------------------------------------------------------------


def test_a_member_signs_in_with_email_and_password(tenant_a: Tenant) -> None:
    client = Client()
    answer = _sign_in("Admin@Alpha.example", client=client)
    assert answer.status_code == 302
    assert client.get("/", follow=True).request["PATH_INFO"] == tenant_a.url()


def test_a_wrong_password_is_refused_without_telling_which_part_was_wrong(
    tenant_a: Tenant,
) -> None:
    wrong_password = _sign_in("admin@alpha.example", "not-the-password")
    unknown_user = _sign_in("nobody@alpha.example")
    for answer in (wrong_password, unknown_user):
        assert answer.status_code == 200
        assert not _signed_in(answer)
        assert "The email address and/or password you specified are not correct." in (
            answer.content.decode()
        )


def test_repeated_failures_lock_the_account_for_a_while(tenant_a: Tenant, settings: Any) -> None:
    other = tenant_a.member(Role.OWNER, username="other@alpha.example")
    for _ in range(settings.LOGIN_ATTEMPTS_LIMIT):
        assert not _signed_in(_sign_in("admin@alpha.example", "guess-guess-guess"))

    locked = _sign_in("admin@alpha.example")  # even the right password
    assert not _signed_in(locked)
    assert "Too many failed login attempts" in locked.content.decode()
    # Another account is not affected.
    assert _signed_in(_sign_in(other.email))

    later = timezone.now() + timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES, seconds=5)
    with time_machine.travel(later):
        assert _signed_in(_sign_in("admin@alpha.example"))


def test_nobody_can_sign_up_on_their_own(db: None) -> None:
    page = Client().get("/accounts/signup/")
    assert "Sign Up Closed" in page.content.decode() or page.status_code in (403, 404)
    Client().post(
        "/accounts/signup/",
        {"email": "eve@example.com", "password1": "a-long-enough-secret-7"},
    )
    assert not User.objects.filter(email="eve@example.com").exists()


def test_members_cannot_change_their_own_address(tenant_a: Tenant) -> None:
    assert tenant_a.client.get("/accounts/email/").status_code == 404


def test_signing_out_needs_a_post(tenant_a: Tenant) -> None:
    client = tenant_a.client_for(tenant_a.admin)
    client.get("/accounts/logout/")
    assert client.get(tenant_a.url()).status_code == 200
    client.post("/accounts/logout/")
    assert client.get(tenant_a.url()).status_code == 302


# --- Passwords and sessions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-7", "This password is too short. It must contain at least 10 characters."),
        ("password123", "This password is too common."),
        ("8372619450", "This password is entirely numeric."),
    ],
)
def test_weak_passwords_are_refused(tenant_a: Tenant, password: str, message: str) -> None:
    client = tenant_a.client_for(tenant_a.admin)
    answer = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": password, "password2": password},
    )
    assert answer.status_code == 200
    assert message in answer.content.decode()
    tenant_a.admin.refresh_from_db()
    assert tenant_a.admin.check_password(PASSWORD)


def test_changing_the_password_ends_every_other_session(tenant_a: Tenant) -> None:
    laptop = Client()
    phone = Client()
    assert _signed_in(_sign_in("admin@alpha.example", client=laptop))
    assert _signed_in(_sign_in("admin@alpha.example", client=phone))

    new = "new-horse-battery-42"
    answer = laptop.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": new, "password2": new},
    )
    assert answer.status_code == 302

    assert laptop.get(tenant_a.url()).status_code == 200  # the session that changed it
    assert phone.get(tenant_a.url()).status_code == 302  # signed out
    assert _signed_in(_sign_in("admin@alpha.example", new))
    assert not _signed_in(_sign_in("admin@alpha.example", PASSWORD))


def test_a_password_reset_by_email_ends_every_session(tenant_a: Tenant) -> None:
    old_session = Client()
    assert _signed_in(_sign_in("admin@alpha.example", client=old_session))

    Client().post("/accounts/password/reset/", {"email": "admin@alpha.example"})
    assert len(mail.outbox) == 1
    link = re.search(
        r"https?://[^\s]+/accounts/password/reset/key/[^\s]+", str(mail.outbox[0].body)
    )
    assert link
    browser = Client()
    form_page = browser.get(link.group(0), follow=True)
    new = "reset-horse-battery-42"
    done = browser.post(form_page.request["PATH_INFO"], {"password1": new, "password2": new})
    assert done.status_code == 302

    assert old_session.get(tenant_a.url()).status_code == 302
    assert _signed_in(_sign_in("admin@alpha.example", new))


def test_a_reset_for_an_unknown_address_tells_nothing(db: None) -> None:
    answer = Client().post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert answer.status_code == 302
    # allauth mails "no account" notices; never a reset link.
    assert all("/password/reset/key/" not in message.body for message in mail.outbox)


# --- Two-factor authentication ------------------------------------------------------------


def _activate_totp(client: Client) -> str:
    """Set up an authenticator app; allauth first asks for the password again."""
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/reauthenticate/")
    confirmed = client.post(page["Location"], {"password": PASSWORD})
    assert confirmed.status_code == 302
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    answer = client.post("/accounts/2fa/totp/activate/", {"code": _totp_code(secret)})
    assert answer.status_code == 302, answer.content[:400]
    return str(secret)


def test_a_user_sets_up_an_authenticator_app_and_then_needs_its_code(tenant_a: Tenant) -> None:
    client = Client()
    _sign_in("admin@alpha.example", client=client)
    secret = _activate_totp(client)
    assert Authenticator.objects.filter(user=tenant_a.admin, type="totp").exists()
    assert Authenticator.objects.filter(user=tenant_a.admin, type="recovery_codes").exists()

    browser = Client()
    first_step = _sign_in("admin@alpha.example", client=browser)
    assert first_step["Location"] == "/accounts/2fa/authenticate/"
    assert browser.get(tenant_a.url()).status_code == 302  # not signed in yet

    wrong = browser.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert "Incorrect code." in wrong.content.decode()
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        right = browser.post("/accounts/2fa/authenticate/", {"code": _totp_code(secret)})
        assert right.status_code == 302
        assert browser.get(tenant_a.url()).status_code == 200


def test_an_organization_can_require_two_factor(tenant_a: Tenant, tenant_b: Tenant) -> None:
    answer = tenant_a.client.post(
        tenant_a.url("settings/sign-in/"),
        {"require_two_factor": "on", "sso_default_role": Role.VIEWER},
    )
    assert answer.status_code == 302
    assert Organization.objects.get(pk=tenant_a.organization.pk).require_two_factor
    with tenant_context(tenant_a.organization):
        assert AuditLog.objects.filter(action="organization.sign_in_policy").exists()

    owner = tenant_a.member(Role.OWNER, username="owen@alpha.example")
    client = Client()
    _sign_in(owner.email, client=client)
    blocked = client.get(tenant_a.url("cases/"))
    assert blocked.status_code == 302
    assert blocked["Location"] == "/accounts/2fa/totp/activate/?next=%2Fo%2Falpha%2Fcases%2F"
    page = client.get(blocked["Location"], follow=True).content.decode()
    assert "ALPHA Corp requires two-factor authentication." in page

    _activate_totp(client)
    assert client.get(tenant_a.url("cases/")).status_code == 200


def test_the_requirement_applies_only_to_the_organization_that_set_it(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    Organization.objects.filter(pk=tenant_a.organization.pk).update(require_two_factor=True)
    person = tenant_a.member(Role.OWNER, username="both@alpha.example")
    with tenant_context(tenant_b.organization):
        from tenants.models import Membership

        Membership.objects.create(user=person, role=Role.OWNER)
    client = Client()
    _sign_in(person.email, client=client)
    assert client.get(tenant_b.url()).status_code == 200
    assert client.get(tenant_a.url()).status_code == 302


# --- Pages ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/password/change/",
        "/accounts/2fa/",
        "/accounts/reauthenticate/",
        "/accounts/password/reset/",
        "/accounts/sso/",
    ],
)
@pytest.mark.parametrize("language", ["en", "de"])
def test_account_pages_use_the_platform_layout(tenant_a: Tenant, path: str, language: str) -> None:
    answer = tenant_a.client.get(path, HTTP_ACCEPT_LANGUAGE=language)
    assert answer.status_code == 200
    page = answer.content.decode()
    assert 'class="skip-link"' in page
    assert f'<html lang="{language}">' in page
    assert 'id="user-menu"' in page  # the platform's header


def test_the_sign_in_page_offers_password_reset_and_single_sign_on(db: None) -> None:
    page = Client().get("/accounts/login/?next=/o/alpha/cases/").content.decode()
    assert 'href="/accounts/password/reset/"' in page
    assert 'href="/accounts/sso/?next=/o/alpha/cases/"' in page
    assert 'autocomplete="email"' in page or 'type="email"' in page


def test_the_admin_site_signs_in_through_the_same_protected_form(db: None) -> None:
    answer = Client().get("/admin/login/?next=/admin/")
    assert answer.status_code == 302
    assert answer["Location"] == "/accounts/login/?next=%2Fadmin%2F"
    # Posting a password to the admin's own form signs nobody in.
    staff = get_user_model().objects.create_user(
        "staff@example.com", "staff@example.com", PASSWORD, is_staff=True
    )
    client = Client()
    client.post("/admin/login/", {"username": staff.username, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
