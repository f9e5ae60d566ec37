"""Attendance rules: the window, check-in, roster marks, leave, absence and make-up study.

Each function that changes data commits once, at its end, and returns what the
user should be told. Times are aware UTC datetimes; `now` is a parameter so the
rules can be tested at any moment.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from lecturehub.accounts.models import User
from lecturehub.audit import services as audit
from lecturehub.core.spreadsheets import TableError, cell_text, read_rows
from lecturehub.core.timeutil import to_local, utcnow
from lecturehub.courses.models import Lecture, LectureVenue
from lecturehub.extensions import db
from lecturehub.quizzes.services import passed_lecture_ids, quiz_submitted
from lecturehub.venues.models import Venue

from . import codes
from .models import AttendanceChange, AttendanceRecord, KeyPointsRead, LeaveRequest, LeaveState, Method, Status


class Phase(str, enum.Enum):
    NOT_OPEN = "not_open"
    ON_TIME = "on_time"
    LATE = "late"
    CLOSED = "closed"


@dataclass(frozen=True)
class Window:
    opens_at: datetime
    on_time_until: datetime
    closes_at: datetime

    def phase(self, now: datetime) -> Phase:
        if now < self.opens_at:
            return Phase.NOT_OPEN
        if now <= self.on_time_until:
            return Phase.ON_TIME
        if now <= self.closes_at:
            return Phase.LATE
        return Phase.CLOSED


def window_of(lecture: Lecture) -> Window:
    """The lecture's check-in window from its times and its three settings (minutes)."""
    return Window(
        opens_at=lecture.starts_at - timedelta(minutes=lecture.checkin_opens_minutes),
        on_time_until=lecture.starts_at + timedelta(minutes=lecture.checkin_grace_minutes),
        closes_at=lecture.ends_at + timedelta(minutes=lecture.checkin_closes_minutes),
    )


