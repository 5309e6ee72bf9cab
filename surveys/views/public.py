"""The unsubscribe link ``/u/<token>/`` of an invitation (no login).

The token is looked up once, across organizations (``invitation_by_token``); the page
then runs in the invitation's organization context. Unknown and never-sent tokens get
the same page (404), which does not tell whether the token exists.

The survey link ``/s/<token>/`` itself is a response-capture page:
``responses.views.public.invitation_page``.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from responses.ratelimit import public_request_limited, public_token_limited, retry_after
from surveys.messages import message_language
from surveys.models_distribution import Invitation
from surveys.selectors import invitation_by_token
from surveys.services.invitations import invitation_unsubscribe
from tenants.context import tenant_context


def _unavailable(request: HttpRequest) -> HttpResponse:
    language = translation.get_language() or "en"
    response = render(
        request, "surveys/public/unavailable.html", {"survey_language": language}, status=404
    )
    response["Cache-Control"] = "no-store"
    return response


def _public(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"  # the token never leaks to linked sites
    response["X-Robots-Tag"] = "noindex"
    return response


def _sent(invitation: Invitation | None) -> bool:
    return invitation is not None and invitation.sent_at is not None


# One-click unsubscribe (RFC 8058) POSTs come from mail providers without a CSRF token;
# the token in the URL is the authorization, and the only effect is the opt-out itself.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def invitation_unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    # Pages count per address; one-click POSTs (RFC 8058) come from mail providers'
    # shared addresses in bulk, so they count per link instead.
    limited = (
        public_token_limited(token) if request.method == "POST" else public_request_limited(request)
    )
    if limited:
        response = render(
            request,
            "responses/public/rate_limited.html",
            {"survey_language": translation.get_language()},
            status=429,
        )
        response["Retry-After"] = str(retry_after())
        return _public(response)
    invitation = invitation_by_token(token)
    if invitation is None or not _sent(invitation):
        return _unavailable(request)
    with tenant_context(invitation.organization_id):
        language = message_language(invitation)
        done = False
        if request.method == "POST":
            invitation_unsubscribe(invitation=invitation)
            done = True
        return _public(
            render(
                request,
                "surveys/public/unsubscribe.html",
                {
                    "invitation": invitation,
                    "organization": invitation.organization,
                    "survey": invitation.survey,
                    "survey_language": language,
                    "done": done,
                },
            )
        )
