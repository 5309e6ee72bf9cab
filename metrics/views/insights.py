"""Verbatims and themes of the dashboard, and the theme taxonomy editor.

* ``dashboard/verbatims/``: the comments in the dashboard filters (plus score group,
  theme and a search), newest first, 25 a page, search terms marked.
* ``dashboard/themes/``: the period's themes among detractors and promoters, and each
  theme's mentions, NPS and NPS impact.
* ``dashboard/themes/settings/...``: the taxonomy (``metrics.manage``): add, change,
  archive, restore and delete themes, with a preview of what the keywords find.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from metrics.forms_themes import ArchiveForm, ThemeForm
from metrics.models import Theme
from metrics.scoring import SMALL_SAMPLE_THRESHOLD
from metrics.selectors.filters import DashboardFilters
from metrics.selectors.insights import (
    KeywordPreview,
    ThemeRow,
    theme_insights,
    theme_keyword_preview,
    theme_list_for_settings,
    themes_page_filters,
    verbatim_page,
)
from metrics.services.theme_settings import (
    theme_archive,
    theme_create,
    theme_delete,
    theme_update,
    themes_retag_request,
)
from metrics.views.common import dashboard_request
from responses.models import Response
from tenants.permissions import Capability, capability_required, membership_has
from tenants.services import Actor

VIEW = Capability.METRICS_VIEW
MANAGE = Capability.METRICS_MANAGE
VERBATIM_FILTERS = ["group", "theme", "q"]


def _actor(request: HttpRequest) -> Actor:
    return Actor.of_user(request.user)


def highlight(text: str, pattern: re.Pattern[str] | None) -> SafeString:
    """The text escaped, with what ``pattern`` finds wrapped in ``<mark>``. Every piece
    of the customer's text goes through ``escape``; only the tags are added."""
    result = SafeString("")
    last = 0
    if pattern is not None:
        for match in pattern.finditer(text):
            if match.start() == match.end():
                continue
            result += escape(text[last : match.start()])
            result += SafeString("<mark>") + escape(match.group()) + SafeString("</mark>")
            last = match.end()
    return result + escape(text[last:])


# --- Verbatims ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThemeChip:
    theme_id: int
    name: str
    query: str  # the verbatims of the same filters, restricted to this theme


@dataclass(frozen=True, slots=True)
class VerbatimRow:
    response: Response
    comment: SafeString
    themes: list[ThemeChip]
    case_number: int | None


@capability_required(VIEW)
@require_GET
def verbatims(request: HttpRequest, org_slug: str) -> HttpResponse:
    board = dashboard_request(request, with_themes=True)
    filters = board.filters
    with_cases = membership_has(getattr(request, "membership", None), Capability.CASES_WORK)
    result = verbatim_page(
        filters, board.timezone_name, number=request.GET.get("page"), with_cases=with_cases
    )
    pattern = re.compile(re.escape(filters.search), re.IGNORECASE) if filters.search else None
    chips: dict[int, ThemeChip] = {}
    rows = []
    for response in result.responses:
        themes = []
        for theme_id, name in result.extras.themes.get(response.pk, []):
            if theme_id not in chips:
                chips[theme_id] = ThemeChip(theme_id, name, filters.querystring(theme_id=theme_id))
            themes.append(chips[theme_id])
        rows.append(
            VerbatimRow(
                response=response,
                comment=highlight(response.comment, pattern),
                themes=themes,
                case_number=result.extras.cases.get(response.pk),
            )
        )
    return render(
        request,
        "metrics/verbatims.html",
        board.context(
            extra_fields=VERBATIM_FILTERS,
            page=result.page,
            rows=rows,
            count=result.page.paginator.count,
        ),
    )


# --- Themes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkedThemeRow:
    row: ThemeRow
    url: str  # its verbatims
    detractor_url: str
    promoter_url: str


def _linked(rows: list[ThemeRow], filters: DashboardFilters, base: str) -> list[LinkedThemeRow]:
    def url(row: ThemeRow, group: str = "") -> str:
        return f"{base}?{filters.querystring(theme_id=row.theme_id, nps_group=group)}"

    return [
        LinkedThemeRow(
            row=row,
            url=url(row),
            detractor_url=url(row, "detractor"),
            promoter_url=url(row, "promoter"),
        )
        for row in rows
    ]


