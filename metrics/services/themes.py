"""Themes: the organization's keyword taxonomy tags comments automatically.

A keyword matches at the start of a word, case-insensitively (case folding: "liefer"
finds "Lieferung", "deliver" finds "Delivery", not "undelivered"); a keyword of several
words matches the phrase. A keyword in double quotes matches the whole word only
(``"app"`` finds "app" and "App", not "apply" or "appreciate"). Tagging is idempotent:
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
QUOTE = '"'


def normalize_keywords(keywords: Iterable[str]) -> list[str]:
    """Trimmed, case-folded, de-duplicated keywords in their given order."""
    seen: list[str] = []
    for keyword in keywords:
        text = " ".join(str(keyword).split()).casefold()
        if is_whole_word(text):
            inner = " ".join(text[1:-1].split())
            text = f"{QUOTE}{inner}{QUOTE}" if inner else ""
        if text and text not in seen:
            seen.append(text)
    return seen


def is_whole_word(keyword: str) -> bool:
    """``"app"``: the keyword matches whole words only."""
    return len(keyword) >= 2 and keyword.startswith(QUOTE) and keyword.endswith(QUOTE)


def keyword_text(keyword: str) -> str:
    """The words of a keyword, without the quotes of a whole-word keyword."""
    return keyword[1:-1] if is_whole_word(keyword) else keyword


def keywords_regex(keywords: Iterable[str]) -> str:
    """The regular expression (for case-folded text) that finds any of the keywords;
    "" when there is none."""
    alternatives = []
    for keyword in normalize_keywords(keywords):
        words = keyword_text(keyword).split()
        phrase = r"\s+".join(map(re.escape, words))
        alternatives.append(phrase + r"(?!\w)" if is_whole_word(keyword) else phrase)
    if not alternatives:
        return ""
    return rf"(?<!\w)(?:{'|'.join(alternatives)})"


@dataclass(frozen=True, slots=True)
class ThemeMatcher:
    patterns: tuple[tuple[int, re.Pattern[str]], ...]

    def themes_in(self, text: str) -> set[int]:
        if not text:
            return set()
        folded = text.casefold()
        return {theme_id for theme_id, pattern in self.patterns if pattern.search(folded)}


def matcher_for(themes: Iterable[tuple[int, Sequence[str]]]) -> ThemeMatcher:
    """A matcher for ``(theme id, keywords)`` pairs (a theme without keywords never
    matches)."""
    patterns = []
    for theme_id, keywords in themes:
        regex = keywords_regex(keywords or [])
        if regex:
            patterns.append((theme_id, re.compile(regex)))
    return ThemeMatcher(patterns=tuple(patterns))


def theme_matcher(themes: Sequence[Theme] | None = None) -> ThemeMatcher:
    """A matcher for the current organization's active themes (or the given ones)."""
    if themes is None:
        themes = list(Theme.objects.filter(archived=False))
    return matcher_for((theme.pk, theme.keywords or []) for theme in themes)


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
    returns the number of taggings. Runs as a task; one transaction.

    The organization's theme rows are locked first, so two re-tags (two quick edits)
    run one after the other and the second reads the newest keywords. A comment that
    the outbox tags meanwhile keeps its row (conflicts are skipped).
    """
    count = 0
    with transaction.atomic():
        list(Theme.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
        matcher = theme_matcher()
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
                ResponseTheme.objects.bulk_create(batch, ignore_conflicts=True)
                count += len(batch)
                batch = []
        ResponseTheme.objects.bulk_create(batch, ignore_conflicts=True)
        count += len(batch)
    return count
