"""Rotating check-in codes, derived rather than stored.

Each lecture-venue pair has a secret derived from the application's secret key,
so every node of a cluster computes the same codes without a shared table. The
code changes every PERIOD seconds; the previous code stays valid for one more
period, so a code read off the screen just before it changes still works.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import struct
from datetime import datetime

from flask import current_app

PERIOD_SECONDS = 30
DIGITS = 6


def _secret(lecture_id: int, venue_id: int) -> bytes:
    return _derived_secret(current_app.config["SECRET_KEY"], lecture_id, venue_id)


# A typed code is looked up among all of a lecture's venues (25 in the seed organisation), two periods each:
# deriving each secret and code once per period instead of on every check-in took a tenth of its CPU time.
@functools.lru_cache(maxsize=4096)
def _derived_secret(key: str, lecture_id: int, venue_id: int) -> bytes:
    return hmac.new(key.encode(), f"checkin:{lecture_id}:{venue_id}".encode(), hashlib.sha256).digest()


@functools.lru_cache(maxsize=8192)
def _code(secret: bytes, counter: int) -> str:
    digest = hmac.new(secret, struct.pack(">Q", counter), hashlib.sha256).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def _counter(moment: datetime) -> int:
    return int(moment.timestamp()) // PERIOD_SECONDS


def code_for(lecture_id: int, venue_id: int, counter: int) -> str:
    """RFC 4226-style dynamic truncation of an HMAC over the period counter."""
    return _code(_secret(lecture_id, venue_id), counter)


def current_code(lecture_id: int, venue_id: int, now: datetime) -> tuple[str, int]:
    """The code to show now and the seconds until it changes."""
    counter = _counter(now)
    remaining = PERIOD_SECONDS - int(now.timestamp()) % PERIOD_SECONDS
    return code_for(lecture_id, venue_id, counter), remaining


def code_is_valid(lecture_id: int, venue_id: int, code: str, now: datetime) -> bool:
    counter = _counter(now)
    return any(hmac.compare_digest(code, code_for(lecture_id, venue_id, c)) for c in (counter, counter - 1))


def first_showing(lecture_id: int, venue_ids, code: str, now: datetime):
    """The first of `venue_ids` whose screen shows `code` now (as `code_is_valid`), else None. A typed code is
    tried against every venue of the lecture: the key and the period are looked up once, not once a venue."""
    key, counter = current_app.config["SECRET_KEY"], _counter(now)
    for venue_id in venue_ids:
        secret = _derived_secret(key, lecture_id, venue_id)
        if any(hmac.compare_digest(code, _code(secret, c)) for c in (counter, counter - 1)):
            return venue_id
    return None
