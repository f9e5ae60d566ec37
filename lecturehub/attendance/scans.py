"""A scan that survives sign-in: the browser's proof that it opened a venue's QR link while the code was valid.

The code in a scanned link lives 30 to 60 seconds; a member who scans while signed out and then types
a password (or must choose a new one) takes longer. So opening the link while its code is valid puts a
proof of the scan (lecture, venue, time, a random nonce) into that browser's session: Flask's session
cookie is signed with the secret key, so it cannot be forged or moved to another lecture or venue, and
it stays in the browser that scanned. The member then has SCAN_PROOF_LIFETIME to confirm, and arrives
on time or late by the scan's time. The proof is removed from the session when used, and its nonce is
recorded (UsedScan) so that a copy of the cookie cannot be used a second time.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from flask import session

from lecturehub.courses.models import LectureVenue

from . import codes, services
from .services import ScanProof

SESSION_KEY = "checkin_scan"


def remember_scan(link: LectureVenue, code: str, now: datetime) -> bool:
    """Keep a proof of this scan in the browser's session when `code` is valid now and check-in is open."""
    if not code or services.window_of(link.lecture).phase(now) not in (services.Phase.ON_TIME, services.Phase.LATE):
        return False
    if not codes.code_is_valid(link.lecture_id, link.venue_id, code, now):
        return False
    session[SESSION_KEY] = {"lv": link.id, "lecture": link.lecture_id, "venue": link.venue_id,
                            "at": now.isoformat(), "nonce": secrets.token_hex(16)}
    return True


def pending_scan(link: LectureVenue) -> ScanProof | None:
    """This browser's proof of a scan of `link`'s QR code, if it holds one (fresh or not)."""
    data = session.get(SESSION_KEY)
    if not isinstance(data, dict) or data.get("lv") != link.id:
        return None
    try:
        return ScanProof(lecture_id=int(data["lecture"]), venue_id=int(data["venue"]),
                         scanned_at=datetime.fromisoformat(data["at"]), nonce=str(data["nonce"]))
    except (KeyError, TypeError, ValueError):
        return None


def forget_scan() -> None:
    session.pop(SESSION_KEY, None)
