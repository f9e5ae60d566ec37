"""LectureHub benchmark: a check-in burst of every member, the stack's reference limits, and the reports.

    make bench                      # both databases, full size (about 30 minutes on 2 cores)
    .venv/bin/python bench/run.py --db sqlite --members 500 --lectures 5 --results /tmp/trial   # a quick trial

Builds 25 venues, 5,000 members and 50 past lectures with about 250,000 attendance records, starts
gunicorn with the production settings (bench/gunicorn.conf.py), measures the two reference endpoints,
50 real sign-ins, the check-in burst of every member (wrk, bench/checkin.lua) and the report pages, then
profiles a check-in and every report page over 150 ms (pyinstrument). Writes bench/results/<db>.json,
the profiles, and docs/performance.md (tables + bench/analysis.md). Needs wrk (`make bench` installs it)
and, for PostgreSQL, the server at 127.0.0.1:5432 (trust auth; it creates its own database).
Not part of the test suite's pass/fail.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import runpy
import signal
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "results"
PG_ADMIN = os.environ.get("LECTUREHUB_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRET = "benchmark-secret-key"
CONNECTIONS = 32
WRK_THREADS = 2
SIGNIN_SAMPLE = 50  # members who also sign in for real, with a real password hash
SIGNIN_PASSWORD = "bench-pass-1"
SIGNIN_RATE_MEMBERS = 500  # members who sign in through wrk, for the sign-in rate
SIGNIN_CONNECTIONS = 16  # as many as the server's threads (4 workers x 4)
USER_AGENT = "lecturehub-bench"
WAVE_SHARES = (0, 20, 100)  # % of members who must sign in with their password before checking in
WAVE_CONCURRENCY = 32

sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(kind: str) -> str:
    WORK.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{WORK / 'bench.sqlite3'}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{WORK / 'bench.sqlite3'}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text('DROP DATABASE IF EXISTS "lecturehub_bench" WITH (FORCE)'))
        conn.execute(sa.text('CREATE DATABASE "lecturehub_bench"'))
    admin.dispose()
    return sa.engine.make_url(PG_ADMIN).set(database="lecturehub_bench").render_as_string(hide_password=False)


def environment(url: str) -> dict:
    # Every simulated phone comes from 127.0.0.1: the per-address sign-in limit (meant for one venue's NAT)
    # would otherwise stop the waves at 200 sign-ins a minute. The per-account limit stays as deployed.
    return dict(os.environ, LECTUREHUB_DATABASE_URL=url, LECTUREHUB_SECRET_KEY=SECRET, LECTUREHUB_BENCH_ENDPOINTS="1",
                LECTUREHUB_CHECKIN_RATE_LIMIT="10 per minute", LECTUREHUB_LOGIN_IP_RATE_LIMIT="100000 per minute")


def build_data(app, members: int, lecture_count: int) -> dict:
    """Venues, members, past lectures with realistic attendance, and one lecture open for check-in now."""
    from lecturehub.accounts.models import Membership, MembershipChange, Role, User, hash_password
    from lecturehub.attendance.models import AttendanceRecord, Method, Status
    from lecturehub.courses.models import Course, Lecture, LectureVenue
    from lecturehub.demo import demo_venues
    from lecturehub.extensions import db
    from lecturehub.quizzes.models import QuizAttempt
    from lecturehub.venues.models import Venue

    rng = random.Random(2020)
    started = time.perf_counter()
    with app.app_context():
        venues = [Venue(code=c, name=n, kind=k, position=i) for i, (c, n, k) in enumerate(demo_venues())]
        db.session.add_all(venues)
        course = Course(slug="bench", title="四史学习教育专题党课（基准）")
        db.session.add(course)
        db.session.flush()
        # Every member gets the app's own hash (argon2id at the configured cost), so that any of them can sign
        # in for real (the sample and the waves) at its true cost. One hash serves all: the same password.
        password_hash = hash_password(SIGNIN_PASSWORD)
        db.session.execute(sa.insert(User), [
            {"username": f"m{i:05d}", "name": f"党员{i}", "member_no": f"m{i:05d}", "role": Role.MEMBER,
             "home_venue_id": venues[i % len(venues)].id, "active": True,
             "password_hash": password_hash,
             "must_change_password": False, "created_at": datetime.now(timezone.utc)} for i in range(members)])
        admin = User(username="admin", name="管理员", role=Role.ADMIN, password_hash=password_hash)
        coordinator = User(username="coord01", name="负责人", role=Role.COORDINATOR, password_hash=password_hash,
                           home_venue=venues[1], member_no="coord01")
        coordinator.coordinated_venues = [venues[1]]
        db.session.add_all([admin, coordinator])
        first = datetime(2025, 1, 7, 6, 0, tzinfo=timezone.utc)
        lectures = []
        for n in range(lecture_count):
            lecture = Lecture(course=course, slug=f"l{n:03d}", title=f"第{n + 1}讲", speaker="主讲人", host="主持人",
                              starts_at=first + timedelta(days=7 * n), ends_at=first + timedelta(days=7 * n, hours=2))
            lecture.venue_links = [LectureVenue(venue=v) for v in venues]
            lectures.append(lecture)
        now = datetime.now(timezone.utc)
        live = Lecture(course=course, slug="live", title="正在签到的党课", speaker="主讲人",
                       starts_at=now + timedelta(minutes=10), ends_at=now + timedelta(hours=2))
        live.venue_links = [LectureVenue(venue=v) for v in venues]
        # A second open lecture for the in-process profile of the check-in path.
        probe = Lecture(course=course, slug="profile", title="剖析用党课", speaker="主讲人",
                        starts_at=now + timedelta(minutes=10), ends_at=now + timedelta(hours=2))
        probe.venue_links = [LectureVenue(venue=v) for v in venues]
        # One open lecture per wave of the lecture day (a member checks in once per lecture).
        wave_lectures = {}
        for share in WAVE_SHARES:
            wave = Lecture(course=course, slug=f"wave-{share}", title=f"签到波次（{share}% 需登录）", speaker="主讲人",
                           starts_at=now + timedelta(minutes=10), ends_at=now + timedelta(hours=2))
            wave.venue_links = [LectureVenue(venue=v) for v in venues]
            wave_lectures[share] = wave
        db.session.add_all(lectures + [live, probe, *wave_lectures.values()])
        db.session.commit()
        member_rows = db.session.execute(sa.select(User.id, User.home_venue_id).where(User.role == Role.MEMBER)).all()
        # Every member belongs to their venue since before the first lecture, so every lecture expects them all.
        db.session.execute(sa.insert(Membership), [
            {"user_id": user_id, "venue_id": venue_id, "starts_at": first - timedelta(days=365),
             "began_how": MembershipChange.JOINED, "reason": ""}
            for user_id, venue_id in db.session.execute(sa.select(User.id, User.home_venue_id)
                                                        .where(User.home_venue_id.is_not(None)))])
        db.session.commit()
        batch, attempts, records = [], [], 0
        for lecture in lectures:
            for user_id, venue_id in member_rows:
                roll = rng.random()
                if roll < 0.80:
                    status = Status.PRESENT
                elif roll < 0.88:
                    status = Status.LATE
                elif roll < 0.94:
                    status = Status.EXCUSED
                elif roll < 0.97:
                    status = Status.ABSENT
                else:
                    continue  # no record: absent by the closed window
                made_up = status in (Status.EXCUSED, Status.ABSENT) and rng.random() < 0.5
                batch.append({"lecture_id": lecture.id, "user_id": user_id, "venue_id": venue_id, "status": status,
                              "method": Method.QR, "checked_in_at": lecture.starts_at if status in (
                                  Status.PRESENT, Status.LATE) else None, "reason": "",
                              "made_up_at": lecture.ends_at + timedelta(days=2) if made_up else None,
                              "updated_at": lecture.starts_at})
                if rng.random() < 0.1:
                    score = rng.choice([60, 70, 80, 90, 100])
                    attempts.append({"user_id": user_id, "lecture_id": lecture.id, "submitted_at": lecture.ends_at,
                                     "correct_count": score // 5, "question_count": 20, "score": score,
                                     "pass_mark": 80, "passed": score >= 80})
                if len(batch) >= 20000:
                    db.session.execute(sa.insert(AttendanceRecord), batch)
                    records += len(batch)
                    batch = []
        if batch:
            db.session.execute(sa.insert(AttendanceRecord), batch)
            records += len(batch)
        db.session.execute(sa.insert(QuizAttempt), attempts)
        db.session.commit()
        info = {"venues": len(venues), "members": members, "lectures": lecture_count, "records": records,
                "quiz_attempts": len(attempts), "live_lecture": live.id, "profile_lecture": probe.id,
                "wave_lectures": {str(share): wave.id for share, wave in wave_lectures.items()},
                "course": course.id,
                "venue": venues[1].id, "past_lecture": lectures[-1].id, "seconds": round(time.perf_counter() - started, 1)}
        db.session.remove()
        db.engine.dispose()
    return info


def analyse(app, kind: str) -> None:
    """Give PostgreSQL's planner the statistics of the loaded data, as autovacuum does on a default server within a
    minute of a bulk load (this machine's server runs with autovacuum off, so without this every query was planned
    for empty tables: the course matrix's records took 49 ms instead of 9)."""
    from lecturehub.extensions import db

    if kind != "postgresql":
        return
    with app.app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
        db.engine.dispose()


def mint_session(app, user_id: int) -> tuple[str, str]:
    """One member signed in: the session cookie and CSRF token that signing in and opening the lecture page give.

    Runs the app's own steps in a request made as the benchmark's client (its address and User-Agent, which
    session protection checks): `login_user` as the sign-in view calls it, `generate_csrf` as the page's form
    does, and the app's session interface writes the cookie. Only the password check is skipped (argon2id by
    design; `real_sign_ins` measures it). `start_session` writes the server-side sign-in row (and its audit
    entry) exactly as the sign-in view does.
    """
    from flask import session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    from lecturehub.accounts.models import User
    from lecturehub.accounts.services import start_session
    from lecturehub.extensions import db

    # Its own request (and so application) context: Flask-WTF caches the token in `g`.
    with app.test_request_context("/login", method="POST", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                  headers={"User-Agent": USER_AGENT}):
        user = db.session.get(User, user_id)
        start_session(user, remembered=True)  # the phone was remembered at an earlier lecture
        session.permanent = True
        login_user(user)
        token = generate_csrf()
        response = app.response_class()
        app.session_interface.save_session(app, session, response)
        cookie = next(value.split(";", 1)[0].split("=", 1)[1] for value in response.headers.getlist("Set-Cookie")
                      if value.startswith(app.config["SESSION_COOKIE_NAME"] + "="))
        # A request context runs no after_request hook, so the request's one commit is made here.
        db.session.commit()
    return cookie, token


def mint_sessions(app) -> dict[str, tuple[str, str]]:
    """`mint_session` for every user, by user name."""
    from lecturehub.accounts.models import User
    from lecturehub.extensions import db

    with app.app_context():
        users = db.session.execute(sa.select(User.id, User.username).order_by(User.id)).all()
        db.session.remove()
    return {username: mint_session(app, user_id) for user_id, username in users}


def write_sessions(path: Path, sessions: dict[str, tuple[str, str]], venue_of: dict[str, int]) -> None:
    """The wrk script's input: one member a line, cookie TAB token TAB home venue (1-based, in the codes' order)."""
    lines = [f"{cookie}\t{token}\t{venue_of[username]}" for username, (cookie, token) in sessions.items()
             if username in venue_of]
    path.write_text("\n".join(lines) + "\n")


def member_venues(app) -> tuple[list[int], dict[str, int]]:
    """The venue ids in order, and each member's home venue as a 1-based index into them."""
    from lecturehub.accounts.models import Role, User
    from lecturehub.extensions import db
    from lecturehub.venues.models import Venue

    with app.app_context():
        venue_ids = list(db.session.scalars(sa.select(Venue.id).order_by(Venue.position)))
        index = {venue_id: n + 1 for n, venue_id in enumerate(venue_ids)}
        homes = {username: index[venue_id] for username, venue_id in db.session.execute(
            sa.select(User.username, User.home_venue_id).where(User.role == Role.MEMBER))}
        db.session.remove()
    return venue_ids, homes


CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def real_sign_ins(base: str, usernames: list[str], lecture_id: int) -> tuple[dict, dict[str, tuple[str, str]]]:
    """Sign `usernames` in for real, 8 at a time, as a phone does: GET /login, POST /login (argon2id password
    check, 302), GET the lecture page for the check-in form's token. Times the POST. Their sessions then
    replace the minted ones in the burst, so the burst also shows that real sign-ins check in the same way."""
    def one(username: str) -> tuple[str, float, str, str]:
        client = requests.Session()
        client.headers["User-Agent"] = USER_AGENT
        token = CSRF_FIELD.search(client.get(f"{base}/login", timeout=60).text).group(1)
        started = time.perf_counter()
        response = client.post(f"{base}/login", data={"csrf_token": token, "username": username,
                                                       "password": SIGNIN_PASSWORD},
                               allow_redirects=False, timeout=60)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 302, (username, response.status_code)
        page = client.get(f"{base}/lectures/{lecture_id}", timeout=60)
        assert page.status_code == 200, (username, page.status_code)
        return username, elapsed, client.cookies["session"], CSRF_FIELD.search(page.text).group(1)

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, usernames))
    seconds = time.perf_counter() - started
    times = sorted(r[1] for r in results)
    stats = {"count": len(results), "concurrency": 8, "seconds": round(seconds, 2),
             "per_second": round(len(results) / seconds, 1), "p50_ms": round(percentile(times, 50), 1),
             "p95_ms": round(percentile(times, 95), 1), "max_ms": round(times[-1], 1),
             "password_hash": password_hash_label()}
    return stats, {username: (cookie, token) for username, _ms, cookie, token in results}


