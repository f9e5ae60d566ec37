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
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from lecturehub.accounts.models import Membership, User
from lecturehub.accounts.services import member_key, members_by_key, normalise_member_no
from lecturehub.audit import services as audit
from lecturehub.audit.changes import record_changes
from lecturehub.core.spreadsheets import TableError, cell_text, find_header, read_rows
from lecturehub.core.timeutil import to_local, utcnow
from lecturehub.courses.archive import counting_expected_members
from lecturehub.courses.models import Lecture, LectureVenue
from lecturehub.extensions import db
from lecturehub.quizzes.models import Question
from lecturehub.quizzes.services import passed_lecture_ids, quiz_submitted
from lecturehub.venues.models import Venue

from . import codes
from .models import (
    AttendanceChange,
    AttendanceRecord,
    DeviceToken,
    KeyPointsRead,
    LeaveRequest,
    LeaveState,
    Method,
    Status,
    UsedScan,
    VenueFiling,
)

audit.register_value_words("status", {
    Status.PRESENT.value: _l("Present"), Status.LATE.value: _l("Late"), Status.EXCUSED.value: _l("Excused"),
    Status.ABSENT.value: _l("Absent")})


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


def describe_checkin_settings(lecture: Lecture) -> dict:
    """The check-in settings form's fields as labelled words, for the audit of an edit."""
    return {"checkin_opens_minutes": (_l("Check-in opens (minutes before the start)"), lecture.checkin_opens_minutes),
            "checkin_grace_minutes": (_l("On time until (minutes after the start)"), lecture.checkin_grace_minutes),
            "checkin_closes_minutes": (_l("Check-in closes (minutes after the end)"), lecture.checkin_closes_minutes)}


def save_checkin_settings(lecture: Lecture, *, opens_minutes: int, grace_minutes: int, closes_minutes: int) -> None:
    """Change the lecture's check-in window; each changed setting is audited, an unchanged save not at all."""
    before = describe_checkin_settings(lecture)
    lecture.checkin_opens_minutes, lecture.checkin_grace_minutes = opens_minutes, grace_minutes
    lecture.checkin_closes_minutes = closes_minutes
    record_changes("attendance.settings_saved", f"lecture:{lecture.id}", before, describe_checkin_settings(lecture))
    db.session.flush()


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
    if lecture.archive:
        raise CheckinError("archive", _("This is an archive lecture: no attendance is taken."))
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
             by: User | None = None, scanned_at: datetime | None = None,
             device: DeviceToken | None = None) -> CheckinResult:
    """Record that `user` arrived at `venue_id`: on time or late by the clock, and commit."""
    result = record_check_in(user, lecture, venue_id, method, now, by, scanned_at, device)
    _commit_keeping_loaded()
    return result


def record_check_in(user: User, lecture: Lecture, venue_id: int, method: Method, now: datetime | None = None,
                    by: User | None = None, scanned_at: datetime | None = None,
                    device: DeviceToken | None = None) -> CheckinResult:
    """Record an arrival without committing: on time or late by `scanned_at` (default: now).

    A scan queued on a device while offline counts by the time it was scanned, however late it
    arrives; `updated_at` still says when the server learnt of it, so rosters fetched "since" a
    version see it. A second check-in changes nothing. A member who was marked excused or absent
    and then arrives is recorded as arrived. Raises CheckinError when the window is not open at
    the scan time.
    """
    now = now or utcnow()
    arrived_at = scanned_at or now
    phase = _open_phase(lecture, arrived_at)
    status = Status.PRESENT if phase is Phase.ON_TIME else Status.LATE
    device_id = device.id if device is not None else None
    values = dict(lecture_id=lecture.id, user_id=user.id, venue_id=venue_id, status=status, method=method,
                  checked_in_at=arrived_at, reason="", updated_at=now, device_id=device_id)
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
        record.status, record.venue_id, record.method, record.checked_in_at = status, venue_id, method, arrived_at
        record.device_id, record.updated_at = device_id, now
        created = True
    elif created and by is not None:
        _log_change(record, status, method, by, now, "", old_status=None)
    if created and by is not None:
        audit.record("attendance.desk_check_in", f"lecture:{lecture.id}", actor=by, member=user.member_no,
                     status=status.value)
    db.session.flush()
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


# How long a member has, after scanning a venue's QR code, to confirm (for example after signing in).
SCAN_PROOF_LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True)
class ScanProof:
    """That a browser opened a venue's QR link at `scanned_at` while its code was valid (see attendance.scans)."""

    lecture_id: int
    venue_id: int
    scanned_at: datetime
    nonce: str


