"""Survey pages: the list, creation (from scratch or a template) and the builder.

The builder edits the survey's draft through the services: every question has its own
form with a column per language; moving and removing are small POST forms that work
without JavaScript. Publishing shows every problem of the draft, or freezes it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from surveys.forms import (
    DraftLanguagesForm,
    QuestionAddForm,
    QuestionForm,
    SurveyCreateForm,
    SurveySettingsForm,
)
from surveys.models import Survey, SurveyStatus, SurveyVersion, Touchpoint
from surveys.schema import (
    QUESTION_TYPES,
    SchemaError,
    language_name,
    ordered_languages,
    survey_schema_missing_translations,
    text_slots,
)
from surveys.selectors import (
    survey_list,
    survey_version_current,
    survey_version_draft,
    survey_version_list,
    touchpoint_choices,
)
from surveys.services import (
    SchemaValidationError,
    survey_archive,
    survey_create,
    survey_create_from_template,
    survey_delete,
    survey_draft_create,
    survey_draft_discard,
    survey_draft_languages_set,
    survey_publish,
    survey_question_add,
    survey_question_move,
    survey_question_remove,
    survey_question_update,
    survey_restore,
    survey_update,
)
from surveys.views._common import can, form_errors_to
from tenants.permissions import Capability, capability_required
from tenants.services import Actor


def _survey(survey_id: int) -> Survey:
    return get_object_or_404(Survey.objects.select_related("touchpoint__journey"), pk=survey_id)


def _builder_url(org_slug: str, survey_id: int, anchor: str = "") -> str:
    url = reverse("surveys:survey-detail", kwargs={"org_slug": org_slug, "survey_id": survey_id})
    return f"{url}#{anchor}" if anchor else url


def _back(request: HttpRequest, survey: Survey, anchor: str = "") -> HttpResponseRedirect:
    return redirect(_builder_url(request.organization.slug, survey.pk, anchor))  # type: ignore[attr-defined]


# --- Read-only display of a version --------------------------------------------------


@dataclass
class QuestionSummary:
    """A question for read-only pages: its texts in every language of the version."""

    number: int
    id: str
    type_label: Any
    required: bool
    follow_up_number: int | None
    max_length: int | None
    rows: list[tuple[str, list[str]]]


def summarize(version: SurveyVersion) -> list[QuestionSummary]:
    languages = ordered_languages(version.languages, version.default_language)
    numbers = {q.get("id"): n for n, q in enumerate(version.questions, start=1)}
    summaries = []
    for number, question in enumerate(version.questions, start=1):
        qtype = QUESTION_TYPES.get(question.get("type", ""))
        rows = [
            (slot.label, [str(slot.texts.get(lang, "") or "") for lang in languages])
            for slot in text_slots(question, f"questions[{number - 1}]", number)
        ]
        summaries.append(
            QuestionSummary(
                number=number,
                id=str(question.get("id", "")),
                type_label=qtype.label if qtype else question.get("type"),
                required=bool(question.get("required")),
                follow_up_number=numbers.get(question.get("follow_up_for")),
                max_length=question.get("max_length"),
                rows=rows,
            )
        )
    return summaries


def language_names(version: SurveyVersion) -> list[str]:
    """Column headings for ``summarize``: the default language first."""
    return [
        language_name(lang)
        for lang in ordered_languages(version.languages, version.default_language)
    ]


def translation_gaps(version: SurveyVersion) -> list[tuple[str, list[Any]]]:
    """Missing translations grouped by language name, for the builder's warning."""
    grouped: dict[str, list[Any]] = defaultdict(list)
    for gap in survey_schema_missing_translations(
        version.schema, version.languages, version.default_language
    ):
        grouped[gap.language].append(gap)
    return [(language_name(lang), gaps) for lang, gaps in grouped.items()]


# --- List and create -------------------------------------------------------------------


@capability_required(Capability.SURVEYS_VIEW)
@require_GET
def survey_list_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in SurveyStatus.values:
        status = ""
    return render(
        request,
        "surveys/survey_list.html",
        {
            "surveys": survey_list(status=status or None),
            "status": status,
            "statuses": SurveyStatus.choices,
            "can_manage": can(request, Capability.SURVEYS_MANAGE),
        },
    )


@capability_required(Capability.SURVEYS_MANAGE)
@require_http_methods(["GET", "POST"])
def survey_create_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = request.organization  # type: ignore[attr-defined]
    choices = touchpoint_choices()
    initial = {
        "touchpoint": request.GET.get("touchpoint", ""),
        "languages": [code for code, _name in SurveyCreateForm.base_fields["languages"].choices],  # type: ignore[attr-defined]
        "default_language": organization.default_language,
        "template": request.GET.get("template", ""),
    }
    form = SurveyCreateForm(request.POST or None, initial=initial, touchpoint_choices=choices)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        touchpoint = get_object_or_404(Touchpoint.objects, pk=data["touchpoint"])
        common = {
            "actor": Actor.of_user(request.user),
            "touchpoint": touchpoint,
            "name": data["name"],
            "languages": data["languages"],
            "default_language": data["default_language"],
        }
        try:
            if data["template"]:
                survey = survey_create_from_template(template_key=data["template"], **common)
            else:
                survey = survey_create(**common)
        except ValidationError as exc:
            form_errors_to(form, exc)
        else:
            messages.success(request, _("Survey “%(name)s” created.") % {"name": survey.name})
            return redirect(_builder_url(org_slug, survey.pk))
    return render(
        request, "surveys/survey_create.html", {"form": form, "has_touchpoints": bool(choices)}
    )


