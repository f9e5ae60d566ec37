"""A check-in burst against a live server: many members at once, some tapping twice.

Ends with exactly one record per member, no 5xx, and every acknowledged check-in stored.
"""
from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from lecturehub.accounts.models import Role, User
from lecturehub.attendance import codes
from lecturehub.attendance.models import AttendanceRecord
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.models import Course, Lecture, LectureVenue
from lecturehub.extensions import db

MEMBERS = 120
WORKERS = 24
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def test_check_in_burst(live_server, org):
    venue_id = org["branch_a"]
    # A cheap hash: the burst measures check-in, not scrypt at sign-in.
    password_hash = generate_password_hash("burst-pass-1", method="pbkdf2:sha256:1000")
    db.session.add_all([User(username=f"b{n:04d}", name=f"党员{n}", member_no=f"b{n:04d}", role=Role.MEMBER,
                             home_venue_id=venue_id, password_hash=password_hash) for n in range(MEMBERS)])
    lecture = Lecture(course=Course(slug="burst", title="并发"), slug="burst", title="并发签到", speaker="主讲",
                      starts_at=utcnow() + timedelta(minutes=5), ends_at=utcnow() + timedelta(hours=2))
    lecture.venue_links.append(LectureVenue(venue_id=venue_id))
    db.session.add(lecture)
    db.session.commit()
    lecture_id = lecture.id

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
