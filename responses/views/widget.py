"""The website widget's public endpoints: the script, a survey's configuration, submits.

* ``GET /w/v1/widget.js``: the script a shop embeds (any site may load it).
* ``GET /w/<public_id>/config``: questions and texts in one language, and whether to
  show the survey to this customer (``show``, ``reason``).
* ``POST /w/<public_id>/responses``: the answers as JSON; stores a complete response
  through ``response_submit`` (channel ``widget``).

Both survey endpoints answer only the origins listed in ``survey.allowed_origins``
(``Access-Control-Allow-Origin`` names that origin; ``Vary: Origin``); another origin
gets 403 without CORS headers, and a POST without an ``Origin`` header is refused (the
widget always runs in a browser, which always sends it on a cross-origin POST).

Why the views are ``csrf_exempt``: there is no session and no cookie to ride on (the
widget sends none, and nothing here reads one), so the attack CSRF tokens prevent does
not exist. What a forged request could do is submit answers, which anyone may do through
the widget anyway; the Origin allow-list keeps other sites from doing it from their
pages, the JSON body needs a CORS preflight from a browser, and the rate limits of
``responses.ratelimit`` bound the rest.

Errors are JSON in the shape of RFC 9457 problem details (``title``, ``status``, and
``errors``: question id -> messages), never a 500 on a malformed body.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from responses.models import ResponseChannel
from responses.ratelimit import public_request_limited, retry_after
from responses.selectors import survey_by_public_id
from responses.services import response_submit
from responses.services.submit import NON_FIELD
from responses.signing import ATTRIBUTE_PREFIX
from responses.widget import (
    IDENTITY_KEYS,
    identity_params,
    language_code,
    origin_allowed,
    origin_normalize,
    widget_config,
    widget_identify,
    widget_version,
)
from surveys.models import Survey
from surveys.rendering import resolve_language
from tenants.context import tenant_context

WIDGET_SCRIPT = settings.BASE_DIR / "static" / "widget" / "widget.js"
MAX_BODY = 64 * 1024
MAX_KEY_LENGTH = 64
MAX_PAGE_URL = 500
PREFLIGHT_MAX_AGE = 600


# --- The script ------------------------------------------------------------------------


@functools.cache
def _script() -> tuple[bytes, str]:
    """The script and its ETag, read once per process."""
    content = WIDGET_SCRIPT.read_bytes()
    return content, '"' + hashlib.sha256(content).hexdigest()[:32] + '"'


@require_safe
def widget_script(request: HttpRequest) -> HttpResponse:
    content, etag = _script()
    response: HttpResponse
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(content, content_type="application/javascript; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Problems, CORS and the gate -------------------------------------------------------


def _problem(status: int, title: str, errors: dict[str, list[str]] | None = None) -> JsonResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if errors:
        body["errors"] = errors
    return JsonResponse(body, status=status, content_type="application/problem+json")


def _private(response: HttpResponse, origin: str = "") -> HttpResponse:
    """No caching, and CORS headers for ``origin`` (an allowed one) when given."""
    response["Cache-Control"] = "no-store"
    response["Vary"] = "Origin"
    if origin:
        response["Access-Control-Allow-Origin"] = origin
    return response


@dataclass(frozen=True, slots=True)
class Gate:
    survey: Survey | None = None
    origin: str = ""
    refusal: HttpResponse | None = None


def _gate(request: HttpRequest, public_id: str, *, count: bool, token: str = "") -> Gate:
    """The survey and the caller's allowed origin, or the refusal to send back:
    404 (unknown survey, widget off), 403 (origin not allowed, or a POST without one),
    429 (over the rate limit; with CORS headers so the widget can read it)."""
    limited = count and public_request_limited(request, token=token)
    survey = survey_by_public_id(public_id)
    if survey is None or not survey.widget_enabled or not survey.organization.is_active:
        if limited:  # guessing public ids is limited like everything else
            refusal = _private(_problem(429, _("Too many requests. Please try again shortly.")))
            refusal["Retry-After"] = str(retry_after())
            return Gate(refusal=refusal)
        return Gate(refusal=_private(_problem(404, _("This survey is not available."))))
    origin = request.headers.get("Origin", "")
    if origin and not origin_allowed(survey, origin):
        return Gate(refusal=_private(_problem(403, _("This website may not show the survey."))))
    if not origin and request.method != "GET":
        return Gate(refusal=_private(_problem(403, _("The request must name its origin."))))
    if limited:
        refusal = _private(_problem(429, _("Too many requests. Please try again shortly.")), origin)
        refusal["Retry-After"] = str(retry_after())
        return Gate(survey, origin, refusal)
    return Gate(survey, origin)


def _preflight(request: HttpRequest, public_id: str) -> HttpResponse:
    gate = _gate(request, public_id, count=False)
    if gate.refusal is not None:
        return gate.refusal
    response = _private(HttpResponse(status=204), gate.origin)
    response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return response


# --- Configuration ---------------------------------------------------------------------


@csrf_exempt  # no cookies or session: see the module docstring
@require_http_methods(["GET", "OPTIONS"])
def widget_config_view(request: HttpRequest, public_id: str) -> HttpResponse:
    if request.method == "OPTIONS":
        return _preflight(request, public_id)
    gate = _gate(request, public_id, count=True)
    if gate.refusal is not None or gate.survey is None:
        return gate.refusal or _private(_problem(404, _("This survey is not available.")))
    survey = gate.survey
    with tenant_context(survey.organization_id):
        config = widget_config(
            survey=survey,
            language=request.GET.get("lang", ""),
            params=identity_params(request.GET),
        )
    return _private(JsonResponse(config), gate.origin)


# --- Submit ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubmitBody:
    idempotency_key: str
    answers: dict[str, Any]
    identity: dict[str, str]
    page_url: str


def _read_json(request: HttpRequest) -> tuple[Any, HttpResponse | None]:
    """The parsed body, or the problem to answer (413 too large, 400 not JSON)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        return None, _problem(413, _("The request is too large."))
    try:
        raw = request.body
    except RequestDataTooBig:
        return None, _problem(413, _("The request is too large."))
    if len(raw) > MAX_BODY:
        return None, _problem(413, _("The request is too large."))
    try:
        return json.loads(raw), None
    except (ValueError, RecursionError):
        return None, _problem(400, _("The request body is not valid JSON."))


