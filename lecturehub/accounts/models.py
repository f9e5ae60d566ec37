from __future__ import annotations

import enum
import threading
from datetime import datetime

from flask_login import UserMixin
import sqlalchemy as sa
from sqlalchemy import Boolean, Column, Enum, ForeignKey, Index, String, Table
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from lecturehub.core.timeutil import utcnow
from lecturehub.core.types import UTCDateTime
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

# scrypt needs 32 MiB for each hash it computes. A worker's threads take turns, so a burst of sign-ins
# costs one such buffer per worker instead of one per thread; the CPU is the limit either way.
_HASHING = threading.BoundedSemaphore(1)


def hash_password(password: str) -> str:
    with _HASHING:
        return generate_password_hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    with _HASHING:
        return check_password_hash(password_hash, password)


class Role(str, enum.Enum):
    MEMBER = "member"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


coordinator_venue = Table(
    "coordinator_venue",
    db.metadata,
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    Column("venue_id", ForeignKey("venue.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, db.Model):
    """A person who signs in. Every role is also a party member who may attend lectures."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    member_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=Role.MEMBER,
    )
    # The venue of the member's latest membership (current, or upcoming after a future-dated transfer), for
    # pages about today. Who a lecture expected is decided by `Membership`, never by this column.
    home_venue_id: Mapped[int | None] = mapped_column(ForeignKey("venue.id", ondelete="SET NULL"), index=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    home_venue: Mapped[Venue | None] = relationship()
    coordinated_venues: Mapped[list[Venue]] = relationship(
        secondary=coordinator_venue, order_by=Venue.position
    )
    memberships: Mapped[list[Membership]] = relationship(
        foreign_keys="Membership.user_id", back_populates="user", order_by="Membership.starts_at",
        cascade="all, delete-orphan", passive_deletes=True,
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses sign-in to disabled accounts
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_coordinator(self) -> bool:
        return self.role is Role.COORDINATOR

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        return verify_password(self.password_hash, password)

    def can_manage_venue(self, venue_id: int) -> bool:
        if self.is_admin:
            return True
        return self.is_coordinator and any(v.id == venue_id for v in self.coordinated_venues)

    # The sign-in this request came with; Flask-Login keeps get_id() in the session cookie.
    session_token = None

    def get_id(self) -> str | None:
        """The session's token, not the user's id: the cookie then names a sign-in the server can revoke."""
        return self.session_token

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role.value}>"


class MembershipChange(str, enum.Enum):
    """How a membership period began or ended."""

    JOINED = "joined"
    IMPORTED = "imported"  # joined by a roster import
    TRANSFERRED = "transferred"  # 组织关系转接
    RE_ENABLED = "re_enabled"
    DISABLED = "disabled"
    LEFT = "left"


class Membership(db.Model):
    """A period in which a member belonged to one venue: from `starts_at` until `ends_at` (None: still).

    A lecture expects the members whose membership at one of its venues covers its start, so adding,
    moving or disabling people later leaves the lecture's records as they were. A member's periods
    do not overlap; a transfer ends one period and starts the next at the same moment.
    """

    __tablename__ = "membership"
    __table_args__ = (Index("ix_membership_venue_id_starts_at", "venue_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    began_how: Mapped[MembershipChange] = mapped_column(
        Enum(MembershipChange, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]))
    ended_how: Mapped[MembershipChange | None] = mapped_column(
        Enum(MembershipChange, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]))
    began_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(500), default="")  # why the period began (a transfer's reason)

    user: Mapped[User] = relationship(foreign_keys=[user_id], back_populates="memberships")
    venue: Mapped[Venue] = relationship()
    began_by: Mapped[User | None] = relationship(foreign_keys=[began_by_id])
    ended_by: Mapped[User | None] = relationship(foreign_keys=[ended_by_id])

    @hybrid_method
    def covers(self, moment) -> bool:
        """Whether the member belonged to the venue at `moment` (the start counts, the end does not)."""
        return self.starts_at <= moment and (self.ends_at is None or moment < self.ends_at)

    @covers.expression
    def covers(cls, moment):
        return sa.and_(cls.starts_at <= moment, sa.or_(cls.ends_at.is_(None), cls.ends_at > moment))


class UserSession(db.Model):
    """One signed-in browser. Signing out, a password change, a reset or disabling the account deletes
    the row, and a cookie naming a deleted row no longer signs anyone in, on any node."""

    __tablename__ = "user_session"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
