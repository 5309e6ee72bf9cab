# mypy: disallow-untyped-defs, disallow-incomplete-defs
"""Reads of the verbatims and themes pages and of the theme taxonomy editor.

Verbatims are raw responses (the rollup keeps no text); every list is one paged query
plus one query each for the page's themes and cases. The themes page aggregates in SQL:
one query for the period's totals and one grouped query over the taggings.

NPS impact of a theme: the NPS of every scored response in the filters minus the NPS of
the same responses without those that mention the theme. A positive impact means the
theme pulls the NPS up (removing its comments would lower it).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from closedloop.models import CaseResponse
from metrics.models import ResponseTheme, Theme
from metrics.scoring import NpsResult, nps_from_counts
from metrics.selectors.filters import DashboardFilters
from metrics.services.themes import keywords_regex, matcher_for
from responses.models import NpsGroup, Response

VERBATIMS_PER_PAGE = 25
PREVIEW_COMMENTS = 500
PREVIEW_EXAMPLES = 5
TOP_THEMES = 10


# --- Verbatims ------------------------------------------------------------------------


def verbatim_list(filters: DashboardFilters, timezone_name: str) -> QuerySet[Response]:
    """The comments of the responses in the filters (score group, theme and search
    included), newest first, with what a row shows loaded alongside."""
    responses = (
        Response.objects.filter(filters.response_q(timezone_name))
        .exclude(comment="")
        .select_related("touchpoint", "journey", "contact")
        .order_by("-responded_at", "-id")
    )
    if filters.theme_id is not None:
        responses = responses.filter(
            Exists(ResponseTheme.objects.filter(response=OuterRef("pk"), theme_id=filters.theme_id))
        )
    return responses


@dataclass(frozen=True, slots=True)
class VerbatimExtras:
    """What the rows of one page carry beside the response: themes and cases."""

    themes: dict[int, list[tuple[int, str]]]  # response id -> [(theme id, name)]
    cases: dict[int, int]  # response id -> case number


def verbatim_extras(responses: Sequence[Response], *, with_cases: bool) -> VerbatimExtras:
    """The active themes of these responses, and their cases (``with_cases``): one
    query each."""
    ids = [response.pk for response in responses]
    themes: dict[int, list[tuple[int, str]]] = defaultdict(list)
    cases: dict[int, int] = {}
    if not ids:
        return VerbatimExtras(themes={}, cases={})
    tagged = (
        ResponseTheme.objects.filter(response_id__in=ids, theme__archived=False)
        .order_by("theme__name")
        .values_list("response_id", "theme_id", "theme__name")
    )
    for response_id, theme_id, name in tagged:
        themes[response_id].append((theme_id, name))
    if with_cases:
        cases = dict(
            CaseResponse.objects.filter(response_id__in=ids).values_list(
                "response_id", "case__number"
            )
        )
    return VerbatimExtras(themes=dict(themes), cases=cases)


@dataclass(frozen=True, slots=True)
class VerbatimPage:
    page: Page[Response]
    responses: list[Response]  # the page's rows, loaded
    extras: VerbatimExtras


def verbatim_page(
    filters: DashboardFilters, timezone_name: str, *, number: str | None, with_cases: bool
) -> VerbatimPage:
    """One page of verbatims (``number`` as given in the URL; out-of-range numbers give
    the last page) with the rows' themes and, ``with_cases``, their cases."""
    paginator = Paginator(verbatim_list(filters, timezone_name), VERBATIMS_PER_PAGE)
    page = paginator.get_page(number)
    responses = list(page.object_list)
    return VerbatimPage(
        page=page,
        responses=responses,
        extras=verbatim_extras(responses, with_cases=with_cases),
    )


# --- Themes page ----------------------------------------------------------------------


def themes_page_filters(filters: DashboardFilters) -> DashboardFilters:
    """The themes page compares score groups and themes: it drops those filters (and the
    search) that the verbatims page adds."""
    return replace(filters, nps_group="", theme_id=None, search="")


@dataclass(frozen=True, slots=True)
class ThemeRow:
    theme_id: int
    name: str
    mentions: int  # comments in the filters that mention the theme
    share: float | None  # of all comments, 0..1
    detractor_share: float | None  # of the detractors' comments, 0..1
    promoter_share: float | None  # of the promoters' comments, 0..1
    nps: NpsResult  # of the responses that mention it
    impact: float | None  # points: NPS of all minus NPS without these responses

    @property
    def share_pct(self) -> float | None:
        return _pct(self.share)

    @property
    def detractor_pct(self) -> float | None:
        return _pct(self.detractor_share)

    @property
    def promoter_pct(self) -> float | None:
        return _pct(self.promoter_share)

    @property
    def detractors(self) -> int:
        return self.nps.detractors

    @property
    def promoters(self) -> int:
        return self.nps.promoters


@dataclass(frozen=True, slots=True)
class ThemeInsights:
    nps: NpsResult  # every scored response in the filters
    comments: int
    detractor_comments: int
    passive_comments: int
    promoter_comments: int
    untagged_comments: int
    rows: list[ThemeRow]  # every active theme, most mentioned first

    @property
    def top_detractor(self) -> list[ThemeRow]:
        ranked = sorted(
            (row for row in self.rows if row.detractors), key=lambda r: (-r.detractors, r.name)
        )
        return ranked[:TOP_THEMES]

    @property
    def top_promoter(self) -> list[ThemeRow]:
        ranked = sorted(
            (row for row in self.rows if row.promoters), key=lambda r: (-r.promoters, r.name)
        )
        return ranked[:TOP_THEMES]

    @property
    def untagged_pct(self) -> float | None:
        return _pct(_share(self.untagged_comments, self.comments))


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _pct(share: float | None) -> float | None:
    return None if share is None else 100.0 * share