@capability_required(VIEW)
@require_GET
def themes(request: HttpRequest, org_slug: str) -> HttpResponse:
    board = dashboard_request(request, with_themes=True)
    board = replace(board, filters=themes_page_filters(board.filters))
    filters = board.filters
    insights = theme_insights(filters, board.timezone_name)
    base = reverse("metrics:verbatims", kwargs={"org_slug": org_slug})
    return render(
        request,
        "metrics/themes.html",
        board.context(
            insights=insights,
            rows=_linked(insights.rows, filters, base),
            top_detractor=_linked(insights.top_detractor, filters, base),
            top_promoter=_linked(insights.top_promoter, filters, base),
            small_sample_threshold=SMALL_SAMPLE_THRESHOLD,
        ),
    )


# --- Theme taxonomy editor ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PreviewRow:
    response_id: int
    comment: SafeString
    responded_at: Any
    nps: int | None
    nps_group: str | None


def _preview_rows(preview: KeywordPreview) -> list[PreviewRow]:
    return [
        PreviewRow(
            response_id=example.response_id,
            comment=highlight(example.comment, preview.pattern),
            responded_at=example.responded_at,
            nps=example.nps,
            nps_group=example.nps_group,
        )
        for example in preview.examples
    ]


def _errors_to(form: ThemeForm, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        form.add_error(name if name in form.fields else None, errors)


def _theme_page(request: HttpRequest, org_slug: str, theme: Theme | None) -> HttpResponse:
    initial = ThemeForm.initial_from(theme) if theme is not None else {}
    form = ThemeForm(request.POST or None, initial=initial)
    keywords = theme.keywords if theme is not None else []
    previewing = False
    if request.method == "POST" and form.is_valid():
        kwargs = form.service_kwargs()
        if "preview" in request.POST:
            keywords, previewing = kwargs["keywords"], True
        else:
            try:
                if theme is None:
                    saved = theme_create(actor=_actor(request), **kwargs)
                    text = _("Theme “%(name)s” added.")
                else:
                    saved = theme_update(actor=_actor(request), theme=theme, **kwargs)
                    text = _("Theme “%(name)s” saved.")
            except ValidationError as exc:
                _errors_to(form, exc)
            else:
                messages.success(
                    request,
                    (text % {"name": saved.name})
                    + " "
                    + _("The comments are being tagged again; the pages follow in a moment."),
                )
                return redirect("metrics:theme-edit", org_slug=org_slug, theme_id=saved.pk)
    preview = theme_keyword_preview(keywords) if keywords else None
    return render(
        request,
        "metrics/theme_form.html",
        {
            "theme": theme,
            "form": form,
            "preview": preview,
            "preview_rows": _preview_rows(preview) if preview else [],
            "previewing": previewing,
        },
    )


@capability_required(MANAGE)
@require_GET
def theme_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    return render(request, "metrics/theme_list.html", {"themes": theme_list_for_settings()})


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def theme_create_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    return _theme_page(request, org_slug, None)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def theme_edit(request: HttpRequest, org_slug: str, theme_id: int) -> HttpResponse:
    return _theme_page(request, org_slug, get_object_or_404(Theme.objects, pk=theme_id))


@capability_required(MANAGE)
@require_POST
def theme_archive_view(request: HttpRequest, org_slug: str, theme_id: int) -> HttpResponse:
    theme = get_object_or_404(Theme.objects, pk=theme_id)
    form = ArchiveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose whether to archive or restore the theme."))
        return redirect("metrics:theme-list", org_slug=org_slug)
    archived = form.cleaned_data["archived"]
    theme = theme_archive(actor=_actor(request), theme=theme, archived=archived)
    text = (
        _("Theme “%(name)s” archived: it no longer tags comments.")
        if archived
        else _("Theme “%(name)s” restored: it tags comments again.")
    )
    messages.success(request, text % {"name": theme.name})
    return redirect("metrics:theme-list", org_slug=org_slug)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def theme_delete_view(request: HttpRequest, org_slug: str, theme_id: int) -> HttpResponse:
    theme = get_object_or_404(theme_list_for_settings(), pk=theme_id)
    if request.method == "POST":
        theme_delete(actor=_actor(request), theme=theme)
        messages.success(request, _("Theme “%(name)s” deleted.") % {"name": theme.name})
        return redirect("metrics:theme-list", org_slug=org_slug)
    return render(request, "metrics/theme_delete.html", {"theme": theme})


@capability_required(MANAGE)
@require_POST
def theme_retag(request: HttpRequest, org_slug: str) -> HttpResponse:
    themes_retag_request(actor=_actor(request))
    messages.success(
        request, _("The comments are being tagged again; the pages follow in a moment.")
    )
    return redirect("metrics:theme-list", org_slug=org_slug)
