"""What the account rules share: role names, the errors, the password policy, venues by label."""
from __future__ import annotations

import re
import secrets

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from lecturehub.audit import services as audit
from lecturehub.core.errors import UserError
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from .models import (
    Role,
)

# What the pages call each role, for the audit log (the roster import's ROLE_WORDS below go the other way).
ROLE_NAMES = {Role.MEMBER.value: _l("Member"), Role.COORDINATOR.value: _l("Coordinator"), Role.ADMIN.value: _l("Admin")}
audit.register_value_words("role", ROLE_NAMES)

MIN_PASSWORD_LENGTH = 8
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

ROLE_WORDS = {
    "": Role.MEMBER, "党员": Role.MEMBER, "member": Role.MEMBER,
    "正式党员": Role.MEMBER, "预备党员": Role.MEMBER,
    "分会场负责人": Role.COORDINATOR, "负责人": Role.COORDINATOR, "联络员": Role.COORDINATOR,
    "coordinator": Role.COORDINATOR,
    "管理员": Role.ADMIN, "admin": Role.ADMIN,
}
# Header words as `header_word` reduces them: the ones organisations' own rosters use.
HEADER_WORDS = {
    **dict.fromkeys(("姓名", "name"), "name"),
    **dict.fromkeys(("编号", "党员编号", "工号", "人员编号", "member_no", "membernumber", "number"), "member_no"),
    **dict.fromkeys(("分会场", "所在分会场", "会场", "所在支部", "所属会场", "venue"), "venue"),
    **dict.fromkeys(("角色", "身份", "role"), "role"),
}
VENUE_SEPARATORS = re.compile(r"[、,，;；]")


class AccountError(UserError):
    """A rule about accounts was broken; the message is meant for the user."""


class RosterError(UserError):
    """The roster cannot be imported; every problem found, by row."""

    def __init__(self, problems: list[str]):
        super().__init__(problems=problems)


def role_label(role: Role) -> str:
    return role.label


def generate_password() -> str:
    return secrets.token_urlsafe(9)


def check_password_policy(password: str) -> str | None:
    """Return a message when the password is too weak, else None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _("A password needs at least %(n)s characters.", n=MIN_PASSWORD_LENGTH)
    if password.isdigit() or password.isalpha():
        return _("A password needs both letters and digits or symbols.")
    return None


def venues_by_label() -> dict[str, Venue]:
    """Venues looked up by code or by name, as people write either in rosters."""
    lookup: dict[str, Venue] = {}
    for venue in db.session.scalars(sa.select(Venue)):
        lookup[venue.code.lower()] = venue
        lookup[venue.name.lower()] = venue
    return lookup
