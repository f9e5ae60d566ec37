"""`flask backup` and `flask restore` on SQLite and PostgreSQL: a populated database comes back exactly,
a backup taken during writes is consistent, and a wrong file is refused before anything is touched."""
from __future__ import annotations

import sqlite3
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from lecturehub.accounts.models import Role, User
from lecturehub.attendance import services as attendance
from lecturehub.attendance.models import AttendanceChange, AttendanceRecord, Method, Status
from lecturehub.core import backup as backups
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.models import Lecture
from lecturehub.extensions import db
from lecturehub.quizzes import services as quizzes
from lecturehub.quizzes.models import AttemptAnswer, QuizAttempt


def run_cli(app, *args: str, input: str | None = None):
    db.session.remove()
    return app.test_cli_runner().invoke(args=list(args), input=input)


def table_counts() -> dict[str, int]:
    db.session.expire_all()
    return {table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


def records() -> list[tuple]:
    return list(db.session.execute(sa.select(
        User.username, AttendanceRecord.status, AttendanceRecord.method, AttendanceRecord.reason,
        AttendanceRecord.checked_in_at).join(User, User.id == AttendanceRecord.user_id).order_by(User.username)))


def attempts() -> list[tuple]:
    return list(db.session.execute(sa.select(
        User.username, QuizAttempt.score, QuizAttempt.passed, QuizAttempt.submitted_at, QuizAttempt.correct_count)
        .join(User, User.id == QuizAttempt.user_id).order_by(QuizAttempt.id)))


@pytest.fixture
def populated(org, seed_lecture):
    """The seed lecture with roster marks, a check-in, their change log and graded quiz attempts."""
    lecture = db.session.get(Lecture, seed_lecture["lecture_id"])
    coordinator = db.session.get(User, org["coord_a"])
    member_a, member_a2, member_b = (db.session.get(User, org[key]) for key in ("member_a", "member_a2", "member_b"))
    at = lecture.starts_at + timedelta(minutes=3)
    attendance.set_status(lecture, member_a, org["branch_a"], Status.PRESENT, "", coordinator, now=at)
    attendance.set_status(lecture, member_a2, org["branch_a"], Status.EXCUSED, "出差（已批准）", coordinator, now=at)
    attendance.set_status(lecture, member_a2, org["branch_a"], Status.LATE, "迟到 12 分钟", coordinator, now=at)
    attendance.check_in(member_b, lecture, org["branch_b"], Method.CODE,
                        now=lecture.starts_at - timedelta(minutes=5))
    questions = quizzes.lecture_questions(lecture.id)
    right = {q.id: list(q.answer) for q in questions}
    quizzes.submit_attempt(member_a.id, lecture, questions, right)
    quizzes.submit_attempt(member_b.id, lecture, questions, {})
    quizzes.submit_attempt(member_b.id, lecture, questions, right)
    db.session.commit()  # the services only flushed: the test plays the request that commits them
    return lecture.id


def test_a_populated_database_survives_backup_change_and_restore(app, populated, tmp_path):
    before_counts, before_records, before_attempts = table_counts(), records(), attempts()
    assert before_counts["attendance_record"] == 3 and before_counts["attendance_change"] == 3
    assert before_counts["quiz_attempt"] == 3 and before_counts["attempt_answer"] == 60
    path = tmp_path / "lecturehub.backup"

    result = run_cli(app, "backup", str(path))
    assert result.exit_code == 0, result.output
    assert path.stat().st_size > 0

    # Everything a bad day might do: records and attempts deleted, an account renamed, one added.
    db.session.execute(sa.delete(AttendanceChange))
    db.session.execute(sa.delete(AttendanceRecord))
    db.session.execute(sa.delete(AttemptAnswer))
    db.session.execute(sa.delete(QuizAttempt).where(QuizAttempt.score == 100))
    db.session.scalar(sa.select(User).where(User.username == "m0001")).name = "改过的名字"
    db.session.add(User(username="intruder", name="新人", member_no="x1", role=Role.ADMIN, password_hash="x"))
    db.session.commit()
    assert table_counts() != before_counts

    refused = run_cli(app, "restore", str(path), input="n\n")  # the question is answered no
    assert refused.exit_code != 0 and "Aborted" in refused.output
    assert table_counts()["attendance_record"] == 0

    result = run_cli(app, "restore", "--yes", str(path))
    assert result.exit_code == 0, result.output
    assert table_counts() == before_counts
    assert records() == before_records
    assert attempts() == before_attempts
    assert db.session.scalar(sa.select(User.name).where(User.username == "m0001")) == "张伟"
    assert db.session.scalar(sa.select(User).where(User.username == "intruder")) is None
    late = db.session.scalar(sa.select(AttendanceRecord).join(User, User.id == AttendanceRecord.user_id)
                             .where(User.username == "m0002"))
    assert (late.status, late.reason) == (Status.LATE, "迟到 12 分钟")
    first = db.session.scalar(sa.select(QuizAttempt).order_by(QuizAttempt.id))
    assert first.passed and [a.position for a in first.answers] == list(range(1, 21))
    assert first.answers[0].question_snapshot["stem"] == "本次“四史”专题党课的主讲人是谁？"

    # The restored database is fully usable: new rows get fresh ids (PostgreSQL's sequences came back too).
    db.session.add(User(username="after", name="恢复后", member_no="a1", role=Role.MEMBER, password_hash="x"))
    db.session.commit()
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


@pytest.fixture
def other_kind_backup(app, tmp_path):
    """A backup of the database kind the app is not configured for."""
    if db.engine.dialect.name == "sqlite":
        path = tmp_path / "pg.dump"
        path.write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 200)  # the custom format's header
        return path
    path = tmp_path / "sqlite.backup"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE alembic_version (version_num TEXT)")
    connection.commit()
    connection.close()
    return path


