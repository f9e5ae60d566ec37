"""Device tokens, and check-in scans sent by kiosks and desks, on top of the attendance rules.

Functions flush; the view commits once at the end of the request.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite

from lecturehub.accounts.models import User
from lecturehub.attendance import services as attendance
from lecturehub.attendance.models import AttendanceRecord, CheckinScan, DeviceToken, Method, Status
from lecturehub.attendance.routes import MEMBER_CARD_PREFIX, find_member
from lecturehub.audit import services as audit
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.models import Lecture, LectureVenue
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

TOKEN_PREFIX = "lhd_"
# Writing "last used" on every call would turn each roster read into a write; a minute is precise enough.
LAST_USED_PRECISION = timedelta(minutes=1)
# A device clock a little ahead of the server's is normal; a scan further in the future is refused.
CLOCK_SKEW = timedelta(minutes=2)
# Queued scans are accepted this long after the window closed; later, the lecture's record is settled.
SEND_GRACE = timedelta(hours=12)
# Rosters fetched "since" a version overlap it by this much: a check-in whose transaction committed
# after a later one would otherwise fall between two fetches. Devices apply rows as upserts.
ROSTER_OVERLAP = timedelta(seconds=60)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_device_token(venue: Venue, name: str, by: User) -> tuple[DeviceToken, str]:
    """A new token for the venue; returns the row and the token itself, which is never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    device = DeviceToken(venue_id=venue.id, name=name, token_hash=hash_token(token), created_by_id=by.id)
    db.session.add(device)
    db.session.flush()
    audit.record("device.created", f"venue:{venue.id}", actor=by, venue=venue.code, device=name)
    return device, token


def revoke_device_token(device: DeviceToken, by: User, now: datetime | None = None) -> None:
    """The token stops working at once; its check-ins keep naming it."""
    if device.revoked_at is None:
        device.revoked_at = now or utcnow()
        audit.record("device.revoked", f"venue:{device.venue_id}", actor=by, device=device.name)
    db.session.flush()


def device_tokens(venue_id: int) -> list[DeviceToken]:
    return list(db.session.scalars(sa.select(DeviceToken).where(DeviceToken.venue_id == venue_id)
                                   .order_by(DeviceToken.revoked_at.is_not(None), DeviceToken.created_at.desc())))


