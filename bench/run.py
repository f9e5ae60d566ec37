"""LectureHub benchmark: a check-in burst of every member, the stack's reference limits, and the reports.

    make bench                      # both databases
    .venv/bin/python bench/run.py --db sqlite --members 5000 --lectures 50

Builds 25 venues, 5,000 members and 50 past lectures with about 250,000 attendance records, starts
gunicorn with the production settings (bench/gunicorn.conf.py), and drives it with wrk. Writes
bench/results/<db>.json and the tables in docs/performance.md. Needs wrk (apt-get install wrk) and,
for PostgreSQL, the server at 127.0.0.1:5432. Not part of the test suite's pass/fail.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
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
USER_AGENT = "lecturehub-bench"

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
    return dict(os.environ, LECTUREHUB_DATABASE_URL=url, LECTUREHUB_SECRET_KEY=SECRET, LECTUREHUB_BENCH_ENDPOINTS="1",
                LECTUREHUB_CHECKIN_RATE_LIMIT="10 per minute")


def build_data(app, members: int, lecture_count: int) -> dict:
    """Venues, members, past lectures with realistic attendance, and one lecture open for check-in now."""
    from werkzeug.security import generate_password_hash

    from lecturehub.accounts.models import Role, User
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
        password_hash = generate_password_hash("bench-pass-1", method="pbkdf2:sha256:1000")
        db.session.execute(sa.insert(User), [
            {"username": f"m{i:05d}", "name": f"党员{i}", "member_no": f"m{i:05d}", "role": Role.MEMBER,
             "home_venue_id": venues[i % len(venues)].id, "password_hash": password_hash, "active": True,
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
        db.session.add_all(lectures + [live])
        db.session.commit()
        member_rows = db.session.execute(sa.select(User.id, User.home_venue_id).where(User.role == Role.MEMBER)).all()
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
                "quiz_attempts": len(attempts), "live_lecture": live.id, "course": course.id,
                "venue": venues[1].id, "past_lecture": lectures[-1].id, "seconds": round(time.perf_counter() - started, 1)}
        db.session.remove()
        db.engine.dispose()
    return info


def mint_sessions(app, path: Path) -> dict:
    """A signed-in session cookie and CSRF token per member, made by the app's own session machinery.

    Equivalent to each member signing in (which is scrypt-bound by design and not what is measured here).
    """
    from flask import session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    from lecturehub.accounts.models import User
    from lecturehub.extensions import db

    extra = {}
    with app.app_context():
        users = db.session.scalars(sa.select(User).order_by(User.id)).all()
        serializer = app.session_interface.get_signing_serializer(app)
        lines = []
        for user in users:
            with app.test_request_context("/", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                          headers={"User-Agent": USER_AGENT}):
                login_user(user)
                token = generate_csrf()
                cookie = serializer.dumps(dict(session))
            if user.username in ("admin", "coord01"):
                extra[user.username] = cookie
            else:
                lines.append(f"{cookie}\t{token}")
        db.session.remove()
    path.write_text("\n".join(lines) + "\n")
    return extra


def start_gunicorn(env: dict, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--config", str(ROOT / "bench" / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except requests.ConnectionError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("gunicorn did not start: " + process.stderr.read().decode()[-2000:])


def wrk(args: list[str]) -> dict:
    output = subprocess.run(["wrk", *args], capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["rps"] = round(result["requests"] / (result["duration_us"] / 1e6), 1)
    return result


def worker_memory(master: int) -> list[float]:
    """Peak resident memory (VmHWM) of each gunicorn worker, in MB."""
    children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    peaks = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(round(int(line.split()[1]) / 1024, 1))
    return peaks


def report_pages(app, base: str, cookies: dict, info: dict) -> list[dict]:
    """Median time of five requests over HTTP, and SQL statements per page counted in-process."""
    from lecturehub.extensions import db

    pages = [
        ("admin", "Organisation report", "/reports/overview"),
        ("admin", "Lecture report (25 venues)", f"/reports/lectures/{info['past_lecture']}"),
        ("admin", "Lecture report XLSX", f"/reports/lectures/{info['past_lecture']}?format=xlsx"),
        ("admin", "Study hours (25 venues)", "/reports/hours?year=2025"),
        ("coord01", "Venue drill-down", f"/reports/lectures/{info['past_lecture']}/venues/{info['venue']}"),
        ("coord01", "Venue course matrix (50 lectures)", f"/reports/courses/{info['course']}/venues/{info['venue']}"),
        ("coord01", "Venue matrix XLSX", f"/reports/courses/{info['course']}/venues/{info['venue']}?format=xlsx"),
        ("admin", "Quiz analysis", f"/lectures/{info['past_lecture']}/quiz/analysis"),
    ]
    results = []
    for who, label, path in pages:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        session.cookies.set("session", cookies[who])
        times = []
        for _ in range(6):
            started = time.perf_counter()
            response = session.get(base + path, timeout=60)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        statements = []

        def count(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        with app.app_context():
            client = app.test_client()
            client.set_cookie("session", cookies[who])
            sa.event.listen(db.engine, "before_cursor_execute", count)
            client.get(path, headers={"User-Agent": USER_AGENT}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
            sa.event.remove(db.engine, "before_cursor_execute", count)
        results.append({"page": label, "path": path, "median_ms": round(statistics.median(times[1:]), 1),
                        "queries": len(statements), "bytes": len(response.content)})
    return results


def run(kind: str, members: int, lectures: int) -> dict:
    from lecturehub import create_app
    from lecturehub.attendance import codes
    from lecturehub.attendance.models import AttendanceRecord
    from lecturehub.core.timeutil import utcnow
    from lecturehub.extensions import db

    url = database_url(kind)
    env = environment(url)
    subprocess.run([str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET, "RATELIMIT_ENABLED": False})
    print(f"[{kind}] building the data set …", flush=True)
    info = build_data(app, members, lectures)
    print(f"[{kind}] {info}", flush=True)
    sessions_file = WORK / f"sessions-{kind}.txt"
    cookies = mint_sessions(app, sessions_file)
    port = free_port()
    server = start_gunicorn(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        reference_constant = wrk(["-t2", f"-c{CONNECTIONS}", "-d10s", "-s", str(ROOT / "bench" / "reference.lua"),
                                  "-H", f"User-Agent: {USER_AGENT}", base, "--", "constant"])
        reference_insert = wrk(["-t2", f"-c{CONNECTIONS}", "-d10s", "-s", str(ROOT / "bench" / "reference.lua"),
                                "-H", f"User-Agent: {USER_AGENT}", base, "--", "insert"])
        with app.app_context():
            venue_id = info["venue"]
            code, left = codes.current_code(info["live_lecture"], venue_id, utcnow())
        if left < 20:  # the code stays valid for this period and the next: start with room to spare
            time.sleep(left + 1)
            with app.app_context():
                code, _left = codes.current_code(info["live_lecture"], venue_id, utcnow())
        print(f"[{kind}] check-in burst of {members} members …", flush=True)
        burst = wrk(["-t2", f"-c{CONNECTIONS}", "-d120s", "-s", str(ROOT / "bench" / "checkin.lua"),
                     "-H", f"User-Agent: {USER_AGENT}", base, "--", str(sessions_file), str(info["live_lecture"]),
                     code, "2"])
        with app.app_context():
            stored = db.session.scalar(sa.select(sa.func.count(AttendanceRecord.id)).where(
                AttendanceRecord.lecture_id == info["live_lecture"]))
            db.session.remove()
        reports = report_pages(app, base, cookies, info)
        memory = worker_memory(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    result = {
        "database": kind, "data": info, "connections": CONNECTIONS,
        "reference_constant": reference_constant, "reference_insert": reference_insert, "checkin": burst,
        "checkin_records": stored,
        "ratio_to_constant": round(burst["rps"] / reference_constant["rps"], 3),
        "ratio_to_insert": round(burst["rps"] / reference_insert["rps"], 3),
        "reports": reports, "worker_peak_mb": memory,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{kind}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
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
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = [run(kind, args.members, args.lectures) for kind in kinds]
    for kind in ("sqlite", "postgresql"):
        if kind not in kinds and (RESULTS / f"{kind}.json").exists():
            results.append(json.loads((RESULTS / f"{kind}.json").read_text()))
    write_markdown(sorted(results, key=lambda r: r["database"] != "sqlite"))
    print(json.dumps([{k: r[k] for k in ("database", "checkin_records", "ratio_to_insert")} for r in results]))


if __name__ == "__main__":
    main()
