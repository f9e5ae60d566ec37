"""Check-in: the window of a lecture, a member's arrival by QR, code, scan or desk, and corrections of filed records."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import make_transient_to_detached, selectinload

from lecturehub.accounts.models import User
from lecturehub.audit import services as audit
from lecturehub.audit.changes import record_changes
from lecturehub.core.errors import UserError
from lecturehub.core.timeutil import to_local, utcnow
from lecturehub.courses.models import Lecture, LectureVenue
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from . import codes
from .models import (
    AttendanceChange,
    AttendanceRecord,
    DeviceToken,
    Method,
    Status,
    UsedScan,
    VenueFiling,
    mark_for_tally,
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


class CheckinError(UserError):
    """Check-in refused; `message` is for the member or coordinator, `reason` decides the status code."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


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


def _record_insert(dialect) -> sa.Insert:
    table = AttendanceRecord.__table__
    # RETURNING, not rowcount: psycopg reports -1 for ON CONFLICT DO NOTHING.
    return (dialect.insert(table).on_conflict_do_nothing(index_elements=["lecture_id", "user_id"])
            .returning(table.c.id))


# Built once and run as Core: the ORM's INSERT .. RETURNING of the whole entity cost a fifth of a check-in's time
# in the view (building the statement's values, its cache key, loading the returned row).
_INSERT_RECORD = {"postgresql": _record_insert(postgresql), "sqlite": _record_insert(sqlite)}


def _insert_ignoring_duplicate(values: dict) -> AttendanceRecord | None:
    """Insert a record unless the member already has one; the new record when this call wrote it, else None.

    The unique constraint decides, so two simultaneous check-ins by the same member cannot
    both win, on SQLite and PostgreSQL alike. The new row is what `values` says (every column but its
    id, which RETURNING gives), so it is not read back: the record is made from them and joins the
    session as a loaded row would.
    """
    statement = _INSERT_RECORD[db.session.get_bind().dialect.name]
    new_id = db.session.execute(statement, values).scalar_one_or_none()
    if new_id is None:
        return None
    # Times as the column gives them back (UTC), whatever zone they were passed in (a kiosk's scan time).
    loaded = {name: value.astimezone(timezone.utc) if isinstance(value, datetime) else value
              for name, value in values.items()}
    record = AttendanceRecord(id=new_id, made_up_at=None, **loaded)
    make_transient_to_detached(record)
    db.session.add(record)
    return record


def check_in(user: User, lecture: Lecture, venue_id: int, method: Method, now: datetime | None = None,
             by: User | None = None, scanned_at: datetime | None = None,
             device: DeviceToken | None = None) -> CheckinResult:
    """Record that `user` arrived at `venue_id`: on time or late by the clock.

    The request commits after its answer is rendered, so the record, member and lecture shown in it are
    never read again after the commit (that used to cost three statements on the busiest path).
    """
    return record_check_in(user, lecture, venue_id, method, now, by, scanned_at, device)


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
    if created:
        mark_for_tally(lecture, user.id)  # a core INSERT: the session's change lists do not show it
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


def arrival_of(member: User, lecture: Lecture) -> AttendanceRecord | None:
    """The member's record for the lecture if they have arrived (on time or late), else None."""
    return db.session.scalar(sa.select(AttendanceRecord).where(
        AttendanceRecord.lecture_id == lecture.id, AttendanceRecord.user_id == member.id,
        AttendanceRecord.status.in_([Status.PRESENT, Status.LATE])))


def check_in_with_code(user: User, lecture: Lecture, venue_id: int, code: str, method: Method,
                       now: datetime | None = None) -> CheckinResult:
    """A member's own check-in with the code from a venue screen (scanned or typed)."""
    if not venue_takes_part(lecture.id, venue_id):
        raise CheckinError("venue", _("This venue does not take part in the lecture."))
    return _check_in_with_code(user, lecture, venue_id, code, method, now or utcnow())


def check_in_at_link(user: User, lecture: Lecture, link: LectureVenue, code: str, method: Method,
                     now: datetime | None = None) -> CheckinResult:
    """`check_in_with_code` at the venue of `link`, the lecture's own link to it (the scanned QR code's): the
    link is the proof that the venue takes part, so it costs no query."""
    if link.lecture_id != lecture.id:
        raise CheckinError("venue", _("This venue does not take part in the lecture."))
    return _check_in_with_code(user, lecture, link.venue_id, code, method, now or utcnow())


def _check_in_with_code(user: User, lecture: Lecture, venue_id: int, code: str, method: Method,
                        now: datetime) -> CheckinResult:
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
    return venue_showing(lecture, code, now)[0]


# Every typed code reads the lecture's venues; their names come along, for the answer page (which then
# needs no statement of its own for the venue).
_VENUES_OF_LECTURE = (sa.select(LectureVenue.venue_id, Venue.name).join(Venue, Venue.id == LectureVenue.venue_id)
                      .where(LectureVenue.lecture_id == sa.bindparam("lecture_id")))


def venue_showing(lecture: Lecture, code: str, now: datetime | None = None) -> tuple[int, str]:
    """`venue_for_code` with the venue's name: (id, name)."""
    now = now or utcnow()
    _open_phase(lecture, now)
    names = dict(db.session.execute(_VENUES_OF_LECTURE, {"lecture_id": lecture.id}).all())
    venue_id = codes.first_showing(lecture.id, names, code, now)
    if venue_id is not None:
        return venue_id, names[venue_id]
    raise CheckinError("code", _("The check-in code is wrong or has expired. Use the code on the screen now."))


def _log_change(record: AttendanceRecord, new_status: Status, method: Method, by: User | None, now: datetime,
                reason: str, old_status: Status | None | bool = False, correction: bool = False) -> None:
    db.session.add(AttendanceChange(
        lecture_id=record.lecture_id, user_id=record.user_id, changed_by_id=by.id if by else None, changed_at=now,
        old_status=record.status if old_status is False else old_status, new_status=new_status, method=method,
        reason=reason, correction=correction,
    ))


class CorrectionError(UserError):
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
