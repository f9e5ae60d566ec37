"""One place where roles are checked on the server.

Views declare who may enter with @role_required; object loaders in each package
raise 404 for what does not exist and 403 for what is not the user's.
"""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required


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
    """Accept only a relative path on this site as a redirect target after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    return True