def sign_in_rate(base: str, usernames: list[str]) -> dict:
    """How many sign-ins a second the server takes through the real form, measured with wrk (bench/signin.lua) so
    that the load generator costs next to nothing: each member's sign-in page is fetched first (its session cookie
    and CSRF token), then wrk posts every member's password once, SIGNIN_CONNECTIONS at a time. `real_sign_ins`
    times the whole flow with a Python client instead (whose own CPU, on the same two cores, is most of its cost)."""
    def page(username: str) -> str:
        client = requests.Session()
        client.headers["User-Agent"] = USER_AGENT
        token = CSRF_FIELD.search(client.get(f"{base}/login", timeout=60).text).group(1)
        return f"{client.cookies['session']}\t{token}\t{username}"

    with ThreadPoolExecutor(8) as pool:
        lines = list(pool.map(page, usernames))
    pages = WORK / "sign-in-pages.txt"
    pages.write_text("\n".join(lines) + "\n")
    result = wrk([f"-t{WRK_THREADS}", f"-c{SIGNIN_CONNECTIONS}", "-d300s", "--timeout", "30s", "-s",
                  str(ROOT / "bench" / "signin.lua"), "-H", f"User-Agent: {USER_AGENT}", base, "--", str(pages),
                  SIGNIN_PASSWORD, str(WRK_THREADS)], threads_done=WRK_THREADS)
    result["per_second"] = round(result["signed_in"] / result["burst_seconds"], 1)
    result["members"] = len(usernames)
    result["connections"] = SIGNIN_CONNECTIONS
    result["password_hash"] = password_hash_label()
    return result