def _parse(data: dict[str, Any]) -> tuple[SubmitBody | None, dict[str, list[str]]]:
    """The submit's fields with their types checked; errors by field name."""
    errors: dict[str, list[str]] = {}
    key = data.get("idempotency_key")
    if not isinstance(key, str) or not 0 < len(key.strip()) <= MAX_KEY_LENGTH:
        errors["idempotency_key"] = [
            _("A key of 1 to %(max)s characters is required.") % {"max": MAX_KEY_LENGTH}
        ]
    answers = data.get("answers")
    if not isinstance(answers, dict):
        errors["answers"] = [_("The answers must be an object of question ids and values.")]
    identity = data.get("identity") or {}
    if not isinstance(identity, dict) or identity_params(identity).keys() != {
        k for k in identity if k in IDENTITY_KEYS or k.startswith(ATTRIBUTE_PREFIX)
    }:
        errors["identity"] = [_("The identity must be an object of signed parameters.")]
    page_url = data.get("page_url") or ""
    if not isinstance(page_url, str):
        errors["page_url"] = [_("The page address must be text.")]
    if errors or not isinstance(key, str) or not isinstance(answers, dict):
        return None, errors
    return SubmitBody(
        idempotency_key=key.strip(),
        answers=answers,
        identity=identity_params(identity),
        page_url=page_url[:MAX_PAGE_URL],
    ), {}


@csrf_exempt  # no cookies or session: see the module docstring
@require_http_methods(["POST", "OPTIONS"])
def widget_submit_view(request: HttpRequest, public_id: str) -> HttpResponse:
    if request.method == "OPTIONS":
        return _preflight(request, public_id)
    data, problem = _read_json(request)
    raw_key = data.get("idempotency_key") if isinstance(data, dict) else None
    token = f"widget:{public_id}:{raw_key}" if isinstance(raw_key, str) and raw_key else ""
    gate = _gate(request, public_id, count=True, token=token[:200])
    if gate.refusal is not None or gate.survey is None:
        return gate.refusal or _private(_problem(404, _("This survey is not available.")))
    survey, origin = gate.survey, gate.origin
    if problem is not None:
        return _private(problem, origin)
    if not isinstance(data, dict):
        return _private(_problem(400, _("The request body must be a JSON object.")), origin)
    with tenant_context(survey.organization_id):
        version = widget_version(survey)
        if version is None:
            return _private(_problem(404, _("This survey is not available.")), origin)
        language = resolve_language(version, language_code(data.get("lang")))
        with translation.override(language):
            body, errors = _parse(data)
            if body is None:
                return _private(_problem(400, _("The request is not valid."), errors), origin)
            identity = widget_identify(survey, body.identity)
            metadata = {"page_url": body.page_url, "origin": origin_normalize(origin)}
            if identity.crm_id and identity.contact is None:
                metadata["crm_id"] = identity.crm_id
            result = response_submit(
                version=version,
                channel=ResponseChannel.WIDGET,
                language=language,
                answers=body.answers,
                complete=True,
                contact=identity.contact,
                # One namespace per survey: a key never finds another survey's response.
                idempotency_key=f"widget:{survey.pk}:{body.idempotency_key}",
                attributes=identity.attributes,
                metadata=metadata,
                count_toward_budget=identity.contact is not None,
            )
            if result.closed:
                return _private(_problem(409, " ".join(result.errors[NON_FIELD])), origin)
            if not result.ok or result.response is None:
                title = _("Please check your answers.")
                return _private(_problem(400, title, result.errors), origin)
    stored = result.response
    return _private(
        JsonResponse(
            {"token": stored.token, "status": stored.status},
            status=201 if result.created else 200,
        ),
        origin,
    )
