"""Fixtures: one app per database backend, real databases only.

Every test that uses `app` runs on SQLite and on PostgreSQL. PostgreSQL is
required unless LECTUREHUB_TEST_POSTGRES=off is set explicitly; an unreachable
server fails the run instead of skipping it, so CI cannot pass without it.
"""
from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient
from hypothesis import settings
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from lecturehub import create_app
from lecturehub.accounts.models import Membership, MembershipChange, Role, User
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.content import import_content
from lecturehub.courses.models import Course, KeyPoint, Lecture, LectureVenue
from lecturehub.extensions import db
from lecturehub.quizzes.models import Question, QuestionKind
from lecturehub.venues.models import Venue, VenueKind

# In CI the generated inputs are fixed (derandomised), so a run passes or fails the same way each time;
# on a developer's machine every run explores new inputs and prints a blob to reproduce a failure.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEED_CONTENT = PROJECT_ROOT / "content"
POSTGRES_ADMIN_URL = os.environ.get(
    "LECTUREHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PASSWORD = "test-pass-123"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _backends() -> list[str]:
    if os.environ.get("LECTUREHUB_TEST_POSTGRES", "on").lower() in {"off", "0", "no"}:
        return ["sqlite"]
    return ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=_backends())
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        return
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"lecturehub_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required for the test suite ({POSTGRES_ADMIN_URL}): {exc}. "
                    "Set LECTUREHUB_TEST_POSTGRES=off to run on SQLite only.", pytrace=False)
    url = sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def pytest_collection_modifyitems(config, items):
    """Tests marked `backend(name)` run only with that database: the other is deselected, not skipped."""
    selected, deselected = [], []
    for item in items:
        marker = item.get_closest_marker("backend")
        backend = getattr(item, "callspec", None) and item.callspec.params.get("database_url")
        if marker is not None and backend is not None and backend != marker.args[0]:
            deselected.append(item)
        else:
            selected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@event.listens_for(Session, "after_flush")
def _note_flush(session, _flush_context):
    session.info["wrote"] = True


@event.listens_for(Session, "do_orm_execute")
def _note_write_statement(state):
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info["wrote"] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_writes(session, transaction):
    if transaction.parent is None:  # the test's transaction ended (a flush or savepoint ends a nested one)
        session.info.pop("wrote", None)


