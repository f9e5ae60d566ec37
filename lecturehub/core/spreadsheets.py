"""Reading uploaded tables (XLSX, XLS or CSV) into rows of cells, with messages a user can act on.

Every uploaded spreadsheet (rosters, sign-in sheets) comes through `read_rows`, so the limits on what a
file may unpack to are enforced in this one place, before any parser sees the data: an XLSX file is a
ZIP archive, and a few hundred kilobytes of it can expand to gigabytes of XML.
"""
from __future__ import annotations

import csv
import io
import re
import struct
import unicodedata
import zipfile
import zlib
from pathlib import Path

from flask_babel import gettext as _

from .errors import UserError

# A county's roster of 20,000 members fits with room to spare; a sheet of a whole organisation too.
MAX_ROWS = 50000
MAX_COLUMNS = 64
MAX_CELLS = 1_000_000
# Limits on an XLSX archive, checked on the declared sizes first and then on the bytes actually inflated.
# A real 20,000-row roster unpacks to about 10 MB of XML.
MAX_ZIP_ENTRIES = 1000
MAX_UNPACKED_BYTES = 40 * 1024 * 1024
MAX_RATIO = 200  # uncompressed / compressed for parts over RATIO_FLOOR; spreadsheet XML stays well under it
RATIO_FLOOR = 1024 * 1024
_CHUNK = 256 * 1024

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 (.xls), as saved by Excel, WPS or LibreOffice
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".et")


class TableError(UserError):
    """The file cannot be read as a table; the message is for the user."""


def read_rows(filename: str, data: bytes) -> list[list]:
    """Rows of the first sheet of an XLSX or XLS workbook, or of a CSV file in UTF-8 (with or without BOM),
    GBK or GB18030.

    The content decides the reader, not the name alone: WPS and older systems save workbooks under either
    suffix. Raises TableError for anything else, for a file that would unpack to too much, or for more
    than MAX_ROWS rows.
    """
    suffix = Path(filename or "").suffix.lower()
    if data.startswith(ZIP_MAGIC) and suffix in SPREADSHEET_SUFFIXES:
        check_zip_limits(data)
        rows = _xlsx_rows(data)
    elif data.startswith(OLE_MAGIC) and suffix in SPREADSHEET_SUFFIXES:
        rows = _xls_rows(data)
    elif suffix in SPREADSHEET_SUFFIXES:
        raise TableError(_("The file is not a readable Excel workbook; save it as .xlsx or .xls and upload it again."))
    elif suffix in (".csv", ".txt"):
        rows = _csv_rows(data)
    else:
        raise TableError(_("Upload an .xlsx, .xls or .csv file."))
    if len(rows) > MAX_ROWS:
        raise TableError(_("The file has more than %(n)s rows.", n=MAX_ROWS))
    return rows


