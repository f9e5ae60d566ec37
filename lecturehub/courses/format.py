"""The courses half of the content/ format: course.yaml, lecture.yaml, keypoints.md and materials' front matter.

Layout (one folder a course, one folder a lecture)::

    content/<course-slug>/course.yaml
    content/<course-slug>/<lecture-slug>/lecture.yaml
    content/<course-slug>/<lecture-slug>/keypoints.md     # "## " headings are key points
    content/<course-slug>/<lecture-slug>/quiz.yaml        # read by quizzes (lecturehub/quizzes/format.py)
    content/<course-slug>/<lecture-slug>/materials/*.md   # YAML front matter + Markdown

A new lecture.yaml field is one line in `LectureFile` and one in `LectureSpec`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from flask_babel import gettext as _
from pydantic import BeforeValidator, ValidationInfo, field_validator

from lecturehub.core.contentfiles import FileModel, Flag, Moment, Text, WholeNumber, invalid
from lecturehub.core.forms import unstorable_character

from .models import LectureFormat

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")


def _study_hours(value: Any) -> Decimal:
    try:
        if isinstance(value, bool):
            raise InvalidOperation
        hours = Decimal(str(value))
        if not hours.is_finite() or not Decimal("0") <= hours <= Decimal("99.9") \
                or hours != hours.quantize(Decimal("0.1")):
            raise InvalidOperation
    except InvalidOperation:
        raise invalid(_("Field “study_hours” must be a number from 0 to 99.9 with at most one decimal.")) from None
    return hours


def _lecture_format(value: Any) -> str:
    choices = [f.value for f in LectureFormat]
    if not isinstance(value, str) or value not in choices:
        raise invalid(_("Field “format” must be one of: %(choices)s.", choices=", ".join(choices)))
    return value


def _venue_codes(value: Any) -> list[str] | None:
    """None means every venue; whether the codes exist is checked against the database by the importer."""
    if value == "all":
        return None
    if not isinstance(value, list) or not value or not all(
            isinstance(c, (str, int)) and not isinstance(c, bool) and not unstorable_character(str(c)) for c in value):
        raise invalid(_("Field “venues” must be “all” or a list of venue codes."))
    return [str(c) for c in value]


class CourseFile(FileModel):
    title: Text(200)
    description: Text(20000, required=False) = ""
    position: WholeNumber(0, 100000) = 0
    published: Flag = True


class LectureFile(FileModel):
    title: Text(300)
    speaker: Text(120)
    host: Text(120, required=False) = ""
    starts_at: Moment
    ends_at: Moment
    format: Annotated[str, BeforeValidator(_lecture_format)] = LectureFormat.IN_PERSON.value
    study_hours: Annotated[Decimal, BeforeValidator(_study_hours)] = Decimal(1)
    venues: Annotated[list[str] | None, BeforeValidator(_venue_codes)] = None
    published: Flag = True
    # 归档党课: content only, no attendance. Unset (None) leaves the choice to the importer (courses/archive.py).
    archive: Flag | None = None

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, ends_at: datetime, info: ValidationInfo) -> datetime:
        starts_at = info.data.get("starts_at")
        if starts_at is not None and ends_at <= starts_at:
            raise invalid(_("The lecture must end after it starts."))
        return ends_at


class MaterialFrontMatter(FileModel):
    title: Text(300)
    source: Text(300, required=False) = ""
    url: Text(1000, required=False, default=None) = None

    @field_validator("url")
    @classmethod
    def _web_address(cls, url: str | None) -> str | None:
        if url and not url.startswith(("http://", "https://")):
            raise invalid(_("Field “url” must start with http:// or https://."))
        return url


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
    materials: list[MaterialSpec] = field(default_factory=list)
    archive: bool | None = None  # 归档党课; None: lecture.yaml does not say (see courses/archive.py)
    # What other packages read from the lecture folder (quizzes: "quiz"), filled in by their signal receivers.
    parts: dict[str, Any] = field(default_factory=dict)


@dataclass
class CourseSpec:
    slug: str
    title: str
    description_md: str
    position: int
    published: bool
    lectures: list[LectureSpec] = field(default_factory=list)


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


def split_front_matter(text: str) -> tuple[str | None, str, int]:
    """Return (front matter YAML or None, body, line number where the body starts)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None, text, 1
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1:]), index + 2
    return "\n".join(lines[1:]), "", len(lines) + 1
