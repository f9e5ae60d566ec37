"""Content bundles uploaded as ZIP files: unpacked with limits, read by the same importer as the CLI."""
from __future__ import annotations

import io
import re
import secrets
import shutil
import tempfile
import time
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from blinker import Namespace
from flask import current_app
from flask_babel import gettext as _

from lecturehub.core.errors import UserError
from lecturehub.extensions import db

from .content import read_bundle
from .format import CourseSpec, LectureSpec
from .models import Course, Lecture

MAX_ENTRIES = 500
MAX_TOTAL_BYTES = 20 * 1024 * 1024
MAX_ENTRY_BYTES = 2 * 1024 * 1024
MAX_RATIO = 100  # uncompressed / compressed; text compresses well, bombs far better
TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
# A previewed bundle that is never applied is removed at a later upload once it is this old.
PENDING_MAX_AGE_SECONDS = 24 * 3600
MAX_NAME_CHARS = 200

_signals = Namespace()
# Sent for each lecture of a previewed bundle with lecture (None when new) and spec; each receiver returns
# counts of what its part of the lecture would change, e.g. {"questions_new": 2}.
lecture_previewed = _signals.signal("content-lecture-previewed")


class BundleError(UserError):
    """The ZIP file cannot be used; the message is for the admin."""


def _bundle_folder() -> Path:
    """Beside the uploaded materials: the folder every node shares, so "apply" may reach any node."""
    from .uploads import upload_folder

    folder = upload_folder() / "pending-bundles"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def keep_upload(data: bytes, name: str = "") -> str:
    """Keep the uploaded ZIP (and its file name, to name it in messages) until the admin applies or drops it;
    returns its token. Uploads previewed but never applied are removed once a day old."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise BundleError(_("The file is not a ZIP archive."))
    folder = _bundle_folder()
    remove_stale(folder)
    token = secrets.token_hex(16)
    (folder / f"{token}.zip").write_bytes(data)
    (folder / f"{token}.name").write_text(bundle_name(name), encoding="utf-8")
    return token


def bundle_name(name: str) -> str:
    """The uploaded file's own name (never a path), to name the bundle in messages."""
    name = PurePosixPath((name or "").replace("\\", "/")).name.strip()
    name = "".join(ch for ch in name if ch.isprintable())[:MAX_NAME_CHARS]
    return name or "bundle.zip"


def remove_stale(folder: Path, now: float | None = None) -> None:
    cutoff = (now or time.time()) - PENDING_MAX_AGE_SECONDS
    for path in folder.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except OSError:  # another node removed it meanwhile
            continue


def kept_name(token: str) -> str:
    try:
        return (kept_path(token).with_suffix(".name")).read_text(encoding="utf-8")
    except (BundleError, OSError):
        return "bundle.zip"


def kept_path(token: str) -> Path:
    if not TOKEN_RE.match(token or ""):
        raise BundleError(_("This upload has expired; upload the ZIP file again."))
    path = _bundle_folder() / f"{token}.zip"
    if not path.exists():
        raise BundleError(_("This upload has expired; upload the ZIP file again."))
    return path


def drop(token: str) -> None:
    try:
        path = kept_path(token)
    except BundleError:
        return
    path.with_suffix(".name").unlink(missing_ok=True)
    path.unlink(missing_ok=True)


