"""Questions as a customer sees them: texts resolved for one language, with fallback.

``render_questions`` feeds ``templates/surveys/public/questions.html``: the builder's
preview uses it now, the answer page uses the same template later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from surveys.models import SurveyVersion
from surveys.schema import CHOICE_TYPES, NPS_GROUPS, QUESTION_TYPES, SCALE_TYPES


def survey_text(texts: Any, language: str, fallback: str) -> str:
    """The text in ``language``; else in ``fallback``; else in any language; else "".

    Texts missing in a language never leave a customer with an empty question: the
    default language of the survey stands in.
    """
    if not isinstance(texts, dict):
        return ""
    for code in (language, fallback):
        value = texts.get(code)
        if isinstance(value, str) and value.strip():
            return value.strip()
    for code in sorted(texts, key=str):
        value = texts[code]
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


@dataclass(slots=True)
class RenderedOption:
    id: str
    label: str


@dataclass(slots=True)
class RenderedQuestion:
    """One question ready for the template. ``answer`` and ``errors`` are for the caller
    (the answer page fills them in when it shows a submitted form again)."""

    id: str
    number: int
    type: str
    required: bool
    text: str
    scale: list[int] = field(default_factory=list)
    low_label: str = ""
    high_label: str = ""
    max_length: int | None = None
    options: list[RenderedOption] = field(default_factory=list)
    follow_up_for: str = ""
    texts_by_group: dict[str, str] = field(default_factory=dict)
    answer: Any = None
    errors: list[str] = field(default_factory=list)

    @property
    def is_scale(self) -> bool:
        return self.type in SCALE_TYPES

    @property
    def is_choice(self) -> bool:
        return self.type in CHOICE_TYPES

    @property
    def multiple(self) -> bool:
        return QUESTION_TYPES[self.type].multiple

    @property
    def scale_min(self) -> int | None:
        return self.scale[0] if self.scale else None

    @property
    def scale_max(self) -> int | None:
        return self.scale[-1] if self.scale else None


def resolve_language(version: SurveyVersion, language: str | None) -> str:
    """``language`` if the version offers it, else the version's default language."""
    if language and language in version.languages:
        return language
    return version.default_language


def render_questions(version: SurveyVersion, language: str | None) -> list[RenderedQuestion]:
    """The version's questions with every text in ``language`` (falling back to the
    version's default language for a missing text or a language it does not offer)."""
    fallback = version.default_language
    language = resolve_language(version, language)
    rendered = []
    for index, question in enumerate(version.questions):
        qtype = question.get("type")
        if qtype not in QUESTION_TYPES:
            continue
        item = RenderedQuestion(
            id=str(question.get("id", "")),
            number=index + 1,
            type=qtype,
            required=bool(question.get("required", False)),
            text=survey_text(question.get("text"), language, fallback),
        )
        scale = QUESTION_TYPES[qtype].scale
        if scale is not None:
            item.scale = list(scale)
            labels = question.get("scale_labels") or {}
            item.low_label = survey_text(labels.get("low"), language, fallback)
            item.high_label = survey_text(labels.get("high"), language, fallback)
        if qtype in CHOICE_TYPES:
            item.options = [
                RenderedOption(
                    str(o.get("id", "")), survey_text(o.get("label"), language, fallback)
                )
                for o in question.get("options") or []
            ]
        if question.get("max_length"):
            item.max_length = int(question["max_length"])
        if question.get("follow_up_for"):
            item.follow_up_for = str(question["follow_up_for"])
            groups = question.get("texts_by_group") or {}
            for group in NPS_GROUPS:
                text = survey_text(groups.get(group), language, fallback)
                if text:
                    item.texts_by_group[group] = text
        rendered.append(item)
    return rendered
