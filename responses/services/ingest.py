"""Importing historical responses from a CSV file into one survey.

The file names its columns in a header row:

* ``responded_at`` (required): when the customer answered, ISO 8601 (``2025-03-01``,
  ``2025-03-01 14:30``, ``2025-03-01T14:30:00+01:00``); a time without a zone is in
  the organization's time zone.
* ``crm_id`` (optional): links the response to the contact with this CRM id, if any.
* ``channel`` (optional): how the answer was originally given (email, sms, link,
  widget, api); kept in ``metadata["original_channel"]``; the response's channel is
  ``import``.
* ``language`` (optional): ``en``, ``de`` ...; default the contact's language, else the
  survey's default language.
* ``external_id`` (optional): the answer's id in the old system. A row with one is
  stored once per survey however often the file is imported again (the idempotency key
  ``import:<survey id>:<external id>``).
* one column per question id of the survey's current published version, with values as
  a customer gives them: a number for scales, an option id for a choice (several option
  ids separated by ``|`` for multiple choice), text for text questions.

Every row goes through ``response_submit`` (validation, scoring, outbox) and is stored
or refused on its own: the report lists each refused row with its row number (as a
spreadsheet shows it: the header is row 1), column and reason. A problem of the whole
file (unreadable, too large, no ``responded_at`` column, no question column) stores
nothing and raises ``ValidationError({"file": ...})``. Columns that are neither are
ignored with a warning.

Processing is synchronous, row by row through ``response_submit``: at most
``MAX_ROWS`` rows (``WEB_MAX_ROWS`` on the import page, which runs in the request) and
``MAX_FILE_BYTES``. Contacts are looked up in bulk before the rows are stored.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import secrets
import warnings
import zoneinfo
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Contact
from responses.models import ResponseChannel
from responses.services.submit import NON_FIELD, response_submit
from surveys.models import Survey, SurveyStatus, SurveyVersion
from surveys.schema import MULTIPLE_CHOICE, QUESTION_TYPES, SCALE_TYPES
from surveys.selectors import survey_version_current
from tenants.context import require_organization_id
from tenants.services import Actor, audit_log_record

MAX_ROWS = 50_000
# The import page runs the import in the request: every row goes through
# response_submit (about 2-4 ms a row measured on SQLite), so a page upload stays well
# inside a worker's request timeout. Larger files: ``manage.py import_responses``.
WEB_MAX_ROWS = 5_000
MAX_FILE_BYTES = 20 * 1024 * 1024
# Errors kept in a report (the counts stay exact beyond this).
MAX_ERRORS = 10_000
EXTERNAL_ID_MAX = 80
# A clock that runs a little ahead is no reason to refuse a row.
FUTURE_TOLERANCE = timedelta(minutes=10)
CONTACT_BATCH = 500

RESPONDED_AT, CRM_ID, CHANNEL, LANGUAGE, EXTERNAL_ID = (
    "responded_at",
    "crm_id",
    "channel",
    "language",
    "external_id",
)
META_COLUMNS = (RESPONDED_AT, CRM_ID, CHANNEL, LANGUAGE, EXTERNAL_ID)
ORIGINAL_CHANNELS = ("email", "sms", "link", "widget", "api")
_MULTIPLE_SEPARATOR = re.compile(r"\s*[|;,]\s*")
_WHOLE_NUMBER = re.compile(r"^(\d+)[.,]0+$")  # "9.0" from a spreadsheet is 9


@dataclass(slots=True)
class RowError:
    row: int  # as a spreadsheet shows it: the header is row 1
    column: str
    message: str


@dataclass(slots=True)
class ImportReport:
    file_name: str
    survey_id: int
    survey_name: str
    version_number: int
    imported_at: str = ""  # ISO 8601
    actor_label: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    contacts_linked: int = 0
    contacts_not_found: int = 0
    columns: list[str] = field(default_factory=list)  # the question columns imported
    warnings: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    errors_truncated: bool = False

    @property
    def stored(self) -> int:
        return self.created + self.updated + self.unchanged

    def add_error(self, row: int, column: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(row, column, message))
        else:
            self.errors_truncated = True

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportReport:
        values = dict(data)
        values["errors"] = [RowError(**e) for e in values.get("errors", [])]
        return cls(**values)


def _file_error(message: str) -> ValidationError:
    return ValidationError({"file": message}, code="invalid_file")


# --- Reading the file ----------------------------------------------------------------


def _decode(data: bytes) -> str:
    """UTF-8 (with or without a byte order mark), UTF-16 with one, else Windows-1252 /
    Latin-1 (what Excel writes as "CSV" on German Windows)."""
    if not data.strip():
        raise _file_error(_("The file is empty."))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise _file_error(_("The file could not be decoded as UTF-16.")) from None
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise _file_error(
            _(
                "This is a spreadsheet workbook, not a CSV file. In Excel choose “Save as” → "
                "“CSV UTF-8” and upload that file."
            )
        )
    if b"\x00" in data[:65536]:
        raise _file_error(_("This is not a CSV file (it contains binary data)."))
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _delimiter(text: str) -> str:
    header = text.lstrip("\r\n").split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def _read_frame(data: bytes, max_rows: int) -> pd.DataFrame:
    """Every cell as text ("" when empty); the index is the file's row number - 2."""
    text = _decode(data).lstrip("\r\n")
    delimiter = _delimiter(text)
    header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    names = [name.strip() for name in header]
    if not any(names):
        raise _file_error(_("The first row must name the columns."))
    keys = [name.lower() for name in names if name]
    if len(set(keys)) != len(keys):
        raise _file_error(_("Two columns have the same name; give every column its own name."))
    try:
        with warnings.catch_warnings():
            # pandas drops the fields beyond the header with only a warning: refuse.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                index_col=False,
                engine="c",
            )
    except pd.errors.EmptyDataError:
        raise _file_error(_("The file is empty.")) from None
    except pd.errors.ParserWarning:
        raise _file_error(
            _("The rows have more fields than the header row names. Check the header row.")
        ) from None
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        detail = str(exc).replace("Error tokenizing data. C error:", "").strip()
        raise _file_error(
            _("The file could not be read as CSV: %(error)s") % {"error": detail}
        ) from None
    if len(frame.columns) != len(names):
        raise _file_error(_("The header row and the rows below it do not match."))
    frame.columns = pd.Index([name or f"#{i}" for i, name in enumerate(names)])
    frame = frame.fillna("").apply(lambda column: column.str.strip())
    # A column without a name and without values: the trailing delimiter of some exports.
    frame = frame.drop(
        columns=[f"#{i}" for i, name in enumerate(names) if not name and not frame[f"#{i}"].any()]
    )
    frame = frame[~(frame == "").all(axis=1)]
    if len(frame) > max_rows:
        raise _file_error(
            _(
                "The file has %(count)s rows; at most %(max)s can be imported at once. "
                "Split it into smaller files."
            )
            % {"count": len(frame), "max": max_rows}
        )
    if frame.empty:
        raise _file_error(_("The file has a header row but no responses."))
    return frame


