"""Content bundles uploaded as ZIP files: unpacked with limits, read by the same importer as the CLI."""
from __future__ import annotations

import io
import re
import secrets
import shutil
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from flask_babel import gettext as _

from lecturehub.extensions import db
from lecturehub.quizzes.models import Question

from .content import CourseSpec, read_bundle
from .models import Course, Lecture

MAX_ENTRIES = 500
MAX_TOTAL_BYTES = 20 * 1024 * 1024
MAX_ENTRY_BYTES = 2 * 1024 * 1024
MAX_RATIO = 100  # uncompressed / compressed; text compresses well, bombs far better
TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")


class BundleError(ValueError):
    """The ZIP file cannot be used; the message is for the admin."""


def _bundle_folder() -> Path:
    """Beside the uploaded materials: the folder every node shares, so "apply" may reach any node."""
    from .uploads import upload_folder

    folder = upload_folder() / "pending-bundles"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def keep_upload(data: bytes) -> str:
    """Keep the uploaded ZIP until the admin applies or drops it; returns its token."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise BundleError(_("The file is not a ZIP archive."))
    token = secrets.token_hex(16)
    (_bundle_folder() / f"{token}.zip").write_bytes(data)
    return token


def kept_path(token: str) -> Path:
    if not TOKEN_RE.match(token or ""):
        raise BundleError(_("This upload has expired; upload the ZIP file again."))
    path = _bundle_folder() / f"{token}.zip"
    if not path.exists():
        raise BundleError(_("This upload has expired; upload the ZIP file again."))
    return path


def drop(token: str) -> None:
    try:
        kept_path(token).unlink(missing_ok=True)
    except BundleError:
        pass


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
    questions_new: int = 0
    questions_changed: int = 0
    questions_removed: int = 0
    key_points: int = 0
    materials: int = 0


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


def _lecture_change(spec, lecture: Lecture | None) -> LectureChange:
    result = LectureChange(spec.slug, spec.title, "new", key_points=len(spec.key_points),
                           materials=len(spec.materials), questions_new=len(spec.questions))
    if lecture is None:
        return result
    existing = {q.key: q for q in db.session.scalars(sa.select(Question).where(Question.lecture_id == lecture.id))}
    wanted = {q.key: q for q in spec.questions}
    result.questions_new = len(set(wanted) - set(existing))
    result.questions_removed = len(set(existing) - set(wanted))
    result.questions_changed = sum(
        1 for key in set(wanted) & set(existing)
        if (existing[key].kind.value, existing[key].stem, list(existing[key].options), list(existing[key].answer),
            existing[key].explanation) != (wanted[key].kind, wanted[key].stem, wanted[key].options,
                                           wanted[key].answer, wanted[key].explanation))
    same_fields = (lecture.title, lecture.speaker, lecture.host, lecture.starts_at, lecture.ends_at,
                   lecture.format.value, lecture.study_hours, lecture.published, lecture.summary_md) == (
        spec.title, spec.speaker, spec.host, spec.starts_at, spec.ends_at, spec.format, spec.study_hours,
        spec.published, spec.summary_md)
    same_points = [(kp.title, kp.body_md) for kp in lecture.key_points] == list(spec.key_points)
    quiet = not (result.questions_new or result.questions_removed or result.questions_changed)
    result.state = "unchanged" if same_fields and same_points and quiet else "changed"
    return result


def read_kept(token: str) -> list[CourseSpec]:
    """Unpack and read a kept upload; raises BundleError or ContentError."""
    with unpacked(kept_path(token)) as root:
        return read_bundle(root)
