"""Uploaded material files: the real type is read from the content, never trusted from the name."""
from __future__ import annotations

import io
import re
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from flask import current_app
from flask_babel import gettext as _

from lecturehub.core.errors import UserError

# extension -> (MIME type, a check of the first bytes / the archive's parts)
OFFICE_PARTS = {".docx": "word/document.xml", ".pptx": "ppt/presentation.xml", ".xlsx": "xl/workbook.xml"}
TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class UploadError(UserError):
    """The upload is refused; the message is for the admin."""


@dataclass
class StoredFile:
    stored_name: str
    original_filename: str
    content_type: str
    size_bytes: int


def upload_folder() -> Path:
    folder = Path(current_app.config.get("UPLOAD_FOLDER") or Path(current_app.instance_path) / "uploads")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def safe_display_name(filename: str) -> str:
    """The file's own name without any folder part (a name like ../../etc/passwd keeps only passwd)."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name.strip().lstrip(".")
    name = "".join(ch for ch in name if ch.isprintable())
    return name[-200:] or "file"


# Markup that browsers would run if they ever rendered the file as a page. Files are served as attachments
# with nosniff, so this is a second line: a "%PDF-" file that is HTML inside is no document members can read.
MARKUP = re.compile(rb"<\s*(!doctype\s+html|html|head|body|script|iframe|svg|object|embed)\b", re.IGNORECASE)


def detect_type(data: bytes, suffix: str) -> str | None:
    """The MIME type when the content really is what the extension says, else None.

    The magic bytes of PDFs and images are checked, and their first kilobyte must not look like HTML.
    """
    if suffix in (".pdf", ".png", ".jpg", ".jpeg") and MARKUP.search(data[:1024]):
        return None
    if suffix == ".pdf":
        ok = data.startswith(b"%PDF-")
    elif suffix == ".png":
        ok = data.startswith(b"\x89PNG\r\n\x1a\n")
    elif suffix in (".jpg", ".jpeg"):
        ok = data.startswith(b"\xff\xd8\xff")
    elif suffix in OFFICE_PARTS:
        ok = _is_office(data, OFFICE_PARTS[suffix])
    else:
        return None
    return TYPES[suffix] if ok else None


def _is_office(data: bytes, part: str) -> bool:
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
        return False  # a damaged or crafted archive is not an Office file
    return "[Content_Types].xml" in names and part in names


def store_upload(filename: str, data: bytes) -> StoredFile:
    """Check the size and the real type, then write the file under a generated name."""
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    if len(data) > limit:
        raise UploadError(_("The file is larger than %(mb)s MB.", mb=limit // (1024 * 1024)))
    if not data:
        raise UploadError(_("The file is empty."))
    display = safe_display_name(filename)
    suffix = PurePosixPath(display).suffix.lower()
    if suffix not in TYPES:
        raise UploadError(_("Upload a PDF, DOCX, PPTX, XLSX, JPG or PNG file."))
    content_type = detect_type(data, suffix)
    if content_type is None:
        raise UploadError(_("The file's content is not a %(kind)s file, whatever its name says.",
                            kind=suffix.lstrip(".").upper()))
    stored_name = secrets.token_hex(16) + suffix
    (upload_folder() / stored_name).write_bytes(data)
    return StoredFile(stored_name, display, content_type, len(data))


def stored_path(stored_name: str) -> Path:
    path = (upload_folder() / stored_name).resolve()
    if path.parent != upload_folder().resolve():
        raise FileNotFoundError(stored_name)
    return path


def remove_stored(stored_name: str | None) -> None:
    if stored_name:
        try:
            stored_path(stored_name).unlink(missing_ok=True)
        except FileNotFoundError:
            pass
