"""Make-up study for the absent and excused: read the key points and pass the quiz."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite

from lecturehub.accounts.models import Membership, User
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.models import Lecture
from lecturehub.extensions import db
from lecturehub.quizzes.models import Question
from lecturehub.quizzes.services import passed_lecture_ids

from .checkin import Phase, window_of
from .models import (
    AttendanceChange,
    AttendanceRecord,
    KeyPointsRead,
    Method,
    Status,
)
from .roster import effective_status, expected_memberships, expected_venue_id

# --- make-up study --------------------------------------------------------------------------------

@dataclass
class MakeupTask:
    lecture: Lecture
    status: Status
    read: bool
    passed: bool
    has_quiz: bool = True  # without questions, reading the key points completes the task


def lectures_with_quiz(lecture_ids: list[int]) -> set[int]:
    """Which of these lectures have quiz questions; make-up for the others needs no quiz."""
    if not lecture_ids:
        return set()
    return set(db.session.scalars(sa.select(Question.lecture_id).where(Question.lecture_id.in_(lecture_ids))
                                  .distinct()))


def needs_makeup(member: User, lecture: Lecture, now: datetime | None = None) -> Status | None:
    """The member's absent/excused status when this lecture needs make-up study, else None."""
    now = now or utcnow()
    if expected_venue_id(member, lecture) is None:
        return None
    record = db.session.scalar(sa.select(AttendanceRecord).where(
        AttendanceRecord.lecture_id == lecture.id, AttendanceRecord.user_id == member.id))
    status = effective_status(record, window_of(lecture).phase(now))
    if status in (Status.ABSENT, Status.EXCUSED) and not (record and record.made_up_at):
        return status
    return None


def open_makeup_tasks(member: User, now: datetime | None = None) -> list[MakeupTask]:
    """Lectures the member missed or was excused from, whose make-up is not finished; fixed query count."""
    now = now or utcnow()
    expected_at = expected_memberships().where(Membership.user_id == member.id).with_only_columns(Lecture.id)
    lectures = list(db.session.scalars(
        sa.select(Lecture).where(Lecture.id.in_(expected_at), Lecture.published.is_(True))
        .order_by(Lecture.starts_at.desc())))
    closed = [lec for lec in lectures if window_of(lec).phase(now) is Phase.CLOSED]
    if not closed:
        return []
    ids = [lec.id for lec in closed]
    records = {r.lecture_id: r for r in db.session.scalars(sa.select(AttendanceRecord).where(
        AttendanceRecord.user_id == member.id, AttendanceRecord.lecture_id.in_(ids)))}
    read = set(db.session.scalars(sa.select(KeyPointsRead.lecture_id).where(
        KeyPointsRead.user_id == member.id, KeyPointsRead.lecture_id.in_(ids))))
    passed = passed_lecture_ids(member.id, ids)
    with_quiz = lectures_with_quiz(ids)
    tasks = []
    for lecture in closed:
        record = records.get(lecture.id)
        status = effective_status(record, Phase.CLOSED)
        if status in (Status.ABSENT, Status.EXCUSED) and not (record and record.made_up_at):
            tasks.append(MakeupTask(lecture, status, lecture.id in read, lecture.id in passed,
                                    lecture.id in with_quiz))
    return tasks


def mark_key_points_read(member: User, lecture: Lecture, now: datetime | None = None) -> None:
    """Record that the member reached the end of the key points, then see whether make-up is complete."""
    now = now or utcnow()
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(KeyPointsRead)
    db.session.execute(insert.values(lecture_id=lecture.id, user_id=member.id, read_at=now)
                       .on_conflict_do_nothing(index_elements=["lecture_id", "user_id"]))
    db.session.flush()
    complete_makeup_if_done(member, lecture, now)


def complete_makeup_if_done(member: User, lecture: Lecture, now: datetime | None = None) -> bool:
    """Mark make-up done (补学完成) when the key points were read and the quiz, if the lecture has one, was
    passed; True if it was."""
    now = now or utcnow()
    status = needs_makeup(member, lecture, now)
    if status is None:
        return False
    read = db.session.scalar(sa.select(KeyPointsRead.id).where(
        KeyPointsRead.lecture_id == lecture.id, KeyPointsRead.user_id == member.id)) is not None
    if not read:
        return False
    if lectures_with_quiz([lecture.id]) and lecture.id not in passed_lecture_ids(member.id, [lecture.id]):
        return False
    record = db.session.scalar(sa.select(AttendanceRecord).where(
        AttendanceRecord.lecture_id == lecture.id, AttendanceRecord.user_id == member.id))
    if record is None:
        record = AttendanceRecord(lecture_id=lecture.id, user_id=member.id,
                                  venue_id=expected_venue_id(member, lecture),
                                  status=Status.ABSENT, method=Method.MAKEUP, updated_at=now)
        db.session.add(record)
    record.made_up_at = now
    db.session.add(AttendanceChange(lecture_id=lecture.id, user_id=member.id, changed_by_id=member.id, changed_at=now,
                                    old_status=record.status, new_status=record.status, method=Method.MAKEUP,
                                    reason=_("Make-up study completed")))
    db.session.flush()
    return True


def on_quiz_submitted(sender, attempt, **extra) -> None:
    if attempt.passed:
        complete_makeup_if_done(db.session.get(User, attempt.user_id), attempt.lecture)

