"""pandas DataFrames of the exports: responses (answers flattened) and cases.

The rows are the dashboard's: responses with ``DashboardFilters.response_q`` (and the
theme filter), cases opened in the period at the filtered journey or touchpoint. They are
read with ``values()`` in chunks of ``CHUNK_SIZE`` (``iterator``), one DataFrame per
chunk; the themes of a chunk's responses and the root causes of a chunk's cases take
one query per chunk, so the number of queries grows with the chunks, never per row.

Headers and labels are in the export's language (call inside
``translation.override(language)``; ``export_frame`` does). Times are local to the
organization's time zone and naive (spreadsheets have no time zones).
"""

from __future__ import annotations

import json
import zoneinfo
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from django.db.models import Q, QuerySet
from django.utils import translation
from django.utils.translation import gettext as _

from closedloop.models import Case, CaseRootCause, CaseStatus, Priority
from metrics.models import ExportKind, ResponseTheme
from metrics.selectors.filters import DashboardFilters
from responses.models import NpsGroup, Response, ResponseChannel, ResponseStatus
from surveys.models import SurveyVersion
from surveys.rendering import survey_text
from surveys.schema import CHOICE_TYPES, MULTIPLE_CHOICE, QUESTION_TYPES, SCALE_TYPES

CHUNK_SIZE = 2000
MULTIPLE_SEPARATOR = "; "
LIST_SEPARATOR = ", "
CRM_PREFIX = "crm."


@dataclass(frozen=True, slots=True)
class ExportSpec:
    """What to export: the data, the file format, the language of headers and labels,
    and the dashboard filters (local days of ``timezone_name``)."""

    kind: str  # ExportKind
    format: str  # ExportFormat
    language: str
    filters: DashboardFilters
    timezone_name: str


@dataclass(frozen=True, slots=True)
class ExportTable:
    """A DataFrame with its headers as columns, ready for a writer."""

    frame: pd.DataFrame
    title: str  # the sheet's name

    @property
    def rows(self) -> int:
        return len(self.frame)


# --- Which rows ----------------------------------------------------------------------


def response_queryset(filters: DashboardFilters, timezone_name: str) -> QuerySet[Response]:
    """The responses of the dashboard filters (those of the verbatims and themes pages
    included: score group, theme, comment search)."""
    queryset = Response.objects.filter(filters.response_q(timezone_name))
    if filters.theme_id is not None:
        tagged = ResponseTheme.objects.filter(theme_id=filters.theme_id).values("response_id")
        queryset = queryset.filter(pk__in=tagged)
    return queryset


def case_queryset(filters: DashboardFilters, timezone_name: str) -> QuerySet[Case]:
    """The cases opened in the filtered period, at the filtered journey or touchpoint."""
    start, end = filters.bounds(timezone_name)
    q = Q(created_at__gte=start, created_at__lt=end)
    if filters.journey_id is not None:
        q &= Q(journey_id=filters.journey_id)
    if filters.touchpoint_id is not None:
        q &= Q(touchpoint_id=filters.touchpoint_id)
    return Case.objects.filter(q)


def export_row_count(*, kind: str, filters: DashboardFilters, timezone_name: str) -> int:
    """How many rows an export of ``kind`` with these filters has (one COUNT query)."""
    if kind == ExportKind.CASES:
        return case_queryset(filters, timezone_name).count()
    return response_queryset(filters, timezone_name).count()


def export_frame(spec: ExportSpec) -> ExportTable:
    """The DataFrame of an export, headers and labels in the spec's language."""
    with translation.override(spec.language):
        if spec.kind == ExportKind.CASES:
            return case_frame(spec)
        return response_frame(spec)


