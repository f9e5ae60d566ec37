"""Real servers for tests: free ports, gunicorn against a test database, members signed in over HTTP."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import requests
from werkzeug.security import generate_password_hash

from lecturehub.accounts.models import Membership, MembershipChange, Role, User
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.models import Course, Lecture, LectureVenue
from lecturehub.extensions import db

from .conftest import PROJECT_ROOT

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
BIN_DIR = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(base_url: str, timeout: float = 90) -> None:
    """Wait until the site answers its health check.

    Generous: on a loaded two-core machine several workers booting at once can take a while to answer.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base_url}/healthz", timeout=10).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or workers still booting
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base_url} did not start")


def members_and_open_lecture(venue_id: int, prefix: str, count: int, password: str, slug: str) -> int:
    """`count` members of the venue (user names prefix0000 …) and a lecture there whose check-in is open now.

    A cheap hash: the tests that use this measure check-in, not scrypt at sign-in. Returns the lecture's id.
    """
    password_hash = generate_password_hash(password, method="pbkdf2:sha256:1000")
    members = [User(username=f"{prefix}{n:04d}", name=f"党员{n}", member_no=f"{prefix}{n:04d}",
                    role=Role.MEMBER, home_venue_id=venue_id, password_hash=password_hash) for n in range(count)]
    db.session.add_all(members)
    db.session.add_all([Membership(user=member, venue_id=venue_id, starts_at=utcnow() - timedelta(days=1),
                                   began_how=MembershipChange.JOINED) for member in members])
    lecture = Lecture(course=Course(slug=slug, title="专题"), slug=slug, title="并发签到", speaker="主讲",
                      starts_at=utcnow() + timedelta(minutes=5), ends_at=utcnow() + timedelta(hours=2))
    lecture.venue_links.append(LectureVenue(venue_id=venue_id))
    db.session.add(lecture)
    db.session.commit()
    return lecture.id


def start_gunicorn(env: dict[str, str], *args: str) -> tuple[subprocess.Popen, str]:
    """Start `gunicorn wsgi:app` on a free port with the given environment; returns (master, base URL)."""
    port = free_port()
    process = subprocess.Popen([str(BIN_DIR / "gunicorn"), "--bind", f"127.0.0.1:{port}", *args, "wsgi:app"],
                               cwd=PROJECT_ROOT, env=dict(os.environ, **env),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for(base_url)
    except RuntimeError:
        stop(process)
        raise RuntimeError(f"gunicorn did not start: {process.stderr.read().decode()[-2000:]}") from None
    return process, base_url


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def child_pids(parent: int) -> set[int]:
    """The processes whose parent is `parent` (gunicorn's workers, for its master), read from /proc."""
    children = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name in parentheses may contain spaces; the fields after it do not.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent and fields[0] != "Z":
            children.add(int(entry))
    return children


def sign_in(base_url: str, username: str, password: str) -> requests.Session:
    """A browser-like session signed in as `username`."""
    session = requests.Session()
    token = CSRF.search(session.get(f"{base_url}/login", timeout=30).text).group(1)
    response = session.post(f"{base_url}/login", data={"csrf_token": token, "username": username,
                                                        "password": password}, allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text[:300]
    return session


def csrf_token(session: requests.Session, url: str) -> str:
    return CSRF.search(session.get(url, timeout=30).text).group(1)
