"""Two LectureHub nodes (gunicorn) on one PostgreSQL and one Redis: they behave as one site.

Counts stay exact across nodes, a rate limit reached on one node holds on the other, and a session
made on one node works on the other. Everything stateful lives in PostgreSQL or Redis.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests
import sqlalchemy as sa

from lecturehub import create_app
from lecturehub.attendance import codes
from lecturehub.attendance.models import AttendanceRecord
from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db
from lecturehub.venues.models import Venue, VenueKind

from .conftest import POSTGRES_ADMIN_URL, PROJECT_ROOT
from .servers import free_port, members_and_open_lecture, wait_for

REDIS_URL = os.environ.get("LECTUREHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
MEMBERS = 40
SECRET = "two-node-test-secret"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if os.environ.get("LECTUREHUB_TEST_POSTGRES", "on").lower() in {"off", "0", "no"}:
        pytest.skip("PostgreSQL switched off with LECTUREHUB_TEST_POSTGRES=off; the nodes share PostgreSQL")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is required for the two-node test ({REDIS_URL}): {exc}", pytrace=False)
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"lecturehub_nodes_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    prefix = f"lh-test-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, LECTUREHUB_DATABASE_URL=url, LECTUREHUB_SECRET_KEY=SECRET,
               LECTUREHUB_RATELIMIT_STORAGE_URL=REDIS_URL, LECTUREHUB_RATELIMIT_KEY_PREFIX=prefix,
               LECTUREHUB_LOGIN_RATE_LIMIT="5 per minute")
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=PROJECT_ROOT, env=env,
                   check=True, capture_output=True)
    nodes, processes = [], []
    for _ in range(2):
        port = free_port()
        processes.append(subprocess.Popen(
            [str(bin_dir / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        nodes.append(f"http://127.0.0.1:{port}")
    try:
        for node in nodes:
            wait_for(node)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET, "RATELIMIT_ENABLED": False})
        with app.app_context():
            lecture_id = _populate()
            db.session.remove()
            db.engine.dispose()
        yield {"nodes": nodes, "url": url, "lecture_id": lecture_id, "app": app}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


def _populate() -> int:
    venue = Venue(code="b01", name="第1分会场", kind=VenueKind.BRANCH, position=1)
    db.session.add(venue)
    db.session.flush()
    return members_and_open_lecture(venue.id, "n", MEMBERS, "node-pass-123", slug="nodes")


def sign_in(node: str, username: str, password: str = "node-pass-123") -> requests.Session:
    session = requests.Session()
    token = CSRF.search(session.get(f"{node}/login", timeout=10).text).group(1)
    response = session.post(f"{node}/login", data={"csrf_token": token, "username": username, "password": password},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text[:300]
    return session


def test_a_session_made_on_one_node_works_on_the_other(cluster):
    first, second = cluster["nodes"]
    session = sign_in(first, "n0000")
    page = session.get(f"{second}/home", allow_redirects=False, timeout=10)
    assert page.status_code == 200 and "党员0" in page.text


def test_check_ins_through_both_nodes_are_counted_exactly(cluster):
    nodes, lecture_id = cluster["nodes"], cluster["lecture_id"]
    with cluster["app"].app_context():
        venue_id = db.session.scalar(sa.select(Venue.id))
        code, _ = codes.current_code(lecture_id, venue_id, utcnow())

    def member(i: int) -> list[int]:
        session = sign_in(nodes[i % 2], f"n{i:04d}")
        statuses = []
        for node in (nodes[i % 2], nodes[(i + 1) % 2]):  # a double tap lands on the other node
            token = CSRF.search(session.get(f"{node}/lectures/{lecture_id}", timeout=10).text).group(1)
            response = session.post(f"{node}/lectures/{lecture_id}/checkin", data={"csrf_token": token, "code": code},
                                    timeout=30)
            statuses.append(response.status_code)
        return statuses

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(member, range(1, MEMBERS)))
    assert all(statuses == [200, 200] for statuses in results), results
    with cluster["app"].app_context():
        count = db.session.scalar(sa.select(sa.func.count(AttendanceRecord.id)).where(
            AttendanceRecord.lecture_id == lecture_id))
        db.session.remove()
    assert count == MEMBERS - 1


def test_a_rate_limit_reached_on_one_node_holds_on_the_other(cluster):
    first, second = cluster["nodes"]
    statuses = []
    for attempt in range(6):
        node = first if attempt < 5 else second
        session = requests.Session()
        token = CSRF.search(session.get(f"{node}/login", timeout=10).text).group(1)
        statuses.append(session.post(f"{node}/login", timeout=10, allow_redirects=False, data={
            "csrf_token": token, "username": "ghost", "password": "wrong-pass-1"}).status_code)
    assert statuses == [401] * 5 + [429]
