"""Sign-ins kept on the server: one row a device, listed on the account page and ended one by one or all at once."""
from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, has_request_context, request

from lecturehub.audit import services as audit
from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db

from .models import (
    User,
    UserSession,
)

# --- sessions ----------------------------------------------------------------------------------------

def _session_cutoffs():
    """The oldest start of an ordinary and of a remembered sign-in that still stands."""
    now = utcnow()
    config = current_app.config
    return now - timedelta(days=config["SESSION_DAYS"]), now - timedelta(days=config["REMEMBER_DAYS"])


def _standing(ordinary=None, remembered=None):
    """Sign-ins that still stand: started after the cutoff of their kind (now, unless bound parameters)."""
    if ordinary is None:
        ordinary, remembered = _session_cutoffs()
    return sa.or_(sa.and_(UserSession.remembered.is_(False), UserSession.created_at >= ordinary),
                  sa.and_(UserSession.remembered.is_(True), UserSession.created_at >= remembered))


# Every request runs this. Built once with bound parameters, it no longer costs a statement construction
# per request (in the check-in profile the lookup fell from 14% to 8% of a check-in).
_USER_FOR_SESSION = (
    sa.select(User, UserSession.last_used_at).join(UserSession, UserSession.user_id == User.id)
    .where(UserSession.token == sa.bindparam("token"),
           _standing(sa.bindparam("ordinary"), sa.bindparam("remembered")), User.active.is_(True)))


# Refreshing "last used" on every request would turn each page view into a write.
LAST_USED_RESOLUTION = timedelta(hours=1)


def device_label(user_agent: str) -> str:
    """"iPhone · iOS · Mobile Safari" from a browser's user agent, for the member's list of sign-ins."""
    from ua_parser import parse  # its regex tables load on first use: only sign-ins pay for them

    result = parse(user_agent or "")
    parts = []
    if result.device and result.device.family not in ("Other", "Spider"):
        parts.append(result.device.family)
    if result.os and result.os.family != "Other":
        parts.append(result.os.family)
    if result.user_agent and result.user_agent.family != "Other":
        parts.append(result.user_agent.family)
    return " · ".join(parts)[:120]


def start_session(user: User, remembered: bool = False) -> str:
    """Record a new sign-in of `user` (and the audit entry) and return its token for the cookie.

    A remembered sign-in (记住这台手机) lasts REMEMBER_DAYS instead of SESSION_DAYS.
    """
    token = secrets.token_urlsafe(32)
    address = (request.remote_addr or "")[:64] if has_request_context() else ""
    agent = (request.user_agent.string or "")[:200] if has_request_context() else ""
    now = utcnow()
    # Ended sign-ins of this user are cleared here, so the table does not grow without bound.
    db.session.execute(sa.delete(UserSession).where(UserSession.user_id == user.id, sa.not_(_standing())))
    db.session.add(UserSession(token=token, user_id=user.id, address=address, user_agent=agent, created_at=now,
                               last_used_at=now, remembered=remembered, device=device_label(agent)))
    audit.record("auth.sign_in", f"user:{user.username}", actor=user, remembered="yes" if remembered else "no")
    db.session.flush()
    user.session_token = token
    return token


def user_for_session(token: str) -> User | None:
    """The active user signed in with `token`, if that sign-in still stands; one query per request.

    Its "last used" time is refreshed at most once an hour, in its own short transaction: it is
    bookkeeping that must stick even when the request only reads or fails.
    """
    ordinary, remembered = _session_cutoffs()
    row = db.session.execute(_USER_FOR_SESSION, {"token": token, "ordinary": ordinary,
                                                 "remembered": remembered}).first()
    if row is None:
        return None
    user, last_used_at = row
    now = utcnow()
    if last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION:
        with db.engine.begin() as connection:
            connection.execute(sa.update(UserSession).where(UserSession.token == token).values(last_used_at=now))
    user.session_token = token
    return user


def sessions_of(user: User) -> list[UserSession]:
    """The user's sign-ins that still stand, the most recently used first."""
    return list(db.session.scalars(
        sa.select(UserSession).where(UserSession.user_id == user.id, _standing())
        .order_by(sa.func.coalesce(UserSession.last_used_at, UserSession.created_at).desc())))


def end_session_by_handle(user: User, handle: str) -> bool:
    """End one of the user's own sign-ins, named by its handle; False when it is not theirs or already over."""
    for row in sessions_of(user):
        if secrets.compare_digest(row.handle, handle):
            db.session.delete(row)
            audit.record("auth.session_ended", f"user:{user.username}", actor=user, device=row.device)
            db.session.flush()
            return True
    return False


def end_all_sessions(user: User) -> None:
    """Sign out everywhere: every browser and remembered phone of the user, this one included."""
    _end_sessions(user)
    audit.record("auth.signed_out_everywhere", f"user:{user.username}", actor=user)
    db.session.flush()


def end_session(user: User) -> None:
    """Sign out this browser: its cookie stops working even if someone kept a copy."""
    db.session.execute(sa.delete(UserSession).where(UserSession.token == user.session_token))
    audit.record("auth.sign_out", f"user:{user.username}", actor=user)
    db.session.flush()


def _end_sessions(user: User, keep: str | None = None) -> None:
    query = sa.delete(UserSession).where(UserSession.user_id == user.id)
    if keep:
        query = query.where(UserSession.token != keep)
    db.session.execute(query)
