from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lecturehub.accounts.models import User
from lecturehub.core.timeutil import utcnow
from lecturehub.core.types import UTCDateTime
from lecturehub.extensions import db
from lecturehub.venues.models import Venue


def _enum(enum_cls):
    return Enum(enum_cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class Status(str, enum.Enum):
    PRESENT = "present"
    LATE = "late"
    EXCUSED = "excused"
    ABSENT = "absent"


class Method(str, enum.Enum):
    """How a record came to be; kept for the coordinator's roster and for audits."""

    QR = "qr"
    CODE = "code"
    DESK = "desk"
    ROSTER = "roster"
    SHEET = "sheet"
    LEAVE = "leave"
    MAKEUP = "makeup"


class LeaveState(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


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
    status: Mapped[Status] = mapped_column(_enum(Status))
    method: Mapped[Method] = mapped_column(_enum(Method))
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(500), default="")
    made_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

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
    old_status: Mapped[Status | None] = mapped_column(_enum(Status))
    new_status: Mapped[Status] = mapped_column(_enum(Status))
    method: Mapped[Method] = mapped_column(_enum(Method))
    reason: Mapped[str] = mapped_column(String(500), default="")

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
    state: Mapped[LeaveState] = mapped_column(_enum(LeaveState), default=LeaveState.PENDING)
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


class UsedScan(db.Model):
    """A scan proof that has been used to check in (see attendance.scans).

    The proof travels in the browser's signed session cookie, which the server cannot take back; this row
    is what makes a copy of that cookie worthless once the proof has been used. Rows older than a proof's
    life are cleared as new ones are written.
    """

    __tablename__ = "used_scan"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