@dataclass(frozen=True, slots=True)
class _Columns:
    meta: dict[str, str]  # meta column -> the file's header
    questions: dict[str, str]  # question id -> the file's header
    ignored: list[str]


def _columns(frame: pd.DataFrame, version: SurveyVersion) -> _Columns:
    question_ids = [str(q.get("id")) for q in version.questions if q.get("type") in QUESTION_TYPES]
    by_key = {qid.lower(): qid for qid in question_ids}
    meta: dict[str, str] = {}
    questions: dict[str, str] = {}
    ignored: list[str] = []
    for header in frame.columns:
        key = str(header).strip().lower()
        if key in META_COLUMNS:
            meta[key] = str(header)
        elif key in by_key:
            questions[by_key[key]] = str(header)
        else:
            ignored.append(str(header))
    if RESPONDED_AT not in meta:
        raise _file_error(
            _("The file has no “responded_at” column: every row needs the time of the answer.")
        )
    if not questions:
        raise _file_error(
            _(
                "The file has no column for any question of the survey. Name the columns by "
                "question id: %(ids)s."
            )
            % {"ids": ", ".join(question_ids)}
        )
    return _Columns(meta, questions, ignored)


# --- Reading the values of a row -----------------------------------------------------


def _responded_at(value: str, zone: zoneinfo.ZoneInfo, now: datetime) -> datetime | str:
    """The time, or the message saying why not."""
    text = value.strip()
    if not text:
        return _("Enter the time of the answer.")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return _("“%(value)s” is not a date in ISO 8601 (e.g. 2025-03-01 14:30).") % {
            "value": text[:40]
        }
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    if moment > now + FUTURE_TOLERANCE:
        return _("The time lies in the future.")
    return moment


def _language(value: str) -> str | None:
    """``de``, ``de-DE``, ``DE`` -> ``de``; None for a language the platform has not."""
    code = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return code if code in {c for c, _name in settings.LANGUAGES} else None


