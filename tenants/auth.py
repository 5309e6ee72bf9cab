"""Sign-in policy on top of django-allauth (docs/authentication.md).

* No self sign-up: accounts come from an administrator's invitation or from single
  sign-on provisioning.
* Single sign-on: each organization may configure one OpenID Connect identity provider.
  allauth sees it as the sub-provider ``org-<slug>`` of ``openid_connect``, built from the
  organization's row (``SocialAccountAdapter.list_apps``), so a ``SocialAccount`` names the
  organization whose IdP vouched for it.
* Provisioning: an IdP may sign in addresses of the organization's email domains only. A
  new address becomes a user and a member with the organization's default role; an
  existing account is linked only when it belongs to no other organization (an IdP must
  never take over someone else's account) and is not staff.
* "Require single sign-on" refuses password sign-in to members other than administrators.
* "Require two-factor" sends password users without an authenticator app to its set-up
  before any page of the organization (``two_factor_redirect``).
"""

from __future__ import annotations

from typing import Any, NoReturn

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.authentication import get_authentication_records
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.models import Authenticator
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp, SocialLogin
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from tenants.context import cross_tenant
from tenants.models import Membership, Organization, Role

PROVIDER = "openid_connect"
PROVIDER_PREFIX = "org-"


def sso_organization(provider_id: str) -> Organization | None:
    """The active organization whose identity provider is ``org-<slug>``."""
    if not provider_id.startswith(PROVIDER_PREFIX):
        return None
    slug = provider_id.removeprefix(PROVIDER_PREFIX)
    return (
        Organization.objects.filter(slug=slug, is_active=True, sso_enabled=True)
        .defer("logo")
        .first()
    )


def sso_app(organization: Organization) -> SocialApp:
    """An unsaved allauth app for the organization's identity provider."""
    return SocialApp(
        provider=PROVIDER,
        provider_id=organization.sso_provider_id,
        name=organization.name,
        client_id=organization.sso_client_id,
        secret=organization.sso_client_secret,
        settings={"server_url": organization.sso_issuer, "oauth_pkce_enabled": True},
    )


def _memberships(user: Any) -> list[Membership]:
    with cross_tenant(reason="sign-in policy of a user's organizations"):
        return list(Membership.objects.filter(user_id=user.pk).select_related("organization"))


def password_sign_in_refused(user: Any) -> Organization | None:
    """The organization that requires single sign-on of this user, if any."""
    for membership in _memberships(user):
        organization = membership.organization
        if (
            organization.is_active
            and organization.sso_enabled
            and organization.sso_enforced
            and membership.role != Role.ADMIN
        ):
            return organization
    return None


def has_authenticator_app(user: Any) -> bool:
    return Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()


def _signed_in_through(request: HttpRequest, organization: Organization) -> bool:
    """Whether this session was opened through the organization's own IdP."""
    return any(
        record.get("method") == "socialaccount"
        and record.get("provider") == organization.sso_provider_id
        for record in get_authentication_records(request, request.user)
    )


def two_factor_redirect(request: HttpRequest, organization: Organization) -> HttpResponse | None:
    """Send a password user of an organization that requires 2FA to its set-up page.

    A session opened through the organization's IdP passes: the IdP enforces its own
    factors.
    """
    if not organization.require_two_factor or _signed_in_through(request, organization):
        return None
    if has_authenticator_app(request.user):
        return None
    messages.warning(
        request,
        _(
            "%(organization)s requires two-factor authentication. Set up an authenticator "
            "app to continue."
        )
        % {"organization": organization.name},
    )
    query = urlencode({"next": request.get_full_path()})
    return HttpResponseRedirect(f"{reverse('mfa_activate_totp')}?{query}")


class LoginForm(AllauthLoginForm):
    """allauth's form, refusing passwords where the organization requires SSO."""

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean()
        user = getattr(self, "user", None)
        if user is not None and (organization := password_sign_in_refused(user)):
            url = reverse("sso-start", kwargs={"org_slug": organization.slug})
            raise forms.ValidationError(
                _(
                    "%(organization)s signs in with single sign-on. Use “Sign in with "
                    "single sign-on” (%(url)s)."
                )
                % {"organization": organization.name, "url": url},
                code="sso_required",
            )
        return cleaned


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def list_apps(
        self, request: HttpRequest | None, provider: str | None = None, client_id: str | None = None
    ) -> list[SocialApp]:
        if provider not in (None, PROVIDER) and not str(provider).startswith(PROVIDER_PREFIX):
            return []
        organizations = Organization.objects.filter(is_active=True, sso_enabled=True).defer("logo")
        if provider and provider != PROVIDER:
            organizations = organizations.filter(slug=str(provider).removeprefix(PROVIDER_PREFIX))
        if client_id:
            organizations = organizations.filter(sso_client_id=client_id)
        return [sso_app(organization) for organization in organizations]

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        organization = sso_organization(sociallogin.account.provider)
        if organization is None:
            self._refuse(request, _("Single sign-on is not set up for this organization."))
        email = self._email(sociallogin)
        domain = email.rpartition("@")[2]
        if not email or domain not in organization.sso_domains:
            self._refuse(
                request,
                _("%(email)s may not sign in to %(organization)s with single sign-on.")
                % {
                    "email": email or _("An account without an email address"),
                    "organization": organization.name,
                },
            )
        if sociallogin.is_existing:
            self._provision(organization, sociallogin.user)
            return
        existing = get_user_model().objects.filter(email__iexact=email).first()
        if existing is None:
            sociallogin.user.email = email
            sociallogin.user.username = email
            return  # a new user: save_user() provisions the membership
        others = [m for m in _memberships(existing) if m.organization_id != organization.pk]
        if others or existing.is_staff or existing.is_superuser or not existing.is_active:
            self._refuse(
                request,
                _(
                    "The account %(email)s already exists outside %(organization)s. Sign in "
                    "with its password instead."
                )
                % {"email": email, "organization": organization.name},
            )
        sociallogin.connect(request, existing)
        self._provision(organization, existing)

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> Any:
        user = super().save_user(request, sociallogin, form)
        organization = sso_organization(sociallogin.account.provider)
        if organization is None:  # switched off during the sign-in
            self._refuse(request, _("Single sign-on is not set up for this organization."))
        self._provision(organization, user)
        return user

    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: Any) -> Any:
        user = super().populate_user(request, sociallogin, data)
        user.email = (user.email or "").strip().lower()
        user.username = user.email
        return user

    @staticmethod
    def _email(sociallogin: SocialLogin) -> str:
        addresses = [a.email for a in sociallogin.email_addresses if a.email]
        email = addresses[0] if addresses else (sociallogin.user.email or "")
        return email.strip().lower()

    @staticmethod
    def _provision(organization: Organization, user: Any) -> None:
        from tenants.services import membership_provision

        membership_provision(organization=organization, user=user)

    @staticmethod
    def _refuse(request: HttpRequest, message: str) -> NoReturn:
        messages.error(request, message)
        raise ImmediateHttpResponse(HttpResponseRedirect(reverse("account_login")))
