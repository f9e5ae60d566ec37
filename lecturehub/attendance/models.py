from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lecturehub.accounts.models import User
from lecturehub.core.timeutil import utcnow
from lecturehub.core.types import LabelledEnum, UTCDateTime, enum_column
from lecturehub.extensions import db
from lecturehub.venues.models import Venue


class Status(LabelledEnum):
    PRESENT = "present"
    LATE = "late"
    EXCUSED = "excused"
    ABSENT = "absent"

    @classmethod
    def _labels(cls) -> dict:
        # Lazy: a status is shown on every check-in's answer, and only its own word needs translating.
        return {cls.PRESENT: _l("Present"), cls.LATE: _l("Late"), cls.EXCUSED: _l("Excused"), cls.ABSENT: _l("Absent")}


class Method(str, enum.Enum):
    """How a record came to be; kept for the coordinator's roster and for audits."""

    QR = "qr"
    CODE = "code"
    DESK = "desk"
    DEVICE = "device"
    ROSTER = "roster"
    SHEET = "sheet"
    LEAVE = "leave"
    MAKEUP = "makeup"


class LeaveState(LabelledEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"

    @classmethod
    def _labels(cls) -> dict:
        return {cls.PENDING: _("waiting for a decision"), cls.APPROVED: _("approved"), cls.REFUSED: _("refused")}


class AttendanceRecord(db.Model):
    """A member's attendance of one lecture. One row per member and lecture, enforced by the database.

    A member with no row counts as absent once the check-in window has closed; a row is written
    for them only when something happens (a coordinator's mark, a finished make-up).
    """

    __tablename__ = "attendance_record"
    __table_args__ = (
        UniqueConstraint("lecture_id", "user_id"),
        Index("ix_attendance_record_lecture_venue", "lecture_id", "venue_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    # Where the member attended (may differ from the home venue); for absences, the home venue.
    venue_id: Mapped[int | None] = mapped_column(ForeignKey("venue.id", ondelete="SET NULL"))
    status: Mapped[Status] = mapped_column(enum_column(Status))
    method: Mapped[Method] = mapped_column(enum_column(Method))
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(500), default="")
    made_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # The kiosk or desk tablet that checked the member in (None: a phone, a coordinator, a sheet).
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device_token.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship()
    venue: Mapped[Venue | None] = relationship()


class AttendanceChange(db.Model):
    """Every change of a record's status: who, when, from what to what, and why."""

    __tablename__ = "attendance_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    old_status: Mapped[Status | None] = mapped_column(enum_column(Status))
    new_status: Mapped[Status] = mapped_column(enum_column(Status))
    method: Mapped[Method] = mapped_column(enum_column(Method))
    reason: Mapped[str] = mapped_column(String(500), default="")
    # A change made after the venue's record was filed: shown on the record as 更正.
    correction: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa.false())

    changed_by: Mapped[User | None] = relationship(foreign_keys=[changed_by_id])
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class LeaveRequest(db.Model):
    """A member's request, before the lecture, to be excused (请假)."""

    __tablename__ = "leave_request"
    __table_args__ = (UniqueConstraint("lecture_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[LeaveState] = mapped_column(enum_column(LeaveState), default=LeaveState.PENDING)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str] = mapped_column(String(500), default="")

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class KeyPointsRead(db.Model):
    """A member opened a lecture's key points and reached the end (part of make-up study)."""

    __tablename__ = "key_points_read"
    __table_args__ = (UniqueConstraint("lecture_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FilingState(str, enum.Enum):
    FILED = "filed"
    ACKNOWLEDGED = "acknowledged"
    RETURNED = "returned"


class VenueFiling(db.Model):
    """A venue's record of a lecture, filed (报送) by its coordinator and reviewed by an admin.

    No row: a draft. Once a row exists the record has been filed at least once, and every later status
    change of the venue's members is a correction (更正), with a reason, shown on the record.
    """

    __tablename__ = "venue_filing"
    __table_args__ = (UniqueConstraint("lecture_id", "venue_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"), index=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id", ondelete="CASCADE"), index=True)
    state: Mapped[FilingState] = mapped_column(enum_column(FilingState))
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str] = mapped_column(String(1000), default="")

    venue: Mapped[Venue] = relationship()
    filed_by: Mapped[User | None] = relationship(foreign_keys=[filed_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])

    @property
    def is_filed(self) -> bool:
        """Filed and not returned: the record reads as final (acknowledged or waiting for review)."""
        return self.state is not FilingState.RETURNED


class DeviceToken(db.Model):
    """A kiosk's or desk tablet's credential for one venue's check-in.

    Only the SHA-256 of the token is kept: the token itself is shown once, when it is created.
    A revoked token stays listed (its check-ins still name it) but no longer opens the API.
    """

    __tablename__ = "device_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    venue: Mapped[Venue] = relationship()
    created_by: Mapped[User | None] = relationship()


class CheckinScan(db.Model):
    """A scan sent by a kiosk or desk, kept under its client nonce with the answer it got.

    The unique constraint makes a resent scan (a retry, a queue sent twice, two requests at once)
    one check-in: the second finds the first's row and gets the same answer.
    """

    __tablename__ = "checkin_scan"
    __table_args__ = (UniqueConstraint("venue_id", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id", ondelete="CASCADE"))
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"), index=True)
    nonce: Mapped[str] = mapped_column(String(64))
    member: Mapped[str] = mapped_column(String(64))  # as scanned or typed
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device_token.id", ondelete="SET NULL"))
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(32))
    answer: Mapped[dict] = mapped_column(JSON, default=dict)


class UsedScan(db.Model):
    """A scan proof that has been used to check in (see attendance.scans).

    The proof travels in the browser's signed session cookie, which the server cannot take back; this row
    is what makes a copy of that cookie worthless once the proof has been used. Rows older than a proof's
    life are cleared as new ones are written.
    """

    __tablename__ = "used_scan"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


# The session's note of lectures whose tallies the transaction changed (attendance.tallies recounts them).
TALLY_MARKS = "attendance_tally_lectures"


TALLY_LECTURES = "attendance_tally_lecture_objects"


def mark_for_tally(lecture, user_id: int) -> None:
    """Recount this lecture's tally (and the member's hours) at commit: for writes the session's change lists do
    not show (a core INSERT). The lecture is held until then, so the commit finds it without a query (the
    session holds loaded objects only while something else refers to them)."""
    db.session.info.setdefault(TALLY_MARKS, {}).setdefault(lecture.id, set()).add(user_id)
    db.session.info.setdefault(TALLY_LECTURES, {})[lecture.id] = lecture


class LectureTally(db.Model):
    """A finished lecture's figures at one venue, kept so that reports over many lectures need not count every
    record again (the organisation overview over 250,000 records took most of a second to count).

    `expected` counts the members whose membership of the venue covered the lecture's start; the status
    counts are their records (a member with no record is absent once the window has closed, which the reader
    adds). Written by `attendance.tallies` at the commit of any change to the lecture's records, its
    venues or the memberships it counted, for lectures whose check-in window has closed.
    """

    __tablename__ = "lecture_tally"

    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"), primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id", ondelete="CASCADE"), primary_key=True)
    expected: Mapped[int] = mapped_column(default=0)
    present: Mapped[int] = mapped_column(default=0)
    late: Mapped[int] = mapped_column(default=0)
    excused: Mapped[int] = mapped_column(default=0)
    absent: Mapped[int] = mapped_column(default=0)
    made_up: Mapped[int] = mapped_column(default=0)


class MemberHours(db.Model):
    """A member's study hours in a year (in the organisation's zone) from the lectures that have a tally, kept by
    `attendance.tallies` with them, so the study-hours report need not add up every record of the year.

    Late arrivals are kept apart because whether they earn hours is a setting (LATE_EARNS_STUDY_HOURS) that
    may change after the fact: `credited` is present or made up, `late` is late and not made up.
    """

    __tablename__ = "member_hours"

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    credited: Mapped[Decimal] = mapped_column(Numeric(8, 1), default=Decimal("0"))
    late: Mapped[Decimal] = mapped_column(Numeric(8, 1), default=Decimal("0"))
