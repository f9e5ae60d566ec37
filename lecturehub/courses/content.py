"""The content/ format and its importer.

Layout (one folder a course, one folder a lecture)::

    content/<course-slug>/course.yaml
    content/<course-slug>/<lecture-slug>/lecture.yaml
    content/<course-slug>/<lecture-slug>/keypoints.md     # "## " headings are key points
    content/<course-slug>/<lecture-slug>/quiz.yaml
    content/<course-slug>/<lecture-slug>/materials/*.md   # YAML front matter + Markdown

An import reads and checks everything first and writes only when no file has a
problem, inside one transaction, so a bad bundle changes nothing. Records are
matched by slug (courses, lectures, materials), position (key points) and
question id, so importing twice updates in place.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext as _

from lecturehub.audit import services as audit
from lecturehub.core.forms import MAX_YEAR, MIN_YEAR, unstorable_character
from lecturehub.core.timeutil import parse_local
from lecturehub.core.yamlfile import LinedDict, YamlSyntaxError, load_yaml
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from .models import Course, KeyPoint, Lecture, LectureFormat, LectureVenue, Material, MaterialKind

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
QUESTION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
LETTERS = "ABCDEFGH"
MAX_FILE_BYTES = 2 * 1024 * 1024


@dataclass
class Problem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class ContentError(Exception):
    """Raised with every problem found; nothing has been written."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class QuestionSpec:
    key: str
    kind: str
    stem: str
    options: list[str]
    answer: list[int]
    explanation: str
    key_point: int | None


@dataclass
class MaterialSpec:
    slug: str
    title: str
    source: str
    body_md: str
    url: str | None
    kind: str


@dataclass
class LectureSpec:
    slug: str
    title: str
    speaker: str
    host: str
    starts_at: datetime
    ends_at: datetime
    format: str
    study_hours: Decimal
    venue_codes: list[str] | None  # None: every venue
    published: bool
    summary_md: str = ""
    key_points: list[tuple[str, str]] = field(default_factory=list)
    pass_mark: int = 80
    questions: list[QuestionSpec] = field(default_factory=list)
    materials: list[MaterialSpec] = field(default_factory=list)


@dataclass
class CourseSpec:
    slug: str
    title: str
    description_md: str
    position: int
    published: bool
    lectures: list[LectureSpec] = field(default_factory=list)


@dataclass
class ImportSummary:
    courses: int = 0
    lectures: int = 0
    key_points: int = 0
    questions: int = 0
    materials: int = 0
    created: int = 0
    updated: int = 0


