"""The customer's follow-up survey of a resolved case (no login).

* ``/f/<token>/``: "Was your concern resolved?" (yes/no) and the NPS question again,
  with an optional comment; one form, big buttons, works without JavaScript. Answered
  once: later visits show that the answer was received.
* ``/f/<token>/thanks/``: the thank-you page.

The link is the credential, as on the survey pages (``responses.views.public``): the
token lookup is the one cross-tenant query (``closedloop.selectors_messages``), the
page then runs in the organization's context, shows its branding and speaks the
follow-up's language (the customer's), or the one chosen with ``?lang=``. Unknown links
and follow-ups of a case that was reopened get the survey pages' 404 page. Every
request counts against the public rate limits (``responses.ratelimit``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import BadRequest, SuspiciousOperation, ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from closedloop.forms_messages import FollowUpForm
from closedloop.models import CaseFollowUp
from closedloop.selectors_messages import follow_up_for_answering
from closedloop.services.follow_ups import case_follow_up_answer, follow_up_is_open
from responses.ratelimit import public_request_limited, retry_after
from responses.views.survey_page import public_headers, see_other
from tenants.context import tenant_context

LANGUAGE_CODES = frozenset(code for code, _name in settings.LANGUAGES)


# --- Pages that tell nothing about the link ------------------------------------------


def _browser_language(request: HttpRequest) -> str:
    requested = request.GET.get("lang", "")
    if requested in LANGUAGE_CODES:
        return requested
    return translation.get_language_from_request(request)


def _unavailable(request: HttpRequest) -> HttpResponse:
    language = _browser_language(request)
    with translation.override(language):
        response = render(
            request, "surveys/public/unavailable.html", {"survey_language": language}, status=404
        )
    return public_headers(response)


def _rate_limited(request: HttpRequest) -> HttpResponse:
    language = _browser_language(request)
    with translation.override(language):
        response = render(
            request, "responses/public/rate_limited.html", {"survey_language": language}, status=429
        )
    response["Retry-After"] = str(retry_after())
    response["Content-Language"] = language
    return public_headers(response)


# --- Language --------------------------------------------------------------------------


def _language(request: HttpRequest, follow_up: CaseFollowUp, posted: Any = None) -> str:
    """The form's or link's ``lang``, else the follow-up's, else the organization's."""
    for code in (posted, request.GET.get("lang"), follow_up.language):
        if isinstance(code, str) and code in LANGUAGE_CODES:
            return code
    default = follow_up.organization.default_language
    return default if default in LANGUAGE_CODES else str(settings.LANGUAGE_CODE)


def _language_links(request: HttpRequest, current: str) -> list[dict[str, Any]]:
    links = []
    for code, _name in settings.LANGUAGES:
        query = request.GET.copy()
        query["lang"] = code
        links.append(
            {
                "code": code,
                "name": translation.get_language_info(code)["name_local"],
                "url": f"{request.path}?{query.urlencode()}",
                "current": code == current,
            }
        )
    return links


def _render(
    request: HttpRequest,
    template: str,
    follow_up: CaseFollowUp,
    language: str,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    base = {
        "organization": follow_up.organization,
        "follow_up": follow_up,
        "survey_language": language,
        "language_links": _language_links(request, language),
    }
    with translation.override(language):
        response = render(request, template, {**base, **context}, status=status)
    response["Content-Language"] = language
    return public_headers(response)


# --- The survey --------------------------------------------------------------------------


def _usable(follow_up: CaseFollowUp) -> bool:
    if not follow_up.organization.is_active:
        return False
    return follow_up.answered_at is not None or follow_up_is_open(follow_up)


def _form_data(request: HttpRequest) -> QueryDict | None:
    try:
        return request.POST
    except (MultiPartParserError, SuspiciousOperation, BadRequest, UnicodeDecodeError):
        return None


def _show_form(
    request: HttpRequest,
    follow_up: CaseFollowUp,
    language: str,
    form: FollowUpForm,
    status: int = 200,
) -> HttpResponse:
    with translation.override(language):
        question = _("How likely are you to recommend %(organization)s to a friend or colleague?")
        nps_question = question % {"organization": follow_up.organization.name}
        resolved_question = _("Was your concern resolved?")
        summary = []
        if form.is_bound:
            if form.errors.get("resolved"):
                summary.append(
                    {
                        "anchor": "resolved-yes",
                        "text": resolved_question,
                        "messages": form.errors["resolved"],
                    }
                )
            if form.errors.get("nps"):
                summary.append(
                    {"anchor": "nps-0", "text": nps_question, "messages": form.errors["nps"]}
                )
            if form.errors.get("comment"):
                summary.append(
                    {
                        "anchor": "comment",
                        "text": _("Anything else you would like to tell us?"),
                        "messages": form.errors["comment"],
                    }
                )
    context = {
        "form": form,
        "resolved_question": resolved_question,
        "nps_question": nps_question,
        "nps_scale": [str(n) for n in range(11)],
        "resolved_value": form["resolved"].value() or "",
        "nps_value": str(form["nps"].value() or "") if form.is_bound else "",
        "comment_value": form["comment"].value() or "",
        "error_summary": summary,
        "general_errors": list(form.non_field_errors()),
        "form_action": request.path,
    }
    return _render(
        request, "closedloop/public/follow_up.html", follow_up, language, context, status
    )


def _thanks_path(follow_up: CaseFollowUp) -> str:
    return reverse("closedloop_public:follow-up-thanks", kwargs={"token": follow_up.token})


@csrf_exempt  # the follow-up token is the credential (see the module docstring)
@require_http_methods(["GET", "POST"])
def follow_up_page(request: HttpRequest, token: str) -> HttpResponse:
    if public_request_limited(request, token):
        return _rate_limited(request)
    follow_up = follow_up_for_answering(token)
    if follow_up is None or not _usable(follow_up):
        return _unavailable(request)
    with tenant_context(follow_up.organization_id):
        if request.method != "POST":
            language = _language(request, follow_up)
            if follow_up.answered_at is not None:
                return _show_thanks(request, follow_up, language, already=True)
            return _show_form(request, follow_up, language, FollowUpForm())
        data = _form_data(request)
        language = _language(request, follow_up, data.get("lang") if data else None)
        if follow_up.answered_at is not None:
            return _show_thanks(request, follow_up, language, already=True)
        with translation.override(language):
            form = FollowUpForm(data if data is not None else {})
            if data is None:
                form.add_error(None, _("Your answers could not be read. Please try again."))
            elif form.is_valid():
                try:
                    case_follow_up_answer(
                        follow_up=follow_up,
                        concern_resolved=form.concern_resolved(),
                        nps=form.cleaned_data["nps"],
                        comment=form.cleaned_data["comment"],
                    )
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    return public_headers(see_other(_thanks_path(follow_up), lang=language))
        return _show_form(request, follow_up, language, form, status=400)


def _show_thanks(
    request: HttpRequest, follow_up: CaseFollowUp, language: str, *, already: bool
) -> HttpResponse:
    return _render(
        request, "closedloop/public/thanks.html", follow_up, language, {"already": already}
    )


@require_GET
def follow_up_thanks(request: HttpRequest, token: str) -> HttpResponse:
    if public_request_limited(request):
        return _rate_limited(request)
    follow_up = follow_up_for_answering(token)
    if follow_up is None or not _usable(follow_up):
        return _unavailable(request)
    with tenant_context(follow_up.organization_id):
        language = _language(request, follow_up)
        if follow_up.answered_at is None:
            path = reverse("closedloop_public:follow-up", kwargs={"token": follow_up.token})
            return public_headers(see_other(path, lang=language))
        return _show_thanks(request, follow_up, language, already=False)