def _session_wrote(session) -> bool:
    """Whether the test's own transaction holds writes; committing only then leaves a reading test's objects loaded."""
    return bool(session.new or session.dirty or session.deleted or session.info.get("wrote"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Commit what the fixtures arranged through services (which only flush) before the test body runs.

    A live server or another worker reads the database on its own connections; the test client commits
    by itself before each request (see `Client.open`)."""
    if has_app_context() and _session_wrote(db.session()):
        db.session.commit()
    yield


_WRITE_RE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.I)


class WriteLog(list):
    """(table, statement) of every INSERT, UPDATE and DELETE sent to the database while it listens."""

    def tables(self) -> set[str]:
        return {table for table, _statement in self}


@contextlib.contextmanager
def catch_writes(app):
    """Note every INSERT, UPDATE or DELETE the app sends, on whichever of its connections, while the block runs.

    What the test itself arranged is committed first, so only the requests in the block are caught."""
    if has_app_context() and _session_wrote(db.session()):
        db.session.commit()
    with app.app_context():
        engine = db.engine
    log = WriteLog()

    def note(conn, cursor, statement, parameters, context, executemany):
        match = _WRITE_RE.match(statement)
        if match:
            log.append((match.group(1).lower(), statement))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", note)


class Client(FlaskClient):
    """A test client that submits forms the way a browser does: with the page's CSRF token."""

    def open(self, *args, **kwargs):
        # Services only flush; the request or command around them commits. A test that arranged data by
        # calling services plays that part: what it wrote is committed before the request, which runs in
        # its own app context (its own `g` and database session) as in production, and could not see it otherwise.
        if has_app_context() and _session_wrote(db.session()):
            db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)

    def csrf_token(self, url: str = "/login") -> str:
        page = self.get(url).get_data(as_text=True)
        match = CSRF_RE.search(page)
        assert match, f"no CSRF token on {url}"
        return match.group(1)

    def submit(self, url: str, data: dict | None = None, token_from: str | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token(token_from or url))
        return self.post(url, data=data, **kwargs)

    def login(self, username: str, password: str = PASSWORD):
        response = self.submit("/login", {"username": username, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response


def make_test_app(database_url: str, tmp_path: Path, **overrides):
    config = {
        "TESTING": True,
        "SECRET_KEY": "tests-only-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": None,
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
    }
    config.update(overrides)
    os.environ.setdefault("LECTUREHUB_SECRET_KEY", "tests-only-secret")
    app = create_app(config)
    app.instance_path = str(tmp_path)
    app.test_client_class = Client
    return app


@pytest.fixture
def rate_limited_app(database_url, tmp_path):
    """Build an app with rate limits on; `overrides` set the limits.

    Flask-Limiter keeps its switch and in-memory counters on the one Limiter object, so
    they are put back afterwards for the other tests' app.
    """
    from lecturehub.extensions import limiter

    def factory(**overrides):
        return make_test_app(database_url, tmp_path, RATELIMIT_ENABLED=True, **overrides)

    yield factory
    limiter.reset()
    limiter.enabled = False


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    app = make_test_app(database_url, tmp_path_factory.mktemp("instance"))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()  # the schema comes from the migrations, as in production
    return app


@pytest.fixture(autouse=True)
def _clean_database(request):
    """Empty every table after each test that used the database, so tests stay independent."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                if table.name == "audit_event":
                    _empty_audit_log(conn)
                else:
                    conn.execute(table.delete())


def _empty_audit_log(conn) -> None:
    """The database refuses DELETE on the audit log; tests clear it the only ways that bypass the triggers."""
    from lecturehub.audit.models import APPEND_ONLY_DDL, DROP_APPEND_ONLY_DDL

    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("TRUNCATE audit_event"))  # row triggers do not fire on TRUNCATE
        return
    for statement in DROP_APPEND_ONLY_DDL["sqlite"]:
        conn.execute(sa.text(statement))
    conn.execute(sa.text("DELETE FROM audit_event"))
    for statement in APPEND_ONLY_DDL["sqlite"]:
        conn.execute(sa.text(statement))


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app) -> Client:
    return app.test_client()


@pytest.fixture
def make_venue(ctx):
    counter = {"n": 0}

    def factory(code: str | None = None, name: str | None = None, kind: VenueKind = VenueKind.BRANCH) -> Venue:
        counter["n"] += 1
        venue = Venue(code=code or f"v{counter['n']:02d}", name=name or f"第{counter['n']}分会场", kind=kind,
                      position=counter["n"])
        db.session.add(venue)
        db.session.commit()
        return venue

    return factory


_HASH_CACHE: dict[str, str] = {}
# Members made by `make_user` belong to their venue from long before any lecture in the tests.
MEMBERS_SINCE = datetime(2000, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def make_user(ctx):
    from lecturehub.accounts.models import hash_password

    def factory(username: str, role: Role = Role.MEMBER, venue: Venue | None = None,
                venues: list[Venue] | None = None, name: str | None = None, password: str = PASSWORD,
                **fields) -> User:
        # argon2id is slow on purpose; tests reuse one hash per password.
        if password not in _HASH_CACHE:
            _HASH_CACHE[password] = hash_password(password)
        joined_at = fields.pop("joined_at", MEMBERS_SINCE)
        user = User(username=username, name=name or f"用户{username}", role=role, member_no=fields.pop("member_no", username),
                    home_venue=venue or (venues[0] if venues else None), password_hash=_HASH_CACHE[password], **fields)
        if role is Role.COORDINATOR:
            user.coordinated_venues = venues or ([venue] if venue else [])
        if user.home_venue is not None and user.active is not False:
            db.session.add(Membership(user=user, venue=user.home_venue, starts_at=joined_at,
                                      began_how=MembershipChange.JOINED))
        db.session.add(user)
        db.session.commit()
        return user

    return factory


@pytest.fixture
def org(make_venue, make_user):
    """A small organisation: main venue + two branches, a coordinator for each branch, members and an admin."""
    main = make_venue("main", "主会场", VenueKind.MAIN)
    branch_a = make_venue("b01", "第1分会场")
    branch_b = make_venue("b02", "第2分会场")
    users = {
        "admin": make_user("admin", Role.ADMIN, name="管理员"),
        "coord_a": make_user("coord01", Role.COORDINATOR, venues=[branch_a], name="甲负责人"),
        "coord_b": make_user("coord02", Role.COORDINATOR, venues=[branch_b], name="乙负责人"),
        "member_a": make_user("m0001", Role.MEMBER, venue=branch_a, name="张伟"),
        "member_a2": make_user("m0002", Role.MEMBER, venue=branch_a, name="李娜"),
        "member_b": make_user("m0003", Role.MEMBER, venue=branch_b, name="王芳"),
    }
    ids = {key: user.id for key, user in users.items()}
    return {"main": main.id, "branch_a": branch_a.id, "branch_b": branch_b.id, **ids}


@pytest.fixture
def seed_lecture(org):
    """The seed course from content/, imported as the demo does."""
    summary = import_content(SEED_CONTENT)
    from lecturehub.courses.models import Lecture

    lecture = db.session.scalar(sa.select(Lecture))
    return {"summary": summary, "lecture_id": lecture.id, "course_id": lecture.course_id}


@pytest.fixture
def make_lecture(org):
    def factory(starts_at: datetime, minutes: int = 120, venues=("main", "branch_a", "branch_b"), **fields) -> Lecture:
        course = db.session.scalar(sa.select(Course).where(Course.slug == "test")) or Course(slug="test", title="专题")
        lecture = Lecture(course=course, slug=f"l{starts_at.timestamp():.0f}", title="测试党课", speaker="主讲人",
                          starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes), **fields)
        for key in venues:
            lecture.venue_links.append(LectureVenue(venue_id=org[key]))
        lecture.key_points.append(KeyPoint(position=1, title="要点一", body_md="内容"))
        db.session.add(lecture)
        db.session.flush()
        db.session.add(Question(lecture_id=lecture.id, key="q1", position=1, kind=QuestionKind.TRUE_FALSE,
                                stem="判断", options=[], answer=[0], explanation="解析"))
        db.session.commit()
        return lecture

    return factory


@pytest.fixture
def open_lecture(make_lecture):
    """A lecture starting in five minutes: check-in is open and on time."""
    return make_lecture(utcnow() + timedelta(minutes=5))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(app):
    """The app served over real HTTP in a thread, for the browser tests."""
    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
