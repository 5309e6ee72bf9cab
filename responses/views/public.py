"""The customer's survey pages (no login): invitation links, open links, response links.

* ``/s/<token>/``: an invitation's survey link (one response per invitation).
* ``/l/<public_id>/``: a survey's open link (anyone; optional signed CRM parameters).
* ``/r/<token>/``: a response's own link: resume a partial open-link or widget answer,
  or change the answers while the survey's change window is open.
* ``.../thanks/``: the thank-you page of an invitation or a response.

Every page is one of the steps of ``responses.answers.survey_steps``: an NPS survey
asks the score first (eleven submit buttons, one tap answers) and saves it at once as a
partial response; the second step shows the follow-up question written for the
customer's group, chosen on the server, so nothing needs JavaScript. The views here find
the link's ``Visit``; ``responses.views.survey_page`` shows and stores the steps.

The link is the credential. The link lookup is the one cross-tenant query
(``responses.selectors``); the page then runs in the organization's context. Unknown,
expired and never-sent links, and open links that are switched off, all get the same
404 page, which does not tell whether a link exists.

The views are ``csrf_exempt``: the customer has no session to protect (no login, no
cookie that grants anything beyond the link itself), the link token or public id in the
URL is the authorization, and a cross-site form could only do what the link already
allows its holder to do. Rate limits (``responses.ratelimit``) apply to every request.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from contacts.models import Contact
from responses.models import Response, ResponseChannel
from responses.ratelimit import public_request_limited, retry_after
from responses.selectors import (
    invitation_for_answering,
    response_by_token,
    response_for_invitation,
    response_for_open_link,
    survey_version_by_public_id,
)
from responses.services.submit import CHANNEL_OF_INVITATION
from responses.signing import MAX_VALUE_LENGTH, verify_params
from responses.views.survey_page import (
    Visit,
    cookie_name,
    public_headers,
    response_path,
    see_other,
    survey_page,
    survey_thanks,
)
from surveys.messages import message_language
from surveys.models import Invitation, Survey, SurveyStatus
from surveys.models_distribution import InvitationStatus
from surveys.services.invitations import invitation_is_available, invitation_open
from tenants.context import tenant_context

# --- Responses: headers, the unavailable and rate-limited pages ---------------------


def _unavailable(request: HttpRequest) -> HttpResponse:
    """The same page for every link that does not (or no longer) lead to a survey."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    return public_headers(
        render(
            request, "surveys/public/unavailable.html", {"survey_language": language}, status=404
        )
    )


def _site_language(request: HttpRequest) -> str:
    """The link's ``lang`` if the site has it, else the browser's language."""
    requested = request.GET.get("lang", "")
    if requested in {code for code, _name in settings.LANGUAGES}:
        return requested
    return translation.get_language_from_request(request)


def _rate_limited(request: HttpRequest) -> HttpResponse:
    """429 before any lookup: a limited request costs no query and tells nothing about
    the link, so the page speaks the link's ``lang`` or the browser's language."""
    language = _site_language(request)
    with translation.override(language):
        response = render(
            request, "responses/public/rate_limited.html", {"survey_language": language}, status=429
        )
    response["Retry-After"] = str(retry_after())
    response["Content-Language"] = language
    return public_headers(response)


def _limited(request: HttpRequest, token: str = "") -> bool:
    return public_request_limited(request, token)


# --- Entry points ------------------------------------------------------------------


@csrf_exempt  # the invitation token is the credential (see the module docstring)
@require_http_methods(["GET", "POST"])
def invitation_page(request: HttpRequest, token: str) -> HttpResponse:
    if _limited(request, token):
        return _rate_limited(request)
    invitation = invitation_for_answering(token)
    if invitation is None or not _invitation_usable(invitation):
        return _unavailable(request)
    with tenant_context(invitation.organization_id):
        if request.method == "GET":
            invitation_open(invitation=invitation)
        return survey_page(request, _invitation_visit(request, invitation))


@require_GET
def invitation_thanks(request: HttpRequest, token: str) -> HttpResponse:
    if _limited(request):
        return _rate_limited(request)
    invitation = invitation_for_answering(token)
    if invitation is None or not _invitation_usable(invitation):
        return _unavailable(request)
    with tenant_context(invitation.organization_id):
        return survey_thanks(request, _invitation_visit(request, invitation))


