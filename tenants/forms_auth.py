"""Forms of the sign-in policy: the organization's security settings and SSO start."""

from __future__ import annotations

import re
from typing import Any

import requests
from django import forms
from django.utils.translation import gettext_lazy as _

from tenants.models import Organization
from tenants.services import SIGN_IN_POLICY_FIELDS

DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
DISCOVERY_TIMEOUT_SECONDS = 5


class SignInPolicyForm(forms.ModelForm[Organization]):
    sso_issuer = forms.URLField(
        label=_("Issuer URL"),
        required=False,
        assume_scheme="https",
        help_text=Organization._meta.get_field("sso_issuer").help_text,
    )
    sso_client_secret = forms.CharField(
        label=_("Client secret"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("Leave empty to keep the stored secret."),
    )

    class Meta:
        model = Organization
        fields = list(SIGN_IN_POLICY_FIELDS)

    def clean_sso_email_domains(self) -> str:
        raw: str = self.cleaned_data.get("sso_email_domains") or ""
        domains = [d.strip().lower().lstrip("@") for d in raw.split(",") if d.strip()]
        bad = [d for d in domains if not DOMAIN.match(d)]
        if bad:
            raise forms.ValidationError(
                _("Not a domain: %(domains)s"), params={"domains": ", ".join(bad)}
            )
        return ", ".join(dict.fromkeys(domains))

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if not cleaned.get("sso_enabled"):
            if cleaned.get("sso_enforced"):
                self.add_error("sso_enforced", _("Turn on single sign-on first."))
            return cleaned
        for name in ("sso_issuer", "sso_client_id", "sso_email_domains"):
            if not cleaned.get(name) and name not in self.errors:
                self.add_error(name, _("Required for single sign-on."))
        if not cleaned.get("sso_client_secret") and not self.instance.sso_client_secret:
            self.add_error("sso_client_secret", _("Required for single sign-on."))
        issuer = cleaned.get("sso_issuer")
        if issuer and "sso_issuer" not in self.errors:
            error = issuer_problem(issuer)
            if error:
                self.add_error("sso_issuer", error)
        return cleaned


def issuer_problem(issuer: str) -> str | None:
    """Why the issuer's discovery document is unusable, or None when it is fine."""
    from integrations.services.webhooks import UnsafeUrl, webhook_url_check

    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        webhook_url_check(url)
    except UnsafeUrl as exc:
        return str(exc)
    try:
        response = requests.get(url, timeout=DISCOVERY_TIMEOUT_SECONDS, allow_redirects=False)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        return str(_("The discovery document %(url)s could not be read: %(error)s")) % {
            "url": url,
            "error": exc.__class__.__name__,
        }
    if not isinstance(document, dict) or document.get("issuer", "").rstrip("/") != issuer.rstrip(
        "/"
    ):
        return str(_("The discovery document at %(url)s names a different issuer.")) % {"url": url}
    missing = [
        key
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri")
        if not document.get(key)
    ]
    if missing:
        return str(_("The discovery document lacks %(keys)s.")) % {"keys": ", ".join(missing)}
    return None


class SsoFindForm(forms.Form):
    organization = forms.SlugField(
        label=_("Organization ID"),
        help_text=_("The short name in your organization's address, e.g. acme in /o/acme/."),
    )