def _claim_scan(nonce: str, now: datetime) -> bool:
    """Record the proof's nonce as used; False when it already was. The primary key decides, on any node."""
    db.session.execute(sa.delete(UsedScan).where(UsedScan.used_at < now - 2 * SCAN_PROOF_LIFETIME))
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(UsedScan)
    statement = (insert.values(nonce=nonce, used_at=now).on_conflict_do_nothing(index_elements=["nonce"])
                 .returning(UsedScan.nonce))
    return db.session.scalar(statement) is not None


def check_in_with_scan(user: User, lecture: Lecture, venue_id: int, proof: ScanProof, method: Method,
                       now: datetime | None = None) -> CheckinResult:
    """Check in with the proof of an earlier scan: on time or late by the scan's time, within
    SCAN_PROOF_LIFETIME of it, and only once."""
    now = now or utcnow()
    if proof.lecture_id != lecture.id or proof.venue_id != venue_id:
        raise CheckinError("scan_venue", _("Your scan was of another venue's QR code. Scan the code on the screen "
                                           "where you are."))
    if not proof.scanned_at <= now <= proof.scanned_at + SCAN_PROOF_LIFETIME:
        raise CheckinError("scan_expired", _("Your scan of the QR code is more than 10 minutes old. Scan the code "
                                             "on the screen again."))
    if not _claim_scan(proof.nonce, now):
        raise CheckinError("scan_used", _("This scan has already been used to check in. Scan the code on the "
                                          "screen again."))
    return check_in(user, lecture, venue_id, method, now=proof.scanned_at)


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
                reason: str, old_status: Status | None | bool = False, correction: bool = False) -> None:
    db.session.add(AttendanceChange(
        lecture_id=record.lecture_id, user_id=record.user_id, changed_by_id=by.id if by else None, changed_at=now,
        old_status=record.status if old_status is False else old_status, new_status=new_status, method=method,
        reason=reason, correction=correction,
    ))


class CorrectionError(ValueError):
    """A change to a filed record came without the reason a correction needs."""


def filed_venue_ids(lecture_id: int, venue_ids) -> set[int]:
    """Those of `venue_ids` whose record of the lecture has been filed at least once (frozen)."""
    wanted = {v for v in venue_ids if v is not None}
    if not wanted:
        return set()
    return set(db.session.scalars(sa.select(VenueFiling.venue_id).where(
        VenueFiling.lecture_id == lecture_id, VenueFiling.venue_id.in_(wanted))))


def _correction_needed(lecture: Lecture, venue_ids, reason: str) -> bool:
    """Whether a change touches a filed record; a correction without a reason is refused."""
    if not filed_venue_ids(lecture.id, venue_ids):
        return False
    if not reason.strip():
        raise CorrectionError(_("This record has been filed: give the reason for the correction."))
    return True


# --- who is expected, and the roster --------------------------------------------------------------

def expected_memberships() -> sa.Select:
    """(lecture_id, user_id, venue_id) for every member each lecture expects (应到): the members whose
    membership of one of the lecture's venues covers its start. Archive lectures expect no one.

    Later joins, transfers and departures begin or end memberships after the start, so they never
    change whom a lecture expected. Callers narrow it with .where() on Lecture, Membership or LectureVenue.
    """
    return (sa.select(Lecture.id.label("lecture_id"), Membership.user_id, Membership.venue_id)
            .join(LectureVenue, LectureVenue.lecture_id == Lecture.id)
            .join(Membership, sa.and_(Membership.venue_id == LectureVenue.venue_id,
                                      Membership.covers(Lecture.starts_at)))
            .where(Lecture.archive.is_(False)))


def expected_members_query(lecture_id: int, venue_ids: list[int] | None = None) -> sa.Select:
    """The users the lecture expects (optionally only at some venues); `Membership.venue_id` is in the FROM
    clause, so callers may add it as a column: the venue at which each was expected."""
    query = (sa.select(User).join(Membership, Membership.user_id == User.id)
             .join(LectureVenue, LectureVenue.venue_id == Membership.venue_id)
             .join(Lecture, Lecture.id == LectureVenue.lecture_id)
             .where(Lecture.id == lecture_id, Lecture.archive.is_(False), Membership.covers(Lecture.starts_at)))
    if venue_ids is not None:
        query = query.where(Membership.venue_id.in_(venue_ids))
    return query


def _count_expected_members(sender, lectures: list[tuple[datetime, list[str] | None]], **extra) -> int:
    """How many distinct members lectures starting at these times at these venues (None: all) would expect."""
    members: set[int] = set()
    for starts_at, venue_codes in lectures:
        query = sa.select(Membership.user_id).where(Membership.covers(starts_at))
        if venue_codes is not None:
            query = query.join(Venue, Venue.id == Membership.venue_id).where(Venue.code.in_(venue_codes))
        members.update(db.session.scalars(query))
    return len(members)