def wave(app, base: str, lecture_id: int, sessions: dict[str, tuple[str, str]], venue_of: dict[str, int],
         venue_ids: list[int], share: int) -> dict:
    """The lecture day's wave through the real forms: every member opens their venue's QR link (with the code
    the screen shows at that moment) and taps 确认签到. `share` % of them are signed out and sign in with
    their password in between (the login form, then back to the scanned link); the others have a remembered
    sign-in (记住这台手机). WAVE_CONCURRENCY phones at a time; the duration is from the first scan to the last
    check-in. Runs on this machine beside the server, so the client's own CPU counts against it."""
    from lecturehub.attendance import codes
    from lecturehub.core.timeutil import utcnow
    from lecturehub.courses.models import LectureVenue
    from lecturehub.extensions import db

    with app.app_context():
        links = dict(db.session.execute(sa.select(LectureVenue.venue_id, LectureVenue.id).where(
            LectureVenue.lecture_id == lecture_id)).all())
        db.session.remove()
    members = sorted(venue_of)
    rng = random.Random(share)
    signing_in = set(rng.sample(members, round(len(members) * share / 100)))

    def one(username: str) -> tuple[str, float, bool]:
        venue_id = venue_ids[venue_of[username] - 1]
        client = requests.Session()
        client.headers["User-Agent"] = USER_AGENT
        if username not in signing_in:
            client.cookies.set("session", sessions[username][0])
        with app.app_context():
            code, _ = codes.current_code(lecture_id, venue_id, utcnow())
        started = time.perf_counter()
        scanned = f"{base}/checkin/{links[venue_id]}?code={code}"
        page = client.get(scanned, timeout=120)
        if username in signing_in:
            assert "/login" in page.url, (username, page.url)
            token = CSRF_FIELD.search(page.text).group(1)
            page = client.post(page.url, data={"csrf_token": token, "username": username,
                                               "password": SIGNIN_PASSWORD, "remember": "y"}, timeout=120)
        assert page.status_code == 200 and f"/checkin/{links[venue_id]}" in page.url, (username, page.status_code)
        token = CSRF_FIELD.search(page.text).group(1)
        result = client.post(f"{base}/checkin/{links[venue_id]}", data={"csrf_token": token, "code": code},
                             timeout=120)
        ok = result.status_code == 200 and "<h1>✔" in result.text
        return username, (time.perf_counter() - started) * 1000, ok

    started = time.perf_counter()
    with ThreadPoolExecutor(WAVE_CONCURRENCY) as pool:
        results = list(pool.map(one, members))
    seconds = time.perf_counter() - started
    times = sorted(r[1] for r in results)
    return {"share_signing_in": share, "members": len(members), "signed_in": len(signing_in),
            "checked_in": sum(1 for r in results if r[2]), "seconds": round(seconds, 2),
            "check_ins_per_second": round(len(results) / seconds, 1), "p50_ms": round(percentile(times, 50), 1),
            "p99_ms": round(percentile(times, 99), 1), "concurrency": WAVE_CONCURRENCY}


