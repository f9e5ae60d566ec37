"""`flask demo` builds the seed organisation idempotently and prints the logins."""
from __future__ import annotations

import sqlalchemy as sa

from lecturehub.accounts.models import Role, User
from lecturehub.courses.models import Lecture, LectureVenue
from lecturehub.extensions import db
from lecturehub.quizzes.models import Question
from lecturehub.venues.models import Venue, VenueKind


def counts():
    def n(query):
        return db.session.scalar(query)

    return {
        "venues": n(sa.select(sa.func.count(Venue.id))),
        "main": n(sa.select(sa.func.count(Venue.id)).where(Venue.kind == VenueKind.MAIN)),
        "users": n(sa.select(sa.func.count(User.id))),
        "coordinators": n(sa.select(sa.func.count(User.id)).where(User.role == Role.COORDINATOR)),
        "members": n(sa.select(sa.func.count(User.id)).where(User.role == Role.MEMBER)),
        "lectures": n(sa.select(sa.func.count(Lecture.id))),
        "lecture_venues": n(sa.select(sa.func.count(LectureVenue.id))),
        "questions": n(sa.select(sa.func.count(Question.id))),
    }


def test_demo_builds_the_seed_organisation_and_is_idempotent(app, ctx):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "--password", "demo-pass-2020"])
    assert result.exit_code == 0, result.output
    for login in ("admin", "coord00", "coord24", "m0001", "m0500", "password: demo-pass-2020"):
        assert login in result.output
    first = counts()
    assert first == {"venues": 25, "main": 1, "users": 526, "coordinators": 25, "members": 500,
                     "lectures": 2, "lecture_venues": 50, "questions": 40}  # the seed quiz, and its copy on the live one
    per_venue = dict(db.session.execute(
        sa.select(User.home_venue_id, sa.func.count(User.id)).where(User.role == Role.MEMBER)
        .group_by(User.home_venue_id)).all())
    assert len(per_venue) == 25 and set(per_venue.values()) == {20}
    coord00 = db.session.scalar(sa.select(User).where(User.username == "coord00"))
    assert [v.name for v in coord00.coordinated_venues] == ["主会场"]

    result = runner.invoke(args=["demo", "--password", "other-pass-99"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert counts() == first
    assert db.session.scalar(sa.select(User).where(User.username == "m0042")).check_password("other-pass-99")


def test_demo_generates_and_keeps_a_password(app, ctx):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"]).output
    second = runner.invoke(args=["demo"]).output
    password = first.split("password: ", 1)[1].split()[0]
    assert len(password) >= 10 and f"password: {password}" in second
    admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
    assert admin.check_password(password)


def test_demo_rejects_a_weak_password(app, ctx):
    result = app.test_cli_runner().invoke(args=["demo", "--password", "123"])
    assert result.exit_code != 0
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_demo_history_differs_between_venues_and_the_live_lecture_can_be_made_up(app, ctx):
    from lecturehub.attendance.models import AttendanceRecord, Status
    from lecturehub.courses.models import KeyPoint
    from lecturehub.quizzes.models import QuizAttempt

    assert app.test_cli_runner().invoke(args=["demo", "--password", "demo-pass-2020"]).exit_code == 0
    seed = db.session.scalar(sa.select(Lecture).where(Lecture.slug == "2020-12-29-renshe"))
    arrived = dict(db.session.execute(
        sa.select(AttendanceRecord.venue_id, sa.func.count(AttendanceRecord.id))
        .where(AttendanceRecord.lecture_id == seed.id, AttendanceRecord.status.in_([Status.PRESENT, Status.LATE]))
        .group_by(AttendanceRecord.venue_id)).all())
    assert len(set(arrived.values())) >= 5, arrived  # venues differ, as real ones do
    scores = set(db.session.scalars(sa.select(QuizAttempt.score).where(QuizAttempt.lecture_id == seed.id)))
    assert len(scores) >= 4 and min(scores) < 80 <= max(scores)
    live = db.session.scalar(sa.select(Lecture).where(Lecture.slug == "demo-live"))
    assert db.session.scalar(sa.select(sa.func.count(KeyPoint.id)).where(KeyPoint.lecture_id == live.id)) == 8
    assert db.session.scalar(sa.select(sa.func.count(Question.id)).where(Question.lecture_id == live.id)) == 20