def check_zip_limits(data: bytes) -> None:
    """Refuse an archive whose parts would unpack to more than MAX_UNPACKED_BYTES, or inflate suspiciously.

    The declared sizes are checked first (cheap), then every part is inflated in chunks and counted, so a
    header that understates its size cannot slip past either: at most MAX_UNPACKED_BYTES are ever inflated,
    a chunk at a time, and nothing is kept.
    """
    too_big = TableError(_("The workbook unpacks to too much data (at most %(mb)s MB); it cannot be read.",
                           mb=MAX_UNPACKED_BYTES // (1024 * 1024)))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ZIP_ENTRIES:
                raise too_big
            declared = 0
            for entry in entries:
                declared += entry.file_size
                if declared > MAX_UNPACKED_BYTES or _ratio_too_high(entry.file_size, entry.compress_size):
                    raise too_big
            inflated = 0
            for entry in entries:
                extent = _SheetExtent() if _WORKSHEET_PART.match(entry.filename) else None
                with archive.open(entry) as stream:
                    # zipfile never returns more than the declared size, and a part whose data goes on
                    # past it fails its CRC check at the end (BadZipFile): what is counted here is what
                    # a parser would get.
                    while chunk := stream.read(_CHUNK):
                        inflated += len(chunk)
                        if inflated > MAX_UNPACKED_BYTES:
                            raise too_big
                        if extent is not None:
                            extent.feed(chunk)
                if extent is not None and extent.too_large():
                    raise _sheet_too_large()
    except TableError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError, ValueError) as exc:
        raise TableError(_("The file is not a readable Excel workbook; save it as .xlsx or .xls and upload it "
                           "again.")) from exc


_WORKSHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.xml$", re.IGNORECASE)
_CELL_REFERENCE = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"')
_ROW_REFERENCE = re.compile(rb'<(?:\w+:)?row\b[^>]*?\br="([0-9]{1,7})"')


class _SheetExtent:
    """The rectangle a worksheet's cells span, read from their references as the XML streams past.

    A reader fills that rectangle: one cell at A1 and one at XFD1048576 would ask for 17 billion cells.
    """

    def __init__(self):
        self.rows = self.columns = 0
        self.tail = b""

    def feed(self, chunk: bytes) -> None:
        text = self.tail + chunk
        for column, row in _CELL_REFERENCE.findall(text):
            self.rows = max(self.rows, int(row))
            self.columns = max(self.columns, _column_number(column))
        for row in _ROW_REFERENCE.findall(text):
            self.rows = max(self.rows, int(row))
        self.tail = text[-200:]  # a reference cut by the chunk boundary is read with the next chunk

    def too_large(self) -> bool:
        return self.rows > MAX_ROWS + 1 or self.rows * self.columns > MAX_CELLS


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _ratio_too_high(size: int, compressed: int) -> bool:
    return size > RATIO_FLOOR and size > MAX_RATIO * max(compressed, 1)


def _xlsx_rows(data: bytes) -> list[list]:
    """The first sheet through calamine (a 20,000-row roster in about a second, where openpyxl takes ten),
    once `check_zip_limits` has bounded what it will unpack and the rectangle it will fill."""
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        rows = _bounded(workbook.get_sheet_by_index(0).iter_rows())
    except TableError:
        raise
    except Exception as exc:  # calamine raises many types for a damaged or disguised file
        raise TableError(_("The file is not a readable Excel workbook; save it as .xlsx or .xls and upload it "
                           "again.")) from exc
    return rows


def _xls_rows(data: bytes) -> list[list]:
    from python_calamine import CalamineWorkbook

    try:
        check_xls_extent(data)
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        rows = _bounded(workbook.get_sheet_by_index(0).iter_rows())
    except TableError:
        raise
    except Exception as exc:  # calamine and olefile raise many types for a damaged or disguised file
        raise TableError(_("The file is not a readable Excel workbook; save it as .xlsx or .xls and upload it "
                           "again.")) from exc
    return rows


# BIFF8 records that place a cell: each starts with its row and column (2 bytes each); the two "MUL" records
# end with their last column.
_XLS_CELL_RECORDS = {0x0006, 0x00FD, 0x0203, 0x027E, 0x0201, 0x0204, 0x0205, 0x00D6}
_XLS_MULTI_CELL_RECORDS = {0x00BD, 0x00BE}
_XLS_BOF = 0x0809


def check_xls_extent(data: bytes) -> None:
    """Refuse an .xls sheet whose cells span more than MAX_ROWS rows or MAX_CELLS cells.

    An .xls file is not compressed, yet a reader fills the rectangle its cells span: a 6 KB file with
    one cell at A1 and one at IV65536 takes a gigabyte. The cell records are scanned (a few bytes each)
    before any reader builds that rectangle.
    """
    import olefile

    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        stream_name = "Workbook" if ole.exists("Workbook") else "Book"
        stream = ole.openstream(stream_name).read()
    position, rows, columns = 0, (None, None), (None, None)

    def too_large(rows, columns) -> bool:
        if rows[0] is None:
            return False
        height, width = rows[1] - rows[0] + 1, columns[1] - columns[0] + 1
        return height > MAX_ROWS + 1 or height * width > MAX_CELLS

    while position + 4 <= len(stream):
        kind, length = struct.unpack_from("<HH", stream, position)
        body = stream[position + 4:position + 4 + length]
        position += 4 + length
        if kind == _XLS_BOF:  # a new sheet (or the workbook globals) begins
            if too_large(rows, columns):
                raise _sheet_too_large()
            rows, columns = (None, None), (None, None)
        elif (kind in _XLS_CELL_RECORDS or kind in _XLS_MULTI_CELL_RECORDS) and len(body) >= 4:
            row, first = struct.unpack_from("<HH", body)
            last = struct.unpack_from("<H", body, len(body) - 2)[0] if kind in _XLS_MULTI_CELL_RECORDS else first
            rows = (row if rows[0] is None else min(rows[0], row), row if rows[1] is None else max(rows[1], row))
            columns = (first if columns[0] is None else min(columns[0], first),
                       last if columns[1] is None else max(columns[1], last))
    if too_large(rows, columns):
        raise _sheet_too_large()


def _sheet_too_large() -> TableError:
    return TableError(_("The sheet spans more than %(n)s rows or %(cells)s cells; it cannot be read.",
                        n=MAX_ROWS, cells=MAX_CELLS))


def _bounded(row_iterator) -> list[list]:
    rows: list[list] = []
    cells = 0
    for row in row_iterator:
        row = list(row[:MAX_COLUMNS])
        # A sheet padded with blank cells to its declared width: keep only up to the last filled cell.
        while row and (row[-1] is None or row[-1] == ""):
            row.pop()
        rows.append(row)
        cells += len(row)
        if len(rows) > MAX_ROWS or cells > MAX_CELLS:
            raise TableError(_("The file has more than %(n)s rows.", n=MAX_ROWS))
    while rows and not rows[-1]:
        rows.pop()
    return rows


def _csv_rows(data: bytes) -> list[list]:
    # Excel in Chinese locales saves CSV as GBK (a subset of GB18030); UTF-8 (with or without BOM) is tried first.
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
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    try:
        return _bounded(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:
        raise TableError(_("The CSV file cannot be read: %(detail)s", detail=str(exc))) from exc


def cell_text(row: list, index: int | None) -> str:
    """A cell as the text a person reads in it: trimmed, and 1001.0 (how Excel stores a typed 1001) as 1001."""
    if index is None or index >= len(row) or row[index] is None:
        return ""
    value = row[index]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def header_word(text) -> str:
    """A header cell reduced to what identifies it: no spaces (full-width ones included), no case, no
    marks such as "*" for a required column."""
    text = unicodedata.normalize("NFKC", str(text or ""))
    return "".join(ch for ch in text if not ch.isspace() and ch not in "*:：").lower()


def find_header(rows: list[list], words: dict[str, str], required: set[str], scan: int = 10) \
        -> tuple[int, dict[str, int]] | None:
    """The first of the top `scan` rows that names every `required` field, as (row index, field → column).

    `words` maps a header word (as `header_word` gives it) to a field; organisations often put a title row
    or two above the header, and columns nobody asked for (序号, 性别, 联系电话, 备注) are ignored.
    """
    for index, row in enumerate(rows[:scan]):
        columns: dict[str, int] = {}
        for column, cell in enumerate(row):
            field = words.get(header_word(cell))
            if field and field not in columns:
                columns[field] = column
        if required <= set(columns):
            return index, columns
    return None
