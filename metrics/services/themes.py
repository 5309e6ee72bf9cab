"""Themes: the organization's keyword taxonomy tags comments automatically.

A keyword matches at the start of a word, case-insensitively and ignoring accents'
case folding ("liefer" finds "Lieferung", "deliver" finds "Delivery", not
"undelivered"); a keyword of several words matches the phrase. Tagging is idempotent:
a response's ``ResponseTheme`` rows are made equal to what its comment mentions now.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction

from metrics.models import ResponseTheme, Theme
from responses.models import Response

RETAG_BATCH = 2000


def normalize_keywords(keywords: Iterable[str]) -> list[str]:
    """Trimmed, case-folded, de-duplicated keywords in their given order."""
    seen: list[str] = []
    for keyword in keywords:
        text = " ".join(str(keyword).split()).casefold()
        if text and text not in seen:
            seen.append(text)
    return seen


@dataclass(frozen=True, slots=True)
class ThemeMatcher:
    patterns: tuple[tuple[int, re.Pattern[str]], ...]

    def themes_in(self, text: str) -> set[int]:
        if not text:
            return set()
        folded = text.casefold()
        return {theme_id for theme_id, pattern in self.patterns if pattern.search(folded)}


def theme_matcher(themes: Sequence[Theme] | None = None) -> ThemeMatcher:
    """A matcher for the current organization's active themes (or the given ones)."""
    if themes is None:
        themes = list(Theme.objects.filter(archived=False))
    patterns = []
    for theme in themes:
        keywords = normalize_keywords(theme.keywords or [])
        if not keywords:
            continue
        alternatives = "|".join(r"\s+".join(map(re.escape, k.split())) for k in keywords)
        patterns.append((theme.pk, re.compile(rf"(?<!\w)(?:{alternatives})")))
    return ThemeMatcher(patterns=tuple(patterns))


def response_tag(*, response: Response, matcher: ThemeMatcher | None = None) -> set[int]:
    """Make the response's themes those its comment mentions; returns the theme ids."""
    matcher = matcher or theme_matcher()
    wanted = matcher.themes_in(response.comment)
    with transaction.atomic():
        current = set(
            ResponseTheme.objects.filter(response=response).values_list("theme_id", flat=True)
        )
        stale = current - wanted
        if stale:
            ResponseTheme.objects.filter(response=response, theme_id__in=stale).delete()
        ResponseTheme.objects.bulk_create(
            [
                ResponseTheme(
                    response=response, theme_id=theme_id, responded_at=response.responded_at
                )
                for theme_id in sorted(wanted - current)
            ],
            ignore_conflicts=True,
        )
    return wanted


def themes_retag() -> int:
    """Re-tag every comment of the current organization (after the taxonomy changed);
    returns the number of taggings. Runs as a task; one transaction."""
    matcher = theme_matcher()
    count = 0
    with transaction.atomic():
        ResponseTheme.objects.all().delete()
        batch: list[ResponseTheme] = []
        comments = (
            Response.objects.exclude(comment="")
            .order_by()
            .values_list("pk", "comment", "responded_at")
            .iterator(chunk_size=RETAG_BATCH)
        )
        for pk, comment, responded_at in comments:
            for theme_id in matcher.themes_in(comment):
                batch.append(
                    ResponseTheme(response_id=pk, theme_id=theme_id, responded_at=responded_at)
                )
            if len(batch) >= RETAG_BATCH:
                ResponseTheme.objects.bulk_create(batch)
                count += len(batch)
                batch = []
        ResponseTheme.objects.bulk_create(batch)
        count += len(batch)
    return count
