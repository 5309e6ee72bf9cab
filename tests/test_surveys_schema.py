"""The question schema: validation messages, translation gaps, text fallback, rendering."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.models import SurveyVersion
from surveys.rendering import render_questions, survey_text
from surveys.schema import (
    INCOMPLETE_CODES,
    survey_schema_missing_translations,
    survey_schema_validate,
)
from surveys.templates_library import SURVEY_TEMPLATES


def nps(qid: str = "recommend", **extra: Any) -> dict[str, Any]:
    return {
        "id": qid,
        "type": "nps",
        "required": True,
        "text": {"en": "How likely are you to recommend us?", "de": "Wie wahrscheinlich …?"},
        **extra,
    }


def follow_up(target: str = "recommend", **extra: Any) -> dict[str, Any]:
    return {
        "id": "reason",
        "type": "text",
        "follow_up_for": target,
        "text": {"en": "Why?", "de": "Warum?"},
        "texts_by_group": {
            "detractor": {"en": "What should we improve?", "de": "Was sollten wir verbessern?"},
            "promoter": {"en": "What did you like most?", "de": "Was hat Ihnen gefallen?"},
        },
        **extra,
    }


def choice(**extra: Any) -> dict[str, Any]:
    return {
        "id": "topic",
        "type": "single_choice",
        "text": {"en": "What was it about?", "de": "Worum ging es?"},
        "options": [
            {"id": "product", "label": {"en": "Product", "de": "Produkt"}},
            {"id": "delivery", "label": {"en": "Delivery", "de": "Lieferung"}},
        ],
        **extra,
    }


def messages(questions: Any, languages: Any = None, default: str = "en") -> list[str]:
    schema = questions if isinstance(questions, dict) else {"questions": questions}
    languages = ["en", "de"] if languages is None else languages
    errors = survey_schema_validate(schema, languages, default)
    return [e.message for e in errors]


def test_a_complete_schema_has_no_problems() -> None:
    assert messages([nps(), follow_up(), choice()]) == []


def test_every_template_is_valid_and_completely_translated() -> None:
    for template in SURVEY_TEMPLATES.values():
        schema = template.copy_schema()
        assert survey_schema_validate(schema, ["en", "de"], "en") == [], template.key
        assert survey_schema_validate(schema, ["en", "de"], "de") == [], template.key
        assert survey_schema_missing_translations(schema, ["en", "de"], "en") == []
        types = {q["type"] for q in schema["questions"]}
        assert types, template.key


def _without(question: dict[str, Any], key: str) -> dict[str, Any]:
    question = copy.deepcopy(question)
    question.pop(key)
    return question


BAD_SCHEMAS: list[tuple[str, Any, list[str]]] = [
    ("not a schema", "questions", ["The questions are not in a valid format."]),
    ("no questions", [], ["Add at least one question."]),
    (
        "unknown type",
        [{"id": "q1", "type": "stars", "text": {"en": "?"}}],
        ["Question 1: unknown question type “stars”."],
    ),
    (
        "duplicate ids",
        [nps("same"), nps("same")],
        ["Question 2: the id “same” is used by question 1 already."],
    ),
    (
        "invalid id",
        [nps("Not A Slug!")],
        [
            "Question 1: the id is not valid (lowercase letters, digits and hyphens, "
            "at most 40 characters)."
        ],
    ),
    (
        "choice without options",
        [choice(options=[])],
        ["Question 1: add at least two options."],
    ),
    (
        "duplicate option ids and labels",
        [
            choice(
                options=[
                    {"id": "a", "label": {"en": "Price"}},
                    {"id": "a", "label": {"en": "price "}},
                ]
            )
        ],
        [
            "Question 1: options 1 and 2 have the same id.",
            "Question 1: options 1 and 2 have the same label in English.",
        ],
    ),
    (
        "option without an id or label",
        [choice(options=[{"label": {"en": "Price"}}, {"id": "b", "label": {"en": "B"}}])],
        ["Question 1: every option needs an id and a label."],
    ),
    (
        "follow-up before its NPS question",
        [follow_up(), nps()],
        ["Question 1: a follow-up must point at an NPS question earlier in the survey."],
    ),
    (
        "follow-up of a question that is not NPS",
        [choice(), follow_up("topic")],
        ["Question 2: a follow-up must point at an NPS question earlier in the survey."],
    ),
    (
        "texts by group without follow-up",
        [nps(), _without(follow_up(), "follow_up_for")],
        ["Question 2: texts by NPS group need the NPS question it follows up."],
    ),
    (
        "question text missing in the default language",
        [nps(text={"de": "Nur Deutsch"})],
        ["Question 1: question text is missing in English, the default language."],
    ),
    (
        "option label missing in the default language",
        [
            choice(
                options=[
                    {"id": "a", "label": {"de": "A"}},
                    {"id": "b", "label": {"en": "B"}},
                ]
            )
        ],
        ["Question 1: label of option 1 is missing in English, the default language."],
    ),
    (
        "a group text only in another language",
        [nps(), follow_up(texts_by_group={"passive": {"de": "Was fehlt?"}})],
        [
            "Question 2: text for passives (7-8) is missing in English, the default language.",
        ],
    ),
    (
        "unknown fields and bad values",
        [nps(max_length=5, required="yes")],
        [
            "Question 1: unknown field “max_length”.",
            "Question 1: “required” must be true or false.",
        ],
    ),
    (
        "bad maximum length",
        [{"id": "t", "type": "text", "text": {"en": "?"}, "max_length": 0}],
        ["Question 1: the maximum length must be between 1 and 10000."],
    ),
    (
        "text too long and unknown language",
        [nps(text={"en": "x" * 501, "fr": "Quelle?"})],
        [
            "Question 1: question text in English is longer than 500 characters.",
            "Question 1: question text has a text in the unknown language “fr”.",
        ],
    ),
    (
        "texts not a dict",
        [nps(text="How likely?")],
        ["Question 1: question text must map languages to texts."],
    ),
    (
        "bad end labels",
        [nps(scale_labels={"left": {"en": "No"}})],
        ["Question 1: end labels must be “low” and “high”."],
    ),
]


@pytest.mark.parametrize(
    ("questions", "expected"),
    [(q, e) for _name, q, e in BAD_SCHEMAS],
    ids=[name for name, _q, _e in BAD_SCHEMAS],
)
def test_bad_schemas_are_explained(questions: Any, expected: list[str]) -> None:
    schema = {"questions": questions} if isinstance(questions, list) else questions
    assert messages(schema) == expected


def test_errors_carry_a_path_and_the_question_id() -> None:
    errors = survey_schema_validate(
        {"questions": [nps(), nps("second", text={"de": "x"})]}, ["en", "de"], "en"
    )
    assert [(e.path, e.code, e.question_id) for e in errors] == [
        ("questions[1].text.en", "missing_text", "second")
    ]
    assert "missing_text" in INCOMPLETE_CODES


def test_languages_must_be_known_and_contain_the_default() -> None:
    assert messages([nps()], languages=["en", "fr"]) == ["Choose at least one known language."]
    assert messages([nps()], languages=[]) == ["Choose at least one known language."]
    assert messages([nps()], languages=["de"], default="en") == [
        "The default language must be one of the survey's languages."
    ]


def test_missing_translations_name_the_text_and_the_language() -> None:
    schema = {
        "questions": [
            nps(text={"en": "How likely?"}),
            choice(
                options=[
                    {"id": "a", "label": {"en": "A", "de": "A"}},
                    {"id": "b", "label": {"en": "B"}},
                ]
            ),
        ]
    }
    gaps = survey_schema_missing_translations(schema, ["en", "de"], "en")
    assert [(g.language, g.path, g.description) for g in gaps] == [
        ("de", "questions[0].text.de", "Question 1: question text"),
        ("de", "questions[1].options[1].label.de", "Question 2: label of option 2"),
    ]
    # Missing translations do not block publishing.
    assert survey_schema_validate(schema, ["en", "de"], "en") == []


def test_survey_text_falls_back_to_the_default_language() -> None:
    texts = {"en": "How likely?", "de": "Wie wahrscheinlich?"}
    assert survey_text(texts, "de", "en") == "Wie wahrscheinlich?"
    assert survey_text({"en": "How likely?"}, "de", "en") == "How likely?"
    assert survey_text({"en": "How likely?", "de": "  "}, "de", "en") == "How likely?"
    assert survey_text({"de": "Nur Deutsch"}, "fr", "en") == "Nur Deutsch"
    assert survey_text({}, "de", "en") == ""
    assert survey_text(None, "de", "en") == ""


def _version(schema: dict[str, Any], languages: list[str], default: str) -> SurveyVersion:
    return SurveyVersion(number=1, schema=schema, languages=languages, default_language=default)


def test_render_questions_resolves_every_text_with_fallback() -> None:
    schema = {
        "questions": [
            nps(
                text={"en": "How likely?", "de": "Wie wahrscheinlich?"},
                scale_labels={"low": {"en": "Not at all"}, "high": {"en": "Very", "de": "Sehr"}},
            ),
            follow_up(),
            choice(
                options=[
                    {"id": "a", "label": {"en": "Price", "de": "Preis"}},
                    {"id": "b", "label": {"en": "Delivery"}},
                ]
            ),
        ]
    }
    version = _version(schema, ["en", "de"], "en")
    german = render_questions(version, "de")
    assert [q.text for q in german] == ["Wie wahrscheinlich?", "Warum?", "Worum ging es?"]
    assert (german[0].scale, german[0].low_label, german[0].high_label) == (
        list(range(11)),
        "Not at all",
        "Sehr",
    )
    assert german[1].follow_up_for == "recommend"
    assert german[1].texts_by_group == {
        "detractor": "Was sollten wir verbessern?",
        "promoter": "Was hat Ihnen gefallen?",
    }
    assert [(o.id, o.label) for o in german[2].options] == [("a", "Preis"), ("b", "Delivery")]
    # A language the version does not offer shows the default language.
    assert render_questions(version, "fr")[0].text == "How likely?"
    assert render_questions(_version(schema, ["en"], "en"), "de")[0].text == "How likely?"


@settings(max_examples=200, deadline=None)
@given(
    schema=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "questions",
                        "id",
                        "type",
                        "text",
                        "options",
                        "label",
                        "en",
                        "de",
                        "required",
                        "follow_up_for",
                        "texts_by_group",
                        "scale_labels",
                        "low",
                        "max_length",
                        "x",
                    ]
                ),
                children,
                max_size=5,
            )
        ),
        max_leaves=20,
    ),
    languages=st.lists(st.sampled_from(["en", "de", "fr", ""]), max_size=3),
)
def test_validation_never_crashes_on_garbage(schema: Any, languages: list[str]) -> None:
    errors = survey_schema_validate(schema, languages, "en")
    assert all(e.message and e.path and e.code for e in errors)
    survey_schema_missing_translations(schema, ["en", "de"], "en")
