"""API-key authentication: ``Authorization: Bearer fbk_<prefix>_<secret>``.

The tenant middleware resolves the key before the view runs (so the whole request is
inside the key's organization context); this DRF class only reports the outcome.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from tenants.context import cross_tenant
from tenants.models import API_KEY_PREFIX, ApiKey

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from rest_framework.request import Request

LAST_USED_RESOLUTION = timedelta(minutes=1)


def parse_bearer(request: HttpRequest) -> str | None:
    header = get_authorization_header(request).split()  # type: ignore[arg-type]
    if len(header) != 2 or header[0].lower() != b"bearer":
        return None
    try:
        return header[1].decode("ascii")
    except UnicodeDecodeError:
        return None


def api_key_resolve(raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key``, or None. Constant-time secret comparison."""
    parts = raw_key.split("_")
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    _, prefix, secret = parts
    with cross_tenant(reason="API key lookup before the organization is known"):
        candidates = list(
            ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).select_related(
                "organization"
            )
        )
        for key in candidates:
            if key.secret_matches(secret) and key.organization.is_active:
                now = timezone.now()
                if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
                    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
                    key.last_used_at = now
                return key
    return None


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[AnonymousUser | None, ApiKey] | None:
        http_request = request._request
        if parse_bearer(http_request) is None:
            if get_authorization_header(request):
                raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <API key>'.")
            return None
        api_key: ApiKey | None = getattr(http_request, "api_key", None)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return (None, api_key)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents the API key in the OpenAPI schema."""

    target_class = "tenants.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "fbk_<prefix>_<secret>",
            "description": "An organization API key, created under Settings → API keys.",
        }
