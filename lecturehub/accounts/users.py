"""Creating accounts and changing them: name, role, venues run, enabled or disabled."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from lecturehub.audit import services as audit
from lecturehub.audit.changes import record_changes
from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from .common import ROLE_NAMES, USERNAME_RE, AccountError, check_password_policy
from .member_numbers import normalise_member_no
from .models import (
    MembershipChange,
    Role,
    User,
)
from .sessions import _end_sessions
from .venue_membership import _move_home, current_membership, end_membership, start_membership


def create_user(username: str, name: str, role: Role, password: str, venues: list[Venue] | None = None,
                member_no: str | None = None, must_change_password: bool = False,
                joined_at: datetime | None = None, by: User | None = None) -> User:
    """Add an account (not committed). Coordinators run `venues`; members belong to the first one,
    from `joined_at` (default: now)."""
    venues = venues or []
    if not USERNAME_RE.match(username):
        raise AccountError(_("A user name may use letters, digits, '.', '_' and '-' only (1 to 64)."))
    if not name.strip() or len(name) > 80:
        raise AccountError(_("A name needs 1 to 80 characters."))
    if db.session.scalar(sa.select(User.id).where(User.username == username)):
        raise AccountError(_("The user name %(name)s is taken.", name=username))
    if role is Role.COORDINATOR and not venues:
        raise AccountError(_("A coordinator needs at least one venue."))
    if role is Role.MEMBER and len(venues) > 1:
        raise AccountError(_("A member belongs to one venue."))
    problem = check_password_policy(password)
    if problem:
        raise AccountError(problem)
    user = User(username=username, name=name.strip(), role=role, member_no=normalise_member_no(member_no) or None,
                home_venue=venues[0] if venues else None, must_change_password=must_change_password)
    if role is Role.COORDINATOR:
        user.coordinated_venues = list(venues)
    user.set_password(password)
    db.session.add(user)
    if user.home_venue is not None:
        start_membership(user, user.home_venue, joined_at or utcnow(), by, MembershipChange.JOINED)
    audit.record("user.created", f"user:{username}", role=role.value, venues=", ".join(v.code for v in venues))
    return user


def set_active(user: User, active: bool, by: User, now: datetime | None = None) -> None:
    """Disable (signing the user out everywhere, ending their membership) or enable an account (a new
    membership at their venue begins). Admins cannot lock themselves out."""
    if user.id == by.id and not active:
        raise AccountError(_("You cannot disable your own account."))
    if user.active == active:
        return
    now = now or utcnow()
    user.active = active
    if not active:
        _end_sessions(user)
        end_membership(user, now, by, MembershipChange.DISABLED)
    elif user.home_venue is not None and current_membership(user) is None:
        start_membership(user, user.home_venue, now, by, MembershipChange.RE_ENABLED)
    audit.record("user.enabled" if active else "user.disabled", f"user:{user.username}", actor=by)
    db.session.flush()


def describe_account(user: User) -> dict:
    """The account form's fields as labelled words, for the audit of an edit."""
    venues = user.coordinated_venues if user.role is Role.COORDINATOR else [user.home_venue] if user.home_venue else []
    return {"name": (_l("Name"), user.name), "role": (_l("Role"), ROLE_NAMES[user.role.value]),
            "venues": (_l("Venues"), [v.name for v in venues])}


def _access(user: User) -> tuple:
    return user.role, user.home_venue.id if user.home_venue else None, sorted(v.id for v in user.coordinated_venues)


def update_account(user: User, by: User, *, name: str, role: Role, venues: list[Venue],
                   effective_at: datetime | None = None, reason: str = "") -> None:
    """Change an account's name, role and venues; a role or venue change is audited with before and after.

    A new home venue is a transfer from `effective_at` (default: now): lectures before it keep the old venue.
    """
    if not name.strip() or len(name) > 80:
        raise AccountError(_("A name needs 1 to 80 characters."))
    if role is Role.COORDINATOR and not venues:
        raise AccountError(_("A coordinator needs at least one venue."))
    if role is Role.MEMBER and len(venues) != 1:
        raise AccountError(_("A member belongs to exactly one venue."))
    if user.id == by.id and role is not Role.ADMIN:
        raise AccountError(_("You cannot take the admin role from yourself."))
    before, access_before = describe_account(user), _access(user)
    user.name = name.strip()
    user.role = role
    _move_home(user, venues[0] if venues else None, effective_at or utcnow(), by, reason)
    user.coordinated_venues = list(venues) if role is Role.COORDINATOR else []
    record_changes("user.role_changed" if _access(user) != access_before else "user.updated",
                   f"user:{user.username}", before, describe_account(user), actor=by)
    db.session.flush()