def password_hash_label() -> str:
    from lecturehub.config import load_config

    config = load_config(WORK)
    return (f"argon2id m={config['ARGON2_MEMORY_KIB']} KiB, t={config['ARGON2_TIME_COST']}, "
            f"p={config['ARGON2_PARALLELISM']}")


def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def start_gunicorn(env: dict, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--config", str(ROOT / "bench" / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200:
                return process
        except requests.RequestException:  # not listening yet, or the workers are still importing
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("gunicorn did not start: " + process.stderr.read().decode()[-2000:])


def wrk(args: list[str], threads_done: int | None = None) -> dict:
    """Run wrk with one of the bench/*.lua scripts and parse its RESULT line. With `threads_done`, interrupt wrk
    (SIGINT: it then reports at once) after that many threads print THREAD DONE, instead of waiting out -d."""
    process = subprocess.Popen(["wrk", *args], stdout=subprocess.PIPE, text=True)
    lines, done = [], 0
    for line in process.stdout:
        lines.append(line)
        if line.startswith("UNEXPECTED "):
            print(line[:800].rstrip(), flush=True)
        if threads_done and line.startswith("THREAD DONE"):
            done += 1
            if done == threads_done:
                process.send_signal(signal.SIGINT)
    if process.wait() != 0:
        raise RuntimeError("wrk failed: " + "".join(lines)[-2000:])
    output = "".join(lines)
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    # A 3xx (e.g. to the sign-in page) is an error too; wrk counts only 4xx/5xx as errors_status.
    redirects = result.get("not_200", 0) - result["errors_status"]
    result["errors"] = sum(result[k] for k in ("errors_status", "errors_connect", "errors_read", "errors_write",
                                               "errors_timeout")) + max(0, redirects)
    result["rps"] = round(result["requests"] / result["burst_seconds"], 1)
    return result


def reference(base: str, which: str) -> dict:
    return wrk([f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", "-d10s", "--timeout", "10s", "-s",
                str(ROOT / "bench" / "reference.lua"), "-H", f"User-Agent: {USER_AGENT}", base, "--", which])


def worker_memory(master: int) -> list[float]:
    """Peak resident memory (VmHWM) of each gunicorn worker, in MB."""
    children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    peaks = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(round(int(line.split()[1]) / 1024, 1))
    return peaks


def load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def report_page_list(info: dict) -> list[tuple[str, str, str]]:
    lecture, venue, course = info["past_lecture"], info["venue"], info["course"]
    return [
        ("admin", "Organisation overview (25 venues × 50 lectures)", "/reports/overview"),
        ("admin", "Organisation overview XLSX", "/reports/overview?format=xlsx"),
        ("admin", "Lecture report (25 venues)", f"/reports/lectures/{lecture}"),
        ("admin", "Lecture report XLSX", f"/reports/lectures/{lecture}?format=xlsx"),
        ("admin", "Study hours (25 venues)", "/reports/hours?year=2025"),
        ("admin", "Quiz analysis (25 venues)", f"/lectures/{lecture}/quiz/analysis"),
        ("coord01", "Venue drill-down", f"/reports/lectures/{lecture}/venues/{venue}"),
        ("coord01", "Venue course matrix (200 members × 50 lectures)", f"/reports/courses/{course}/venues/{venue}"),
        ("coord01", "Venue course matrix XLSX", f"/reports/courses/{course}/venues/{venue}?format=xlsx"),
        ("coord01", "Venue study hours per member", f"/reports/hours/venues/{venue}?year=2025"),
        ("coord01", "Printable branch record", f"/reports/lectures/{lecture}/venues/{venue}/record"),
    ]


def count_queries(app, cookie: str, path: str) -> int:
    """SQL statements one request for `path` runs, counted in-process on the same database."""
    from lecturehub.extensions import db

    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    client = app.test_client(use_cookies=False)
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(path, headers={"User-Agent": USER_AGENT, "Cookie": f"session={cookie}"},
                              environ_base={"REMOTE_ADDR": "127.0.0.1"})
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, (path, response.status_code)
    return len(statements)


def report_pages(app, base: str, cookies: dict, info: dict) -> list[dict]:
    """Median time of five requests over HTTP (after one warm-up), and SQL statements per page."""
    results = []
    for who, label, path in report_page_list(info):
        client = requests.Session()
        client.headers["User-Agent"] = USER_AGENT
        client.cookies.set("session", cookies[who])
        times = []
        for _ in range(6):
            started = time.perf_counter()
            response = client.get(base + path, timeout=120)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        results.append({"page": label, "who": who, "path": path, "median_ms": round(statistics.median(times[1:]), 1),
                        "max_ms": round(max(times[1:]), 1), "queries": count_queries(app, cookies[who], path),
                        "bytes": len(response.content)})
    return results


def profile_checkins(url: str, sessions: dict, info: dict, kind: str, venue_ids: list[int], venue_of: dict[str, int],
                     count: int = 400) -> dict:
    """pyinstrument over `count` check-ins in-process (production settings, rate limits on) on a second open
    lecture, one after another: where a check-in's time goes when the server is not waiting for anything."""
    from pyinstrument import Profiler

    from lecturehub import create_app
    from lecturehub.attendance import codes
    from lecturehub.core.timeutil import utcnow
    from lecturehub.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET})
    lecture = info["profile_lecture"]
    members = [(cookie, token, venue_of[username]) for username, (cookie, token) in sessions.items()
               if username in venue_of][:count]
    statements = []

    def counter(*_args):
        statements.append(1)

    with app.app_context():
        shown = [codes.current_code(lecture, venue_id, utcnow())[0] for venue_id in venue_ids]
        engine = db.engine
    # Requests outside any outer application context, so each gets its own `g` as under gunicorn
    # (Flask-Login caches the user there).
    client = app.test_client(use_cookies=False)  # each request carries its member's cookie, nothing else
    sa.event.listen(engine, "before_cursor_execute", counter)
    profiler = Profiler(interval=0.0005)
    started = time.perf_counter()
    with profiler:
        for cookie, token, venue in members:
            response = client.post(f"/lectures/{lecture}/checkin", data={"csrf_token": token, "code": shown[venue - 1]},
                                   headers={"User-Agent": USER_AGENT, "Cookie": f"session={cookie}"},
                                   environ_base={"REMOTE_ADDR": "127.0.0.1"})
            assert response.status_code == 200 and "<h1>✔" in response.text, response.status_code
    seconds = time.perf_counter() - started
    sa.event.remove(engine, "before_cursor_execute", counter)
    engine.dispose()
    path = RESULTS / f"profile-{kind}-checkin.txt"
    path.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
    return {"check_ins": len(members), "ms_per_check_in": round(seconds * 1000 / len(members), 2),
            "queries_per_check_in": round(len(statements) / len(members), 2),
            "profile": shown_path(path)}


