from __future__ import annotations

import enum
import functools
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import sqlalchemy as sa
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import Boolean, Column, ForeignKey, Index, String, Table, false, func
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash

from lecturehub.core.permissions import Role  # noqa: F401  (re-exported: most packages import it from here)
from lecturehub.core.timeutil import utcnow
from lecturehub.core.types import UTCDateTime, enum_column
from lecturehub.extensions import db
from lecturehub.venues.models import Venue


@functools.cache
def _hashing_thread(pid: int) -> ThreadPoolExecutor:
    """The one thread of this process that computes password hashes.

    argon2id needs its memory cost (19 MiB by default) for each hash. Taking turns on one thread costs one
    such buffer per worker; taking turns on a lock is not enough, because glibc keeps a freed buffer of
    that size in the arena of each thread that used it (measured: 89 MB for four threads against 33 MB for
    one). The CPU is the limit on sign-ins either way. Keyed by process, as a pool does not survive fork.
    """
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="password-hashing")


def _on_hashing_thread(function, *args):
    return _hashing_thread(os.getpid()).submit(function, *args).result()

# OWASP's recommended argon2id parameters (Password Storage Cheat Sheet): 19 MiB, 2 passes, 1 lane.
DEFAULT_ARGON2 = (19456, 2, 1)


@functools.cache
def _hasher(memory_kib: int, time_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID)


def password_hasher() -> PasswordHasher:
    """The argon2id hasher at the configured cost (LECTUREHUB_ARGON2_*)."""
    if not has_app_context():
        return _hasher(*DEFAULT_ARGON2)
    config = current_app.config
    return _hasher(config.get("ARGON2_MEMORY_KIB", DEFAULT_ARGON2[0]), config.get("ARGON2_TIME_COST", DEFAULT_ARGON2[1]),
                   config.get("ARGON2_PARALLELISM", DEFAULT_ARGON2[2]))


def hash_password(password: str) -> str:
    return _on_hashing_thread(password_hasher().hash, password)


def verify_password(password_hash: str, password: str) -> bool:
    """Check an argon2id hash, or a scrypt/pbkdf2 hash from before argon2 (werkzeug's format)."""
    if password_hash.startswith("$argon2"):
        try:
            return _on_hashing_thread(password_hasher().verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
    return _on_hashing_thread(check_password_hash, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """True for a hash that is not argon2id at the configured cost: it is replaced at the next sign-in."""
    if not password_hash.startswith("$argon2"):
        return True
    try:
        return password_hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


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
        enum_column(Role),
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
        enum_column(MembershipChange))
    ended_how: Mapped[MembershipChange | None] = mapped_column(
        enum_column(MembershipChange))
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


# Member numbers are looked up without regard to case (the desk, paper sheets, imports), so the database
# keeps them unique that way too: "M0024" cannot be added beside "m0024". The index also serves the lookups.
Index("uq_user_member_no_lower", func.lower(User.member_no), unique=True)


class UserSession(db.Model):
    """One signed-in browser. Signing out, a password change, a reset or disabling the account deletes
    the row, and a cookie naming a deleted row no longer signs anyone in, on any node.

    A remembered sign-in (记住这台手机) lasts REMEMBER_DAYS instead of SESSION_DAYS; the member sees each
    of their sign-ins on the account page, by device and first and last use, and can end any of them.
    """

    __tablename__ = "user_session"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    remembered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Refreshed at most once an hour (see services.user_for_session), so it costs no write per request.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    device: Mapped[str] = mapped_column(String(120), default="", server_default="")

    @property
    def handle(self) -> str:
        """Names the sign-in in pages and forms; the token itself is a credential and never shown."""
        return hashlib.sha256(self.token.encode()).hexdigest()[:24]
