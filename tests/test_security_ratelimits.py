"""Every public endpoint is rate-limited, or says here why it need not be.

A route that anyone may reach (tests/test_url_census.py PUBLIC_ROUTES, and accounts/)
must be in LIMITED, which proves the limit over HTTP, or in EXEMPT with its reason.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from tests.test_url_census import ALL_ROUTES, PUBLIC_ROUTES

pytestmark = pytest.mark.django_db

TOKEN = "x" * 32
# route -> (method, url, body)
LIMITED: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "s/<str:token>/": ("get", f"/s/{TOKEN}/", None),
    "s/<str:token>/thanks/": ("get", f"/s/{TOKEN}/thanks/", None),
    "r/<str:token>/": ("get", f"/r/{TOKEN}/", None),
    "r/<str:token>/thanks/": ("get", f"/r/{TOKEN}/thanks/", None),
    "u/<str:token>/": ("get", f"/u/{TOKEN}/", None),
    "f/<str:token>/": ("get", f"/f/{TOKEN}/", None),
    "f/<str:token>/thanks/": ("get", f"/f/{TOKEN}/thanks/", None),
    "l/<str:public_id>/": ("get", "/l/nosuchlink/", None),
    "w/<str:public_id>/config": ("get", "/w/nosuchlink/config", None),
    "w/<str:public_id>/responses": ("post", "/w/nosuchlink/responses", {}),
    "accounts/sso/": ("get", "/accounts/sso/", None),
    "accounts/sso/<slug:org_slug>/": ("get", "/accounts/sso/alpha/", None),
}
EXEMPT = {
    "healthz": "liveness probe: no database, no data, polled by the orchestrator",
    "readyz": "readiness probe, polled by the orchestrator; names failing parts only",
    "i18n/setlang/": "sets a language cookie (POST with CSRF token); touches no data",
    "": "a redirect to the signed-in user's organizations or the sign-in page",
    "branding/<slug:org_slug>/logo": (
        "logos in emails are fetched through the mail providers' image proxies, many "
        "recipients from one address; the answer is cached (ETag, max-age)"
    ),
    "w/v1/widget.js": "a static script, the same for everyone, cached",
    "integrations/anymail/postmark/tracking/": "ESP webhook: basic auth checked first",
    "integrations/anymail/postmark/inbound/": "ESP webhook: basic auth checked first",
    "integrations/twilio/status/": "Twilio webhook: X-Twilio-Signature checked first",
    "integrations/twilio/inbound/": "Twilio webhook: X-Twilio-Signature checked first",
}
# allauth's own routes: ACCOUNT_RATE_LIMITS (sign-in, reset, codes); proven below.
ALLAUTH = "accounts/"


def test_every_public_route_is_limited_or_exempt_for_a_reason() -> None:
    public = set(PUBLIC_ROUTES) | {r for r in ALL_ROUTES if r.startswith("accounts/sso/")}
    unclassified = sorted(public - set(LIMITED) - set(EXEMPT))
    assert not unclassified, f"rate-limit these routes or exempt them here: {unclassified}"
    assert not (set(LIMITED) | set(EXEMPT)) - public - {""}, "stale entries"


@pytest.mark.parametrize("route", sorted(LIMITED))
def test_the_limit_answers_429(route: str, settings: Any) -> None:
    cache.clear()
    settings.PUBLIC_RATE_LIMIT_PER_IP = 3
    method, url, body = LIMITED[route]
    client = Client(REMOTE_ADDR="203.0.113.7")
    answers = [
        getattr(client, method)(url, body, content_type="application/json")
        if body is not None
        else getattr(client, method)(url)
        for _ in range(4)
    ]
    assert [a.status_code == 429 for a in answers] == [False, False, False, True], [
        a.status_code for a in answers
    ]
    assert int(answers[-1]["Retry-After"]) > 0
    # Another address is not affected.
    other = Client(REMOTE_ADDR="203.0.113.8")
    assert getattr(other, method)(url).status_code != 429


def test_sign_in_attempts_are_limited_per_address(settings: Any) -> None:
    cache.clear()
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "3/m/ip"}
    client = Client(REMOTE_ADDR="203.0.113.9")
    codes = [
        client.post("/accounts/login/", {"login": f"u{i}@example.com", "password": "x"}).status_code
        for i in range(4)
    ]
    assert codes == [200, 200, 200, 429]


def test_without_the_cache_the_limits_fail_open(tenant_a: Any, settings: Any) -> None:
    """Redis down (nothing listens on the port): survey pages and the API still answer."""
    from tenants.context import tenant_context
    from tests.factories import InvitationFactory, published_survey

    with tenant_context(tenant_a.organization):
        version = published_survey()
        invitation = InvitationFactory(survey_version=version, survey=version.survey, status="sent")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    assert Client().get(f"/s/{invitation.token}/").status_code == 200
    api = Client().get("/api/v1/surveys/", HTTP_AUTHORIZATION=f"Bearer {tenant_a.raw_key}")
    assert api.status_code == 200
