"""The question schema of a survey version: types, validation, translation gaps, ids.

A schema is ``{"questions": [question, ...]}``; docs/surveys.md describes every field
with an example. Texts are dicts language -> text (``{"en": "...", "de": "..."}``).

``survey_schema_validate`` lists every problem (path + message); publishing refuses a
schema with any. A draft may be incomplete while it is written: problems whose code is in
``INCOMPLETE_CODES`` (no questions yet, a text missing in the default language, fewer than
two options) are allowed in a draft, every other problem is refused on save.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import get_language_info, gettext_lazy
from django.utils.translation import gettext as _
from django_stubs_ext import StrOrPromise

NPS, CES, CSAT, TEXT, SINGLE_CHOICE, MULTIPLE_CHOICE = (
    "nps",
    "ces",
    "csat",
    "text",
    "single_choice",
    "multiple_choice",
)


@dataclass(frozen=True, slots=True)
class QuestionType:
    key: str
    label: StrOrPromise
    scale: range | None = None
    choice: bool = False
    multiple: bool = False


QUESTION_TYPES: dict[str, QuestionType] = {
    qt.key: qt
    for qt in (
        QuestionType(NPS, gettext_lazy("NPS (0-10)"), scale=range(0, 11)),
        QuestionType(CES, gettext_lazy("CES (1-7)"), scale=range(1, 8)),
        QuestionType(CSAT, gettext_lazy("CSAT (1-5)"), scale=range(1, 6)),
        QuestionType(TEXT, gettext_lazy("Free text")),
        QuestionType(SINGLE_CHOICE, gettext_lazy("Single choice"), choice=True),
        QuestionType(MULTIPLE_CHOICE, gettext_lazy("Multiple choice"), choice=True, multiple=True),
    )
}
SCALE_TYPES = frozenset(k for k, qt in QUESTION_TYPES.items() if qt.scale is not None)
CHOICE_TYPES = frozenset(k for k, qt in QUESTION_TYPES.items() if qt.choice)

# NPS groups: detractors 0-6, passives 7-8, promoters 9-10.
NPS_GROUPS = ("detractor", "passive", "promoter")
NPS_GROUP_LABELS: dict[str, StrOrPromise] = {
    "detractor": gettext_lazy("detractors (0-6)"),
    "passive": gettext_lazy("passives (7-8)"),
    "promoter": gettext_lazy("promoters (9-10)"),
}
SCALE_ENDS = ("low", "high")

QUESTION_TEXT_MAX = 500
OPTION_LABEL_MAX = 200
SCALE_LABEL_MAX = 100
ANSWER_MAX_LENGTH_LIMIT = 10_000
MAX_QUESTIONS = 50
MAX_OPTIONS = 30
ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")

COMMON_FIELDS = frozenset({"id", "type", "required", "text"})
TYPE_FIELDS: dict[str, frozenset[str]] = {
    NPS: frozenset({"scale_labels"}),
    CES: frozenset({"scale_labels"}),
    CSAT: frozenset({"scale_labels"}),
    TEXT: frozenset({"max_length", "follow_up_for", "texts_by_group"}),
    SINGLE_CHOICE: frozenset({"options"}),
    MULTIPLE_CHOICE: frozenset({"options"}),
}

# Problems a draft may have while it is being written; publishing refuses them too.
INCOMPLETE_CODES = frozenset({"no_questions", "missing_text", "too_few_options"})


@dataclass(frozen=True, slots=True)
class SchemaError:
    """One problem: where (``questions[1].text.en``), what (a sentence), and a code."""

    path: str
    message: str
    code: str
    question_id: str = ""


@dataclass(frozen=True, slots=True)
class TranslationGap:
    """A customer-facing text present in the default language but not in ``language``."""

    language: str
    path: str
    description: str
    question_id: str


@dataclass(frozen=True, slots=True)
class TextSlot:
    """One customer-facing text of a question.

    ``required``: must exist in the default language. Optional slots (scale end labels,
    texts by NPS group) become required once any language has a text.
    """

    path: str
    label: str
    description: str
    raw: Any
    max_length: int
    required: bool

    @property
    def texts(self) -> dict[str, Any]:
        return self.raw if isinstance(self.raw, dict) else {}


def known_languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def ordered_languages(languages: list[str], default_language: str) -> list[str]:
    """The default language first (texts are written there), then the others."""
    return sorted(languages, key=lambda code: code != default_language)


def language_name(code: str) -> str:
    try:
        return str(get_language_info(code)["name_translated"])
    except KeyError:
        return code


def clean_texts(texts: dict[str, str]) -> dict[str, str]:
    """Strip the texts and drop empty ones: a missing text is an absent key."""
    return {lang: value.strip() for lang, value in texts.items() if value and value.strip()}


def has_text(texts: Any, language: str) -> bool:
    value = texts.get(language) if isinstance(texts, dict) else None
    return isinstance(value, str) and bool(value.strip())


def new_id(prefix: str, taken: Iterable[str]) -> str:
    """A fresh slug-like id (``nps-3fa9c1``) not in ``taken``."""
    taken = set(taken)
    while True:
        candidate = f"{prefix}-{secrets.token_hex(3)}"
        if candidate not in taken:
            return candidate


def question_ids(schema: Any) -> list[str]:
    questions = schema.get("questions") if isinstance(schema, dict) else None
    if not isinstance(questions, list):
        return []
    return [q["id"] for q in questions if isinstance(q, dict) and isinstance(q.get("id"), str)]


def new_question(question_type: str, taken: Iterable[str]) -> dict[str, Any]:
    """An empty question of ``question_type`` with a fresh id, ready to be filled in."""
    if question_type not in QUESTION_TYPES:
        raise ValueError(f"unknown question type {question_type!r}")
    question: dict[str, Any] = {
        "id": new_id(question_type.replace("_", "-"), taken),
        "type": question_type,
        "required": question_type in SCALE_TYPES,
        "text": {},
    }
    if question_type in CHOICE_TYPES:
        question["options"] = []
    return question


def text_slots(question: dict[str, Any], path: str, number: int) -> Iterator[TextSlot]:
    """Every customer-facing text of a well-formed question, with a readable description."""

    def slot(suffix: str, label: str, raw: Any, max_length: int, required: bool) -> TextSlot:
        description = _("Question %(number)s: %(text)s") % {"number": number, "text": label}
        return TextSlot(f"{path}.{suffix}", label, description, raw, max_length, required)

    yield slot("text", _("question text"), question.get("text"), QUESTION_TEXT_MAX, True)
    labels = question.get("scale_labels")
    if isinstance(labels, dict):
        for end in SCALE_ENDS:
            if end in labels:
                label = _("low end label") if end == "low" else _("high end label")
                yield slot(f"scale_labels.{end}", label, labels[end], SCALE_LABEL_MAX, False)
    groups = question.get("texts_by_group")
    if isinstance(groups, dict):
        for group in NPS_GROUPS:
            if group in groups:
                label = _("text for %(group)s") % {"group": NPS_GROUP_LABELS[group]}
                yield slot(
                    f"texts_by_group.{group}", label, groups[group], QUESTION_TEXT_MAX, False
                )
    options = question.get("options")
    if isinstance(options, list):
        for index, option in enumerate(options):
            if isinstance(option, dict):
                label = _("label of option %(option)s") % {"option": index + 1}
                yield slot(
                    f"options[{index}].label", label, option.get("label"), OPTION_LABEL_MAX, True
                )


def _questions(schema: Any) -> list[Any]:
    questions = schema.get("questions") if isinstance(schema, dict) else None
    return questions if isinstance(questions, list) else []


def survey_schema_validate(schema: Any, languages: Any, default_language: str) -> list[SchemaError]:
    """Every problem of a schema, in order. An empty list: it may be published."""
    return _Validator(languages, default_language).run(schema)


def survey_schema_missing_translations(
    schema: Any, languages: list[str], default_language: str
) -> list[TranslationGap]:
    """Texts present in the default language but missing in another offered language.

    They do not block publishing: customers see the default-language text instead.
    """
    gaps = []
    others = [lang for lang in languages if lang != default_language]
    for index, question in enumerate(_questions(schema)):
        if not isinstance(question, dict):
            continue
        for slot in text_slots(question, f"questions[{index}]", index + 1):
            if not has_text(slot.texts, default_language):
                continue
            for language in others:
                if not has_text(slot.texts, language):
                    gaps.append(
                        TranslationGap(
                            language=language,
                            path=f"{slot.path}.{language}",
                            description=slot.description,
                            question_id=str(question.get("id", "")),
                        )
                    )
    return gaps


class _Validator:
    def __init__(self, languages: Any, default_language: str) -> None:
        self.languages = languages
        self.default_language = default_language
        self.errors: list[SchemaError] = []
        self.question_id = ""

    def add(self, path: str, code: str, message: str) -> None:
        self.errors.append(SchemaError(path, message, code, self.question_id))

    def run(self, schema: Any) -> list[SchemaError]:
        self._languages()
        if not isinstance(schema, dict) or not isinstance(schema.get("questions"), list):
            self.add("questions", "bad_schema", _("The questions are not in a valid format."))
            return self.errors
        for key in sorted(set(schema) - {"questions"}, key=str):
            self.add(str(key), "unknown_field", _("Unknown field “%(field)s”.") % {"field": key})
        questions = schema["questions"]
        if not questions:
            self.add("questions", "no_questions", _("Add at least one question."))
        if len(questions) > MAX_QUESTIONS:
            self.add(
                "questions",
                "too_many_questions",
                _("A survey can have at most %(max)s questions.") % {"max": MAX_QUESTIONS},
            )
        seen: dict[str, int] = {}
        types: dict[str, tuple[int, str]] = {}
        for index, question in enumerate(questions):
            self._question(index, question, seen, types)
        self.question_id = ""
        return self.errors

    def _languages(self) -> None:
        languages = self.languages
        known = known_languages()
        if (
            not isinstance(languages, list)
            or not languages
            or not all(isinstance(lang, str) and lang in known for lang in languages)
            or len(set(languages)) != len(languages)
        ):
            self.add("languages", "bad_languages", _("Choose at least one known language."))
        elif self.default_language not in languages:
            self.add(
                "default_language",
                "bad_default_language",
                _("The default language must be one of the survey's languages."),
            )

    def _question(
        self,
        index: int,
        question: Any,
        seen: dict[str, int],
        types: dict[str, tuple[int, str]],
    ) -> None:
        number = index + 1
        path = f"questions[{index}]"
        self.question_id = ""
        if not isinstance(question, dict):
            self.add(
                path,
                "bad_question",
                _("Question %(number)s is not a valid question.") % {"number": number},
            )
            return
        qid = question.get("id")
        if not isinstance(qid, str) or not ID_PATTERN.match(qid):
            self.add(
                f"{path}.id",
                "bad_id",
                _(
                    "Question %(number)s: the id is not valid (lowercase letters, digits "
                    "and hyphens, at most 40 characters)."
                )
                % {"number": number},
            )
        elif qid in seen:
            self.question_id = qid
            self.add(
                f"{path}.id",
                "duplicate_id",
                _("Question %(number)s: the id “%(id)s” is used by question %(other)s already.")
                % {"number": number, "id": qid, "other": seen[qid] + 1},
            )
        else:
            seen[qid] = index
            self.question_id = qid
        qtype = question.get("type")
        if not isinstance(qtype, str) or qtype not in QUESTION_TYPES:
            self.add(
                f"{path}.type",
                "unknown_type",
                _("Question %(number)s: unknown question type “%(type)s”.")
                % {"number": number, "type": qtype},
            )
            return
        if isinstance(qid, str) and qid not in types:
            types[qid] = (index, qtype)
        for key in sorted(set(question) - COMMON_FIELDS - TYPE_FIELDS[qtype], key=str):
            self.add(
                f"{path}.{key}",
                "unknown_field",
                _("Question %(number)s: unknown field “%(field)s”.")
                % {"number": number, "field": key},
            )
        if not isinstance(question.get("required", False), bool):
            self.add(
                f"{path}.required",
                "bad_required",
                _("Question %(number)s: “required” must be true or false.") % {"number": number},
            )
        self._texts(path, number, question)
        if qtype in SCALE_TYPES:
            self._scale_labels(path, number, question)
        elif qtype == TEXT:
            self._text_question(index, path, number, question, types)
        else:
            self._options(path, number, question)

    def _scale_labels(self, path: str, number: int, question: dict[str, Any]) -> None:
        labels = question.get("scale_labels")
        if labels is None:
            return
        if not isinstance(labels, dict) or set(labels) - set(SCALE_ENDS):
            self.add(
                f"{path}.scale_labels",
                "bad_scale_labels",
                _("Question %(number)s: end labels must be “low” and “high”.") % {"number": number},
            )

    def _text_question(
        self,
        index: int,
        path: str,
        number: int,
        question: dict[str, Any],
        types: dict[str, tuple[int, str]],
    ) -> None:
        max_length = question.get("max_length")
        if max_length is not None and (
            isinstance(max_length, bool)
            or not isinstance(max_length, int)
            or not 1 <= max_length <= ANSWER_MAX_LENGTH_LIMIT
        ):
            self.add(
                f"{path}.max_length",
                "bad_max_length",
                _("Question %(number)s: the maximum length must be between 1 and %(max)s.")
                % {"number": number, "max": ANSWER_MAX_LENGTH_LIMIT},
            )
        target = question.get("follow_up_for")
        if target is not None:
            found = types.get(target) if isinstance(target, str) else None
            if found is None or found[1] != NPS or found[0] >= index:
                self.add(
                    f"{path}.follow_up_for",
                    "bad_follow_up",
                    _(
                        "Question %(number)s: a follow-up must point at an NPS question "
                        "earlier in the survey."
                    )
                    % {"number": number},
                )
        groups = question.get("texts_by_group")
        if groups is None:
            return
        if not isinstance(groups, dict) or set(groups) - set(NPS_GROUPS):
            self.add(
                f"{path}.texts_by_group",
                "bad_groups",
                _("Question %(number)s: texts by group must be for detractor, passive, promoter.")
                % {"number": number},
            )
        elif target is None:
            self.add(
                f"{path}.texts_by_group",
                "groups_without_follow_up",
                _("Question %(number)s: texts by NPS group need the NPS question it follows up.")
                % {"number": number},
            )

    def _options(self, path: str, number: int, question: dict[str, Any]) -> None:
        options = question.get("options")
        if not isinstance(options, list) or not all(
            isinstance(o, dict) and set(o) == {"id", "label"} for o in options
        ):
            self.add(
                f"{path}.options",
                "bad_options",
                _("Question %(number)s: every option needs an id and a label.")
                % {"number": number},
            )
            return
        if len(options) < 2:
            self.add(
                f"{path}.options",
                "too_few_options",
                _("Question %(number)s: add at least two options.") % {"number": number},
            )
        if len(options) > MAX_OPTIONS:
            self.add(
                f"{path}.options",
                "too_many_options",
                _("Question %(number)s: at most %(max)s options.")
                % {"number": number, "max": MAX_OPTIONS},
            )
        ids: dict[str, int] = {}
        labels: dict[tuple[str, str], int] = {}
        for index, option in enumerate(options):
            option_path = f"{path}.options[{index}]"
            oid = option["id"]
            if not isinstance(oid, str) or not ID_PATTERN.match(oid):
                self.add(
                    f"{option_path}.id",
                    "bad_option_id",
                    _("Question %(number)s: option %(option)s has no valid id.")
                    % {"number": number, "option": index + 1},
                )
            elif oid in ids:
                self.add(
                    f"{option_path}.id",
                    "duplicate_option_id",
                    _("Question %(number)s: options %(first)s and %(second)s have the same id.")
                    % {"number": number, "first": ids[oid] + 1, "second": index + 1},
                )
            else:
                ids[oid] = index
            label = option["label"]
            if not isinstance(label, dict):
                continue
            for language, text in sorted(label.items(), key=lambda item: str(item[0])):
                if not isinstance(text, str) or not text.strip():
                    continue
                key = (str(language), text.strip().casefold())
                if key in labels:
                    self.add(
                        f"{option_path}.label.{language}",
                        "duplicate_option_label",
                        _(
                            "Question %(number)s: options %(first)s and %(second)s have the "
                            "same label in %(language)s."
                        )
                        % {
                            "number": number,
                            "first": labels[key] + 1,
                            "second": index + 1,
                            "language": language_name(str(language)),
                        },
                    )
                else:
                    labels[key] = index

    def _texts(self, path: str, number: int, question: dict[str, Any]) -> None:
        known = known_languages()
        for slot in text_slots(question, path, number):
            if slot.raw is not None and not isinstance(slot.raw, dict):
                self.add(
                    slot.path,
                    "bad_texts",
                    _("%(text)s must map languages to texts.") % {"text": slot.description},
                )
                continue
            texts = slot.texts
            filled = False
            for language, value in sorted(texts.items(), key=lambda item: str(item[0])):
                if not isinstance(value, str):
                    self.add(
                        f"{slot.path}.{language}",
                        "bad_texts",
                        _("%(text)s in “%(language)s” is not a text.")
                        % {"text": slot.description, "language": language},
                    )
                    continue
                if language not in known:
                    self.add(
                        f"{slot.path}.{language}",
                        "unknown_language",
                        _("%(text)s has a text in the unknown language “%(language)s”.")
                        % {"text": slot.description, "language": language},
                    )
                if len(value) > slot.max_length:
                    self.add(
                        f"{slot.path}.{language}",
                        "too_long",
                        _("%(text)s in %(language)s is longer than %(max)s characters.")
                        % {
                            "text": slot.description,
                            "language": language_name(str(language)),
                            "max": slot.max_length,
                        },
                    )
                filled = filled or bool(value.strip())
            if (slot.required or filled) and not has_text(texts, self.default_language):
                self.add(
                    f"{slot.path}.{self.default_language}",
                    "missing_text",
                    _("%(text)s is missing in %(language)s, the default language.")
                    % {"text": slot.description, "language": language_name(self.default_language)},
                )
