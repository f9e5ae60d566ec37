"""Archive lectures (归档党课): past lectures imported for their content only.

A lecture that ended before it was imported would otherwise count every expected member absent at
once and give each a make-up task. The importer therefore asks: lecture.yaml may say `archive:`, and
for new past lectures that do not, the admin chooses (`--archive/--no-archive`, or the ZIP preview).
Courses know nothing of members, so the number of members concerned is asked of whoever listens to
`counting_expected_members` (attendance answers it).
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from blinker import Namespace

from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db

from .content import CourseSpec, LectureSpec
from .models import Course, Lecture

signals = Namespace()
# Sent with lectures=[(starts_at, venue codes or None for every venue)]; a receiver returns how many distinct
# members those lectures would expect.
counting_expected_members = signals.signal("counting-expected-members")


def undecided_past_lectures(specs: list[CourseSpec], now: datetime | None = None) -> list[LectureSpec]:
    """New lectures of the bundle that ended before `now` and whose lecture.yaml does not say `archive:`."""
    now = now or utcnow()
    existing = set(db.session.execute(
        sa.select(Course.slug, Lecture.slug).join(Lecture, Lecture.course_id == Course.id)
        .where(Course.slug.in_([spec.slug for spec in specs]))).all())
    return [lecture for course in specs for lecture in course.lectures
            if lecture.archive is None and lecture.ends_at < now and (course.slug, lecture.slug) not in existing]


def members_who_would_get_makeup(lectures: list[LectureSpec]) -> int:
    """How many members would be absent, with a make-up task, if these past lectures took attendance."""
    if not lectures:
        return 0
    answers = counting_expected_members.send(None, lectures=[(lec.starts_at, lec.venue_codes) for lec in lectures])
    return max((count for _receiver, count in answers), default=0)


def decide(specs: list[CourseSpec], archive_past: bool | None, now: datetime | None = None) -> None:
    """Apply the admin's answer to the new past lectures whose lecture.yaml leaves it open."""
    if archive_past is None:
        return
    for lecture in undecided_past_lectures(specs, now):
        lecture.archive = archive_past
