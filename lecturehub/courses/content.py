"""Reading a content bundle (the content/ format, see format.py) and importing it.

An import reads and checks everything first and writes only when no file has a problem, inside one
transaction, so a bad bundle changes nothing. Records are matched by slug (courses, lectures, materials),
position (key points) and question id, so importing twice updates in place.

Courses knows nothing of quizzes: other packages read their own files of a lecture folder when
`lecture_folder_read` is sent, and write them when `lecture_imported` is sent.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from blinker import Namespace
from flask import current_app
from flask_babel import gettext as _

from lecturehub.audit import services as audit
from lecturehub.core.contentfiles import ContentError, ContentReader, Problem
from lecturehub.core.transaction import savepoint
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from .format import (
    SLUG_RE,
    CourseFile,
    CourseSpec,
    LectureFile,
    LectureSpec,
    MaterialFrontMatter,
    MaterialSpec,
    key_point_problems,
    split_front_matter,
    split_key_points,
)
from .models import Course, KeyPoint, Lecture, LectureFormat, LectureVenue, Material, MaterialKind

__all__ = ["ContentError", "ImportSummary", "Problem", "import_content", "read_bundle", "apply_key_points"]

_signals = Namespace()
# Sent for each lecture folder while a bundle is read, with reader, folder, spec and key_point_count (None when
# keypoints.md could not be read): a receiver reads its own files, records problems on the reader and puts
# what it read in spec.parts.
lecture_folder_read = _signals.signal("content-lecture-folder-read")
# Sent after a lecture of the bundle is written (not committed), with lecture, spec and summary.
lecture_imported = _signals.signal("content-lecture-imported")


@dataclass
class ImportSummary:
    courses: int = 0
    lectures: int = 0
    key_points: int = 0
    materials: int = 0
    created: int = 0
    updated: int = 0
    # Counts from other packages' parts of a lecture, e.g. {"question(s)": 20}.
    parts: Counter = field(default_factory=Counter)


def _hidden(path: Path) -> bool:
    return path.name.startswith((".", "__MACOSX"))


def read_bundle(root: Path, name: str | None = None) -> list[CourseSpec]:
    """Read a content folder (the root of course folders, or one course folder) into specs.

    Problems name files relative to the bundle, the bundle itself by `name` (the uploaded file's name).
    """
    root = Path(root)
    name = name or root.name
    if not root.is_dir():
        raise ContentError([Problem(name, None, _("Not a folder."))])
    if (root / "course.yaml").exists():
        reader = ContentReader(base=root.parent, name=name)
        course_dirs = [root]
    else:
        reader = ContentReader(base=root, name=name)
        course_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not _hidden(p))
        course_dirs = [p for p in course_dirs if (p / "course.yaml").exists()]
        if not course_dirs:
            raise ContentError([Problem(name, None, _("No course folder with a course.yaml was found."))])
    courses = [_read_course(reader, path) for path in course_dirs]
    seen: set[str] = set()
    for spec, path in zip(courses, course_dirs, strict=True):
        if spec and spec.slug in seen:
            reader.problem(path, None, _("Course folder name “%(slug)s” is used twice.", slug=spec.slug))
        elif spec:
            seen.add(spec.slug)
    if reader.problems:
        raise ContentError(reader.problems)
    return [c for c in courses if c]


def _check_slug(reader: ContentReader, path: Path) -> str | None:
    if not SLUG_RE.match(path.name):
        reader.problem(
            path, None,
            _("Folder name “%(name)s” must use lower-case letters, digits, - and _ only.", name=path.name),
        )
        return None
    return path.name


def _read_course(reader: ContentReader, folder: Path) -> CourseSpec | None:
    slug = _check_slug(reader, folder)
    course = reader.read_model(folder / "course.yaml", CourseFile)
    # Every folder inside a course folder is a lecture: one without lecture.yaml is refused, not skipped.
    lectures = [_read_lecture(reader, lecture_dir)
                for lecture_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not _hidden(p))]
    if course is None or slug is None or None in lectures:
        return None
    return CourseSpec(slug, course.title, course.description, course.position, course.published, lectures)


def _read_lecture(reader: ContentReader, folder: Path) -> LectureSpec | None:
    slug = _check_slug(reader, folder)
    path = folder / "lecture.yaml"
    data = None
    if path.is_file():
        data = reader.read_yaml(path)
    else:  # refused, and the folder's other files are still read so that all their problems show at once
        reader.problem(folder, None, _("This lecture folder has no lecture.yaml: every lecture folder needs one."))
    lecture = None if data is None else reader.validate(path, LectureFile, data)
    venue_codes_known = lecture is not None and _venue_codes_exist(reader, path, data, lecture.venues)
    summary, key_points = _read_key_points(reader, folder / "keypoints.md")
    materials = _read_materials(reader, folder / "materials")
    if lecture is None or slug is None:
        spec = LectureSpec(slug or folder.name, "", "", "", None, None, "", None, None, False)
    else:
        spec = LectureSpec(
            slug=slug, title=lecture.title, speaker=lecture.speaker, host=lecture.host,
            starts_at=lecture.starts_at, ends_at=lecture.ends_at, format=lecture.format,
            study_hours=lecture.study_hours, venue_codes=lecture.venues, published=lecture.published,
            summary_md=summary or "", key_points=key_points or [], materials=materials or [],
            archive=lecture.archive,
        )
    before = len(reader.problems)
    lecture_folder_read.send(current_app._get_current_object(), reader=reader, folder=folder, spec=spec,
                             key_point_count=None if key_points is None else len(key_points))
    if lecture is None or slug is None or not venue_codes_known or key_points is None or materials is None \
            or len(reader.problems) > before:
        return None
    return spec


def _venue_codes_exist(reader: ContentReader, path: Path, data, codes: list[str] | None) -> bool:
    if codes is None:
        return True
    known = set(db.session.scalars(sa.select(Venue.code).where(Venue.code.in_(codes))))
    missing = [c for c in codes if c not in known]
    if missing:
        reader.problem(path, data.line_of("venues"), _("Unknown venue codes: %(codes)s.", codes=", ".join(missing)))
    return not missing


def _read_key_points(reader: ContentReader, path: Path):
    """(summary, key points), or (None, None) after recording why they cannot be read."""
    if not path.is_file():
        reader.problem(path, None, _("keypoints.md is missing: every lecture folder needs its key points."))
        return None, None
    text = reader.read_text(path)
    if text is None:
        return None, None
    summary, points = split_key_points(text)
    problems = key_point_problems(points)
    for number, message in problems:
        reader.problem(path, number, message)
    if problems:
        return None, None
    return summary, [(title, body) for title, body, _number in points]


def _read_material(reader: ContentReader, path: Path) -> MaterialSpec | None:
    slug = path.stem.lower()
    if not SLUG_RE.match(slug):
        reader.problem(path, None, _("File name must use lower-case letters, digits, - and _ only."))
        return None
    text = reader.read_text(path)
    if text is None:
        return None
    front, body, _body_line = split_front_matter(text)
    if front is None:
        reader.problem(path, 1, _("A material starts with YAML front matter between --- lines."))
        return None
    material = reader.read_model(path, MaterialFrontMatter, line_offset=1, text=front)
    if material is None:
        return None
    kind = MaterialKind.LINK.value if material.url and not body.strip() else MaterialKind.ARTICLE.value
    return MaterialSpec(slug, material.title, material.source, body.strip(), material.url, kind)


def _read_materials(reader: ContentReader, folder: Path) -> list[MaterialSpec] | None:
    if not folder.is_dir():
        return []
    materials = [_read_material(reader, path) for path in sorted(folder.glob("*.md"))]
    return None if None in materials else materials


def import_content(root: Path, archive_past: bool | None = None, name: str | None = None) -> ImportSummary:
    """Read, check and write a content bundle in one transaction; raises ContentError and writes nothing on a problem.

    `archive_past` answers, for new lectures that already ended, whether they are archive lectures.
    """
    from .archive import decide

    courses = read_bundle(root, name)
    decide(courses, archive_past)
    summary = ImportSummary()
    # A savepoint: a problem found while writing undoes the whole import and nothing else of the request.
    with savepoint():
        all_venues = list(db.session.scalars(sa.select(Venue).order_by(Venue.position)))
        for course_spec in courses:
            _apply_course(course_spec, all_venues, summary)
        details = {k: v for k, v in vars(summary).items() if k != "parts"}
        details.update({part.replace("(s)", "s"): count for part, count in summary.parts.items()})
        audit.record("content.imported", ", ".join(spec.slug for spec in courses), **details)
    return summary


def _upsert(model, summary: ImportSummary, existing, **values):
    if existing is None:
        existing = model(**values)
        db.session.add(existing)
        summary.created += 1
        return existing
    changed = False
    for name, value in values.items():
        if getattr(existing, name) != value:
            setattr(existing, name, value)
            changed = True
    if changed:
        summary.updated += 1
    return existing


def apply_key_points(lecture: Lecture, points: list[tuple[str, str]], summary: ImportSummary | None = None) -> None:
    """Make the lecture's key points match `points`, updating by position so quiz links survive edits."""
    summary = summary or ImportSummary()
    by_position = {kp.position: kp for kp in lecture.key_points}
    for position, (title, body) in enumerate(points, start=1):
        _upsert(KeyPoint, summary, by_position.pop(position, None), lecture=lecture, position=position,
                title=title, body_md=body)
    for stale in by_position.values():
        lecture.key_points.remove(stale)


def _apply_course(spec: CourseSpec, all_venues: list[Venue], summary: ImportSummary) -> None:
    course = db.session.scalar(sa.select(Course).where(Course.slug == spec.slug))
    course = _upsert(
        Course, summary, course, slug=spec.slug, title=spec.title, description_md=spec.description_md,
        position=spec.position, published=spec.published,
    )
    summary.courses += 1
    db.session.flush()
    for lecture_spec in spec.lectures:
        _apply_lecture(course, lecture_spec, all_venues, summary)


def _apply_lecture(course: Course, spec: LectureSpec, all_venues: list[Venue], summary: ImportSummary) -> None:
    lecture = db.session.scalar(sa.select(Lecture).where(Lecture.course_id == course.id, Lecture.slug == spec.slug))
    lecture = _upsert(
        Lecture, summary, lecture, course=course, slug=spec.slug, title=spec.title, speaker=spec.speaker,
        host=spec.host, starts_at=spec.starts_at, ends_at=spec.ends_at, format=LectureFormat(spec.format),
        study_hours=spec.study_hours, summary_md=spec.summary_md, published=spec.published,
    )
    if spec.archive is not None:
        lecture.archive = spec.archive
    summary.lectures += 1
    db.session.flush()

    # "all" means the venues in use; a retired venue stays only on lectures that already had it (history holds).
    linked = {link.venue_id for link in lecture.venue_links}
    wanted = [v for v in all_venues if v.code in (spec.venue_codes or ())
              or (spec.venue_codes is None and (not v.retired or v.id in linked))]
    wanted_ids = {v.id for v in wanted}
    for link in list(lecture.venue_links):
        if link.venue_id not in wanted_ids:
            lecture.venue_links.remove(link)
    present = {link.venue_id for link in lecture.venue_links}
    for venue in wanted:
        if venue.id not in present:
            lecture.venue_links.append(LectureVenue(venue=venue))

    apply_key_points(lecture, spec.key_points, summary)
    summary.key_points += len(spec.key_points)

    by_slug = {m.slug: m for m in lecture.materials}
    for position, material in enumerate(spec.materials, start=1):
        _upsert(Material, summary, by_slug.pop(material.slug, None), lecture=lecture, slug=material.slug,
                position=position, kind=MaterialKind(material.kind), title=material.title, source=material.source,
                body_md=material.body_md, url=material.url)
    for stale in by_slug.values():
        lecture.materials.remove(stale)
    summary.materials += len(spec.materials)
    db.session.flush()
    lecture_imported.send(current_app._get_current_object(), lecture=lecture, spec=spec, summary=summary)