class CheckinError(Exception):
    """Check-in refused; `message` is for the member or coordinator."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class CheckinResult:
    record: AttendanceRecord
    created: bool  # False: the member had already checked in and nothing changed
    other_venue: bool  # checked in somewhere other than the home venue


def ensure_open(lecture: Lecture, now: datetime | None = None) -> Phase:
    """The current phase when check-in is open; raises CheckinError before it opens or after it closes."""
    return _open_phase(lecture, now or utcnow())


def _open_phase(lecture: Lecture, now: datetime) -> Phase:
    phase = window_of(lecture).phase(now)
    if phase is Phase.NOT_OPEN:
        raise CheckinError("not_open", _("Check-in for this lecture has not opened yet."))
    if phase is Phase.CLOSED:
        raise CheckinError("closed", _("Check-in for this lecture has closed."))
    return phase


def venue_takes_part(lecture_id: int, venue_id: int) -> bool:
    return db.session.scalar(
        sa.select(LectureVenue.id).where(LectureVenue.lecture_id == lecture_id, LectureVenue.venue_id == venue_id)
    ) is not None


def _insert_ignoring_duplicate(values: dict) -> AttendanceRecord | None:
    """Insert a record unless the member already has one; the new record when this call wrote it, else None.

    The unique constraint decides, so two simultaneous check-ins by the same member cannot
    both win, on SQLite and PostgreSQL alike. RETURNING the row saves reading it back.
    """
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(AttendanceRecord)
    statement = (insert.values(**values).on_conflict_do_nothing(index_elements=["lecture_id", "user_id"])
                 .returning(AttendanceRecord))
    # RETURNING, not rowcount: psycopg reports -1 for ON CONFLICT DO NOTHING.
    return db.session.scalars(statement).one_or_none()


def check_in(user: User, lecture: Lecture, venue_id: int, method: Method, now: datetime | None = None,
             by: User | None = None) -> CheckinResult:
    """Record that `user` arrived at `venue_id` now: on time or late by the clock.

    A second check-in changes nothing. A member who was marked excused or absent and then
    arrives is recorded as arrived. Raises CheckinError when the window is not open.
    """
    now = now or utcnow()
    phase = _open_phase(lecture, now)
    status = Status.PRESENT if phase is Phase.ON_TIME else Status.LATE
    values = dict(lecture_id=lecture.id, user_id=user.id, venue_id=venue_id, status=status, method=method,
                  checked_in_at=now, reason="", updated_at=now)
    record = _insert_ignoring_duplicate(values)
    created = record is not None
    if record is None:
        record = db.session.scalar(
            sa.select(AttendanceRecord).where(AttendanceRecord.lecture_id == lecture.id,
                                              AttendanceRecord.user_id == user.id)
        )
    if not created and record.status in (Status.EXCUSED, Status.ABSENT):
        # Marked excused or absent beforehand, yet here after all: the arrival wins.
        _log_change(record, status, method, by, now, _("Arrived at the lecture"))
        record.status, record.venue_id, record.method, record.checked_in_at = status, venue_id, method, now
        created = True
    elif created and by is not None:
        _log_change(record, status, method, by, now, "", old_status=None)
    if created and by is not None:
        audit.record("attendance.desk_check_in", f"lecture:{lecture.id}", actor=by, member=user.member_no,
                     status=status.value)
    _commit_keeping_loaded()
    return CheckinResult(record, created, other_venue=user.home_venue_id != venue_id)


def _commit_keeping_loaded() -> None:
    """Commit without expiring what the session holds.

    The answer to a check-in shows the record just written, the member and the lecture, all read or
    returned in this transaction; after an ordinary commit SQLAlchemy would read each of them again
    (three more statements on the busiest path, about a fifth of its time).
    """
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def arrival_of(member: User, lecture: Lecture) -> AttendanceRecord | None:
    """The member's record for the lecture if they have arrived (on time or late), else None."""
    return db.session.scalar(sa.select(AttendanceRecord).where(
        AttendanceRecord.lecture_id == lecture.id, AttendanceRecord.user_id == member.id,
        AttendanceRecord.status.in_([Status.PRESENT, Status.LATE])))


def check_in_with_code(user: User, lecture: Lecture, venue_id: int, code: str, method: Method,
                       now: datetime | None = None) -> CheckinResult:
    """A member's own check-in with the code from a venue screen (scanned or typed)."""
    now = now or utcnow()
    if not venue_takes_part(lecture.id, venue_id):
        raise CheckinError("venue", _("This venue does not take part in the lecture."))
    _open_phase(lecture, now)
    if not codes.code_is_valid(lecture.id, venue_id, code, now):
        raise CheckinError("code", _("The check-in code is wrong or has expired. Use the code on the screen now."))
    return check_in(user, lecture, venue_id, method, now)


def venue_for_code(lecture: Lecture, code: str, now: datetime | None = None) -> int:
    """Which of the lecture's venues shows `code` now; raises CheckinError when none does."""
    now = now or utcnow()
    _open_phase(lecture, now)
    venue_ids = db.session.scalars(sa.select(LectureVenue.venue_id).where(LectureVenue.lecture_id == lecture.id))
    for venue_id in venue_ids:
        if codes.code_is_valid(lecture.id, venue_id, code, now):
            return venue_id
    raise CheckinError("code", _("The check-in code is wrong or has expired. Use the code on the screen now."))


def _log_change(record: AttendanceRecord, new_status: Status, method: Method, by: User | None, now: datetime,
                reason: str, old_status: Status | None | bool = False) -> None:
    db.session.add(AttendanceChange(
        lecture_id=record.lecture_id, user_id=record.user_id, changed_by_id=by.id if by else None, changed_at=now,
        old_status=record.status if old_status is False else old_status, new_status=new_status, method=method,
        reason=reason,
    ))


# --- who is expected, and the roster --------------------------------------------------------------

