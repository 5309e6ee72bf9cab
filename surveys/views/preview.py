"""The preview (the customer's page at phone or desktop width, per language) and the
read-only view of a published version."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from surveys.models import Survey, SurveyVersion
from surveys.rendering import render_questions, resolve_language
from surveys.schema import language_name, survey_schema_missing_translations
from surveys.selectors import (
    survey_version_current,
    survey_version_draft,
    survey_version_get,
    survey_version_list,
)
from surveys.views.builder import language_names, summarize
from tenants.permissions import Capability, capability_required

WIDTHS = {"phone": 375, "desktop": 1024}


def _version_for(survey: Survey, number: str | None) -> SurveyVersion:
    """The version asked for by number; by default the draft, else the current version."""
    if number:
        if not number.isdigit():
            raise Http404
        version = survey_version_get(survey, int(number))
    else:
        version = survey_version_draft(survey) or survey_version_current(survey)
    if version is None:
        raise Http404
    return version


@capability_required(Capability.SURVEYS_VIEW)
@require_GET
def survey_preview(request: HttpRequest, org_slug: str, survey_id: int) -> HttpResponse:
    survey = get_object_or_404(Survey.objects.select_related("touchpoint__journey"), pk=survey_id)
    version = _version_for(survey, request.GET.get("version"))
    language = resolve_language(version, request.GET.get("lang"))
    width = request.GET.get("width", "phone")
    if width not in WIDTHS:
        width = "phone"
    params = {"version": version.number, "lang": language}
    frame_url = reverse(
        "surveys:survey-preview-frame", kwargs={"org_slug": org_slug, "survey_id": survey.pk}
    )
    draft = survey_version_draft(survey)
    versions = [*([draft] if draft else []), *survey_version_list(survey)]
    missing = [
        gap
        for gap in survey_schema_missing_translations(
            version.schema, version.languages, version.default_language
        )
        if gap.language == language
    ]
    return render(
        request,
        "surveys/survey_preview.html",
        {
            "survey": survey,
            "version": version,
            "versions": versions,
            "language": language,
            "languages": [(code, language_name(code)) for code in version.languages],
            "width": width,
            "frame_width": WIDTHS[width],
            "frame_src": f"{frame_url}?{urlencode(params)}",
            "missing": missing,
            "default_language_name": language_name(version.default_language),
        },
    )


@xframe_options_sameorigin
@capability_required(Capability.SURVEYS_VIEW)
@require_GET
def survey_preview_frame(request: HttpRequest, org_slug: str, survey_id: int) -> HttpResponse:
    """The customer's view of a version, framed by the preview page."""
    survey = get_object_or_404(Survey.objects, pk=survey_id)
    version = _version_for(survey, request.GET.get("version"))
    language = resolve_language(version, request.GET.get("lang"))
    return render(
        request,
        "surveys/public/preview_frame.html",
        {
            "survey": survey,
            "version": version,
            "survey_language": language,
            "questions": render_questions(version, language),
        },
    )


@capability_required(Capability.SURVEYS_VIEW)
@require_GET
def survey_version_detail(request: HttpRequest, org_slug: str, version_id: int) -> HttpResponse:
    version = get_object_or_404(
        SurveyVersion.objects.select_related("survey__touchpoint__journey", "published_by"),
        pk=version_id,
    )
    return render(
        request,
        "surveys/version_detail.html",
        {
            "version": version,
            "survey": version.survey,
            "summaries": summarize(version),
            "language_names": language_names(version),
            "default_language_name": language_name(version.default_language),
        },
    )
