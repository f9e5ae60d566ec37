"""Who each lecture expects (dated memberships), a venue's roster and counts, coordinators' marks and paper sign-in sheets."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from lecturehub.accounts.models import Membership, User
from lecturehub.accounts.services import member_key, members_by_key, normalise_member_no
from lecturehub.audit import services as audit
from lecturehub.core.errors import UserError
from lecturehub.core.spreadsheets import TableError, cell_text, find_header, read_rows
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.models import Lecture, LectureVenue
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from .checkin import CorrectionError, Phase, _correction_needed, _log_change, window_of
from .models import (
    AttendanceChange,
    AttendanceRecord,
    LeaveRequest,
    Method,
    Status,
)

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


def count_expected_members(sender, lectures: list[tuple[datetime, list[str] | None]], **extra) -> int:
    """How many distinct members lectures starting at these times at these venues (None: all) would expect."""
    members: set[int] = set()
    for starts_at, venue_codes in lectures:
        query = sa.select(Membership.user_id).where(Membership.covers(starts_at))
        if venue_codes is not None:
            query = query.join(Venue, Venue.id == Membership.venue_id).where(Venue.code.in_(venue_codes))
        members.update(db.session.scalars(query))
    return len(members)



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
    db.session.flush()
    return record


def changes_for(lecture_id: int, user_ids: list[int], limit: int = 50) -> list[AttendanceChange]:
    return list(db.session.scalars(
        sa.select(AttendanceChange).where(AttendanceChange.lecture_id == lecture_id,
                                          AttendanceChange.user_id.in_(user_ids))
        .order_by(AttendanceChange.changed_at.desc(), AttendanceChange.id.desc()).limit(limit)))


class SheetError(UserError):
    """The sign-in sheet cannot be entered; every problem found, by row."""

    def __init__(self, problems: list[str]):
        super().__init__(problems=problems)


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
    db.session.flush()
    return marked, already