def expected_members_query(lecture_id: int, venue_ids: list[int] | None = None) -> sa.Select:
    """Active users whose home venue takes part in the lecture (optionally only some venues)."""
    query = (sa.select(User).join(LectureVenue, sa.and_(LectureVenue.venue_id == User.home_venue_id,
                                                        LectureVenue.lecture_id == lecture_id))
             .where(User.active.is_(True)))
    if venue_ids is not None:
        query = query.where(User.home_venue_id.in_(venue_ids))
    return query


def effective_status(record: AttendanceRecord | None, phase: Phase) -> Status | None:
    """The status to show: the record's, or absent for no record once the window has closed (None before)."""
    if record is not None:
        return record.status
    return Status.ABSENT if phase is Phase.CLOSED else None


@dataclass
class RosterRow:
    user: User
    record: AttendanceRecord | None
    status: Status | None
    leave: LeaveRequest | None
    expected_here: bool  # home venue is this venue (else: a visitor who checked in here)

    @property
    def made_up(self) -> bool:
        return bool(self.record and self.record.made_up_at)


@dataclass
class Roster:
    lecture: Lecture
    venue: Venue
    phase: Phase
    rows: list[RosterRow] = field(default_factory=list)

    @property
    def expected(self) -> int:
        return sum(1 for r in self.rows if r.expected_here)

    @property
    def arrived(self) -> int:
        return sum(1 for r in self.rows if r.status in (Status.PRESENT, Status.LATE))

    def count(self, status: Status) -> int:
        return sum(1 for r in self.rows if r.status is status)

    @property
    def made_up(self) -> int:
        return sum(1 for r in self.rows if r.made_up)


def venue_roster(lecture: Lecture, venue: Venue, now: datetime | None = None) -> Roster:
    """Expected members of a venue and visitors who checked in there, with their status; four queries."""
    now = now or utcnow()
    phase = window_of(lecture).phase(now)
    members = list(db.session.scalars(expected_members_query(lecture.id, [venue.id]).order_by(User.member_no, User.id)))
    member_ids = [m.id for m in members]
    records = {r.user_id: r for r in db.session.scalars(
        sa.select(AttendanceRecord).where(
            AttendanceRecord.lecture_id == lecture.id,
            sa.or_(AttendanceRecord.user_id.in_(member_ids), AttendanceRecord.venue_id == venue.id)))}
    visitors = [uid for uid, r in records.items() if uid not in set(member_ids)]
    visitor_users = list(db.session.scalars(sa.select(User).where(User.id.in_(visitors)).order_by(User.member_no))) \
        if visitors else []
    leaves = {lv.user_id: lv for lv in db.session.scalars(
        sa.select(LeaveRequest).where(LeaveRequest.lecture_id == lecture.id, LeaveRequest.user_id.in_(member_ids)))}
    rows = [RosterRow(m, records.get(m.id), effective_status(records.get(m.id), phase), leaves.get(m.id), True)
            for m in members]
    rows += [RosterRow(u, records[u.id], records[u.id].status, None, False) for u in visitor_users]
    return Roster(lecture, venue, phase, rows)


def venue_counts(lecture: Lecture, venue_ids: list[int]) -> dict[int, dict[str, int]]:
    """Expected and arrived members per venue, in two grouped queries (for screens and the live view)."""
    expected = dict(db.session.execute(
        sa.select(User.home_venue_id, sa.func.count(User.id))
        .where(User.home_venue_id.in_(venue_ids), User.active.is_(True)).group_by(User.home_venue_id)).all())
    arrived = dict(db.session.execute(
        sa.select(AttendanceRecord.venue_id, sa.func.count(AttendanceRecord.id))
        .where(AttendanceRecord.lecture_id == lecture.id, AttendanceRecord.venue_id.in_(venue_ids),
               AttendanceRecord.status.in_([Status.PRESENT, Status.LATE]))
        .group_by(AttendanceRecord.venue_id)).all())
    return {vid: {"expected": expected.get(vid, 0), "arrived": arrived.get(vid, 0)} for vid in venue_ids}


