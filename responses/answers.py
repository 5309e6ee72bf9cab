"""Answers: validation against a survey version, the survey's steps, and scoring.

Pure functions over a version's schema (``surveys.schema``), shared by every channel:
the survey page, the widget, SMS replies, imports and the API all clean answers here,
so a value is valid (or refused with the same message) whichever way it came in.

Cleaned values: scale questions an ``int`` in the scale, single choice an option id,
multiple choice a list of option ids in the order of the options, text a stripped
``str``. An unanswered optional question has no key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from surveys.models import SurveyVersion
from surveys.schema import CES, CHOICE_TYPES, CSAT, NPS, QUESTION_TYPES, SCALE_TYPES, TEXT

# Free text without a max_length of its own: long enough for a real complaint.
DEFAULT_TEXT_MAX = 5_000


def nps_group(score: int | None) -> str | None:
    """detractor (0-6), passive (7-8), promoter (9-10); None without a score."""
    if score is None:
        return None
    if score <= 6:
        return "detractor"
    return "passive" if score <= 8 else "promoter"


def survey_steps(version: SurveyVersion) -> list[list[str]]:
    """The pages of the survey: question ids per page.

    A survey with an NPS question that is not its last question answers in two steps:
    everything up to the NPS score first (saved as soon as the score is chosen, so a
    customer who leaves then still counts), the rest second, with the follow-up text
    chosen for the customer's score. Any other survey is one page.
    """
    ids = [str(q.get("id")) for q in version.questions if q.get("type") in QUESTION_TYPES]
    for index, question in enumerate(version.questions):
        if question.get("type") == NPS:
            cut = index + 1
            if cut < len(ids):
                return [ids[:cut], ids[cut:]]
            break
    return [ids]


def _values(raw: Any) -> list[Any]:
    """Form data gives lists, JSON gives scalars or lists: always a list of non-empty."""
    values = raw if isinstance(raw, list | tuple) else [raw]
    cleaned = []
    for value in values:
        if value is None or isinstance(value, dict | list | tuple):
            continue
        if isinstance(value, str):
            value = value.strip()
            if not value:
                continue
        cleaned.append(value)
    return cleaned


def _scale_value(value: Any, scale: range) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit() or len(value) > 3:
            return None
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and value in scale else None


@dataclass(frozen=True, slots=True)
class CleanedAnswers:
    values: dict[str, Any]  # question id -> cleaned value (answered questions only)
    unanswered: list[str]  # question ids of this step left empty (their old answer goes)
    errors: dict[str, list[str]]

    @property
    def is_valid(self) -> bool:
        return not self.errors


def answers_clean(
    version: SurveyVersion, raw: Mapping[str, Any], question_ids: Iterable[str] | None = None
) -> CleanedAnswers:
    """Validate ``raw`` (question id -> submitted value) for the questions in
    ``question_ids`` (default: all). Messages are in the active language; keys that name
    no question of the step are ignored."""
    wanted = None if question_ids is None else set(question_ids)
    values: dict[str, Any] = {}
    unanswered: list[str] = []
    errors: dict[str, list[str]] = {}
    for question in version.questions:
        qid = str(question.get("id", ""))
        qtype = question.get("type")
        if qtype not in QUESTION_TYPES or (wanted is not None and qid not in wanted):
            continue
        given = _values(raw.get(qid)) if hasattr(raw, "get") else []
        if not given:
            unanswered.append(qid)
            if question.get("required"):
                errors[qid] = [_("Please answer this question.")]
            continue
        if qtype in SCALE_TYPES:
            scale = QUESTION_TYPES[qtype].scale
            assert scale is not None  # noqa: S101 - scale types have a scale
            score = _scale_value(given[-1], scale) if len(given) == 1 else None
            if score is None:
                errors[qid] = [
                    _("Choose a value from %(min)s to %(max)s.")
                    % {"min": scale[0], "max": scale[-1]}
                ]
            else:
                values[qid] = score
        elif qtype in CHOICE_TYPES:
            options = [str(o.get("id")) for o in question.get("options") or []]
            chosen = {str(v) for v in given}
            if not chosen <= set(options):
                errors[qid] = [_("Choose one of the options.")]
            elif QUESTION_TYPES[qtype].multiple:
                values[qid] = [o for o in options if o in chosen]
            elif len(chosen) > 1:
                errors[qid] = [_("Choose only one option.")]
            else:
                values[qid] = next(iter(chosen))
        elif qtype == TEXT:
            if len(given) != 1 or not isinstance(given[0], str | int | float):
                errors[qid] = [_("Enter your answer as text.")]
                continue
            text = str(given[0]).replace("\x00", "").strip()
            limit = int(question.get("max_length") or DEFAULT_TEXT_MAX)
            if len(text) > limit:
                errors[qid] = [
                    _("Please keep your answer to %(max)s characters (it has %(length)s).")
                    % {"max": limit, "length": len(text)}
                ]
            elif text:
                values[qid] = text
            else:
                unanswered.append(qid)
    return CleanedAnswers(values, unanswered, errors)


@dataclass(frozen=True, slots=True)
class Scores:
    nps: int | None = None
    nps_group: str | None = None
    ces: int | None = None
    csat: int | None = None
    comment: str = ""


def answers_score(version: SurveyVersion, answers: Mapping[str, Any]) -> Scores:
    """The scores of the first answered NPS, CES and CSAT questions, and the verbatim:
    the answer to the NPS follow-up, else the first free-text answer."""
    first: dict[str, Any] = {}
    nps_id = ""
    follow_up = ""
    first_text = ""
    for question in version.questions:
        qid = str(question.get("id", ""))
        qtype = question.get("type")
        if qtype == NPS and not nps_id:
            nps_id = qid
        value = answers.get(qid)
        if value is None:
            continue
        if qtype in (NPS, CES, CSAT) and qtype not in first and isinstance(value, int):
            first[qtype] = value
        elif qtype == TEXT and isinstance(value, str):
            if nps_id and question.get("follow_up_for") == nps_id and not follow_up:
                follow_up = value
            first_text = first_text or value
    nps = first.get(NPS)
    return Scores(
        nps=nps,
        nps_group=nps_group(nps),
        ces=first.get(CES),
        csat=first.get(CSAT),
        comment=follow_up or first_text,
    )