# --- The builder -----------------------------------------------------------------------


def _builder(
    request: HttpRequest,
    survey: Survey,
    *,
    settings_form: SurveySettingsForm | None = None,
    languages_form: DraftLanguagesForm | None = None,
    add_form: QuestionAddForm | None = None,
    bound_question: QuestionForm | None = None,
    publish_errors: list[SchemaError] | None = None,
) -> HttpResponse:
    draft = survey_version_draft(survey)
    current = survey_version_current(survey)
    can_manage = can(request, Capability.SURVEYS_MANAGE)
    editable = can_manage and draft is not None and survey.status != SurveyStatus.ARCHIVED
    context: dict[str, Any] = {
        "survey": survey,
        "draft": draft,
        "current": current,
        "versions": survey_version_list(survey),
        "can_manage": can_manage,
        "editable": editable,
        "publish_errors": publish_errors or [],
    }
    if can_manage:
        context["settings_form"] = settings_form or SurveySettingsForm(
            initial={"name": survey.name, "review_url": survey.review_url}
        )
    if editable and draft is not None:
        context["languages_form"] = languages_form or DraftLanguagesForm(
            initial={"languages": draft.languages, "default_language": draft.default_language}
        )
        context["add_form"] = add_form or QuestionAddForm()
        questions = [q for q in draft.questions if q.get("type") in QUESTION_TYPES]
        context["question_forms"] = [
            bound_question
            if bound_question is not None and bound_question.question["id"] == q["id"]
            else QuestionForm(
                question=q,
                questions=questions,
                languages=draft.languages,
                default_language=draft.default_language,
            )
            for q in questions
        ]
        context["gaps"] = translation_gaps(draft)
    else:
        shown = current or draft
        context["shown"] = shown
        context["summaries"] = summarize(shown) if shown else []
        context["language_names"] = language_names(shown) if shown else []
    return render(request, "surveys/survey_detail.html", context)


@capability_required(Capability.SURVEYS_VIEW)
@require_GET
def survey_detail(request: HttpRequest, org_slug: str, survey_id: int) -> HttpResponse:
    return _builder(request, _survey(survey_id))


@capability_required(Capability.SURVEYS_MANAGE)
@require_POST
def survey_settings_view(request: HttpRequest, org_slug: str, survey_id: int) -> HttpResponse:
    survey = _survey(survey_id)
    form = SurveySettingsForm(request.POST)
    if form.is_valid():
        try:
            survey_update(actor=Actor.of_user(request.user), survey=survey, **form.cleaned_data)
        except ValidationError as exc:
            form_errors_to(form, exc)
        else:
            messages.success(request, _("Survey settings saved."))
            return _back(request, survey)
    return _builder(request, survey, settings_form=form)


@capability_required(Capability.SURVEYS_MANAGE)
@require_POST
def survey_languages_view(request: HttpRequest, org_slug: str, survey_id: int) -> HttpResponse:
    survey = _survey(survey_id)
    form = DraftLanguagesForm(request.POST)
    if form.is_valid():
        try:
            survey_draft_languages_set(
                actor=Actor.of_user(request.user), survey=survey, **form.cleaned_data
            )
        except ValidationError as exc:
            form_errors_to(form, exc)
        else:
            messages.success(request, _("Languages saved."))
            return _back(request, survey, "languages")
    return _builder(request, survey, languages_form=form)


@capability_required(Capability.SURVEYS_MANAGE)
@require_POST
def question_add_view(request: HttpRequest, org_slug: str, survey_id: int) -> HttpResponse:
    survey = _survey(survey_id)
    form = QuestionAddForm(request.POST)
    if form.is_valid():
        try:
            question = survey_question_add(
                actor=Actor.of_user(request.user),
                survey=survey,
                question_type=form.cleaned_data["type"],
            )
        except ValidationError as exc:
            form_errors_to(form, exc)
        else:
            messages.success(request, _("Question added: write its texts below."))
            return _back(request, survey, f"question-{question['id']}")
    return _builder(request, survey, add_form=form)