class TokenRefused(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def authenticate_device(token: str, now: datetime | None = None) -> DeviceToken:
    """The device a bearer token belongs to; raises TokenRefused (invalid_token, token_revoked)."""
    now = now or utcnow()
    device = db.session.scalar(sa.select(DeviceToken).where(DeviceToken.token_hash == hash_token(token)))
    if device is None:
        raise TokenRefused("invalid_token")
    if device.revoked_at is not None:
        raise TokenRefused("token_revoked")
    if device.last_used_at is None or now - device.last_used_at >= LAST_USED_PRECISION:
        device.last_used_at = now
    return device


def lectures_today(venue_id: int, now: datetime | None = None) -> list[Lecture]:
    """Published lectures at the venue whose check-in window is open now or opens within a day."""
    now = now or utcnow()
    candidates = db.session.scalars(
        sa.select(Lecture).join(LectureVenue, LectureVenue.lecture_id == Lecture.id)
        .where(LectureVenue.venue_id == venue_id, Lecture.published.is_(True),
               Lecture.starts_at <= now + timedelta(days=1), Lecture.ends_at >= now - timedelta(days=1))
        .order_by(Lecture.starts_at))
    return [lec for lec in candidates if attendance.window_of(lec).phase(now) is not attendance.Phase.CLOSED]


def version_of(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


@dataclass
class RosterSnapshot:
    version: int
    complete: bool
    rows: list[attendance.RosterRow]


def roster_snapshot(lecture: Lecture, venue: Venue, since: int | None = None,
                    now: datetime | None = None) -> RosterSnapshot:
    """The venue roster, or with `since` only the rows whose record changed after that version.

    The version is the server's clock when the snapshot was taken, in microseconds.
    """
    now = now or utcnow()
    roster = attendance.venue_roster(lecture, venue, now)
    if since is None:
        return RosterSnapshot(version_of(now), True, roster.rows)
    threshold = since - int(ROSTER_OVERLAP.total_seconds() * 1_000_000)
    rows = [row for row in roster.rows if row.record is not None and version_of(row.record.updated_at) > threshold]
    return RosterSnapshot(version_of(now), False, rows)


# --- scans ----------------------------------------------------------------------------------------

REFUSALS = {
    "unknown_member": lambda: _("No active member has this number."),
    "not_open": lambda: _("Check-in for this lecture has not opened yet."),
    "closed": lambda: _("Check-in for this lecture has closed."),
    "scanned_in_future": lambda: _("The scan time lies in the future; check the device's clock."),
    "too_late_to_send": lambda: _("This scan was sent too long after check-in closed."),
    "filed": lambda: _("The venue's record of this lecture has been filed; correct it on the roster, with a reason."),
}


def answer_message(answer: dict) -> str:
    """The answer's message in the current request's language (answers are stored without one)."""
    outcome, name = answer["outcome"], answer.get("name") or ""
    if outcome == "checked_in":
        return _("%(name)s checked in: %(status)s", name=name, status=status_text(answer["status"]))
    if outcome == "already_checked_in":
        return _("%(name)s had already checked in; nothing changed.", name=name)
    if outcome == "checked_in_elsewhere":
        return _("%(name)s had already checked in at another venue; nothing changed.", name=name)
    return REFUSALS.get(answer.get("code"), REFUSALS["unknown_member"])()


def status_text(status: str | None) -> str:
    return {"present": _("Present"), "late": _("Late"), "excused": _("Excused"),
            "absent": _("Absent")}.get(status or "", "")


def member_key(text: str) -> str:
    """The member number a scan names, typed or read from a card, for ordering scans by member."""
    value = text.strip().upper()
    return value.removeprefix(MEMBER_CARD_PREFIX)


@dataclass
class ScanInput:
    member: str
    scanned_at: datetime
    nonce: str


def submit_scan(lecture: Lecture, venue: Venue, scan: ScanInput, device: DeviceToken | None = None,
                by: User | None = None, now: datetime | None = None) -> tuple[dict, bool]:
    """Check a member in from a device's scan, once per nonce; returns (answer, replayed).

    The nonce is claimed first, by inserting its row under a unique constraint: a second request
    with the same nonce waits for the first to commit, then finds its row and returns its answer.
    """
    now = now or utcnow()
    scanned_at = scan.scanned_at.astimezone(now.tzinfo)
    claimed = _claim_nonce(dict(venue_id=venue.id, lecture_id=lecture.id, nonce=scan.nonce, member=scan.member[:64],
                                scanned_at=scanned_at, received_at=now, device_id=device.id if device else None,
                                sent_by_id=by.id if by else None, outcome="pending", answer={}))
    if claimed is None:
        earlier = db.session.scalar(sa.select(CheckinScan).where(CheckinScan.venue_id == venue.id,
                                                                 CheckinScan.nonce == scan.nonce))
        return dict(earlier.answer), True
    answer = _check_in_scan(lecture, venue, scan.member, scanned_at, device, by, now)
    answer["nonce"] = scan.nonce
    claimed.outcome, claimed.answer = answer["outcome"], answer
    db.session.flush()
    return answer, False


def _claim_nonce(values: dict) -> CheckinScan | None:
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(CheckinScan)
    statement = (insert.values(**values).on_conflict_do_nothing(index_elements=["venue_id", "nonce"])
                 .returning(CheckinScan))
    return db.session.scalars(statement).one_or_none()


def _check_in_scan(lecture: Lecture, venue: Venue, text: str, scanned_at: datetime, device: DeviceToken | None,
                   by: User | None, now: datetime) -> dict:
    member = find_member(text)
    answer = {"outcome": "refused", "code": None, "member_no": member.member_no if member else None,
              "name": member.name if member else None, "status": None, "checked_in_at": None,
              "checked_in_venue_id": None}
    window = attendance.window_of(lecture)
    if scanned_at > now + CLOCK_SKEW:
        return {**answer, "code": "scanned_in_future"}
    if now > window.closes_at + SEND_GRACE:
        return {**answer, "code": "too_late_to_send"}
    if member is None:
        return {**answer, "code": "unknown_member"}
    # A queue sent after the coordinator filed would change a frozen record silently; a filed record changes
    # only as a correction, with a reason, on the roster.
    if now > window.closes_at and attendance.filed_venue_ids(
            lecture.id, {venue.id, attendance.expected_venue_id(member, lecture)}):
        return {**answer, "code": "filed"}
    try:
        result = attendance.record_check_in(member, lecture, venue.id, Method.DEVICE if device else Method.DESK,
                                            now=now, by=by, scanned_at=min(scanned_at, now), device=device)
    except attendance.CheckinError as error:
        return {**answer, "code": error.reason}
    record: AttendanceRecord = result.record
    if result.created:
        outcome = "checked_in"
        if device is not None:
            audit.record("attendance.device_check_in", f"lecture:{lecture.id}", member=member.member_no,
                         status=record.status.value, device=device.name, venue=venue.code)
    elif record.status in (Status.PRESENT, Status.LATE) and record.venue_id != venue.id:
        outcome = "checked_in_elsewhere"
    else:
        outcome = "already_checked_in"
    return {**answer, "outcome": outcome, "status": record.status.value,
            "checked_in_at": record.checked_in_at.isoformat() if record.checked_in_at else None,
            "checked_in_venue_id": record.venue_id}
