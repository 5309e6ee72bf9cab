"""The survey page itself, shared by every entry point of ``responses.views.public``:
show a step (GET), store a step (POST), the read-only answers and the thank-you page.

A ``Visit`` says what the link found (organization, survey, version, invitation or
response, contact) and where the form posts; ``survey_page`` and ``survey_thanks`` do the
rest. Answers are stored by ``responses.services.response_submit`` only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from contacts.models import Contact
from responses.answers import nps_group, survey_steps
from responses.models import Response, ResponseStatus
from responses.services.submit import NON_FIELD, response_can_change, response_submit
from surveys.models import Invitation, Survey, SurveyVersion
from surveys.rendering import RenderedQuestion, render_questions, resolve_language
from surveys.schema import NPS
from tenants.models import Organization

COOKIE_PREFIX = "fb_resp_"
COOKIE_MAX_AGE = int(timedelta(days=30).total_seconds())
# Re-shown text of a refused answer is cut here (the limit itself is at most 10,000).
RESHOW_MAX = 50_000
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(slots=True)
class Visit:
    """One customer on one survey page: what the link found, and where answers go."""

    organization: Organization
    survey: Survey
    version: SurveyVersion
    channel: str
    action: str  # where the form posts
    invitation: Invitation | None = None
    response: Response | None = None
    contact: Contact | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    preferred_language: str = ""
    open_link: bool = False
    answered_elsewhere: bool = False  # an invitation marked answered without a response


# --- Headers ---------------------------------------------------------------------


def public_headers(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"  # the token never leaks to linked sites
    response["X-Robots-Tag"] = "noindex"
    return response


def cookie_name(survey: Survey) -> str:
    return COOKIE_PREFIX + survey.public_id


# --- Paths -------------------------------------------------------------------------


def see_other(url: str, **params: Any) -> HttpResponseRedirect:
    """303 to ``url`` (a path, maybe with a query: its parameters are kept) plus
    ``params``."""
    path, _sep, query = url.partition("?")
    merged = dict(parse_qsl(query, keep_blank_values=True))
    merged.update({key: str(value) for key, value in params.items() if value not in (None, "")})
    encoded = urlencode(merged)
    response = HttpResponseRedirect(f"{path}?{encoded}" if encoded else path)
    response.status_code = 303
    return response


def response_path(response: Response) -> str:
    return reverse("responses:response", kwargs={"token": response.token})


def _page_path(visit: Visit, response: Response) -> str:
    if visit.invitation is not None:
        return reverse("responses:invitation", kwargs={"token": visit.invitation.token})
    return response_path(response)


def _thanks_path(visit: Visit, response: Response) -> str:
    if visit.invitation is not None:
        return reverse("responses:invitation-thanks", kwargs={"token": visit.invitation.token})
    return reverse("responses:response-thanks", kwargs={"token": response.token})


# --- Language ----------------------------------------------------------------------


def _language(request: HttpRequest, visit: Visit, explicit: Any = None) -> str:
    """The link's or form's ``lang``; else the invitation's (the contact's) or the
    response's language; else the browser's; always one the version offers."""
    languages = visit.version.languages
    if isinstance(explicit, str) and explicit in languages:
        return explicit
    requested = request.GET.get("lang", "")
    if requested in languages:
        return requested
    if visit.preferred_language in languages:
        return visit.preferred_language
    return resolve_language(visit.version, translation.get_language_from_request(request))


def _language_links(request: HttpRequest, visit: Visit, current: str) -> list[dict[str, Any]]:
    if len(visit.version.languages) < 2:
        return []
    links = []
    for code in visit.version.languages:
        query = request.GET.copy()
        query["lang"] = code
        try:
            name = translation.get_language_info(code)["name_local"]
        except KeyError:
            name = code
        links.append(
            {
                "code": code,
                "name": name,
                "url": f"{request.path}?{query.urlencode()}",
                "current": code == current,
            }
        )
    return links


# --- Steps -------------------------------------------------------------------------


def _resume_step(steps: list[list[str]], response: Response | None) -> int:
    """Where a returning customer continues: a partial response after its furthest
    answered step (it exists only once the first step was sent), else the start."""
    if response is None or response.status == ResponseStatus.COMPLETE or len(steps) < 2:
        return 0
    answered = response.answers or {}
    furthest = max(
        (index for index, ids in enumerate(steps) if any(qid in answered for qid in ids)),
        default=0,
    )
    return min(max(furthest + 1, 1), len(steps) - 1)


def _step_number(raw: Any, steps: list[list[str]]) -> int | None:
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 3:
        return None
    number = int(raw)
    return number if number < len(steps) else None


def _reachable(step: int | None, steps: list[list[str]], response: Response | None) -> bool:
    """A step the customer may open: the first always; later ones once a response
    exists, up to where it has got to (every step of a complete response)."""
    if step is None:
        return False
    if response is None:
        return step == 0
    if response.status == ResponseStatus.COMPLETE:
        return True
    return step <= _resume_step(steps, response)


def _group_of(question: RenderedQuestion, answers: dict[str, Any]) -> str | None:
    score = answers.get(question.follow_up_for)
    if isinstance(score, bool) or not isinstance(score, int):
        return None
    return nps_group(score)


def _step_questions(
    visit: Visit,
    language: str,
    ids: list[str],
    answers: dict[str, Any],
    errors: dict[str, list[str]],
) -> list[RenderedQuestion]:
    wanted = set(ids)
    questions = [q for q in render_questions(visit.version, language) if q.id in wanted]
    for question in questions:
        question.answer = answers.get(question.id)
        question.errors = errors.get(question.id, [])
        if question.follow_up_for and question.follow_up_for not in wanted:
            # The score was given on an earlier step: its group picks the text here.
            group = _group_of(question, answers)
            if group and group in question.texts_by_group:
                question.text = question.texts_by_group[group]
            question.texts_by_group = {}
    return questions


def _reshown(question: RenderedQuestion, values: list[str]) -> Any:
    """A refused submission's value, in the shape the template compares with."""
    if not values:
        return None
    if question.is_scale:
        value = values[-1]
        return int(value) if value.isascii() and value.isdigit() and len(value) < 4 else value
    if question.is_choice:
        return values if question.multiple else values[-1]
    return values[0][:RESHOW_MAX]


