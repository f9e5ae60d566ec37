"""Faults the site must survive: a worker killed mid-burst, dropped PostgreSQL connections, and a
database that is read-only or full. Nothing acknowledged is lost, nothing is half-written, and the
member sees a clear page in their language instead of a traceback."""
from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from lecturehub.accounts.models import User
from lecturehub.attendance import codes
from lecturehub.attendance.models import AttendanceRecord
from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db
from lecturehub.quizzes.models import Question

from .conftest import POSTGRES_ADMIN_URL, make_test_app
from .servers import CSRF, child_pids, members_and_open_lecture, sign_in, start_gunicorn, stop

MEMBERS = 120
CLIENTS = 16
UNAVAILABLE_ZH = "暂时无法保存"


def table_counts() -> dict[str, int]:
    db.session.expire_all()
    return {table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


# --- a worker killed in the middle of a check-in burst -------------------------------------------------

def test_a_worker_killed_mid_burst_loses_no_acknowledged_check_in(app, database_url, org):
    venue_id = org["branch_a"]
    lecture_id = members_and_open_lecture(venue_id, "k", MEMBERS, "kill-pass-1", slug="kill")
    code, _ = codes.current_code(lecture_id, venue_id, utcnow())

    master, site = start_gunicorn(
        {"LECTUREHUB_DATABASE_URL": database_url, "LECTUREHUB_SECRET_KEY": app.config["SECRET_KEY"],
         "LECTUREHUB_RATELIMIT_ENABLED": "off"},
        "--workers", "2", "--worker-class", "gthread", "--threads", "4")
    try:
        def prepare(n: int) -> tuple[requests.Session, str]:
            session = sign_in(site, f"k{n:04d}", "kill-pass-1")
            return session, CSRF.search(session.get(f"{site}/lectures/{lecture_id}", timeout=30).text).group(1)

        with ThreadPoolExecutor(CLIENTS) as pool:
            sessions = list(pool.map(prepare, range(MEMBERS)))
        workers = child_pids(master.pid)
        assert len(workers) == 2, workers
        victim = min(workers)

        finished = [0]
        killed_after = []
        lock = threading.Lock()

        def check_in(n: int) -> str:
            """'ack' when the page says the member is checked in; 'lost' when the connection died."""
            session, token = sessions[n]
            try:
                response = session.post(f"{site}/lectures/{lecture_id}/checkin", timeout=60,
                                        data={"csrf_token": token, "code": code})
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                # The worker died before or while sending the answer: not an acknowledgement.
                outcome = "lost"
            else:
                assert response.status_code < 500, (response.status_code, response.text[:500])
                assert response.status_code == 200 and "已签到" in response.text, response.text[:500]
                outcome = "ack"
            with lock:
                finished[0] += 1
                if finished[0] == MEMBERS // 3:
                    os.kill(victim, signal.SIGKILL)  # no goodbye: no response, no rollback, no cleanup
                    killed_after.append(finished[0])
            return outcome

        with ThreadPoolExecutor(CLIENTS) as pool:
            outcomes = list(pool.map(check_in, range(MEMBERS)))
        assert killed_after == [MEMBERS // 3]
        acknowledged = {n for n, outcome in enumerate(outcomes) if outcome == "ack"}
        lost = {n for n, outcome in enumerate(outcomes) if outcome == "lost"}

        def stored() -> list[str]:
            db.session.expire_all()
            return list(db.session.scalars(sa.select(User.username).join(
                AttendanceRecord, AttendanceRecord.user_id == User.id).where(AttendanceRecord.lecture_id == lecture_id)))

        stored_first = stored()
        assert len(stored_first) == len(set(stored_first))  # one record per member
        assert {f"k{n:04d}" for n in acknowledged} <= set(stored_first), "an acknowledged check-in was lost"

        # The master replaced the killed worker; members whose request died simply try again.
        deadline = time.monotonic() + 30
        while (len(child_pids(master.pid)) < 2 or victim in child_pids(master.pid)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert victim not in child_pids(master.pid) and len(child_pids(master.pid)) == 2
        retried = {n: check_in(n) for n in sorted(lost)}
        assert all(outcome == "ack" for outcome in retried.values()), retried

        stored_last = stored()
        assert sorted(stored_last) == [f"k{n:04d}" for n in range(MEMBERS)]
        committed_unacknowledged = len({f"k{n:04d}" for n in lost} & set(stored_first))
        print(f"\nkill on {db.engine.dialect.name}: {len(acknowledged)} of {MEMBERS} check-ins acknowledged in the "
              f"burst, all stored; {len(lost)} connections died with the worker ({committed_unacknowledged} of them "
              f"had committed anyway); after retries {len(stored_last)} records, one per member")
    finally:
        stop(master)


# --- PostgreSQL connections dropped under the running site ----------------------------------------------

def _database_name(app) -> str:
    with app.app_context():
        return db.engine.url.database


@pytest.mark.backend("postgresql")  # SQLite has no server whose connections could drop
def test_dropped_postgresql_connections_are_recovered_without_a_restart(app, org, client):
    name = _database_name(app)
    client.login("m0001")
    assert client.get("/home").status_code == 200
    db.session.remove()  # the test's own session gives its connection back to the pool, to be killed too
    with app.app_context():
        pool_before = db.engine.pool.checkedin()
    assert pool_before >= 1  # the site holds idle connections in its pool, as in production

    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            # What a server restart (or a failover) does to every connection the site holds.
            killed = conn.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name}).scalar()
    finally:
        admin.dispose()
    assert killed >= pool_before

    for _ in range(3):  # each request checks a dead connection out of the pool and must get a live one
        page = client.get("/home")
        assert page.status_code == 200 and "张伟" in page.get_data(as_text=True)


# --- a read-only database and a full disk -----------------------------------------------------------------

def _share_session(source, target) -> None:
    """Sign `target` in as whoever `source` is, through the signed session cookie both apps accept."""
    target.set_cookie("session", source.get_cookie("session").value)


def _check_in_attempt(client, lecture_id: int, code: str):
    token = client.csrf_token(f"/lectures/{lecture_id}")
    return client.post(f"/lectures/{lecture_id}/checkin", data={"csrf_token": token, "code": code})


def _assert_unavailable_page(response) -> str:
    page = response.get_data(as_text=True)
    assert response.status_code == 503, page[:500]
    assert UNAVAILABLE_ZH in page and "Traceback" not in page
    assert response.headers["Retry-After"]
    return page


@pytest.mark.backend("sqlite")  # the PostgreSQL variant is the next test
def test_a_read_only_sqlite_database_gives_a_clear_page_and_writes_nothing(app, org, open_lecture, client, tmp_path):
    path = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    read_only = make_test_app(f"sqlite:///file:{path}?mode=ro&uri=true", tmp_path)
    lecture_id, venue_id = open_lecture.id, org["branch_a"]
    code, _ = codes.current_code(lecture_id, venue_id, utcnow())
    client.login("m0001")  # signing in writes (a session, an audit entry): count after it
    before = table_counts()
    ro_client = read_only.test_client()
    _share_session(client, ro_client)

    assert ro_client.get(f"/lectures/{lecture_id}").status_code == 200  # reading still works
    _assert_unavailable_page(_check_in_attempt(ro_client, lecture_id, code))
    english = ro_client.post(f"/lectures/{lecture_id}/checkin", headers={"Accept-Language": "en"}, data={
        "csrf_token": ro_client.csrf_token(f"/lectures/{lecture_id}"), "code": code})
    assert english.status_code == 503 and "cannot be saved right now" in english.get_data(as_text=True)
    assert table_counts() == before

    assert _check_in_attempt(client, lecture_id, code).status_code == 200  # the writable site is unaffected
    with read_only.app_context():
        db.engine.dispose()


@pytest.mark.backend("postgresql")
def test_a_read_only_postgresql_database_gives_a_clear_page_and_writes_nothing(app, org, open_lecture, client):
    name = _database_name(app)
    lecture_id, venue_id = open_lecture.id, org["branch_a"]
    code, _ = codes.current_code(lecture_id, venue_id, utcnow())
    client.login("m0001")  # signing in writes (a session, an audit entry): count after it
    before = table_counts()
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
        with app.app_context():
            db.engine.dispose()  # the setting applies to new connections
        assert client.get(f"/lectures/{lecture_id}").status_code == 200
        _assert_unavailable_page(_check_in_attempt(client, lecture_id, code))
        assert table_counts() == before
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only'))
        admin.dispose()
        with app.app_context():
            db.engine.dispose()
    assert _check_in_attempt(client, lecture_id, code).status_code == 200


@pytest.mark.backend("sqlite")  # a full disk is simulated with SQLite's max_page_count
def test_a_full_disk_gives_a_clear_page_and_no_half_written_quiz(app, org, seed_lecture, client, tmp_path):
    lecture_id = seed_lecture["lecture_id"]
    client.login("m0001")
    page = client.get(f"/lectures/{lecture_id}/quiz").get_data(as_text=True)
    token = CSRF.search(page).group(1)
    # The first autosave stores the quiz in progress (showing the page writes nothing).
    assert client.post(f"/lectures/{lecture_id}/quiz/draft", data={"csrf_token": token}).status_code == 200
    answers = {f"q{q.id}": [str(i) for i in q.answer]
               for q in db.session.scalars(sa.select(Question).where(Question.lecture_id == lecture_id))}
    before = table_counts()
    assert before["quiz_sitting"] == 1 and before["quiz_attempt"] == 0

    # Free pages left by earlier deletes would take the new rows; on a full disk there are none.
    db.session.remove()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM")
        assert conn.exec_driver_sql("PRAGMA freelist_count").scalar() == 0

    full = make_test_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path)
    with full.app_context():
        @sa.event.listens_for(db.engine, "connect")
        def no_room_to_grow(dbapi_connection, connection_record):
            # The file may not grow by a single page: what a full disk means to SQLite (SQLITE_FULL).
            cursor = dbapi_connection.cursor()
            pages = cursor.execute("PRAGMA page_count").fetchone()[0]
            cursor.execute(f"PRAGMA max_page_count = {pages}")
            cursor.close()

    full_client = full.test_client()
    _share_session(client, full_client)
    response = full_client.post(f"/lectures/{lecture_id}/quiz", data={"csrf_token": token, **answers})
    _assert_unavailable_page(response)
    after = table_counts()
    assert after["quiz_attempt"] == 0 and after["attempt_answer"] == 0  # not a graded attempt without its answers
    assert after["quiz_sitting"] == 1  # the quiz in progress is still there to submit again
    assert after == before

    # Once there is room again the same submission goes through.
    with full.app_context():
        db.engine.dispose()
    response = client.post(f"/lectures/{lecture_id}/quiz", data={"csrf_token": token, **answers})
    assert response.status_code == 302
    assert table_counts()["attempt_answer"] == 20