counting_expected_members.connect(_count_expected_members)


def expected_venue_id(member: User, lecture: Lecture) -> int | None:
    """The venue at which the lecture expected the member, or None when it did not expect them."""
    return db.session.scalar(expected_members_query(lecture.id).where(User.id == member.id)
                             .with_only_columns(Membership.venue_id))


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
        expected_members_query(lecture.id, venue_ids)
        .with_only_columns(Membership.venue_id, sa.func.count(User.id)).group_by(Membership.venue_id)).all())
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
    phase = window_of(lecture).phase(now)
    old_status = effective_status(record, phase)
    if record is not None and record.status is status and record.reason == reason:
        return record  # nothing changes, so nothing is logged
    correction = old_status is not status and _correction_needed(
        lecture, {expected_venue_id(member, lecture), venue_id, record.venue_id if record else None}, reason)
    if record is None:
        record = AttendanceRecord(lecture_id=lecture.id, user_id=member.id, venue_id=venue_id, status=status,
                                  method=Method.ROSTER, reason=reason, updated_at=now,
                                  checked_in_at=now if status in (Status.PRESENT, Status.LATE) else None)
        db.session.add(record)
        _log_change(record, status, Method.ROSTER, by, now, reason, old_status=old_status, correction=correction)
    else:
        _log_change(record, status, Method.ROSTER, by, now, reason, correction=correction)
        record.status, record.reason, record.method = status, reason, Method.ROSTER
        if status in (Status.PRESENT, Status.LATE):
            record.checked_in_at = record.checked_in_at or now
            record.venue_id = record.venue_id or venue_id
    audit.record("attendance.corrected" if correction else "attendance.status_set", f"lecture:{lecture.id}",
                 actor=by, member=member.member_no,
                 status=f"{old_status.value} → {status.value}" if correction and old_status else status.value,
                 reason=reason)
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


# The member-number column of a sheet, found by its header (the printed 签到表 has 序号, 编号, 姓名, 签名, 时间).
SHEET_HEADER_WORDS = dict.fromkeys(("编号", "党员编号", "工号", "人员编号", "member_no", "membernumber", "number"),
                                   "member_no")


def _check_sheet_allowed(lecture: Lecture, now: datetime) -> None:
    if not (lecture.published and lecture.course.published):
        raise SheetError([_("This lecture is not published; sign-in sheets can be entered only for published "
                            "lectures.")])
    if window_of(lecture).phase(now) is Phase.NOT_OPEN:
        raise SheetError([_("Check-in for this lecture has not opened yet; enter the sheet after the lecture "
                            "has begun.")])


def _sheet_member_numbers(filename: str, data: bytes) -> list[tuple[int, str]]:
    """(row number, member number) of each filled row, from the column headed 编号 or else the first column."""
    try:
        rows = read_rows(filename, data)
    except TableError as exc:
        raise SheetError([str(exc)]) from exc
    header = find_header(rows, SHEET_HEADER_WORDS, {"member_no"})
    first_row, column = (header[0] + 1, header[1]["member_no"]) if header else (0, 0)
    entries: list[tuple[int, str]] = []
    for number, row in enumerate(rows[first_row:], start=first_row + 1):
        value = normalise_member_no(cell_text(row, column))
        if value:
            entries.append((number, value))
    if not entries:
        raise SheetError([_("The sheet lists no member numbers.")])
    return entries


def _check_sheet_entries(entries: list[tuple[int, str]], users: dict, on_roster: set[int], venue: Venue) -> None:
    """Every row names an active member on the venue's roster, once; otherwise SheetError with every problem."""
    problems, seen = [], {}
    for number, value in entries:
        user = users.get(member_key(value))
        if user is None:
            problems.append(_("Row %(row)s: no active member has the number %(no)s.", row=number, no=value))
        elif user.id not in on_roster:
            problems.append(_("Row %(row)s: %(name)s (%(no)s) is not expected at %(venue)s for this lecture; "
                              "their own venue enters them.", row=number, name=user.name, no=user.member_no,
                              venue=venue.name))
        elif user.id in seen:
            problems.append(_("Row %(row)s: %(no)s already appears in row %(first)s.", row=number, no=value,
                              first=seen[user.id]))
        else:
            seen[user.id] = number
    if problems:
        raise SheetError(problems)