@csrf_exempt  # the survey's public id is the credential (see the module docstring)
@require_http_methods(["GET", "POST"])
def open_link_page(request: HttpRequest, public_id: str) -> HttpResponse:
    # Shared by every visitor of the survey: only the per-address limit applies; the
    # later steps run on each response's own link, which is limited per token.
    if _limited(request):
        return _rate_limited(request)
    version = survey_version_by_public_id(public_id)
    if version is None or not _open_link_usable(version.survey):
        return _unavailable(request)
    survey = version.survey
    with tenant_context(survey.organization_id):
        remembered = _remembered_response(request, survey)
        if request.method == "GET" and remembered is not None:
            return public_headers(
                see_other(response_path(remembered), lang=request.GET.get("lang"))
            )
        visit = Visit(
            organization=survey.organization,
            survey=survey,
            version=version,
            channel=ResponseChannel.LINK,
            action=request.get_full_path(),
            response=remembered,
            open_link=True,
            metadata={"entry": "open_link"},
        )
        if request.method == "POST" and remembered is None:
            _identify(request, visit)
        if remembered is not None and remembered.survey_version_id != version.pk:
            visit.version = remembered.survey_version
            visit.version.survey = survey
        return survey_page(request, visit)


@csrf_exempt  # the response token is the credential (see the module docstring)
@require_http_methods(["GET", "POST"])
def response_page(request: HttpRequest, token: str) -> HttpResponse:
    if _limited(request, token):
        return _rate_limited(request)
    response = response_by_token(token)
    if response is None or not _response_usable(response):
        return _unavailable(request)
    with tenant_context(response.organization_id):
        return survey_page(request, _response_visit(request, response))


@require_GET
def response_thanks(request: HttpRequest, token: str) -> HttpResponse:
    if _limited(request):
        return _rate_limited(request)
    response = response_by_token(token)
    if response is None or not _response_usable(response):
        return _unavailable(request)
    with tenant_context(response.organization_id):
        return survey_thanks(request, _response_visit(request, response))


# --- Finding the visit -------------------------------------------------------------


def _invitation_usable(invitation: Invitation) -> bool:
    return invitation.organization.is_active and invitation_is_available(invitation)


def _open_link_usable(survey: Survey) -> bool:
    return (
        survey.open_link_enabled
        and survey.status == SurveyStatus.ACTIVE
        and survey.organization.is_active
    )


def _response_usable(response: Response) -> bool:
    """Response links serve open-link and widget answers (an invitation's answer lives
    on the invitation's link, where its expiry applies)."""
    return (
        response.invitation_id is None
        and response.survey.status == SurveyStatus.ACTIVE
        and response.organization.is_active
    )


def _invitation_visit(request: HttpRequest, invitation: Invitation) -> Visit:
    survey = invitation.survey
    version = invitation.survey_version
    version.survey = survey
    response = response_for_invitation(invitation)
    if response is not None:
        if response.survey_version_id == version.pk:
            response.survey_version = version
        else:
            version = response.survey_version
            version.survey = survey
    return Visit(
        organization=invitation.organization,
        survey=survey,
        version=version,
        channel=CHANNEL_OF_INVITATION.get(invitation.channel, ResponseChannel.EMAIL),
        action=reverse("responses:invitation", kwargs={"token": invitation.token}),
        invitation=invitation,
        response=response,
        preferred_language=message_language(invitation),
        answered_elsewhere=response is None and invitation.status == InvitationStatus.ANSWERED,
    )


def _response_visit(request: HttpRequest, response: Response) -> Visit:
    version = response.survey_version
    return Visit(
        organization=response.organization,
        survey=response.survey,
        version=version,
        channel=response.channel,
        action=response_path(response),
        response=response,
        preferred_language=response.language,
    )


def _remembered_response(request: HttpRequest, survey: Survey) -> Response | None:
    token = request.COOKIES.get(cookie_name(survey), "")
    return response_for_open_link(survey_id=survey.pk, token=token) if token else None


def _clean_param(value: str) -> str:
    return value.replace("\x00", "")[:MAX_VALUE_LENGTH]


def _identify(request: HttpRequest, visit: Visit) -> None:
    """Signed CRM parameters of the open link: the contact (found, never created) and
    attributes for the response's snapshot. Unsigned or tampered ones are ignored."""
    identity = verify_params(visit.survey.link_secret, request.GET.dict())
    if not identity.valid:
        return
    visit.attributes = {
        _clean_param(key): _clean_param(value) for key, value in identity.attributes.items()
    }
    crm_id = _clean_param(identity.crm_id)
    if crm_id:
        visit.metadata["crm_id"] = crm_id
        visit.contact = Contact.objects.filter(crm_id=crm_id).first()
