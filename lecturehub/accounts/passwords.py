"""Signing in with a password, failed attempts, and changing or resetting a password."""
from __future__ import annotations

import functools
import secrets

import sqlalchemy as sa
from flask import has_request_context, request
from flask_babel import gettext as _

from lecturehub.audit import services as audit
from lecturehub.audit.models import AuditEvent
from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db

from .common import AccountError, check_password_policy, generate_password
from .member_numbers import normalise_member_no
from .models import (
    User,
    hash_password,
    needs_rehash,
    verify_password,
)
from .sessions import _end_sessions


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or None. Unknown users cost the same time as wrong passwords."""
    user = _account_named(username)
    if user is None:
        verify_password(_dummy_hash(), password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    if needs_rehash(user.password_hash):
        # The only moment the password is known: an older scrypt hash (or argon2 at a lower cost) is
        # replaced now, and committed with the sign-in.
        user.set_password(password)
    return user


def record_failed_sign_in(username: str, now=None) -> None:
    """Put a failed sign-in in the audit log, in a way anonymous visitors cannot flood.

    For an existing account the event names it (its attempts are held by the sign-in limits). A name
    that is no account is never stored (it may be a password typed into the wrong box), and at most one
    such event per address and minute is written, whatever the number of attempts.
    """
    name = username.strip()
    if db.session.scalar(sa.select(User.id).where(User.username == name)) is not None:
        audit.record_now("auth.sign_in_failed", f"user:{name[:64]}")
        return
    now = now or utcnow()
    address = (request.remote_addr or "") if has_request_context() else ""
    minute = now.replace(second=0, microsecond=0)
    already = db.session.scalar(sa.select(AuditEvent.id).where(
        AuditEvent.action == "auth.sign_in_failed_unknown", AuditEvent.address == address[:64],
        AuditEvent.at >= minute).limit(1))
    if already is None:
        audit.record_now("auth.sign_in_failed_unknown", "")


def _account_named(username: str) -> User | None:
    """The account with this user name; members type their number in any case (M0024 for m0024)."""
    username = normalise_member_no(username)
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None and username:
        candidates = list(db.session.scalars(
            sa.select(User).where(sa.func.lower(User.username) == username.lower()).limit(2)))
        user = candidates[0] if len(candidates) == 1 else None
    return user


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(8))


def change_password(user: User, new_password: str) -> None:
    """Set the user's own new password; every other browser signed in as them is signed out.

    The new password must differ from the current one: after a reset the current one is the one-time
    password, which the admin who issued it still knows.
    """
    if user.check_password(new_password):
        raise AccountError(_("Choose a password different from your current one."))
    problem = check_password_policy(new_password)
    if problem:
        raise AccountError(problem)
    user.set_password(new_password)
    user.must_change_password = False
    _end_sessions(user, keep=user.session_token)
    audit.record("auth.password_changed", f"user:{user.username}", actor=user)
    db.session.flush()


def reset_password(user: User, by: User) -> str:
    """An admin gives `user` a new one-time password (returned to show once); they choose their own at sign-in."""
    password = generate_password()
    user.set_password(password)
    user.must_change_password = True
    _end_sessions(user)
    audit.record("user.password_reset", f"user:{user.username}", actor=by)
    db.session.flush()
    return password
