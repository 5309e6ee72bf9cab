"""Sign-in pages around django-allauth: single sign-on entry and the sign-in policy."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from responses.ratelimit import public_request_limited, retry_after
from tenants.auth import sso_organization
from tenants.forms_auth import SignInPolicyForm, SsoFindForm
from tenants.models import Organization
from tenants.permissions import Capability, capability_required
from tenants.services import Actor, organization_sign_in_policy_update


def _limited(request: HttpRequest) -> HttpResponse:
    response = render(request, "429.html", status=429)
    response["Retry-After"] = str(retry_after())
    return response


def not_offered(request: HttpRequest) -> HttpResponse:
    raise Http404


@require_http_methods(["GET", "POST"])
def sso_find(request: HttpRequest) -> HttpResponse:
    """Ask for the organization, then continue on its single sign-on page."""
    if public_request_limited(request):
        return _limited(request)
    form = SsoFindForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        slug = form.cleaned_data["organization"].lower()
        if sso_organization(f"org-{slug}") is not None:
            url = reverse("sso-start", kwargs={"org_slug": slug})
            next_url = request.POST.get("next", "")
            return redirect(f"{url}?next={next_url}" if next_url else url)
        form.add_error("organization", _("No organization with single sign-on has this ID."))
    return render(
        request, "account/sso_find.html", {"form": form, "next": request.GET.get("next", "")}
    )


@require_http_methods(["GET"])
def sso_start(request: HttpRequest, org_slug: str) -> HttpResponse:
    """A bookmarkable "Sign in to <organization>" page; its button starts the OIDC flow."""
    if public_request_limited(request):
        return _limited(request)
    organization = sso_organization(f"org-{org_slug}")
    if organization is None:
        return render(request, "account/sso_unavailable.html", status=404)
    login_url = reverse(
        "openid_connect_login", kwargs={"provider_id": organization.sso_provider_id}
    )
    response = render(
        request,
        "account/sso_start.html",
        {
            "sso_organization": organization,
            "login_url": login_url,
            "next": request.GET.get("next", ""),
        },
    )
    # The button's POST is answered with a redirect to the IdP, which form-action governs.
    issuer = urlsplit(organization.sso_issuer)
    response._csp_update = {"form-action": [f"{issuer.scheme}://{issuer.netloc}"]}  # type: ignore[attr-defined]
    return response


@capability_required(Capability.ORGANIZATION_MANAGE)
@require_http_methods(["GET", "POST"])
def sign_in_policy(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization: Organization = request.organization  # type: ignore[attr-defined]
    draft = Organization.objects.defer("logo").get(pk=organization.pk)
    form = SignInPolicyForm(request.POST or None, instance=draft)
    if request.method == "POST" and form.is_valid():
        try:
            organization_sign_in_policy_update(
                organization=organization,
                actor=Actor.of_user(request.user),
                **{name: form.cleaned_data[name] for name in form.Meta.fields},
            )
        except ValidationError as exc:
            organization.refresh_from_db()
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Sign-in settings saved."))
            return redirect("tenants:sign-in-policy", org_slug=organization.slug)
    sso_url = request.build_absolute_uri(
        reverse("sso-start", kwargs={"org_slug": organization.slug})
    )
    callback_url = request.build_absolute_uri(
        reverse("openid_connect_callback", kwargs={"provider_id": organization.sso_provider_id})
    )
    return render(
        request,
        "tenants/sign_in_policy.html",
        {"form": form, "sso_url": sso_url, "callback_url": callback_url},
    )
