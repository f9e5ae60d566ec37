from __future__ import annotations

import enum
import threading
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Column, Enum, ForeignKey, Index, String, Table, func
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
    home_venue_id: Mapped[int | None] = mapped_column(ForeignKey("venue.id", ondelete="SET NULL"), index=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    home_venue: Mapped[Venue | None] = relationship()
    coordinated_venues: Mapped[list[Venue]] = relationship(
        secondary=coordinator_venue, order_by=Venue.position
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


# Member numbers are looked up without regard to case (the desk, paper sheets, imports), so the database
# keeps them unique that way too: "M0024" cannot be added beside "m0024". The index also serves the lookups.
Index("uq_user_member_no_lower", func.lower(User.member_no), unique=True)


class UserSession(db.Model):
    """One signed-in browser. Signing out, a password change, a reset or disabling the account deletes
    the row, and a cookie naming a deleted row no longer signs anyone in, on any node."""

    __tablename__ = "user_session"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