def _answer(value: str, question_type: str) -> Any:
    text = value.strip()
    if question_type in SCALE_TYPES:
        whole = _WHOLE_NUMBER.match(text)
        return whole.group(1) if whole else text
    if question_type == MULTIPLE_CHOICE:
        return [part for part in _MULTIPLE_SEPARATOR.split(text) if part]
    return value


def _contacts(crm_ids: set[str]) -> dict[str, Contact]:
    """The contacts with these CRM ids, by CRM id, in a few batched queries."""
    wanted = sorted(crm_ids)
    found: dict[str, Contact] = {}
    for start in range(0, len(wanted), CONTACT_BATCH):
        batch = wanted[start : start + CONTACT_BATCH]
        for contact in Contact.objects.filter(crm_id__in=batch).only(
            "id", "organization_id", "crm_id", "language", "attributes"
        ):
            found[contact.crm_id] = contact
    return found


# --- The import ----------------------------------------------------------------------


def _current_version(survey: Survey) -> SurveyVersion:
    version = survey_version_current(survey)
    if version is None:
        raise _file_error(_("The survey has no published version to import responses into."))
    # One survey instance, with its touchpoint and organization, for every row:
    # response_submit reads them for each response it creates.
    version.survey = Survey.objects.select_related("touchpoint", "organization").get(pk=survey.pk)
    return version


