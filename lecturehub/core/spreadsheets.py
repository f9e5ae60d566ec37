"""Reading uploaded tables (CSV or XLSX) into rows of cells, with messages a user can act on."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from flask_babel import gettext as _

MAX_ROWS = 20000


class TableError(ValueError):
    """The file cannot be read as a table; the message is for the user."""


def read_rows(filename: str, data: bytes) -> list[list]:
    """Rows of the first sheet of an XLSX file, or of a CSV file in UTF-8 or GB18030."""
    suffix = Path(filename or "").suffix.lower()
    if suffix == ".xlsx":
        rows = _xlsx_rows(data)
    elif suffix == ".csv":
        rows = _csv_rows(data)
    else:
        raise TableError(_("Upload a .csv or .xlsx file."))
    if len(rows) > MAX_ROWS:
        raise TableError(_("The file has more than %(n)s rows.", n=MAX_ROWS))
    return rows


def _xlsx_rows(data: bytes) -> list[list]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        rows = []
        for row in sheet.iter_rows(values_only=True):
            rows.append(list(row))
            if len(rows) > MAX_ROWS:
                break
        workbook.close()
    except Exception as exc:  # openpyxl raises many types for a damaged or disguised file
        raise TableError(_("The file is not a readable XLSX workbook.")) from exc
    return rows


def _csv_rows(data: bytes) -> list[list]:
    # Excel in Chinese locales saves CSV as GB18030; UTF-8 (with or without BOM) is tried first.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise TableError(_("The CSV file is neither UTF-8 nor GB18030 text."))
    if "\x00" in text:
        raise TableError(_("The CSV file contains binary data."))
    try:
        return list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise TableError(_("The CSV file cannot be read: %(detail)s", detail=str(exc))) from exc


def cell_text(row: list, index: int) -> str:
    if index >= len(row) or row[index] is None:
        return ""
    value = row[index]
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores typed numbers as floats: 1001.0 is member 1001
    return str(value).strip()