def _batches(queryset: QuerySet[Any, dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in queryset.iterator(chunk_size=CHUNK_SIZE):
        batch.append(row)
        if len(batch) >= CHUNK_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def _local(values: pd.Series, zone: zoneinfo.ZoneInfo) -> pd.Series:
    """Aware datetimes as naive local times of ``zone`` (None stays empty)."""
    stamps = pd.to_datetime(values, utc=True)
    return stamps.dt.tz_convert(zone).dt.tz_localize(None)


def _labels(choices: list[tuple[Any, Any]]) -> dict[Any, str]:
    return {value: str(label) for value, label in choices}


def _unique(header: str, taken: set[str], hint: str = "") -> str:
    """``header``, or a variant of it no other column uses yet."""
    candidates = [header]
    if hint:
        candidates.append(f"{header} [{hint}]")
    for candidate in candidates:
        if candidate not in taken:
            taken.add(candidate)
            return candidate
    number = 2
    while f"{candidates[-1]} ({number})" in taken:
        number += 1
    result = f"{candidates[-1]} ({number})"
    taken.add(result)
    return result


def _attribute(value: Any) -> Any:
    """A CRM attribute as a cell: scalars as they are, lists and objects as JSON."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _frame(
    chunks: list[pd.DataFrame], columns: list[str], headers: dict[str, str], title: str
) -> ExportTable:
    if chunks:
        frame = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
        frame = frame.reindex(columns=columns)
    else:
        frame = pd.DataFrame(columns=columns)
    return ExportTable(frame.rename(columns=headers), title)


# --- Responses -----------------------------------------------------------------------


@dataclass(slots=True)
class QuestionColumn:
    """One question of one survey (all its versions): a column of the export."""

    key: str
    survey_id: int
    survey_name: str
    question_id: str
    type: str
    label: str
    options: dict[str, str] = field(default_factory=dict)

    def cell(self, value: Any) -> Any:
        """The answer as a cell: choice ids become their labels."""
        if value is None:
            return None
        if self.type in SCALE_TYPES:
            return value if isinstance(value, int) and not isinstance(value, bool) else None
        if self.type in CHOICE_TYPES:
            chosen = value if isinstance(value, list) else [value]
            labels = [self.options.get(str(option), str(option)) for option in chosen]
            if self.type == MULTIPLE_CHOICE:
                return MULTIPLE_SEPARATOR.join(labels)
            return labels[0] if labels else None
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def question_columns(version_ids: list[int], language: str) -> list[QuestionColumn]:
    """The questions of these survey versions, one column per survey and question id.

    Surveys in name order; within a survey, the questions in the order of its newest
    version, then questions only older versions had. Labels (question text, option
    labels) come from the newest version that has them, in ``language`` or else the
    version's default language.
    """
    versions = (
        SurveyVersion.objects.filter(pk__in=version_ids)
        .order_by("survey__name", "survey_id", "-number")
        .values("survey_id", "survey__name", "schema", "default_language")
    )
    columns: dict[tuple[int, str], QuestionColumn] = {}
    for version in versions:
        schema = version["schema"]
        questions = schema.get("questions") if isinstance(schema, dict) else None
        for question in questions if isinstance(questions, list) else []:
            if not isinstance(question, dict) or question.get("type") not in QUESTION_TYPES:
                continue
            qid = str(question.get("id", ""))
            key = (version["survey_id"], qid)
            fallback = version["default_language"]
            column = columns.get(key)
            if column is None:
                column = columns[key] = QuestionColumn(
                    key=f"q:{version['survey_id']}:{qid}",
                    survey_id=version["survey_id"],
                    survey_name=version["survey__name"],
                    question_id=qid,
                    type=str(question["type"]),
                    label=survey_text(question.get("text"), language, fallback) or qid,
                )
            for option in question.get("options") or []:
                if isinstance(option, dict) and str(option.get("id")) not in column.options:
                    label = survey_text(option.get("label"), language, fallback)
                    column.options[str(option.get("id"))] = label or str(option.get("id"))
    return list(columns.values())


_RESPONSE_VALUES = (
    "pk",
    "responded_at",
    "completed_at",
    "status",
    "survey_id",
    "survey__name",
    "survey_version__number",
    "journey__name",
    "touchpoint__name",
    "channel",
    "language",
    "contact__crm_id",
    "contact__first_name",
    "contact__last_name",
    "nps",
    "nps_group",
    "ces",
    "csat",
    "comment",
    "contact_attributes",
    "answers",
)


def _response_headers() -> dict[str, str]:
    return {
        "id": _("Response ID"),
        "responded_at": _("Responded at"),
        "completed_at": _("Completed at"),
        "status": _("Status"),
        "survey": _("Survey"),
        "version": _("Survey version"),
        "journey": _("Journey"),
        "touchpoint": _("Touchpoint"),
        "channel": _("Channel"),
        "language": _("Language"),
        "crm_id": _("Contact CRM ID"),
        "contact": _("Contact name"),
        "nps": "NPS",
        "nps_group": _("NPS group"),
        "ces": "CES",
        "csat": "CSAT",
        "comment": _("Comment"),
        "themes": _("Themes"),
    }


def response_frame(spec: ExportSpec) -> ExportTable:
    """The responses of the spec, one row each, oldest first (call it inside
    ``translation.override(spec.language)``)."""
    zone = zoneinfo.ZoneInfo(spec.timezone_name)
    queryset = response_queryset(spec.filters, spec.timezone_name)
    version_ids = list(queryset.order_by().values_list("survey_version_id", flat=True).distinct())
    questions = question_columns(version_ids, spec.language)
    by_key = {(column.survey_id, column.question_id): column for column in questions}
    surveys_by_question: dict[str, set[int]] = defaultdict(set)
    for column in questions:
        surveys_by_question[column.question_id].add(column.survey_id)
    statuses = _labels(ResponseStatus.choices)
    channels = _labels(ResponseChannel.choices)
    groups = _labels(NpsGroup.choices)
    chunks: list[pd.DataFrame] = []
    attribute_keys: set[str] = set()
    rows = queryset.order_by("responded_at", "pk").values(*_RESPONSE_VALUES)
    for batch in _batches(rows):
        themes: dict[int, list[str]] = defaultdict(list)
        for response_id, name in (
            ResponseTheme.objects.filter(response_id__in=[row["pk"] for row in batch])
            .order_by("theme__name")
            .values_list("response_id", "theme__name")
        ):
            themes[response_id].append(name)
        records = []
        for row in batch:
            record: dict[str, Any] = {
                "id": row["pk"],
                "responded_at": row["responded_at"],
                "completed_at": row["completed_at"],
                "status": statuses.get(row["status"], row["status"]),
                "survey": row["survey__name"],
                "version": row["survey_version__number"],
                "journey": row["journey__name"],
                "touchpoint": row["touchpoint__name"],
                "channel": channels.get(row["channel"], row["channel"]),
                "language": row["language"],
                "crm_id": row["contact__crm_id"],
                "contact": " ".join(
                    part for part in (row["contact__first_name"], row["contact__last_name"]) if part
                )
                or None,
                "nps": row["nps"],
                "nps_group": groups.get(row["nps_group"]) if row["nps_group"] else None,
                "ces": row["ces"],
                "csat": row["csat"],
                "comment": row["comment"] or None,
                "themes": LIST_SEPARATOR.join(themes.get(row["pk"], [])) or None,
            }
            attributes = row["contact_attributes"]
            if isinstance(attributes, dict):
                for key, value in attributes.items():
                    attribute_keys.add(str(key))
                    record[f"{CRM_PREFIX}{key}"] = _attribute(value)
            answers = row["answers"]
            if isinstance(answers, dict):
                for qid, value in answers.items():
                    found = by_key.get((row["survey_id"], str(qid)))
                    if found is not None:
                        record[found.key] = found.cell(value)
            records.append(record)
        chunk = pd.DataFrame.from_records(records)
        for name in ("responded_at", "completed_at"):
            chunk[name] = _local(chunk[name], zone)
        for name in ("id", "version", "nps", "ces", "csat"):
            chunk[name] = chunk[name].astype("Int64")
        for column in questions:
            if column.type in SCALE_TYPES and column.key in chunk:
                chunk[column.key] = chunk[column.key].astype("Int64")
        chunks.append(chunk)

    headers = _response_headers()
    taken = set(headers.values())
    order = list(headers)
    for key in sorted(attribute_keys):
        order.append(f"{CRM_PREFIX}{key}")
        headers[order[-1]] = _unique(order[-1], taken)
    for column in questions:
        label = column.label
        if len(surveys_by_question[column.question_id]) > 1:
            label = f"{label} ({column.survey_name})"
        order.append(column.key)
        headers[column.key] = _unique(label, taken, column.question_id)
    return _frame(chunks, order, headers, _("Responses"))


# --- Cases ---------------------------------------------------------------------------

_CASE_VALUES = (
    "pk",
    "number",
    "title",
    "status",
    "priority",
    "created_at",
    "first_responded_at",
    "resolved_at",
    "closed_at",
    "first_response_due_at",
    "resolution_due_at",
    "first_response_breached_at",
    "resolution_breached_at",
    "owner__first_name",
    "owner__last_name",
    "owner__email",
    "team__name",
    "journey__name",
    "touchpoint__name",
    "recovered",
    "resolution_summary",
    "response_id",
    "response__nps",
)
_CASE_TIMES = (
    "opened",
    "first_contact",
    "resolved",
    "closed",
    "first_contact_due",
    "resolution_due",
)


def _case_headers() -> dict[str, str]:
    return {
        "number": _("Case number"),
        "title": _("Title"),
        "status": _("Status"),
        "priority": _("Priority"),
        "opened": _("Opened"),
        "first_contact": _("First contact"),
        "resolved": _("Resolved"),
        "closed": _("Closed"),
        "first_contact_due": _("First contact due"),
        "resolution_due": _("Resolution due"),
        "breached": _("SLA breached"),
        "owner": _("Owner"),
        "team": _("Team"),
        "journey": _("Journey"),
        "touchpoint": _("Touchpoint"),
        "root_causes": _("Root causes"),
        "recovered": _("Recovered"),
        "resolution_summary": _("Resolution summary"),
        "nps": "NPS",
        "response": _("Response ID"),
    }


def case_frame(spec: ExportSpec) -> ExportTable:
    """The cases of the spec, one row each, by number (call it inside
    ``translation.override(spec.language)``)."""
    zone = zoneinfo.ZoneInfo(spec.timezone_name)
    statuses = _labels(CaseStatus.choices)
    priorities = _labels(Priority.choices)
    yes, no = _("yes"), _("no")
    chunks: list[pd.DataFrame] = []
    rows = case_queryset(spec.filters, spec.timezone_name).order_by("number").values(*_CASE_VALUES)
    for batch in _batches(rows):
        causes: dict[int, list[str]] = defaultdict(list)
        for case_id, name in (
            CaseRootCause.objects.filter(case_id__in=[row["pk"] for row in batch])
            .order_by("root_cause__name")
            .values_list("case_id", "root_cause__name")
        ):
            causes[case_id].append(name)
        records = []
        for row in batch:
            owner = " ".join(
                part for part in (row["owner__first_name"], row["owner__last_name"]) if part
            )
            recovered = row["recovered"]
            records.append(
                {
                    "number": row["number"],
                    "title": row["title"],
                    "status": statuses.get(row["status"], row["status"]),
                    "priority": priorities.get(row["priority"], row["priority"]),
                    "opened": row["created_at"],
                    "first_contact": row["first_responded_at"],
                    "resolved": row["resolved_at"],
                    "closed": row["closed_at"],
                    "first_contact_due": row["first_response_due_at"],
                    "resolution_due": row["resolution_due_at"],
                    "breached": yes
                    if row["first_response_breached_at"] or row["resolution_breached_at"]
                    else no,
                    "owner": owner or row["owner__email"] or None,
                    "team": row["team__name"],
                    "journey": row["journey__name"],
                    "touchpoint": row["touchpoint__name"],
                    "root_causes": LIST_SEPARATOR.join(causes.get(row["pk"], [])) or None,
                    "recovered": None if recovered is None else (yes if recovered else no),
                    "resolution_summary": row["resolution_summary"] or None,
                    "nps": row["response__nps"],
                    "response": row["response_id"],
                }
            )
        chunk = pd.DataFrame.from_records(records)
        for name in _CASE_TIMES:
            chunk[name] = _local(chunk[name], zone)
        for name in ("number", "nps", "response"):
            chunk[name] = chunk[name].astype("Int64")
        chunks.append(chunk)
    headers = _case_headers()
    return _frame(chunks, list(headers), headers, _("Cases"))