def test_restore_refuses_what_is_not_a_backup_of_this_database(app, populated, tmp_path, other_kind_backup):
    before = table_counts()
    garbage = tmp_path / "garbage.backup"
    garbage.write_bytes(b"not a database at all\n" * 100)
    foreign = tmp_path / "foreign.sqlite3"
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE notes (body TEXT)")
    connection.commit()
    connection.close()
    good = tmp_path / "good.backup"
    assert run_cli(app, "backup", str(good)).exit_code == 0
    truncated = tmp_path / "truncated.backup"
    truncated.write_bytes(good.read_bytes()[:3000])

    cases = {
        tmp_path / "missing.backup": "no such file",
        garbage: "not a LectureHub backup",
        other_kind_backup: "the configured database is",
        truncated: "truncated.backup",
        tmp_path: "directory",
    }
    if db.engine.dialect.name == "sqlite":
        cases[foreign] = "not a LectureHub database"
    for path, message in cases.items():
        result = run_cli(app, "restore", "--yes", str(path))
        assert result.exit_code != 0, (path, result.output)
        assert message in result.output and "Error:" in result.output, result.output
        assert "Traceback" not in result.output
        assert isinstance(result.exception, SystemExit)  # a clean exit, not an exception
    assert table_counts() == before

    result = run_cli(app, "backup", str(tmp_path / "no" / "such" / "folder.backup"))
    assert result.exit_code == 1 and "no such directory" in result.output


def test_a_backup_taken_during_writes_is_consistent(app, open_lecture, tmp_path):
    """A writer commits a member and their check-in together, over and over, while backups are taken.

    A consistent backup holds whole transactions only: every member has their record, and the members
    are numbered without gaps (nothing later was copied while something earlier was missed).
    """
    lecture_id, venue_id = open_lecture.id, open_lecture.venue_links[0].venue_id
    password_hash = generate_password_hash("x", method="pbkdf2:sha256:1000")
    stop, written, errors = threading.Event(), [0], []

    def writer():
        try:
            with app.app_context():
                while not stop.is_set():
                    n = written[0]
                    user = User(username=f"w{n:05d}", name=f"写入{n}", member_no=f"w{n:05d}", role=Role.MEMBER,
                                home_venue_id=venue_id, password_hash=password_hash)
                    db.session.add(user)
                    db.session.flush()
                    db.session.add(AttendanceRecord(lecture_id=lecture_id, user_id=user.id, venue_id=venue_id,
                                                    status=Status.PRESENT, method=Method.CODE, checked_in_at=utcnow()))
                    db.session.commit()
                    written[0] += 1
                db.session.remove()
        except Exception as exc:  # reported by the test below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    paths, during = [], []
    try:
        while written[0] < 20:
            time.sleep(0.05)
        for i in range(3):
            path = tmp_path / f"busy-{i}.backup"
            start = written[0]
            result = run_cli(app, "backup", str(path))
            assert result.exit_code == 0, result.output
            during.append(written[0] - start)
            paths.append(path)
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors
    total = written[0]

    def consistent() -> int:
        members = db.session.scalars(sa.select(User.username).where(User.username.like("w%"))).all()
        with_record = db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceRecord)
                                        .join(User, User.id == AttendanceRecord.user_id)
                                        .where(User.username.like("w%")))
        assert with_record == len(members)
        assert sorted(members) == [f"w{n:05d}" for n in range(len(members))]
        return len(members)

    seen = []
    for path in paths:
        if db.engine.dialect.name == "sqlite":
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
                assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        result = run_cli(app, "restore", "--yes", str(path))
        assert result.exit_code == 0, result.output
        seen.append(consistent())
    assert seen == sorted(seen) and 20 <= seen[0] and seen[-1] <= total
    print(f"\n{db.engine.dialect.name}: {total} transactions written; backups held {seen}; "
          f"commits while each backup ran: {during}")


def test_libpq_connection_keeps_the_password_out_of_the_arguments():
    uri, env = backups.libpq_connection(
        "postgresql+psycopg://lh%40user:s3cret%2F%3B@db.example:5433/lecture hub?sslmode=require")
    assert uri == "postgresql://lh%40user@db.example:5433/lecture%20hub?sslmode=require"
    assert env["PGPASSWORD"] == "s3cret/;"
    assert "s3cret" not in uri
    uri, env = backups.libpq_connection("postgresql+psycopg:///lecturehub?host=/run/postgresql")
    assert uri == "postgresql:///lecturehub?host=%2Frun%2Fpostgresql"