def live_counts(lecture: Lecture, venue_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per venue, for the live view: its expected members, how many of them have checked in (here or at another
    venue, as the reports count them) and how many members of other venues checked in in its room; three queries.
    """
    counts = venue_counts(lecture, venue_ids)
    for venue_counted in counts.values():
        venue_counted.update(own=0, visitors=0)
    arrivals = db.session.execute(
        sa.select(AttendanceRecord.venue_id, User.home_venue_id, sa.func.count(AttendanceRecord.id))
        .join(User, User.id == AttendanceRecord.user_id)
        .where(AttendanceRecord.lecture_id == lecture.id, AttendanceRecord.status.in_([Status.PRESENT, Status.LATE]),
               sa.or_(AttendanceRecord.venue_id.in_(venue_ids), User.home_venue_id.in_(venue_ids)))
        .group_by(AttendanceRecord.venue_id, User.home_venue_id))
    for room_id, home_id, number in arrivals:
        if home_id in counts:
            counts[home_id]["own"] += number
        if room_id != home_id and room_id in counts:
            counts[room_id]["visitors"] += number
    return counts


def set_status(lecture: Lecture, member: User, venue_id: int, status: Status, reason: str, by: User,
               now: datetime | None = None) -> AttendanceRecord:
    """A coordinator's mark on the roster; the change is kept with who, when and why."""
    now = now or utcnow()
    record = db.session.scalar(sa.select(AttendanceRecord).where(
        AttendanceRecord.lecture_id == lecture.id, AttendanceRecord.user_id == member.id))
    if record is None:
        record = AttendanceRecord(lecture_id=lecture.id, user_id=member.id, venue_id=venue_id, status=status,
                                  method=Method.ROSTER, reason=reason, updated_at=now,
                                  checked_in_at=now if status in (Status.PRESENT, Status.LATE) else None)
        db.session.add(record)
        _log_change(record, status, Method.ROSTER, by, now, reason, old_status=None)
    elif record.status is not status or record.reason != reason:
        _log_change(record, status, Method.ROSTER, by, now, reason)
        record.status, record.reason, record.method = status, reason, Method.ROSTER
        if status in (Status.PRESENT, Status.LATE):
            record.checked_in_at = record.checked_in_at or now
            record.venue_id = record.venue_id or venue_id
    audit.record("attendance.status_set", f"lecture:{lecture.id}", actor=by, member=member.member_no,
                 status=status.value, reason=reason)
    db.session.commit()
    return record


def changes_for(lecture_id: int, user_ids: list[int], limit: int = 50) -> list[AttendanceChange]:
    return list(db.session.scalars(
        sa.select(AttendanceChange).where(AttendanceChange.lecture_id == lecture_id,
                                          AttendanceChange.user_id.in_(user_ids))
        .order_by(AttendanceChange.changed_at.desc(), AttendanceChange.id.desc()).limit(limit)))


class SheetError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


SHEET_HEADERS = {"编号", "member_no", "number", "member number"}


def import_sheet(lecture: Lecture, venue: Venue, filename: str, data: bytes, by: User,
                 now: datetime | None = None) -> tuple[int, int]:
    """Enter a paper sign-in sheet: member numbers in the first column mark members present at `venue`.

    All rows are checked first; on any problem nothing is written. Returns (marked, already present).
    """
    now = now or utcnow()
    try:
        rows = read_rows(filename, data)
    except TableError as exc:
        raise SheetError([str(exc)]) from exc
    entries: list[tuple[int, str]] = []
    for number, row in enumerate(rows, start=1):
        value = cell_text(row, 0)
        if number == 1 and value.lower() in SHEET_HEADERS:
            continue
        if value:
            entries.append((number, value))
    if not entries:
        raise SheetError([_("The sheet lists no member numbers.")])
    users = {u.member_no: u for u in db.session.scalars(
        sa.select(User).where(User.member_no.in_([v for _n, v in entries]), User.active.is_(True)))}
    problems, seen = [], {}
    for number, value in entries:
        if value not in users:
            problems.append(_("Row %(row)s: no active member has the number %(no)s.", row=number, no=value))
        elif value in seen:
            problems.append(_("Row %(row)s: %(no)s already appears in row %(first)s.", row=number, no=value,
                              first=seen[value]))
        else:
            seen[value] = number
    if problems:
        raise SheetError(problems)
    records = {r.user_id: r for r in db.session.scalars(sa.select(AttendanceRecord).where(
        AttendanceRecord.lecture_id == lecture.id, AttendanceRecord.user_id.in_([u.id for u in users.values()])))}
    marked = already = 0
    reason = _("Paper sign-in sheet")
    for _number, value in entries:
        user = users[value]
        record = records.get(user.id)
        if record is not None and record.status in (Status.PRESENT, Status.LATE):
            already += 1
            continue
        if record is None:
            record = AttendanceRecord(lecture_id=lecture.id, user_id=user.id, venue_id=venue.id,
                                      status=Status.PRESENT, method=Method.SHEET, reason=reason, updated_at=now)
            db.session.add(record)
            _log_change(record, Status.PRESENT, Method.SHEET, by, now, reason, old_status=None)
        else:
            _log_change(record, Status.PRESENT, Method.SHEET, by, now, reason)
            record.status, record.method, record.venue_id, record.reason = Status.PRESENT, Method.SHEET, venue.id, reason
        marked += 1
    audit.record("attendance.sheet_imported", f"lecture:{lecture.id}", actor=by, venue=venue.code, file=filename,
                 marked=marked, already=already)
    db.session.commit()
    return marked, already


# --- leave ----------------------------------------------------------------------------------------

class LeaveError(ValueError):
    pass


def request_leave(member: User, lecture: Lecture, reason: str, now: datetime | None = None) -> LeaveRequest:
    """Ask, before the lecture starts, to be excused. A refused request may be asked again."""
    now = now or utcnow()
    if now >= lecture.starts_at:
        raise LeaveError(_("Leave must be asked before the lecture starts."))
    if member.home_venue_id is None or not venue_takes_part(lecture.id, member.home_venue_id):
        raise LeaveError(_("Your venue does not take part in this lecture."))
    leave = db.session.scalar(sa.select(LeaveRequest).where(LeaveRequest.lecture_id == lecture.id,
                                                            LeaveRequest.user_id == member.id))
    if leave is not None and leave.state is not LeaveState.REFUSED:
        raise LeaveError(_("You have already asked for leave for this lecture."))
    if leave is None:
        leave = LeaveRequest(lecture_id=lecture.id, user_id=member.id, reason=reason)
        db.session.add(leave)
    leave.reason, leave.state, leave.requested_at = reason, LeaveState.PENDING, now
    leave.decided_by_id, leave.decided_at, leave.decision_note = None, None, ""
    db.session.commit()
    return leave


def decide_leave(leave: LeaveRequest, approve: bool, by: User, note: str = "", now: datetime | None = None) -> None:
    """Approve (the member becomes excused unless already arrived) or refuse a pending request."""
    now = now or utcnow()
    if leave.state is not LeaveState.PENDING:
        raise LeaveError(_("This request has already been decided."))
    leave.state = LeaveState.APPROVED if approve else LeaveState.REFUSED
    leave.decided_by_id, leave.decided_at, leave.decision_note = by.id, now, note
    if approve:
        record = db.session.scalar(sa.select(AttendanceRecord).where(
            AttendanceRecord.lecture_id == leave.lecture_id, AttendanceRecord.user_id == leave.user_id))
        if record is None:
            record = AttendanceRecord(lecture_id=leave.lecture_id, user_id=leave.user_id,
                                      venue_id=leave.user.home_venue_id, status=Status.EXCUSED, method=Method.LEAVE,
                                      reason=leave.reason, updated_at=now)
            db.session.add(record)
            _log_change(record, Status.EXCUSED, Method.LEAVE, by, now, leave.reason, old_status=None)
        elif record.status is Status.ABSENT:
            _log_change(record, Status.EXCUSED, Method.LEAVE, by, now, leave.reason)
            record.status, record.method, record.reason = Status.EXCUSED, Method.LEAVE, leave.reason
    audit.record("leave.approved" if approve else "leave.refused", f"lecture:{leave.lecture_id}", actor=by,
                 member=leave.user.member_no, reason=leave.reason, note=note)
    db.session.commit()


def pending_leaves(lecture_id: int, venue_ids: list[int]) -> list[LeaveRequest]:
    return list(db.session.scalars(
        sa.select(LeaveRequest).join(User, User.id == LeaveRequest.user_id)
        .where(LeaveRequest.lecture_id == lecture_id, LeaveRequest.state == LeaveState.PENDING,
               User.home_venue_id.in_(venue_ids))
        .order_by(LeaveRequest.requested_at)))


# --- make-up study --------------------------------------------------------------------------------

@dataclass
class MakeupTask:
    lecture: Lecture
    status: Status
    read: bool
    passed: bool


def needs_makeup(member: User, lecture: Lecture, now: datetime | None = None) -> Status | None:
    """The member's absent/excused status when this lecture needs make-up study, else None."""
    now = now or utcnow()
    if member.home_venue_id is None or not venue_takes_part(lecture.id, member.home_venue_id):
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
    if member.home_venue_id is None:
        return []
    lectures = list(db.session.scalars(
        sa.select(Lecture).join(LectureVenue, LectureVenue.lecture_id == Lecture.id)
        .where(LectureVenue.venue_id == member.home_venue_id, Lecture.published.is_(True))
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
    tasks = []
    for lecture in closed:
        record = records.get(lecture.id)
        status = effective_status(record, Phase.CLOSED)
        if status in (Status.ABSENT, Status.EXCUSED) and not (record and record.made_up_at):
            tasks.append(MakeupTask(lecture, status, lecture.id in read, lecture.id in passed))
    return tasks


def mark_key_points_read(member: User, lecture: Lecture, now: datetime | None = None) -> None:
    """Record that the member reached the end of the key points, then see whether make-up is complete."""
    now = now or utcnow()
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(KeyPointsRead)
    db.session.execute(insert.values(lecture_id=lecture.id, user_id=member.id, read_at=now)
                       .on_conflict_do_nothing(index_elements=["lecture_id", "user_id"]))
    db.session.commit()
    complete_makeup_if_done(member, lecture, now)


def complete_makeup_if_done(member: User, lecture: Lecture, now: datetime | None = None) -> bool:
    """Mark make-up done (补学完成) when the key points were read and the quiz was passed; True if it was."""
    now = now or utcnow()
    status = needs_makeup(member, lecture, now)
    if status is None:
        return False
    read = db.session.scalar(sa.select(KeyPointsRead.id).where(
        KeyPointsRead.lecture_id == lecture.id, KeyPointsRead.user_id == member.id)) is not None
    if not read or lecture.id not in passed_lecture_ids(member.id, [lecture.id]):
        return False
    record = db.session.scalar(sa.select(AttendanceRecord).where(
        AttendanceRecord.lecture_id == lecture.id, AttendanceRecord.user_id == member.id))
    if record is None:
        record = AttendanceRecord(lecture_id=lecture.id, user_id=member.id, venue_id=member.home_venue_id,
                                  status=Status.ABSENT, method=Method.MAKEUP, updated_at=now)
        db.session.add(record)
    record.made_up_at = now
    db.session.add(AttendanceChange(lecture_id=lecture.id, user_id=member.id, changed_by_id=member.id, changed_at=now,
                                    old_status=record.status, new_status=record.status, method=Method.MAKEUP,
                                    reason=_("Make-up study completed")))
    db.session.commit()
    return True


def _on_quiz_submitted(sender, attempt, **extra) -> None:
    if attempt.passed:
        complete_makeup_if_done(db.session.get(User, attempt.user_id), attempt.lecture)


quiz_submitted.connect(_on_quiz_submitted)


def door_lectures(venue_ids: list[int] | None, now: datetime | None = None) -> list[tuple[Lecture, list[LectureVenue]]]:
    """Published lectures held today (organisation's day) or with check-in open now, each with its links to the
    given venues (None: every venue): what a coordinator needs at the door; two queries."""
    now = now or utcnow()
    today = to_local(now).date()
    query = (sa.select(LectureVenue).join(Lecture, Lecture.id == LectureVenue.lecture_id)
             .options(selectinload(LectureVenue.venue), selectinload(LectureVenue.lecture))
             .where(Lecture.published.is_(True), Lecture.starts_at <= now + timedelta(days=1),
                    Lecture.ends_at >= now - timedelta(days=1))
             .order_by(Lecture.starts_at, LectureVenue.venue_id))
    if venue_ids is not None:
        query = query.where(LectureVenue.venue_id.in_(venue_ids))
    by_lecture: dict[int, tuple[Lecture, list[LectureVenue]]] = {}
    for link in db.session.scalars(query):
        lecture = link.lecture
        if to_local(lecture.starts_at).date() == today or window_of(lecture).phase(now) in (Phase.ON_TIME,
                                                                                             Phase.LATE):
            by_lecture.setdefault(lecture.id, (lecture, []))[1].append(link)
    for _lecture, links in by_lecture.values():
        links.sort(key=lambda link: link.venue.position)
    return list(by_lecture.values())


def waiting_leaves(venue_ids: list[int], now: datetime | None = None) -> list[tuple[LeaveRequest, Lecture, int]]:
    """Leave requests still to decide from members of the venues, for lectures not yet over, each with its lecture
    and the id of the lecture-venue roster where it is decided; two queries."""
    now = now or utcnow()
    return [(leave, lecture, link_id) for leave, lecture, link_id in db.session.execute(
        sa.select(LeaveRequest, Lecture, LectureVenue.id)
        .join(User, User.id == LeaveRequest.user_id).join(Lecture, Lecture.id == LeaveRequest.lecture_id)
        .join(LectureVenue, sa.and_(LectureVenue.lecture_id == Lecture.id,
                                    LectureVenue.venue_id == User.home_venue_id))
        .options(selectinload(LeaveRequest.user))
        .where(LeaveRequest.state == LeaveState.PENDING, User.home_venue_id.in_(venue_ids), Lecture.ends_at >= now)
        .order_by(Lecture.starts_at, LeaveRequest.requested_at))]


def open_checkin_lectures(member: User, now: datetime | None = None) -> list[Lecture]:
    """Published lectures at the member's venue whose check-in window is open now."""
    now = now or utcnow()
    if member.home_venue_id is None:
        return []
    # The window reaches at most a day either side of the lecture, so this bounds the rows read.
    candidates = db.session.scalars(
        sa.select(Lecture).join(LectureVenue, LectureVenue.lecture_id == Lecture.id)
        .where(LectureVenue.venue_id == member.home_venue_id, Lecture.published.is_(True),
               Lecture.starts_at <= now + timedelta(days=1), Lecture.ends_at >= now - timedelta(days=1))
        .order_by(Lecture.starts_at))
    return [lec for lec in candidates if window_of(lec).phase(now) in (Phase.ON_TIME, Phase.LATE)]
