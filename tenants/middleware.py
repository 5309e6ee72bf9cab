"""Enter the organization's context for the whole request.

* ``/o/<org-slug>/...``: the signed-in user's membership in that organization. Anyone
  else gets 404, whether or not the organization exists.
* ``/api/...``: the organization of the API key in the ``Authorization`` header.
* ``/admin/...``: staff cross tenants on purpose; the admin classes narrow the lists to
  the organizations the staff user belongs to (superusers see all).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse

from tenants.auth import two_factor_redirect
from tenants.authentication import api_key_resolve, parse_bearer
from tenants.context import cross_tenant, tenant_context
from tenants.models import Membership, Organization

ORG_PATH = re.compile(r"^/o/(?P<slug>[-a-zA-Z0-9_]+)/")


class TenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        match = ORG_PATH.match(path)
        if match:
            return self._organization_request(request, match.group("slug"))
        if path.startswith("/api/"):
            return self._api_request(request)
        if path.startswith("/admin/") and request.user.is_active and request.user.is_staff:
            with cross_tenant(reason="staff admin"):
                return self.get_response(request)
        return self.get_response(request)

    def _organization_request(self, request: HttpRequest, slug: str) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        organization = Organization.objects.filter(slug=slug, is_active=True).defer("logo").first()
        if organization is None:
            raise Http404
        with tenant_context(organization):
            membership = Membership.objects.filter(user=request.user).select_related("user").first()
            if membership is None:
                raise Http404
            request.organization = organization  # type: ignore[attr-defined]
            request.membership = membership  # type: ignore[attr-defined]
            if organization.require_two_factor:
                redirect = two_factor_redirect(request, organization)
                if redirect is not None:
                    return redirect
            return self.get_response(request)

    def _api_request(self, request: HttpRequest) -> HttpResponse:
        raw_key = parse_bearer(request)
        api_key = api_key_resolve(raw_key) if raw_key else None
        if api_key is None:
            return self.get_response(request)
        request.api_key = api_key  # type: ignore[attr-defined]
        request.organization = api_key.organization  # type: ignore[attr-defined]
        with tenant_context(api_key.organization):
            return self.get_response(request)