def response_import_csv(
    *, actor: Actor, survey: Survey, data: bytes, file_name: str, max_rows: int | None = None
) -> ImportReport:
    """Store the responses of a CSV file (see the module docstring) in ``survey``'s
    current published version; the report of what was stored and what was refused.
    ``max_rows``: a lower row limit than ``MAX_ROWS`` (the import page's).

    Raises ``ValidationError({"file": ...})`` for a problem of the whole file (nothing is
    stored then). Must run in the organization's context.
    """
    if survey.organization_id != require_organization_id():
        raise ValueError("The survey belongs to another organization.")
    if len(data) > MAX_FILE_BYTES:
        raise _file_error(
            _("The file is larger than %(max)s MB. Split it into smaller files.")
            % {"max": MAX_FILE_BYTES // (1024 * 1024)}
        )
    version = _current_version(survey)
    frame = _read_frame(data, min(max_rows or MAX_ROWS, MAX_ROWS))
    columns = _columns(frame, version)
    now = timezone.now()
    report = ImportReport(
        file_name=file_name[:200],
        survey_id=survey.pk,
        survey_name=survey.name,
        version_number=version.number,
        imported_at=now.isoformat(),
        actor_label=actor.label,
        rows=len(frame),
        columns=list(columns.questions),
    )
    for header in columns.ignored:
        report.warnings.append(
            _("Column “%(column)s” is no question of the survey (version %(number)s); ignored.")
            % {"column": header, "number": version.number}
        )
    zone = zoneinfo.ZoneInfo(version.survey.organization.timezone)
    types = {str(q.get("id")): str(q.get("type")) for q in version.questions}
    crm_header = columns.meta.get(CRM_ID)
    contacts = _contacts({v.strip() for v in frame[crm_header] if v.strip()}) if crm_header else {}
    headers = {**columns.meta, **columns.questions}
    offered = set(version.languages)
    for index, row in zip(frame.index, frame.to_dict("records"), strict=True):
        number = int(index) + 2
        cells = {name: str(row[header]) for name, header in headers.items()}
        _import_row(
            report=report,
            number=number,
            cells=cells,
            version=version,
            types=types,
            contacts=contacts,
            offered=offered,
            zone=zone,
            file_name=file_name,
            now=now,
        )
    audit_log_record(
        actor=actor,
        action="responses.import",
        obj=survey,
        changes={
            "file": [None, report.file_name],
            "rows": [None, report.rows],
            "created": [None, report.created],
            "updated": [None, report.updated],
            "failed": [None, report.failed],
        },
    )
    return report


def _import_row(
    *,
    report: ImportReport,
    number: int,
    cells: dict[str, str],
    version: SurveyVersion,
    types: dict[str, str],
    contacts: dict[str, Contact],
    offered: set[str],
    zone: zoneinfo.ZoneInfo,
    file_name: str,
    now: datetime,
) -> None:
    errors: list[tuple[str, str]] = []
    responded_at = _responded_at(cells[RESPONDED_AT], zone, now)
    if isinstance(responded_at, str):
        errors.append((RESPONDED_AT, responded_at))
    original_channel = cells.get(CHANNEL, "").strip().lower()
    if original_channel and original_channel not in ORIGINAL_CHANNELS:
        errors.append(
            (
                CHANNEL,
                _("Unknown channel; use one of: %(channels)s.")
                % {"channels": ", ".join(ORIGINAL_CHANNELS)},
            )
        )
    language = _language(cells[LANGUAGE]) if cells.get(LANGUAGE, "").strip() else ""
    if language is None:
        errors.append((LANGUAGE, _("Unknown language; use a code such as en or de.")))
    external_id = cells.get(EXTERNAL_ID, "").strip()
    if len(external_id) > EXTERNAL_ID_MAX:
        errors.append((EXTERNAL_ID, _("At most %(max)s characters.") % {"max": EXTERNAL_ID_MAX}))
    crm_id = cells.get(CRM_ID, "").strip()
    contact = contacts.get(crm_id) if crm_id else None
    answers = {qid: _answer(cells[qid], types[qid]) for qid in report.columns if cells[qid].strip()}
    if not answers and not errors:
        errors.append(("", _("The row has no answers.")))
    if errors:
        _refuse(report, number, errors)
        return
    assert isinstance(responded_at, datetime)  # noqa: S101 - checked above
    if not language:
        language = contact.language if contact is not None and contact.language else ""
        language = language if language in offered else version.default_language
    metadata: dict[str, Any] = {"import_file": file_name[:200], "import_row": number}
    if original_channel:
        metadata["original_channel"] = original_channel
    if external_id:
        metadata["external_id"] = external_id
    if crm_id:
        metadata["crm_id"] = crm_id[:100]
    result = response_submit(
        version=version,
        channel=ResponseChannel.IMPORT,
        language=language,
        answers=answers,
        question_ids=report.columns,
        complete=True,
        contact=contact,
        idempotency_key=f"import:{version.survey_id}:{external_id}" if external_id else "",
        metadata=metadata,
        responded_at=responded_at,
    )
    if result.errors or result.response is None:
        _refuse(
            report,
            number,
            [
                ("" if qid == NON_FIELD else qid, str(message))
                for qid, messages in result.errors.items()
                for message in messages
            ],
        )
        return
    if crm_id:
        if contact is not None:
            report.contacts_linked += 1
        else:
            report.contacts_not_found += 1
    if result.created:
        report.created += 1
    elif result.changed:
        report.updated += 1
    else:
        report.unchanged += 1


def _refuse(report: ImportReport, number: int, errors: list[tuple[str, str]]) -> None:
    report.failed += 1
    for column, message in errors:
        report.add_error(number, column, message)


# --- The import page -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportableSurvey:
    survey: Survey
    version_number: int
    question_ids: list[str]

    @property
    def columns(self) -> list[str]:
        return [RESPONDED_AT, *self.question_ids]


def import_surveys() -> list[ImportableSurvey]:
    """Active surveys with a published version, each with the question columns of its
    current version (two queries)."""
    surveys = list(
        Survey.objects.filter(status=SurveyStatus.ACTIVE, versions__published_at__isnull=False)
        .distinct()
        .order_by("name", "id")
    )
    current: dict[int, SurveyVersion] = {}
    for version in SurveyVersion.objects.filter(
        survey__in=surveys, published_at__isnull=False
    ).order_by("survey_id", "-number"):
        current.setdefault(version.survey_id, version)
    return [
        ImportableSurvey(
            survey,
            current[survey.pk].number,
            [
                str(q.get("id"))
                for q in current[survey.pk].questions
                if q.get("type") in QUESTION_TYPES
            ],
        )
        for survey in surveys
        if survey.pk in current
    ]


# --- The report page -----------------------------------------------------------------

REPORT_TTL = timedelta(hours=24)


def _report_key(report_id: str) -> str:
    return f"responses:import-report:{require_organization_id()}:{report_id}"


def import_report_store(*, report: ImportReport) -> str:
    """Keep ``report`` for the report page (``REPORT_TTL``); its id. In the current
    organization: another organization's id finds nothing."""
    report_id = secrets.token_urlsafe(16)
    cache.set(_report_key(report_id), report.as_json(), int(REPORT_TTL.total_seconds()))
    return report_id


def import_report_get(*, report_id: str) -> ImportReport | None:
    if not report_id or len(report_id) > 64:
        return None
    data = cache.get(_report_key(report_id))
    return ImportReport.from_json(data) if isinstance(data, dict) else None


__all__ = [
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "WEB_MAX_ROWS",
    "ImportReport",
    "ImportableSurvey",
    "RowError",
    "import_report_get",
    "import_report_store",
    "import_surveys",
    "response_import_csv",
]