def shown_path(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def profile_page(app, cookie: str, path: str, kind: str, name: str) -> str:
    """pyinstrument over one report page in-process; the text profile's path."""
    from pyinstrument import Profiler

    client = app.test_client(use_cookies=False)
    headers = {"User-Agent": USER_AGENT, "Cookie": f"session={cookie}"}
    client.get(path, headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    with Profiler(interval=0.0005) as profiler:
        client.get(path, headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    out = RESULTS / f"profile-{kind}-{name}.txt"
    out.write_text(profiler.output_text(unicode=True, color=False))
    return shown_path(out)


def burst_codes(app, lecture_id: int, venue_ids: list[int], periods: int = 40) -> str:
    """Each venue screen's codes for the next `periods` 30 s periods, for the wrk script to show each member the
    code of their home venue: "<first period>:<venue 1 codes, comma-separated>;<venue 2 codes>;…"."""
    from lecturehub.attendance import codes

    first = int(time.time()) // codes.PERIOD_SECONDS
    with app.app_context():
        return f"{first}:" + ";".join(",".join(codes.code_for(lecture_id, venue_id, first + n) for n in range(periods))
                                      for venue_id in venue_ids)


def gunicorn_settings() -> dict:
    settings = runpy.run_path(str(ROOT / "bench" / "gunicorn.conf.py"))
    return {k: settings[k] for k in ("workers", "worker_class", "threads", "timeout", "keepalive")}


def run(kind: str, members: int, lectures: int) -> dict:
    from lecturehub import create_app
    from lecturehub.attendance.models import AttendanceRecord
    from lecturehub.core.bench import create_probe_table
    from lecturehub.extensions import db

    RESULTS.mkdir(parents=True, exist_ok=True)
    for old in RESULTS.glob(f"profile-{kind}-*.txt"):  # only this run's profiles stay
        old.unlink()
    url = database_url(kind)
    env = environment(url)
    subprocess.run([str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET, "RATELIMIT_ENABLED": False})
    with app.app_context():
        create_probe_table(db.engine)
    print(f"[{kind}] building the data set …", flush=True)
    info = build_data(app, members, lectures)
    # The past lectures were loaded with bulk INSERTs, which no commit of the app's saw: tally them as an upgrade
    # of an existing organisation does (the reports would otherwise count them from their records).
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "attendance", "tally", "--all"], cwd=ROOT,
                   env=env, check=True, capture_output=True)
    info["tally_seconds"] = round(time.perf_counter() - started, 1)
    analyse(app, kind)
    print(f"[{kind}] {info}", flush=True)
    started = time.perf_counter()
    sessions = mint_sessions(app)
    minted_seconds = round(time.perf_counter() - started, 1)
    load_start = load_average()
    port = free_port()
    server = start_gunicorn(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        print(f"[{kind}] reference endpoints …", flush=True)
        reference_constant = reference(base, "constant")
        reference_insert = reference(base, "insert")
        memory_before_sign_ins = worker_memory(server.pid)
        print(f"[{kind}] {SIGNIN_SAMPLE} real sign-ins …", flush=True)
        sample = [f"m{i:05d}" for i in range(min(SIGNIN_SAMPLE, members))]
        signins, real_sessions = real_sign_ins(base, sample, info["live_lecture"])
        print(f"[{kind}] sign-in rate (wrk) …", flush=True)
        rate_sample = [f"m{i:05d}" for i in range(SIGNIN_SAMPLE, min(SIGNIN_SAMPLE + SIGNIN_RATE_MEMBERS, members))]
        signin_rate = sign_in_rate(base, rate_sample)
        print(f"[{kind}] {signin_rate}", flush=True)
        memory_after_sign_ins = worker_memory(server.pid)
        sessions.update(real_sessions)
        sessions_file = WORK / f"sessions-{kind}.txt"
        venue_ids, venue_of = member_venues(app)
        write_sessions(sessions_file, sessions, venue_of)
        print(f"[{kind}] check-in burst of {members} members …", flush=True)
        burst = wrk([f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", "-d300s", "--timeout", "10s", "-s",
                     str(ROOT / "bench" / "checkin.lua"), "-H", f"User-Agent: {USER_AGENT}", base, "--",
                     str(sessions_file), str(info["live_lecture"]), burst_codes(app, info["live_lecture"], venue_ids),
                     str(WRK_THREADS)], threads_done=WRK_THREADS)
        burst["check_ins_per_second"] = round(burst["created"] / burst["burst_seconds"], 1)
        print(f"[{kind}] {burst}", flush=True)
        time.sleep(1)  # double taps still in flight when wrk stopped
        with app.app_context():
            stored = db.session.scalar(sa.select(sa.func.count(AttendanceRecord.id)).where(
                AttendanceRecord.lecture_id == info["live_lecture"]))
            duplicates = db.session.scalar(sa.select(sa.func.count()).select_from(
                sa.select(AttendanceRecord.user_id).where(AttendanceRecord.lecture_id == info["live_lecture"])
                .group_by(AttendanceRecord.user_id).having(sa.func.count() > 1).subquery()))
            db.session.remove()
        waves = []
        for share in WAVE_SHARES:
            print(f"[{kind}] wave: {share}% of members sign in with a password …", flush=True)
            waves.append(wave(app, base, info["wave_lectures"][str(share)], sessions, venue_of, venue_ids, share))
            print(f"[{kind}] {waves[-1]}", flush=True)
        memory_after_waves = worker_memory(server.pid)
        print(f"[{kind}] report pages …", flush=True)
        cookies = {who: sessions[who][0] for who in ("admin", "coord01")}
        reports = report_pages(app, base, cookies, info)
        memory = worker_memory(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    load_end = load_average()
    print(f"[{kind}] profiles …", flush=True)
    profile = profile_checkins(url, sessions, info, kind, venue_ids, venue_of)
    for page in reports:
        if page["median_ms"] >= 150:
            name = re.sub(r"[^a-z0-9]+", "-", page["page"].lower()).strip("-")
            page["profile"] = profile_page(app, cookies[page["who"]], page["path"], kind, name)
    with app.app_context():
        db.engine.dispose()
    result = {
        "database": kind, "data": info, "machine": machine(), "measured_at": datetime.now(timezone.utc).isoformat(
            timespec="seconds"), "load_average_start": load_start, "load_average_end": load_end,
        "gunicorn": gunicorn_settings(), "connections": CONNECTIONS, "wrk_threads": WRK_THREADS,
        "sessions_minted_seconds": minted_seconds, "real_sign_ins": signins, "sign_in_rate": signin_rate,
        "reference_constant": reference_constant, "reference_insert": reference_insert, "checkin": burst,
        "checkin_records": stored, "checkin_duplicate_records": duplicates,
        "ratio_to_constant": round(burst["check_ins_per_second"] / reference_constant["rps"], 3),
        "ratio_to_insert": round(burst["check_ins_per_second"] / reference_insert["rps"], 3),
        "checkin_profile": profile, "reports": reports, "worker_peak_mb": memory,
        # VmHWM is a high-water mark: after the reference runs, after the real sign-ins (argon2id), at the end.
        "worker_peak_mb_before_sign_ins": memory_before_sign_ins, "worker_peak_mb_after_sign_ins": memory_after_sign_ins,
        "waves": waves, "worker_peak_mb_after_waves": memory_after_waves,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{kind}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))) // 1024 // 1024
    return f"{os.cpu_count()} cores ({cpu}), {memory} GiB RAM, {platform.system()} {platform.release()}, " \
           f"Python {platform.python_version()}"


def write_markdown(results: list[dict]) -> None:
    from bench.report import render

    (ROOT / "docs" / "performance.md").write_text(render(results, machine()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--lectures", type=int, default=50)
    parser.add_argument("--results", type=Path, default=None,
                        help="write the JSON and profiles here instead, and leave docs/performance.md alone "
                             "(for trial runs at other sizes)")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if args.results is not None:
        global RESULTS
        RESULTS = args.results.resolve()
        for kind in kinds:
            run(kind, args.members, args.lectures)
        return
    results = [run(kind, args.members, args.lectures) for kind in kinds]
    for kind in ("sqlite", "postgresql"):
        if kind not in kinds and (RESULTS / f"{kind}.json").exists():
            results.append(json.loads((RESULTS / f"{kind}.json").read_text()))
    write_markdown(sorted(results, key=lambda r: r["database"] != "sqlite"))
    print(json.dumps([{k: r[k] for k in ("database", "checkin_records", "ratio_to_insert")} for r in results]))


if __name__ == "__main__":
    main()