def import_sheet(lecture: Lecture, venue: Venue, filename: str, data: bytes, by: User,
                 now: datetime | None = None, correction_reason: str = "") -> tuple[int, int]:
    """Enter a paper sign-in sheet: the members it lists are marked present at `venue`.

    The member numbers are read from the column headed 编号 (or the first column of a sheet without a
    header). A sheet may mark only whom the venue's roster may: members expected at this venue for this
    lecture (and visitors already recorded here), for a published lecture whose check-in has opened.
    All rows are checked first; on any problem nothing is written. Returns (marked, already present).
    A sheet that changes a filed record is a correction and needs `correction_reason`.
    """
    now = now or utcnow()
    _check_sheet_allowed(lecture, now)
    entries = _sheet_member_numbers(filename, data)
    users = members_by_key([v for _n, v in entries])
    _check_sheet_entries(entries, users, {row.user.id for row in venue_roster(lecture, venue, now).rows}, venue)
    listed = [users[member_key(value)] for _number, value in entries]
    records = {r.user_id: r for r in db.session.scalars(sa.select(AttendanceRecord).where(
        AttendanceRecord.lecture_id == lecture.id, AttendanceRecord.user_id.in_([u.id for u in listed])))}
    marked = already = 0
    to_mark = [u for u in listed
               if records.get(u.id) is None or records[u.id].status not in (Status.PRESENT, Status.LATE)]
    try:
        correction = bool(to_mark) and _correction_needed(
            lecture, {venue.id} | {expected_venue_id(u, lecture) for u in to_mark}, correction_reason)
    except CorrectionError as exc:
        raise SheetError([str(exc)]) from exc
    reason = _("Paper sign-in sheet") + (f": {correction_reason.strip()}" if correction else "")
    absent_before = Status.ABSENT if window_of(lecture).phase(now) is Phase.CLOSED else None
    for user in listed:
        record = records.get(user.id)
        if record is not None and record.status in (Status.PRESENT, Status.LATE):
            already += 1
            continue
        if record is None:
            record = AttendanceRecord(lecture_id=lecture.id, user_id=user.id, venue_id=venue.id,
                                      status=Status.PRESENT, method=Method.SHEET, reason=reason, updated_at=now)
            db.session.add(record)
            _log_change(record, Status.PRESENT, Method.SHEET, by, now, reason, old_status=absent_before,
                        correction=correction)
        else:
            _log_change(record, Status.PRESENT, Method.SHEET, by, now, reason, correction=correction)
            record.status, record.method, record.venue_id, record.reason = Status.PRESENT, Method.SHEET, venue.id, reason
        marked += 1
    details = {"reason": correction_reason.strip()} if correction else {}
    audit.record("attendance.corrected" if correction else "attendance.sheet_imported", f"lecture:{lecture.id}",
                 actor=by, venue=venue.code, file=filename, marked=marked, already=already, **details)
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
    if expected_venue_id(member, lecture) is None:
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
        lecture = db.session.get(Lecture, leave.lecture_id)
        record = db.session.scalar(sa.select(AttendanceRecord).where(
            AttendanceRecord.lecture_id == leave.lecture_id, AttendanceRecord.user_id == leave.user_id))
        # Approved after the venue filed its record (a late decision): the member's absence becomes leave on a
        # filed record, so it shows there as a correction, the leave reason being its reason.
        correction = (record is None or record.status is Status.ABSENT) and bool(
            filed_venue_ids(leave.lecture_id, {expected_venue_id(leave.user, lecture)}))
        if record is None:
            record = AttendanceRecord(lecture_id=leave.lecture_id, user_id=leave.user_id,
                                      venue_id=expected_venue_id(leave.user, lecture),
                                      status=Status.EXCUSED, method=Method.LEAVE,
                                      reason=leave.reason, updated_at=now)
            db.session.add(record)
            _log_change(record, Status.EXCUSED, Method.LEAVE, by, now, leave.reason,
                        old_status=Status.ABSENT if correction else None, correction=correction)
        elif record.status is Status.ABSENT:
            _log_change(record, Status.EXCUSED, Method.LEAVE, by, now, leave.reason, correction=correction)
            record.status, record.method, record.reason = Status.EXCUSED, Method.LEAVE, leave.reason
    audit.record("leave.approved" if approve else "leave.refused", f"lecture:{leave.lecture_id}", actor=by,
                 member=leave.user.member_no, reason=leave.reason, note=note)
    db.session.commit()


def pending_leaves(lecture_id: int, venue_ids: list[int]) -> list[LeaveRequest]:
    expected_there = expected_members_query(lecture_id, venue_ids).with_only_columns(User.id)
    return list(db.session.scalars(
        sa.select(LeaveRequest)
        .where(LeaveRequest.lecture_id == lecture_id, LeaveRequest.state == LeaveState.PENDING,
               LeaveRequest.user_id.in_(expected_there))
        .order_by(LeaveRequest.requested_at)))


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
    db.session.commit()
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
