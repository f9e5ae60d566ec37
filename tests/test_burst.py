"""A check-in burst against a live server: many members at once, some tapping twice.

Ends with exactly one record per member, no 5xx, and every acknowledged check-in stored.
"""
from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import requests
import sqlalchemy as sa

from lecturehub.accounts.models import User
from lecturehub.attendance import codes
from lecturehub.attendance.models import AttendanceRecord
from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db

from .servers import members_and_open_lecture

MEMBERS = 120
WORKERS = 24
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def test_check_in_burst(live_server, org):
    venue_id = org["branch_a"]
    lecture_id = members_and_open_lecture(venue_id, "b", MEMBERS, "burst-pass-1", slug="burst")

    def sign_in(n: int) -> tuple[requests.Session, str]:
        session = requests.Session()
        token = CSRF.search(session.get(f"{live_server}/login", timeout=30).text).group(1)
        response = session.post(f"{live_server}/login", timeout=30, allow_redirects=False,
                                data={"csrf_token": token, "username": f"b{n:04d}", "password": "burst-pass-1"})
        assert response.status_code == 302
        page = session.get(f"{live_server}/lectures/{lecture_id}", timeout=30).text
        return session, CSRF.search(page).group(1)

    with ThreadPoolExecutor(WORKERS) as pool:
        sessions = list(pool.map(sign_in, range(MEMBERS)))

    code, _ = codes.current_code(lecture_id, venue_id, utcnow())

    def check_in(args) -> tuple[int, int, str]:
        n, (session, token) = args
        response = session.post(f"{live_server}/lectures/{lecture_id}/checkin", timeout=60,
                                data={"csrf_token": token, "code": code})
        return n, response.status_code, response.text

    # Every member submits twice, interleaved, as a double tap on a slow phone would.
    attempts = [(n, sessions[n]) for n in range(MEMBERS)] * 2
    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(check_in, attempts))
    elapsed = time.perf_counter() - started

    statuses = [status for _n, status, _text in results]
    assert all(status == 200 for status in statuses), sorted(set(statuses))
    acknowledged = {n for n, _status, text in results if "已签到" in text}
    first_time = [n for n, _status, text in results if "<h1>✔" in text]
    assert acknowledged == set(range(MEMBERS))
    assert len(first_time) == MEMBERS  # exactly one of each member's two taps created the record

    db.session.expire_all()
    stored = db.session.scalars(sa.select(User.username).join(
        AttendanceRecord, AttendanceRecord.user_id == User.id).where(AttendanceRecord.lecture_id == lecture_id)).all()
    assert sorted(stored) == sorted(f"b{n:04d}" for n in range(MEMBERS))
    print(f"\nburst on {db.engine.dialect.name}: {len(attempts)} check-ins by {MEMBERS} members, "
          f"{WORKERS} concurrent, {elapsed:.2f}s, {len(attempts) / elapsed:.0f}/s")
