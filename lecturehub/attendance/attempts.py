"""How many wrong check-in codes a member may type: per minute, and in all for one lecture.

A typed code is checked against every venue of the lecture (a member may check in anywhere), so with
25 venues 50 of the million six-digit codes are valid at any moment. Only a bound on the total number
of wrong codes keeps guessing hopeless: with the defaults (10 a minute, 15 per lecture) one member
guesses right with a chance of 15 × 50 / 10⁶ ≈ 0.08 % per lecture. After that the member is sent to
the coordinator's desk.

Both check-in forms (typed code, scanned QR) count against the same counters, kept in the rate-limit
storage (by default the database, see core/ratelimit.py), so every worker and node sees every attempt.
The counters are read before the code is checked and written only for a wrong one, so a right code costs
no write; codes sent in parallel may therefore pass the bound by at most the requests in flight.
"""
from __future__ import annotations

from math import ceil

from flask import current_app
from flask_babel import lazy_gettext as _l
from limits import RateLimitItemPerMinute, parse

from lecturehub.accounts.models import User
from lecturehub.core.ratelimit import DatabaseStorage
from lecturehub.courses.models import Lecture
from lecturehub.extensions import limiter

from . import services


def _limits(lecture: Lecture) -> list[tuple[object, tuple, str]]:
    prefix = current_app.config["RATELIMIT_KEY_PREFIX"]
    window = services.window_of(lecture)
    # The per-lecture counter lives as long as the whole check-in window, from the first wrong code on.
    window_minutes = max(1, ceil((window.closes_at - window.opens_at).total_seconds() / 60))
    # Messages as lazy strings: translated only for the member who hit a limit, not at every check-in.
    return [
        (parse(current_app.config["CHECKIN_RATE_LIMIT"]), (prefix, "checkin-wrong"),
         _l("Too many wrong codes. Please wait a minute and try again.")),
        (RateLimitItemPerMinute(current_app.config["CHECKIN_LECTURE_LIMIT"], window_minutes),
         (prefix, "checkin-wrong-lecture", str(lecture.id)),
         _l("Too many wrong codes for this lecture. Please ask your venue's coordinator to check you in at the "
            "desk.")),
    ]


def ensure_attempts_left(member: User, lecture: Lecture) -> None:
    """Raise CheckinError("too_many") when the member has used up their wrong codes (even a right code
    is then refused, or guessing could go on past the bound)."""
    if not limiter.enabled:
        return
    limits = _limits(lecture)
    keys = [item.key_for(*scope, str(member.id)) for item, scope, _message in limits]
    storage = limiter.storage
    # Every check-in passes here: with the database storage both counters are read in one query.
    counts = storage.get_many(keys) if isinstance(storage, DatabaseStorage) else {k: storage.get(k) for k in keys}
    for (item, _scope, message), key in zip(limits, keys, strict=True):
        if counts[key] >= item.amount:
            raise services.CheckinError("too_many", str(message))


def count_wrong_code(member: User, lecture: Lecture) -> None:
    """Count one wrong code against the member's minute and the lecture."""
    if not limiter.enabled:
        return
    for item, scope, _message in _limits(lecture):
        limiter.limiter.hit(item, *scope, str(member.id))


def check_code(member: User, lecture: Lecture, check):
    """Run `check` (a service that checks the code and raises CheckinError("code") when it is wrong),
    refusing at once when no attempts are left and counting a wrong code."""
    ensure_attempts_left(member, lecture)
    try:
        return check()
    except services.CheckinError as error:
        if error.reason == "code":
            count_wrong_code(member, lecture)
        raise
