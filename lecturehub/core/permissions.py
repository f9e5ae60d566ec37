"""One place where roles are checked on the server.

Views declare who may enter with @role_required; object loaders in each package
raise 404 for what does not exist and 403 for what is not the user's.
"""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import abort
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .types import LabelledEnum


class Role(LabelledEnum):
    """Who a user is to the organisation. Here in core, not in accounts, so that every package can declare who
    may enter its pages without depending on accounts (venues and courses sit below accounts)."""

    MEMBER = "member"
    COORDINATOR = "coordinator"
    ADMIN = "admin"

    @classmethod
    def _labels(cls) -> dict:
        return {cls.MEMBER: _("Member"), cls.COORDINATOR: _("Coordinator"), cls.ADMIN: _("Admin")}


def role_required(*roles: str):
    """Allow the view only to signed-in users holding one of `roles` (strings of Role)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def is_safe_next(target: str | None) -> bool:
    """Accept only a path on this site as a redirect target (after sign-in, after a language switch).

    Judged as the browser will read the Location header: browsers drop tabs and newlines inside a URL and
    treat a backslash as a slash, so "/\t/evil.example" and "/\\evil.example" both lead off-site, and a
    newline could not be sent in a header at all. Any control character, backslash or second leading
    slash is refused, and what is left must have neither a scheme nor a host.
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