def _anchor(question: RenderedQuestion) -> str:
    if question.is_scale:
        return f"{question.id}-{question.scale_min}"
    if question.is_choice and question.options:
        return f"{question.id}-{question.options[0].id}"
    return f"{question.id}-answer"


def _new_key() -> str:
    return secrets.token_urlsafe(18)


def _valid_key(value: Any) -> bool:
    return isinstance(value, str) and 16 <= len(value) <= 64 and set(value) <= _KEY_CHARS


# --- Showing a step ----------------------------------------------------------------


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    language = context["survey_language"]
    with translation.override(language):
        response = render(request, template, context, status=status)
    response["Content-Language"] = language
    return public_headers(response)


def _base_context(request: HttpRequest, visit: Visit, language: str) -> dict[str, Any]:
    return {
        "organization": visit.organization,
        "survey": visit.survey,
        "version": visit.version,
        "survey_language": language,
        "language_links": _language_links(request, visit, language),
    }


def _show_step(
    request: HttpRequest,
    visit: Visit,
    steps: list[list[str]],
    step: int,
    language: str,
    *,
    answers: dict[str, Any],
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    errors = errors or {}
    questions = _step_questions(visit, language, steps[step], answers, errors)
    nps_buttons = bool(questions) and questions[-1].type == NPS
    with translation.override(language):
        summary = [
            {"anchor": _anchor(q), "text": q.text, "messages": q.errors}
            for q in questions
            if q.errors
        ]
        general = list(errors.get(NON_FIELD, []))
    previous_score = None
    if step > 0:
        for question in visit.version.questions:
            if question.get("type") == NPS and str(question.get("id")) in steps[step - 1]:
                previous_score = answers.get(str(question.get("id")))
    response = visit.response
    context = {
        **_base_context(request, visit, language),
        "questions": questions,
        "step": step,
        "step_number": step + 1,
        "step_count": len(steps),
        "last_step": step == len(steps) - 1,
        "nps_buttons": nps_buttons,
        "nps_optional": nps_buttons and not questions[-1].required,
        "guard_default_button": nps_buttons and len(questions) > 1,
        "form_action": visit.action,
        "idempotency_key": _new_key() if visit.open_link and response is None else "",
        "back_url": _back_url(visit, step, language) if step > 0 else "",
        "previous_score": previous_score,
        "error_summary": summary,
        "general_errors": general,
        "changing": response is not None and response.status == ResponseStatus.COMPLETE,
        "editable_until": response.editable_until if response is not None else None,
    }
    return _render(request, "responses/public/step.html", context, status=status)


def _back_url(visit: Visit, step: int, language: str) -> str:
    path = visit.action.split("?", 1)[0]
    if visit.response is not None and visit.invitation is None:
        path = response_path(visit.response)
    return f"{path}?{urlencode({'step': step - 1, 'lang': language})}"


def _answer_rows(visit: Visit, language: str, answers: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for question in _step_questions(
        visit, language, [q for ids in survey_steps(visit.version) for q in ids], answers, {}
    ):
        value = answers.get(question.id)
        if value is None:
            shown = "—"
        elif question.is_choice:
            labels = {option.id: option.label for option in question.options}
            chosen = value if isinstance(value, list) else [value]
            shown = ", ".join(labels.get(str(item), str(item)) for item in chosen)
        else:
            shown = str(value)
        rows.append({"question": question.text, "answer": shown})
    return rows


def _show_answered(
    request: HttpRequest,
    visit: Visit,
    language: str,
    *,
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The answers as given, read-only (the change window has closed)."""
    response = visit.response
    context = {
        **_base_context(request, visit, language),
        "response": response,
        "rows": _answer_rows(visit, language, response.answers if response else {}),
        "general_errors": errors or [],
    }
    return _render(request, "responses/public/answered.html", context, status=status)


# --- The page: GET shows, POST stores ----------------------------------------------


def survey_page(request: HttpRequest, visit: Visit) -> HttpResponse:
    steps = survey_steps(visit.version)
    if request.method == "POST":
        return _submit(request, visit, steps)
    language = _language(request, visit)
    response = visit.response
    if visit.answered_elsewhere or (response is not None and not response_can_change(response)):
        return _show_answered(request, visit, language)
    requested = _step_number(request.GET.get("step"), steps)
    step = requested if _reachable(requested, steps, response) else None
    if step is None:
        step = _resume_step(steps, response)
    answers = dict(response.answers or {}) if response is not None else {}
    return _show_step(request, visit, steps, step, language, answers=answers)


def _form_data(request: HttpRequest) -> QueryDict | None:
    """The POSTed form, or None when the body cannot be read (broken multipart, too
    large, too many fields): such a request gets a 400 page, never a 500."""
    try:
        return request.POST
    except (MultiPartParserError, SuspiciousOperation, BadRequest, UnicodeDecodeError):
        return None


def _show_problem(
    request: HttpRequest,
    visit: Visit,
    steps: list[list[str]],
    language: str,
    stored: dict[str, Any],
    problem: str,
) -> HttpResponse:
    """The step to continue at, again, with a message about the whole submit (400)."""
    return _show_step(
        request,
        visit,
        steps,
        _resume_step(steps, visit.response),
        language,
        answers=stored,
        errors={NON_FIELD: [problem]},
        status=400,
    )


def _submit(request: HttpRequest, visit: Visit, steps: list[list[str]]) -> HttpResponse:
    data = _form_data(request)
    stored = dict(visit.response.answers or {}) if visit.response is not None else {}
    if data is None:
        language = _language(request, visit)
        with translation.override(language):
            problem = _("Your answers could not be read. Please try again.")
        return _show_problem(request, visit, steps, language, stored, problem)
    language = _language(request, visit, data.get("lang"))
    if visit.answered_elsewhere:
        return _show_answered(request, visit, language)
    step = _step_number(data.get("step"), steps)
    if step is None or (step > 0 and visit.response is None):
        if step is not None:
            # A later step without the first one: start at the beginning.
            return public_headers(see_other(visit.action, lang=language))
        with translation.override(language):
            problem = _("This page was out of date. Please answer again.")
        return _show_problem(request, visit, steps, language, stored, problem)
    key = ""
    if visit.open_link and visit.response is None:
        raw_key = data.get("idempotency_key")
        if not _valid_key(raw_key):
            with translation.override(language):
                problem = _("This page was out of date. Please answer again.")
            return _show_step(
                request,
                visit,
                steps,
                0,
                language,
                answers={},
                errors={NON_FIELD: [problem]},
                status=400,
            )
        # Namespaced: a key from this page can only ever find this survey's open-link
        # answer, never a response that another channel stored under its own key.
        key = f"link:{visit.survey.public_id}:{raw_key}"
    ids = steps[step]
    raw = {qid: data.getlist(qid) for qid in ids}
    complete = step == len(steps) - 1
    with translation.override(language):
        result = response_submit(
            version=visit.version,
            channel=visit.channel,
            language=language,
            answers=raw,
            question_ids=ids,
            complete=complete,
            invitation=visit.invitation,
            response=visit.response,
            contact=visit.contact,
            idempotency_key=key,
            attributes=visit.attributes,
            metadata=visit.metadata,
        )
    if result.closed:
        visit.response = result.response
        return _show_answered(
            request, visit, language, errors=result.errors.get(NON_FIELD, []), status=400
        )
    if result.errors or result.response is None:
        questions = {q.id: q for q in render_questions(visit.version, language)}
        answers = {**stored}
        for qid in ids:
            if qid in questions:
                answers[qid] = _reshown(questions[qid], data.getlist(qid))
        return _show_step(
            request,
            visit,
            steps,
            step,
            language,
            answers=answers,
            errors=result.errors,
            status=400,
        )
    response = result.response
    if complete:
        redirect = see_other(_thanks_path(visit, response), lang=language)
    else:
        redirect = see_other(_page_path(visit, response), step=step + 1, lang=language)
    if visit.open_link:
        redirect.set_cookie(
            cookie_name(visit.survey),
            response.token,
            max_age=COOKIE_MAX_AGE,
            path=reverse("responses:open-link", kwargs={"public_id": visit.survey.public_id}),
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
    return public_headers(redirect)


# --- Thank you ---------------------------------------------------------------------


def survey_thanks(request: HttpRequest, visit: Visit) -> HttpResponse:
    response = visit.response
    language = _language(request, visit)
    if response is None or response.status != ResponseStatus.COMPLETE:
        if visit.answered_elsewhere:
            return _show_answered(request, visit, language)
        target = visit.action if response is None else _page_path(visit, response)
        return public_headers(see_other(target.split("?", 1)[0], lang=language))
    can_change = response_can_change(response)
    context = {
        **_base_context(request, visit, language),
        "response": response,
        "review_url": visit.survey.review_url if response.nps_group == "promoter" else "",
        "change_url": (
            f"{_page_path(visit, response)}?{urlencode({'step': 0, 'lang': language})}"
            if can_change
            else ""
        ),
    }
    return _render(request, "responses/public/thanks.html", context)
