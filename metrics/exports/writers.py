"""Write an export's DataFrame as CSV or XLSX.

* CSV: UTF-8 with a byte order mark (Excel then reads umlauts correctly), comma
  separated, times as ISO 8601 local times (``2026-03-28T14:05:00``).
* XLSX: one sheet written with openpyxl in write-only mode (constant memory per row),
  the header row bold and frozen, column widths from the contents, times as real Excel
  date-times (without a time zone).

Formula injection: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a leading apostrophe in both formats, so customer text such as
``=HYPERLINK(...)`` is shown as text and never runs as a formula. Characters that XLSX
cannot store (control characters) are removed from XLSX cells.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import IO, Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

from metrics.exports.frames import ExportTable
from metrics.models import ExportFormat

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CSV_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
XLSX_DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
XLSX_MAX_ROWS = 1_048_575  # Excel's 1,048,576 rows less the header
XLSX_MAX_CELL = 32_767  # characters in one Excel cell
WIDTH_SAMPLE = 500  # rows looked at to size the columns
WIDTH_MIN, WIDTH_MAX = 8, 60


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula, prefixed with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _is_text(series: pd.Series) -> bool:
    dtype = series.dtype
    return not (is_numeric_dtype(dtype) or is_datetime64_any_dtype(dtype) or is_bool_dtype(dtype))


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell and header neutralised."""
    columns = {}
    for index in range(frame.shape[1]):
        column = frame.iloc[:, index]
        columns[index] = column.map(neutralise) if _is_text(column) else column
    safe = pd.concat(columns, axis=1) if columns else frame.copy()
    safe.columns = pd.Index([neutralise(str(name)) for name in frame.columns])
    return safe


def write_csv(table: ExportTable, handle: IO[bytes]) -> None:
    safe_frame(table.frame).to_csv(
        handle, index=False, encoding="utf-8-sig", date_format=CSV_DATE_FORMAT, mode="wb"
    )


def _xlsx_text(value: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", neutralise(value))[:XLSX_MAX_CELL]


def _xlsx_value(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return _xlsx_text(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        number = float(value)
        return None if math.isnan(number) else number
    return value


def _width(header: str, values: pd.Series) -> float:
    longest = len(header)
    for value in values:
        if isinstance(value, datetime):
            longest = max(longest, 19)
        elif value is not None and value is not pd.NA and value is not pd.NaT:
            text = str(value)
            if text != "nan":
                longest = max(longest, max((len(line) for line in text.splitlines()), default=0))
    return float(min(max(longest + 2, WIDTH_MIN), WIDTH_MAX))


def write_xlsx(table: ExportTable, handle: IO[bytes]) -> None:
    frame = table.frame
    if len(frame) > XLSX_MAX_ROWS:
        raise ValueError(f"{len(frame)} rows do not fit into one XLSX sheet")
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=_xlsx_text(table.title)[:31] or "Export")
    headers = [str(name) for name in frame.columns]
    sample = frame.head(WIDTH_SAMPLE)
    for index, header in enumerate(headers):
        letter = get_column_letter(index + 1)
        sheet.column_dimensions[letter].width = _width(header, sample.iloc[:, index])
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=_xlsx_text(header))
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    datetime_columns = {
        index
        for index in range(len(headers))
        if is_datetime64_any_dtype(frame.iloc[:, index].dtype)
    }
    for row in frame.itertuples(index=False, name=None):
        cells: list[Any] = []
        for index, value in enumerate(row):
            converted = _xlsx_value(value)
            if index in datetime_columns and converted is not None:
                cell = WriteOnlyCell(sheet, value=converted)
                cell.number_format = XLSX_DATE_FORMAT
                converted = cell
            cells.append(converted)
        sheet.append(cells)
    if headers:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(frame) + 1}"
    book.save(handle)


def write_export(table: ExportTable, handle: IO[bytes], *, file_format: str) -> None:
    """Write ``table`` to the binary ``handle`` as CSV or XLSX."""
    if file_format == ExportFormat.XLSX:
        write_xlsx(table, handle)
    else:
        write_csv(table, handle)
