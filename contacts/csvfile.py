"""Reading contact CSV files and mapping their columns (no database access).

A file is readable when it is UTF-8 (with or without a byte order mark) or UTF-16 with
a byte order mark, has a header row naming the columns and at least one data row.
The delimiter (``,``, ``;`` as in German Excel exports, tab or ``|``) is sniffed.
Anything else is refused as a whole with a message that says how to fix the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.validation import UMLAUTS, attribute_key_for, validate_attribute_key

DELIMITERS = ",;\t|"
MAX_COLUMNS = 200

# Targets a column can be imported into, besides ``attr:<key>`` (a CRM attribute).
CONTACT_TARGETS: dict[str, object] = {
    "crm_id": gettext_lazy("CRM id"),
    "first_name": gettext_lazy("First name"),
    "last_name": gettext_lazy("Last name"),
    "email": gettext_lazy("Email"),
    "phone": gettext_lazy("Phone"),
    "language": gettext_lazy("Language"),
    "timezone": gettext_lazy("Time zone"),
}
ATTRIBUTE_PREFIX = "attr:"

# Header names (lower case, letters and digits only) recognised per target, in English
# and German. Other columns default to a CRM attribute named after the header.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "crm_id": (
        "crmid",
        "customerno",
        "customernumber",
        "customerid",
        "clientid",
        "clientnumber",
        "accountnumber",
        "externalid",
        "id",
        "kundennummer",
        "kundennr",
        "kdnr",
        "kundenid",
    ),
    "first_name": ("firstname", "givenname", "forename", "first", "vorname"),
    "last_name": ("lastname", "surname", "familyname", "last", "nachname", "familienname"),
    "email": ("email", "emailaddress", "mail", "emailadresse", "mailadresse"),
    "phone": (
        "phone",
        "phonenumber",
        "telephone",
        "tel",
        "mobile",
        "mobilephone",
        "mobilenumber",
        "cell",
        "cellphone",
        "telefon",
        "telefonnummer",
        "mobil",
        "mobilnummer",
        "handy",
        "handynummer",
    ),
    "language": ("language", "lang", "locale", "sprache"),
    "timezone": ("timezone", "tz", "zeitzone"),
}
# Well-known CRM columns and the attribute key they get, so German and English files
# end up with the same keys.
ATTRIBUTE_ALIASES: dict[str, str] = {
    "segment": "segment",
    "kundensegment": "segment",
    "customersegment": "segment",
    "revenue": "revenue",
    "umsatz": "revenue",
    "jahresumsatz": "revenue",
    "annualrevenue": "revenue",
    "accountowner": "account_owner",
    "owner": "account_owner",
    "kundenbetreuer": "account_owner",
    "betreuer": "account_owner",
    "accountmanager": "account_owner",
}


def _unreadable(message: str) -> ValidationError:
    return ValidationError({"file": message}, code="unreadable")


@dataclass
class CsvTable:
    """A parsed file: every cell is text; ``rows`` keeps the file's row numbers."""

    columns: list[str]
    frame: pd.DataFrame
    delimiter: str
    # Row numbers (as a spreadsheet shows them: the header is row 1) of lines with more
    # fields than the header.
    malformed_rows: list[int] = field(default_factory=list)

    def row_numbers(self) -> pd.Series:
        return pd.Series(self.frame.index + 2, index=self.frame.index)

    @property
    def row_count(self) -> int:
        return len(self.frame)