def nps_impact(
    overall: NpsResult, *, promoters: int, passives: int, detractors: int
) -> float | None:
    """NPS of all minus the NPS without the given responses (None when either is
    undefined: no scored response, or every scored response is among them)."""
    rest_n = overall.n - promoters - passives - detractors
    if overall.score is None or rest_n <= 0:
        return None
    rest = 100.0 * ((overall.promoters - promoters) - (overall.detractors - detractors)) / rest_n
    return overall.score - rest


def theme_insights(filters: DashboardFilters, timezone_name: str) -> ThemeInsights:
    """The themes of the comments in the filters (score group, theme and search are
    ignored): mentions, shares per score group, each theme's NPS and its NPS impact."""
    filters = themes_page_filters(filters)
    comment = ~Q(comment="")
    tagged = Exists(ResponseTheme.objects.filter(response=OuterRef("pk"), theme__archived=False))
    totals = Response.objects.filter(filters.response_q(timezone_name)).aggregate(
        promoters=Count("pk", filter=Q(nps_group=NpsGroup.PROMOTER)),
        passives=Count("pk", filter=Q(nps_group=NpsGroup.PASSIVE)),
        detractors=Count("pk", filter=Q(nps_group=NpsGroup.DETRACTOR)),
        comments=Count("pk", filter=comment),
        promoter_comments=Count("pk", filter=comment & Q(nps_group=NpsGroup.PROMOTER)),
        passive_comments=Count("pk", filter=comment & Q(nps_group=NpsGroup.PASSIVE)),
        detractor_comments=Count("pk", filter=comment & Q(nps_group=NpsGroup.DETRACTOR)),
        untagged=Count("pk", filter=comment & ~Q(tagged)),
    )
    overall = nps_from_counts(
        promoters=totals["promoters"],
        passives=totals["passives"],
        detractors=totals["detractors"],
    )
    counts: dict[int, dict[str | None, int]] = defaultdict(dict)
    grouped = (
        ResponseTheme.objects.filter(filters.response_q(timezone_name, prefix="response__"))
        .filter(theme__archived=False)
        .exclude(response__comment="")
        .values_list("theme_id", "response__nps_group")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for theme_id, group, n in grouped:
        counts[theme_id][group] = n
    comments = totals["comments"]
    rows = []
    for theme_id, name in Theme.objects.filter(archived=False).values_list("pk", "name"):
        by_group = counts.get(theme_id, {})
        promoters = by_group.get(NpsGroup.PROMOTER, 0)
        passives = by_group.get(NpsGroup.PASSIVE, 0)
        detractors = by_group.get(NpsGroup.DETRACTOR, 0)
        mentions = sum(by_group.values())
        rows.append(
            ThemeRow(
                theme_id=theme_id,
                name=name,
                mentions=mentions,
                share=_share(mentions, comments),
                detractor_share=_share(detractors, totals["detractor_comments"]),
                promoter_share=_share(promoters, totals["promoter_comments"]),
                nps=nps_from_counts(promoters=promoters, passives=passives, detractors=detractors),
                impact=nps_impact(
                    overall, promoters=promoters, passives=passives, detractors=detractors
                ),
            )
        )
    rows.sort(key=lambda row: (-row.mentions, row.name.casefold()))
    return ThemeInsights(
        nps=overall,
        comments=comments,
        detractor_comments=totals["detractor_comments"],
        passive_comments=totals["passive_comments"],
        promoter_comments=totals["promoter_comments"],
        untagged_comments=totals["untagged"],
        rows=rows,
    )


# --- Theme taxonomy editor ------------------------------------------------------------


def theme_list_for_settings() -> QuerySet[Theme]:
    """Every theme of the organization (active first) with its number of taggings."""
    return Theme.objects.annotate(mentions=Count("taggings")).order_by("archived", "name")


@dataclass(frozen=True, slots=True)
class PreviewExample:
    response_id: int
    comment: str
    responded_at: datetime
    nps: int | None
    nps_group: str | None


@dataclass(frozen=True, slots=True)
class KeywordPreview:
    scanned: int  # the latest comments looked at (at most PREVIEW_COMMENTS)
    matches: int
    examples: list[PreviewExample]  # the newest matches (at most PREVIEW_EXAMPLES)
    pattern: re.Pattern[str] | None  # finds the keywords (case-insensitive), to highlight


def theme_keyword_preview(keywords: Iterable[str]) -> KeywordPreview:
    """How many of the organization's latest comments these keywords find, with the
    newest examples (one query, matched in Python like the tagging)."""
    keywords = list(keywords)
    matcher = matcher_for([(0, keywords)])
    latest = (
        Response.objects.exclude(comment="")
        .order_by("-responded_at", "-id")
        .values_list("pk", "comment", "responded_at", "nps", "nps_group")[:PREVIEW_COMMENTS]
    )
    scanned = matches = 0
    examples: list[PreviewExample] = []
    for pk, comment, responded_at, nps, group in latest:
        scanned += 1
        if not matcher.themes_in(comment):
            continue
        matches += 1
        if len(examples) < PREVIEW_EXAMPLES:
            examples.append(PreviewExample(pk, comment, responded_at, nps, group))
    regex = keywords_regex(keywords)
    return KeywordPreview(
        scanned=scanned,
        matches=matches,
        examples=examples,
        pattern=re.compile(regex, re.IGNORECASE) if regex else None,
    )