@capability_required(Capability.SURVEYS_MANAGE)
@require_POST
def question_update_view(
    request: HttpRequest, org_slug: str, survey_id: int, question_id: str
) -> HttpResponse:
    survey = _survey(survey_id)
    draft = survey_version_draft(survey)
    questions = [q for q in draft.questions if q.get("type") in QUESTION_TYPES] if draft else []
    question = next((q for q in questions if q.get("id") == question_id), None)
    if draft is None or question is None:
        messages.error(request, _("This question is not in the draft any more."))
        return _back(request, survey)
    form = QuestionForm(
        request.POST,
        question=question,
        questions=questions,
        languages=draft.languages,
        default_language=draft.default_language,
    )
    if form.is_valid():
        try:
            survey_question_update(
                actor=Actor.of_user(request.user),
                survey=survey,
                question_id=question_id,
                content=form.content(),
            )
        except SchemaValidationError as exc:
            form.add_schema_errors(exc.schema_errors)
        except ValidationError as exc:
            form_errors_to(form, exc)
        else:
            number = questions.index(question) + 1
            messages.success(request, _("Question %(number)s saved.") % {"number": number})
            return _back(request, survey, f"question-{question_id}")
    return _builder(request, survey, bound_question=form)


@capability_required(Capability.SURVEYS_MANAGE)
@require_POST
def question_move_view(
    request: HttpRequest, org_slug: str, survey_id: int, question_id: str
) -> HttpResponse:
    survey = _survey(survey_id)
    try:
        survey_question_move(
            actor=Actor.of_user(request.user),
            survey=survey,
            question_id=question_id,
            direction=request.POST.get("direction", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return _back(request, survey, f"question-{question_id}")


@capability_required(Capability.SURVEYS_MANAGE)
@require_POST
def question_remove_view(
    request: HttpRequest, org_slug: str, survey_id: int, question_id: str
) -> HttpResponse:
    survey = _survey(survey_id)
    try:
        survey_question_remove(
            actor=Actor.of_user(request.user), survey=survey, question_id=question_id
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _back(request, survey, f"question-{question_id}")
    messages.success(request, _("Question removed."))
    return _back(request, survey, "questions")


@capability_required(Capability.SURVEYS_MANAGE)
@require_POST
def survey_publish_view(request: HttpRequest, org_slug: str, survey_id: int) -> HttpResponse:
    survey = _survey(survey_id)
    try:
        version = survey_publish(actor=Actor.of_user(request.user), survey=survey)
    except SchemaValidationError as exc:
        return _builder(request, survey, publish_errors=exc.schema_errors)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _back(request, survey)
    messages.success(request, _("Version %(number)s is published.") % {"number": version.number})
    for language, gaps in translation_gaps(version):
        messages.warning(
            request,
            ngettext(
                "%(count)s text is missing in %(language)s: customers who answer in "
                "%(language)s see the %(default)s text there.",
                "%(count)s texts are missing in %(language)s: customers who answer in "
                "%(language)s see the %(default)s text there.",
                len(gaps),
            )
            % {
                "count": len(gaps),
                "language": language,
                "default": language_name(version.default_language),
            },
        )
    return _back(request, survey)


@capability_required(Capability.SURVEYS_MANAGE)
@require_POST
def survey_edit_view(request: HttpRequest, org_slug: str, survey_id: int) -> HttpResponse:
    survey = _survey(survey_id)
    try:
        draft = survey_draft_create(actor=Actor.of_user(request.user), survey=survey)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Draft of version %(number)s: change it, then publish it.")
            % {"number": draft.number},
        )
    return _back(request, survey)


@capability_required(Capability.SURVEYS_MANAGE)
@require_POST
def survey_discard_view(request: HttpRequest, org_slug: str, survey_id: int) -> HttpResponse:
    survey = _survey(survey_id)
    try:
        survey_draft_discard(actor=Actor.of_user(request.user), survey=survey)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Draft discarded."))
    return _back(request, survey)


@capability_required(Capability.SURVEYS_MANAGE)
@require_POST
def survey_archive_view(request: HttpRequest, org_slug: str, survey_id: int) -> HttpResponse:
    survey = _survey(survey_id)
    survey_archive(actor=Actor.of_user(request.user), survey=survey)
    messages.success(request, _("Survey archived: it is no longer sent."))
    return _back(request, survey)


@capability_required(Capability.SURVEYS_MANAGE)
@require_POST
def survey_restore_view(request: HttpRequest, org_slug: str, survey_id: int) -> HttpResponse:
    survey = _survey(survey_id)
    survey_restore(actor=Actor.of_user(request.user), survey=survey)
    messages.success(request, _("Survey restored."))
    return _back(request, survey)


@capability_required(Capability.SURVEYS_MANAGE)
@require_POST
def survey_delete_view(request: HttpRequest, org_slug: str, survey_id: int) -> HttpResponse:
    survey = _survey(survey_id)
    try:
        survey_delete(actor=Actor.of_user(request.user), survey=survey)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _back(request, survey)
    messages.success(request, _("Survey “%(name)s” deleted.") % {"name": survey.name})
    return redirect("surveys:survey-list", org_slug=org_slug)
