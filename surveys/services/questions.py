# mypy: disallow-untyped-defs, disallow-incomplete-defs
"""Writes to the questions of a survey's draft: add, edit (incl. translations), move,
remove. Each call locks the draft, changes a copy of its schema, checks the copy and
saves it whole, so a refused change leaves the draft exactly as it was."""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from surveys.models import Survey, SurveyVersion
from surveys.schema import (
    CHOICE_TYPES,
    MAX_QUESTIONS,
    NPS_GROUPS,
    QUESTION_TYPES,
    SCALE_ENDS,
    clean_texts,
    new_id,
    new_question,
    question_ids,
)
from surveys.services.lifecycle import SchemaValidationError, lock_draft, structural_errors
from tenants.services import Actor, audit_log_record

EDITABLE_FIELDS = frozenset(
    {
        "required",
        "text",
        "scale_labels",
        "max_length",
        "follow_up_for",
        "texts_by_group",
        "options",
    }
)


def _save_schema(draft: SurveyVersion, schema: dict[str, Any]) -> None:
    """Save ``schema`` into the draft unless the change introduces a structural problem."""
    before = {
        (e.path, e.code)
        for e in structural_errors(draft.schema, draft.languages, draft.default_language)
    }
    problems = [
        e
        for e in structural_errors(schema, draft.languages, draft.default_language)
        if (e.path, e.code) not in before
    ]
    if problems:
        raise SchemaValidationError(problems)
    draft.schema = schema
    draft.save(update_fields=["schema"])


def _schema_copy(draft: SurveyVersion) -> dict[str, Any]:
    schema = copy.deepcopy(draft.schema) if isinstance(draft.schema, dict) else {}
    if not isinstance(schema.get("questions"), list):
        schema["questions"] = []
    return schema


def _index_of(schema: dict[str, Any], question_id: str) -> int:
    for index, question in enumerate(schema["questions"]):
        if isinstance(question, dict) and question.get("id") == question_id:
            return index
    raise ValidationError(_("This question is not in the draft any more."), code="not_found")


def survey_question_add(*, actor: Actor, survey: Survey, question_type: str) -> dict[str, Any]:
    """Append an empty question of ``question_type`` (with a fresh id) to the draft."""
    if question_type not in QUESTION_TYPES:
        raise ValidationError({"type": _("Choose one of the listed question types.")})
    with transaction.atomic():
        draft = lock_draft(survey)
        schema = _schema_copy(draft)
        if len(schema["questions"]) >= MAX_QUESTIONS:
            raise ValidationError(
                _("A survey can have at most %(max)s questions.") % {"max": MAX_QUESTIONS}
            )
        question = new_question(question_type, question_ids(schema))
        schema["questions"].append(question)
        _save_schema(draft, schema)
        audit_log_record(
            actor=actor,
            action="survey.question_add",
            obj=draft.survey,
            changes={"question": [None, question["id"]], "type": [None, question_type]},
        )
    return question


def _normalized(question_type: str, content: dict[str, Any], taken: list[str]) -> dict[str, Any]:
    """The editable part of a question, with empty texts dropped and new options given ids.

    ``options`` items are ``{"id": str | None, "label": {...}}``; ``id`` None adds one.
    """
    unknown = set(content) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    result: dict[str, Any] = {
        "required": bool(content.get("required", False)),
        "text": clean_texts(content.get("text") or {}),
    }
    labels = {
        end: clean_texts(texts)
        for end, texts in (content.get("scale_labels") or {}).items()
        if end in SCALE_ENDS
    }
    if any(labels.values()):
        result["scale_labels"] = {end: texts for end, texts in labels.items() if texts}
    if content.get("max_length") is not None:
        result["max_length"] = content["max_length"]
    if content.get("follow_up_for"):
        result["follow_up_for"] = content["follow_up_for"]
    groups = {
        group: clean_texts(texts)
        for group, texts in (content.get("texts_by_group") or {}).items()
        if group in NPS_GROUPS
    }
    if any(groups.values()):
        result["texts_by_group"] = {group: texts for group, texts in groups.items() if texts}
    if question_type in CHOICE_TYPES:
        options = []
        option_ids = [o["id"] for o in content.get("options") or [] if o.get("id")]
        for option in content.get("options") or []:
            option_id = option.get("id") or new_id("option", [*option_ids, *taken])
            option_ids.append(option_id)
            options.append({"id": option_id, "label": clean_texts(option.get("label") or {})})
        result["options"] = options
    return result


def survey_question_update(
    *, actor: Actor, survey: Survey, question_id: str, content: dict[str, Any]
) -> dict[str, Any]:
    """Replace the editable fields of one question (texts in every language, required,
    scale end labels, options, maximum length, NPS follow-up and its texts by group).

    The id and the type of a question never change. Raises ``SchemaValidationError``
    (with paths) when the result would be malformed; the draft is then unchanged.
    """
    with transaction.atomic():
        draft = lock_draft(survey)
        schema = _schema_copy(draft)
        index = _index_of(schema, question_id)
        old = schema["questions"][index]
        question = {
            "id": question_id,
            "type": old["type"],
            **_normalized(old["type"], content, question_ids(schema)),
        }
        schema["questions"][index] = question
        changes = {
            f"{question_id}.{key}": [old.get(key), question.get(key)]
            for key in sorted(EDITABLE_FIELDS)
            if old.get(key) != question.get(key)
        }
        if changes:
            _save_schema(draft, schema)
            audit_log_record(
                actor=actor, action="survey.question_update", obj=draft.survey, changes=changes
            )
    return question


def survey_question_move(*, actor: Actor, survey: Survey, question_id: str, direction: str) -> None:
    """Move a question one place ``up`` or ``down``; a follow-up stays after its NPS."""
    if direction not in ("up", "down"):
        raise ValidationError({"direction": _("Move up or down.")})
    with transaction.atomic():
        draft = lock_draft(survey)
        schema = _schema_copy(draft)
        questions = schema["questions"]
        index = _index_of(schema, question_id)
        target = index - 1 if direction == "up" else index + 1
        if not 0 <= target < len(questions):
            return
        questions[index], questions[target] = questions[target], questions[index]
        try:
            _save_schema(draft, schema)
        except SchemaValidationError as exc:
            raise ValidationError(
                _("A follow-up question must stay after the NPS question it follows up."),
                code="follow_up_order",
            ) from exc
        audit_log_record(
            actor=actor,
            action="survey.question_move",
            obj=draft.survey,
            changes={f"{question_id}.position": [index + 1, target + 1]},
        )


def survey_question_remove(*, actor: Actor, survey: Survey, question_id: str) -> None:
    """Remove a question from the draft (never one that another question follows up)."""
    with transaction.atomic():
        draft = lock_draft(survey)
        schema = _schema_copy(draft)
        index = _index_of(schema, question_id)
        followers = [
            number
            for number, q in enumerate(schema["questions"], start=1)
            if isinstance(q, dict) and q.get("follow_up_for") == question_id
        ]
        if followers:
            raise ValidationError(
                _(
                    "Question %(numbers)s follows up this question: remove it or change "
                    "its follow-up first."
                )
                % {"numbers": ", ".join(str(n) for n in followers)},
                code="has_follow_up",
            )
        removed = schema["questions"].pop(index)
        _save_schema(draft, schema)
        audit_log_record(
            actor=actor,
            action="survey.question_remove",
            obj=draft.survey,
            changes={"question": [question_id, None], "type": [removed.get("type"), None]},
        )