@contextmanager
def unpacked(zip_path: Path):
    """Unpack into a temporary folder, refusing bombs, absolute or parent paths, and links."""
    target = Path(tempfile.mkdtemp(prefix="lecturehub-bundle-"))
    try:
        with zipfile.ZipFile(zip_path) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ENTRIES:
                raise BundleError(_("The archive has more than %(n)s files.", n=MAX_ENTRIES))
            total = 0
            for entry in entries:
                name = PurePosixPath(entry.filename)
                if name.is_absolute() or ".." in name.parts or "\\" in entry.filename:
                    raise BundleError(_("The archive contains an unsafe path: %(name)s", name=entry.filename))
                if (entry.external_attr >> 16) & 0o170000 == 0o120000:
                    raise BundleError(_("The archive contains a link: %(name)s", name=entry.filename))
                total += entry.file_size
                if entry.file_size > MAX_ENTRY_BYTES or total > MAX_TOTAL_BYTES or (
                        entry.compress_size and entry.file_size / entry.compress_size > MAX_RATIO
                        and entry.file_size > 1024 * 1024):
                    raise BundleError(_("The archive unpacks to too much data (at most %(mb)s MB).",
                                        mb=MAX_TOTAL_BYTES // (1024 * 1024)))
            for entry in entries:
                if entry.is_dir():
                    continue
                destination = target.joinpath(*PurePosixPath(entry.filename).parts)
                with archive.open(entry) as source:
                    # Read at most the declared size + 1: a lying header cannot unpack more.
                    data = source.read(entry.file_size + 1)
                if len(data) > entry.file_size:
                    raise BundleError(_("The archive is damaged."))
                try:
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    destination.write_bytes(data)
                except (OSError, ValueError) as exc:  # a name too long, with NUL, or both a file and a folder
                    raise BundleError(_("The archive contains a file that cannot be unpacked: %(name)s",
                                        name=entry.filename)) from exc
        yield _content_root(target)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        # corrupt data, an unsupported compression method or an encrypted entry
        raise BundleError(_("The archive is damaged.")) from exc
    finally:
        shutil.rmtree(target, ignore_errors=True)


def _content_root(target: Path) -> Path:
    """Accept a ZIP of content/ itself, of its course folders, or of one course folder."""
    children = [p for p in target.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    if len(children) == 1 and children[0].is_dir() and not (children[0] / "course.yaml").exists() \
            and not (target / "course.yaml").exists():
        return children[0]
    return target


@dataclass
class LectureChange:
    slug: str
    title: str
    state: str  # new | changed | unchanged
    key_points: int = 0
    materials: int = 0
    # What other packages' parts would change (see lecture_previewed), e.g. {"questions_new": 2}
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class CourseChange:
    slug: str
    title: str
    state: str
    lectures: list[LectureChange] = field(default_factory=list)


def preview(specs: list[CourseSpec]) -> list[CourseChange]:
    """What importing `specs` would change, compared with the database; nothing is written."""
    courses = {c.slug: c for c in db.session.scalars(sa.select(Course).where(Course.slug.in_([s.slug for s in specs])))}
    changes = []
    for spec in specs:
        course = courses.get(spec.slug)
        state = "new" if course is None else (
            "changed" if (course.title, course.description_md, course.position, course.published)
            != (spec.title, spec.description_md, spec.position, spec.published) else "unchanged")
        change = CourseChange(spec.slug, spec.title, state)
        lectures = {} if course is None else {lec.slug: lec for lec in course.lectures}
        for lecture_spec in spec.lectures:
            change.lectures.append(_lecture_change(lecture_spec, lectures.get(lecture_spec.slug)))
        changes.append(change)
    return changes


def _lecture_change(spec: LectureSpec, lecture: Lecture | None) -> LectureChange:
    result = LectureChange(spec.slug, spec.title, "new", key_points=len(spec.key_points),
                           materials=len(spec.materials))
    for _receiver, counts in lecture_previewed.send(current_app._get_current_object(), lecture=lecture, spec=spec):
        result.counts.update(counts or {})
    if lecture is None:
        return result
    same_fields = (lecture.title, lecture.speaker, lecture.host, lecture.starts_at, lecture.ends_at,
                   lecture.format.value, lecture.study_hours, lecture.published, lecture.summary_md) == (
        spec.title, spec.speaker, spec.host, spec.starts_at, spec.ends_at, spec.format, spec.study_hours,
        spec.published, spec.summary_md)
    same_points = [(kp.title, kp.body_md) for kp in lecture.key_points] == list(spec.key_points)
    quiet = not any(result.counts.values())
    result.state = "unchanged" if same_fields and same_points and quiet else "changed"
    return result


def read_kept(token: str) -> list[CourseSpec]:
    """Unpack and read a kept upload; raises BundleError or ContentError."""
    with unpacked(kept_path(token)) as root:
        return read_bundle(root, kept_name(token))