def _decode(data: bytes) -> str:
    if not data.strip():
        raise _unreadable(_("The file is empty."))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise _unreadable(_("The file could not be decoded as UTF-16.")) from None
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _unreadable(
            _(
                "This is a spreadsheet workbook, not a CSV file. In Excel choose “Save as” → "
                "“CSV UTF-8” and upload that file."
            )
        )
    if b"\x00" in data[:65536]:
        raise _unreadable(_("This is not a CSV file (it contains binary data)."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _unreadable(
            _(
                "The file is not UTF-8 encoded. In Excel choose “Save as” → “CSV UTF-8”; "
                "in other programs choose the encoding UTF-8 when exporting."
            )
        ) from None


def _sniff_delimiter(text: str) -> str:
    sample = text[:65536]
    header = sample.split("\n", 1)[0]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        delimiter = ""
    if delimiter and delimiter in header:
        return delimiter
    counts = {candidate: header.count(candidate) for candidate in DELIMITERS}
    best = max(counts, key=lambda candidate: counts[candidate])
    return best if counts[best] else ","


def _parse(
    text: str, delimiter: str, on_bad_lines: Callable[[list[str]], list[str]] | None
) -> pd.DataFrame:
    return pd.read_csv(
        io.StringIO(text),
        sep=delimiter,
        dtype=str,
        na_filter=False,
        keep_default_na=False,
        skip_blank_lines=False,
        engine="c" if on_bad_lines is None else "python",
        on_bad_lines=on_bad_lines or "error",
    )


def _read_frame(text: str, delimiter: str) -> tuple[pd.DataFrame, list[int]]:
    try:
        return _parse(text, delimiter, None), []
    except pd.errors.EmptyDataError:
        raise _unreadable(_("The file is empty.")) from None
    except pd.errors.ParserError as exc:
        if "EOF" in str(exc):  # an opening quote without its closing one
            raise _cannot_parse(exc) from None
        # Some rows have more fields than the header: read again, keeping their place.
    except (ValueError, csv.Error) as exc:
        raise _cannot_parse(exc) from None

    header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    marker = f"malformed-{uuid.uuid4().hex}"  # stands in for each such row's first field
    filler = [""] * (max(len(header), 1) - 1)

    def mark(fields: list[str]) -> list[str]:
        return [marker, *filler]

    try:
        frame = _parse(text, delimiter, mark)
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise _cannot_parse(exc) from None
    frame = frame.fillna("")
    malformed = frame.index[frame.iloc[:, 0] == marker]
    return frame, [int(i) + 2 for i in malformed]


def _cannot_parse(exc: Exception) -> ValidationError:
    return _unreadable(_("The file could not be read as CSV: %(error)s") % {"error": exc})


_LOOKS_LIKE_DATA = re.compile(r"^(?:[^@\s]+@[^@\s]+\.[^@\s]+|\+?[0-9][0-9 ./()-]*)$")


def read_csv_table(data: bytes) -> CsvTable:
    """Parse an uploaded file, or raise ``ValidationError({"file": ...})`` saying why not."""
    text = _decode(data)
    if not text.strip():
        raise _unreadable(_("The file is empty."))
    delimiter = _sniff_delimiter(text)
    frame, malformed_rows = _read_frame(text, delimiter)
    frame = frame.fillna("")
    columns = [str(name).strip() for name in frame.columns]
    if len(columns) > MAX_COLUMNS:
        raise _unreadable(
            _("The file has %(count)d columns; at most %(max)d are supported.")
            % {"count": len(columns), "max": MAX_COLUMNS}
        )
    named = [c for c in columns if c and not c.startswith("Unnamed: ")]
    if not named or any(_LOOKS_LIKE_DATA.match(c) for c in named):
        raise _unreadable(
            _(
                "The first row must name the columns (for example “Customer No;E-Mail;Phone”), "
                "but it looks like data. Add a header row."
            )
        )
    if len(set(columns)) != len(columns):
        raise _unreadable(_("Two columns have the same name; give every column its own name."))
    frame.columns = pd.Index(columns)
    # Entirely blank lines are skipped silently; row numbers stay those of the file.
    blank = (frame == "").all(axis=1)
    frame = frame[~blank]
    if frame.empty:
        raise _unreadable(_("The file has a header row but no contacts."))
    malformed_rows = [r for r in malformed_rows if r - 2 in frame.index]
    return CsvTable(
        columns=columns, frame=frame, delimiter=delimiter, malformed_rows=malformed_rows
    )


def _header_key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.translate(UMLAUTS).lower())


def auto_mapping(columns: list[str]) -> dict[str, str]:
    """Suggest a target for every column: contact fields by header name, else an attribute."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        key = _header_key(column)
        target = next(
            (t for t, aliases in HEADER_ALIASES.items() if key in aliases and t not in taken),
            None,
        )
        if target is None:
            attribute = ATTRIBUTE_ALIASES.get(key) or attribute_key_for(column)
            target = f"{ATTRIBUTE_PREFIX}{attribute}"
            if target in taken:
                continue
        taken.add(target)
        mapping[column] = target
    return mapping


def validate_mapping(mapping: dict[str, str], columns: list[str]) -> dict[str, str]:
    """Check a column -> target mapping against the file; raise with every problem found."""
    problems: list[str] = []
    unknown = [c for c in mapping if c not in columns]
    if unknown:
        problems.append(
            _("The file has no column %(columns)s.")
            % {"columns": ", ".join(f"“{c}”" for c in unknown)}
        )
    seen: dict[str, str] = {}
    for column, target in mapping.items():
        if target.startswith(ATTRIBUTE_PREFIX):
            key = target.removeprefix(ATTRIBUTE_PREFIX)
            try:
                validate_attribute_key(key)
            except ValidationError as exc:
                problems.extend(exc.messages)
        elif target not in CONTACT_TARGETS:
            problems.append(
                _("Unknown target “%(target)s” for column “%(column)s”.")
                % {"target": target, "column": column}
            )
        if target in seen:
            problems.append(
                _("Columns “%(first)s” and “%(second)s” are both mapped to %(target)s.")
                % {"first": seen[target], "second": column, "target": target_label(target)}
            )
        seen[target] = column
    if "crm_id" not in seen:
        problems.append(_("Map one column to the CRM id: it identifies each contact."))
    if problems:
        raise ValidationError({"mapping": problems}, code="invalid_mapping")
    return mapping


def target_label(target: str) -> str:
    if target.startswith(ATTRIBUTE_PREFIX):
        return _("attribute “%(key)s”") % {"key": target.removeprefix(ATTRIBUTE_PREFIX)}
    return str(CONTACT_TARGETS.get(target, target))