class _Reader:
    """Collects problems while reading one bundle; `rel` names files relative to the bundle root."""

    def __init__(self, base: Path):
        self.base = base
        self.problems: list[Problem] = []

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.base).as_posix()
        except ValueError:
            return path.as_posix()

    def problem(self, path: Path, line: int | None, message: str) -> None:
        self.problems.append(Problem(self.rel(path), line, message))

    def read_text(self, path: Path) -> str | None:
        if path.stat().st_size > MAX_FILE_BYTES:
            self.problem(path, None, _("File is larger than %(size)s MB.", size=MAX_FILE_BYTES // (1024 * 1024)))
            return None
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            line = path.read_bytes()[: exc.start].count(b"\n") + 1
            self.problem(path, line, _("File is not valid UTF-8 text."))
            return None
        for number, line_text in enumerate(text.split("\n"), start=1):
            if unstorable_character(line_text, allow_line_breaks=True):
                self.problem(path, number, _("The line contains control characters (invisible characters)."))
                return None
        return text

    def read_yaml(self, path: Path, line_offset: int = 0, text: str | None = None):
        if text is None:
            text = self.read_text(path)
            if text is None:
                return None
        try:
            data = load_yaml(text, line_offset)
        except YamlSyntaxError as exc:
            self.problem(path, exc.line, _("YAML syntax error: %(detail)s", detail=exc.message))
            return None
        if not isinstance(data, LinedDict):
            self.problem(path, 1 + line_offset, _("Expected a mapping of field names to values."))
            return None
        return data

    # Field helpers: each records a problem and returns None when the value is unusable.
    def unknown_fields(self, path: Path, data: LinedDict, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                self.problem(path, data.line_of(key), _("Unknown field “%(name)s”.", name=key))

    def text(self, path: Path, data: LinedDict, key: str, *, required=True, max_length=300, default=""):
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(path, data.line, _("Missing required field “%(name)s”.", name=key))
                return None
            return default
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            self.problem(path, data.line_of(key), _("Field “%(name)s” must be text.", name=key))
            return None
        value = str(value).strip()
        if unstorable_character(value, allow_line_breaks=True):
            self.problem(path, data.line_of(key),
                         _("Field “%(name)s” contains control characters (invisible characters).", name=key))
            return None
        if len(value) > max_length:
            self.problem(
                path, data.line_of(key),
                _("Field “%(name)s” is longer than %(max)s characters.", name=key, max=max_length),
            )
            return None
        return value

    def moment(self, path: Path, data: LinedDict, key: str):
        value = data.get(key)
        if value is None:
            self.problem(path, data.line, _("Missing required field “%(name)s”.", name=key))
            return None
        try:
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
            if not MIN_YEAR <= moment.year <= MAX_YEAR:
                raise ValueError(moment.year)
            return parse_local(moment)
        except ValueError:
            self.problem(
                path, data.line_of(key),
                _("Field “%(name)s” must be a date and time like 2020-12-29 14:00.", name=key),
            )
            return None

    def flag(self, path: Path, data: LinedDict, key: str, default: bool):
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.problem(path, data.line_of(key), _("Field “%(name)s” must be true or false.", name=key))
            return None
        return value

    def integer(self, path: Path, data: LinedDict, key: str, default: int, low: int, high: int):
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problem(
                path, data.line_of(key),
                _("Field “%(name)s” must be a whole number from %(low)s to %(high)s.", name=key, low=low, high=high),
            )
            return None
        return value


def read_bundle(root: Path) -> list[CourseSpec]:
    """Read a content folder (the root of course folders, or one course folder) into specs."""
    root = Path(root)
    if not root.is_dir():
        raise ContentError([Problem(str(root), None, _("Not a folder."))])
    if (root / "course.yaml").exists():
        reader = _Reader(base=root.parent)
        course_dirs = [root]
    else:
        reader = _Reader(base=root)
        course_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        course_dirs = [p for p in course_dirs if (p / "course.yaml").exists()]
        if not course_dirs:
            raise ContentError([Problem(str(root), None, _("No course folder with a course.yaml was found."))])
    courses = [_read_course(reader, path) for path in course_dirs]
    seen: dict[str, Path] = {}
    for spec, path in zip(courses, course_dirs, strict=True):
        if spec and spec.slug in seen:
            reader.problem(path, None, _("Course folder name “%(slug)s” is used twice.", slug=spec.slug))
        elif spec:
            seen[spec.slug] = path
    if reader.problems:
        raise ContentError(reader.problems)
    return [c for c in courses if c]


def _check_slug(reader: _Reader, path: Path) -> str | None:
    if not SLUG_RE.match(path.name):
        reader.problem(
            path, None,
            _("Folder name “%(name)s” must use lower-case letters, digits, - and _ only.", name=path.name),
        )
        return None
    return path.name


def _read_course(reader: _Reader, folder: Path) -> CourseSpec | None:
    slug = _check_slug(reader, folder)
    path = folder / "course.yaml"
    data = reader.read_yaml(path)
    if data is None or slug is None:
        return None
    reader.unknown_fields(path, data, {"title", "description", "position", "published"})
    title = reader.text(path, data, "title", max_length=200)
    description = reader.text(path, data, "description", required=False, max_length=20000)
    position = reader.integer(path, data, "position", 0, 0, 100000)
    published = reader.flag(path, data, "published", True)
    lectures = []
    for lecture_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if (lecture_dir / "lecture.yaml").exists():
            lectures.append(_read_lecture(reader, lecture_dir))
    if None in (title, description, position, published) or None in lectures:
        return None
    return CourseSpec(slug, title, description, position, published, lectures)


def _read_lecture(reader: _Reader, folder: Path) -> LectureSpec | None:
    slug = _check_slug(reader, folder)
    path = folder / "lecture.yaml"
    data = reader.read_yaml(path)
    if data is None:
        return None
    reader.unknown_fields(
        path, data,
        {"title", "speaker", "host", "starts_at", "ends_at", "format", "study_hours", "venues", "published"},
    )
    title = reader.text(path, data, "title")
    speaker = reader.text(path, data, "speaker", max_length=120)
    host = reader.text(path, data, "host", required=False, max_length=120)
    starts_at = reader.moment(path, data, "starts_at")
    ends_at = reader.moment(path, data, "ends_at")
    if starts_at and ends_at and ends_at <= starts_at:
        reader.problem(path, data.line_of("ends_at"), _("The lecture must end after it starts."))
        ends_at = None
    lecture_format = data.get("format", LectureFormat.IN_PERSON.value)
    if not isinstance(lecture_format, str) or lecture_format not in {f.value for f in LectureFormat}:
        reader.problem(
            path, data.line_of("format"),
            _("Field “format” must be one of: %(choices)s.", choices=", ".join(f.value for f in LectureFormat)),
        )
        lecture_format = None
    study_hours = _study_hours(reader, path, data)
    venue_codes = _venue_codes(reader, path, data)
    published = reader.flag(path, data, "published", True)

    summary, key_points = _read_key_points(reader, folder / "keypoints.md")
    pass_mark, questions = _read_quiz(reader, folder / "quiz.yaml", len(key_points or []))
    materials = _read_materials(reader, folder / "materials")
    values = (slug, title, speaker, host, starts_at, ends_at, lecture_format, study_hours, published,
              summary, key_points, pass_mark, questions, materials)
    if any(v is None for v in values) or venue_codes is False:
        return None
    return LectureSpec(
        slug=slug, title=title, speaker=speaker, host=host, starts_at=starts_at, ends_at=ends_at,
        format=lecture_format, study_hours=study_hours, venue_codes=venue_codes, published=published,
        summary_md=summary, key_points=key_points, pass_mark=pass_mark, questions=questions, materials=materials,
    )


def _study_hours(reader: _Reader, path: Path, data: LinedDict) -> Decimal | None:
    raw = data.get("study_hours", 1)
    try:
        if isinstance(raw, bool):
            raise InvalidOperation
        hours = Decimal(str(raw))
    except InvalidOperation:
        hours = None
    if hours is None or not hours.is_finite() or not Decimal("0") <= hours <= Decimal("99.9") or hours != hours.quantize(Decimal("0.1")):
        reader.problem(
            path, data.line_of("study_hours"),
            _("Field “study_hours” must be a number from 0 to 99.9 with at most one decimal."),
        )
        return None
    return hours


def _venue_codes(reader: _Reader, path: Path, data: LinedDict):
    """None means every venue; False marks a problem (None is a valid answer here)."""
    raw = data.get("venues", "all")
    if raw == "all":
        return None
    if not isinstance(raw, list) or not raw or not all(
            isinstance(c, (str, int)) and not unstorable_character(str(c)) for c in raw):
        reader.problem(path, data.line_of("venues"), _("Field “venues” must be “all” or a list of venue codes."))
        return False
    codes = [str(c) for c in raw]
    known = set(db.session.scalars(sa.select(Venue.code).where(Venue.code.in_(codes))))
    missing = [c for c in codes if c not in known]
    if missing:
        reader.problem(
            path, data.line_of("venues"), _("Unknown venue codes: %(codes)s.", codes=", ".join(missing))
        )
        return False
    return codes


def split_key_points(text: str) -> tuple[str, list[tuple[str, str, int]]]:
    """Split key-point Markdown: text before the first "## " heading is the summary, each "## " a key point.

    Returns (summary, [(title, body, heading line number)]); headings inside code fences do not count.
    """
    intro: list[str] = []
    points: list[tuple[str, list[str], int]] = []
    in_fence = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.startswith("## "):
            points.append((line[3:].strip(), [], number))
        elif points:
            points[-1][1].append(line)
        else:
            intro.append(line)
    return "\n".join(intro).strip(), [(title, "\n".join(body).strip(), number) for title, body, number in points]


def key_points_text(summary_md: str, key_points) -> str:
    """The inverse of split_key_points, for editing a lecture's key points as one Markdown text."""
    parts = [summary_md.strip()] if summary_md.strip() else []
    parts += [f"## {kp.title}\n\n{kp.body_md}".rstrip() for kp in key_points]
    return "\n\n".join(parts) + "\n"


def key_point_problems(points: list[tuple[str, str, int]]) -> list[tuple[int, str]]:
    return [(number, _("A key point heading must have 1 to 200 characters."))
            for title, _body, number in points if not title or len(title) > 200]


def _read_key_points(reader: _Reader, path: Path):
    if not path.exists():
        return "", []
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


def read_quiz_text(name: str, text: str, key_point_count: int) -> tuple[int, list[QuestionSpec]]:
    """Parse a quiz in the content/ YAML format (an uploaded bank); raises ContentError naming lines."""
    reader = _Reader(base=Path("."))
    pass_mark, questions = _read_quiz(reader, Path(name), key_point_count, text=text)
    if reader.problems or questions is None:
        raise ContentError(reader.problems or [Problem(name, None, _("The quiz could not be read."))])
    return pass_mark, questions


def quiz_yaml(pass_mark: int, questions, key_point_positions: dict[int, int]) -> str:
    """A lecture's bank in the content/ YAML format, for download and re-import."""
    import yaml

    items = []
    for question in questions:
        item = {"id": question.key, "type": question.kind.value}
        if question.key_point_id in key_point_positions:
            item["key_point"] = key_point_positions[question.key_point_id]
        item["question"] = question.stem
        if question.kind.value == "truefalse":
            item["answer"] = question.answer == [0]
        else:
            item["options"] = list(question.options)
            letters = [LETTERS[i] for i in question.answer]
            item["answer"] = letters[0] if question.kind.value == "single" else letters
        item["explanation"] = question.explanation
        items.append(item)
    return yaml.safe_dump({"pass_mark": pass_mark, "questions": items}, allow_unicode=True, sort_keys=False,
                          width=1000)


def _read_quiz(reader: _Reader, path: Path, key_point_count: int, text: str | None = None):
    if text is None and not path.exists():
        return 80, []
    data = reader.read_yaml(path, text=text)
    if data is None:
        return None, None
    reader.unknown_fields(path, data, {"pass_mark", "questions"})
    pass_mark = reader.integer(path, data, "pass_mark", 80, 1, 100)
    raw_questions = data.get("questions", [])
    if not isinstance(raw_questions, list):
        reader.problem(path, data.line_of("questions"), _("Field “questions” must be a list."))
        return None, None
    questions: list[QuestionSpec] = []
    seen_keys: set[str] = set()
    ok = True
    for item in raw_questions:
        spec = _read_question(reader, path, item, key_point_count, seen_keys)
        ok = ok and spec is not None
        if spec:
            questions.append(spec)
    if not ok or pass_mark is None:
        return None, None
    return pass_mark, questions


def _read_question(reader: _Reader, path: Path, item, key_point_count: int, seen_keys: set[str]):
    if not isinstance(item, LinedDict):
        reader.problem(path, None, _("Each question must be a mapping of fields."))
        return None
    before = len(reader.problems)
    reader.unknown_fields(path, item, {"id", "type", "question", "options", "answer", "explanation", "key_point"})
    key = reader.text(path, item, "id", max_length=40)
    if key is not None:
        if not QUESTION_ID_RE.match(key):
            reader.problem(path, item.line_of("id"), _("A question id may use letters, digits, - and _ only."))
        elif key in seen_keys:
            reader.problem(path, item.line_of("id"), _("Question id “%(key)s” is used twice.", key=key))
        seen_keys.add(key)
    kind = item.get("type")
    if not isinstance(kind, str) or kind not in {"single", "multiple", "truefalse"}:
        reader.problem(path, item.line_of("type"), _("Field “type” must be single, multiple or truefalse."))
        kind = None
    stem = reader.text(path, item, "question", max_length=2000)
    explanation = reader.text(path, item, "explanation", max_length=4000)
    options: list[str] = []
    answer: list[int] = []
    if kind == "truefalse":
        if "options" in item:
            reader.problem(path, item.line_of("options"), _("A true/false question takes no options."))
        if not isinstance(item.get("answer"), bool):
            reader.problem(path, item.line_of("answer"), _("The answer of a true/false question must be true or false."))
        else:
            answer = [0] if item["answer"] else [1]
    elif kind in {"single", "multiple"}:
        raw_options = item.get("options")
        if (not isinstance(raw_options, list) or not 2 <= len(raw_options) <= len(LETTERS)
                or not all(isinstance(o, (str, int, float)) and not isinstance(o, bool) and str(o).strip()
                           and not unstorable_character(str(o)) for o in raw_options)):
            reader.problem(
                path, item.line_of("options"),
                _("Field “options” must list 2 to %(max)s non-empty choices.", max=len(LETTERS)),
            )
        elif any(len(str(o)) > 500 for o in raw_options):
            reader.problem(path, item.line_of("options"), _("An option is longer than 500 characters."))
        else:
            options = [str(o).strip() for o in raw_options]
            answer = _answer_letters(reader, path, item, kind, len(options))
    key_point = item.get("key_point")
    if key_point is not None and (isinstance(key_point, bool) or not isinstance(key_point, int) or not 1 <= key_point <= key_point_count):
        reader.problem(
            path, item.line_of("key_point"),
            _("Field “key_point” must be the number of a key point (1 to %(max)s).", max=key_point_count),
        )
    if len(reader.problems) > before:
        return None
    return QuestionSpec(key, kind, stem, options, answer, explanation, key_point)


def _answer_letters(reader: _Reader, path: Path, item: LinedDict, kind: str, option_count: int) -> list[int]:
    raw = item.get("answer")
    letters = raw if isinstance(raw, list) else [raw]
    valid = LETTERS[:option_count]
    if not letters or not all(isinstance(x, str) and len(x) == 1 and x.upper() in valid for x in letters):
        reader.problem(
            path, item.line_of("answer"),
            _("Field “answer” must name options by letter (A to %(last)s).", last=valid[-1]),
        )
        return []
    indexes = sorted({valid.index(x.upper()) for x in letters})
    if kind == "single" and (len(indexes) != 1 or isinstance(raw, list)):
        reader.problem(path, item.line_of("answer"), _("A single-choice question has exactly one answer."))
        return []
    if kind == "multiple" and len(indexes) < 2:
        reader.problem(path, item.line_of("answer"), _("A multiple-choice question has at least two answers."))
        return []
    return indexes


def split_front_matter(text: str) -> tuple[str | None, str, int]:
    """Return (front matter YAML or None, body, line number where the body starts)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None, text, 1
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1:]), index + 2
    return "\n".join(lines[1:]), "", len(lines) + 1


def _read_materials(reader: _Reader, folder: Path):
    if not folder.is_dir():
        return []
    result: list[MaterialSpec] = []
    ok = True
    for path in sorted(folder.glob("*.md")):
        slug = path.stem.lower()
        if not SLUG_RE.match(slug):
            reader.problem(path, None, _("File name must use lower-case letters, digits, - and _ only."))
            ok = False
            continue
        text = reader.read_text(path)
        if text is None:
            ok = False
            continue
        front, body, _body_line = split_front_matter(text)
        if front is None:
            reader.problem(path, 1, _("A material starts with YAML front matter between --- lines."))
            ok = False
            continue
        data = reader.read_yaml(path, line_offset=1, text=front)
        if data is None:
            ok = False
            continue
        reader.unknown_fields(path, data, {"title", "source", "url"})
        title = reader.text(path, data, "title")
        source = reader.text(path, data, "source", required=False)
        url = reader.text(path, data, "url", required=False, max_length=1000, default=None)
        if url and not url.startswith(("http://", "https://")):
            reader.problem(path, data.line_of("url"), _("Field “url” must start with http:// or https://."))
            url = None
            ok = False
        if title is None or source is None:
            ok = False
            continue
        kind = MaterialKind.LINK.value if url and not body.strip() else MaterialKind.ARTICLE.value
        result.append(MaterialSpec(slug, title, source, body.strip(), url, kind))
    return result if ok else None


def import_content(root: Path) -> ImportSummary:
    """Read, check and write a content bundle in one transaction; raises ContentError and writes nothing on a problem."""
    courses = read_bundle(root)
    summary = ImportSummary()
    try:
        all_venues = list(db.session.scalars(sa.select(Venue).order_by(Venue.position)))
        for course_spec in courses:
            _apply_course(course_spec, all_venues, summary)
        audit.record("content.imported", ", ".join(spec.slug for spec in courses), **asdict(summary))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
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
    from lecturehub.quizzes.services import sync_questions  # quizzes builds on courses, not the reverse

    lecture = db.session.scalar(sa.select(Lecture).where(Lecture.course_id == course.id, Lecture.slug == spec.slug))
    lecture = _upsert(
        Lecture, summary, lecture, course=course, slug=spec.slug, title=spec.title, speaker=spec.speaker,
        host=spec.host, starts_at=spec.starts_at, ends_at=spec.ends_at, format=LectureFormat(spec.format),
        study_hours=spec.study_hours, summary_md=spec.summary_md, quiz_pass_mark=spec.pass_mark,
        published=spec.published,
    )
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

    created, updated = sync_questions(lecture, spec.questions)
    summary.created += created
    summary.updated += updated
    summary.questions += len(spec.questions)
