"""One transaction per request and per command: services flush, the boundary commits or rolls back everything."""
from __future__ import annotations

import click
import pytest
import sqlalchemy as sa
from flask import Response, stream_with_context
from sqlalchemy.orm import Session

from lecturehub.audit.models import AuditEvent
from lecturehub.core.transaction import in_transaction, keep_on_error, savepoint
from lecturehub.courses import services as courses
from lecturehub.courses.models import Course
from lecturehub.extensions import db

from .conftest import make_test_app


def _save_course(slug: str) -> Course:
    return courses.save_course(None, title=f"课程 {slug}", slug=slug, description_md="", position=1, published=True)


@pytest.fixture
def probe_app(app, database_url, tmp_path):
    """An app with views that call a real service and then end in each way a request can end."""
    probe = make_test_app(database_url, tmp_path)

    @probe.get("/probe/ok/<slug>")
    def ok(slug):
        _save_course(slug)
        return "saved"

    @probe.get("/probe/raise/<slug>")
    def fails_after_service(slug):
        _save_course(slug)
        raise RuntimeError("a bug after the service call")

    @probe.get("/probe/savepoint-then-raise/<slug>")
    def fails_after_savepoint(slug):
        with savepoint():  # the request's first write: on SQLite it must not become the outer transaction
            _save_course(slug)
        raise RuntimeError("a bug after the service's savepoint")

    @probe.get("/probe/refuse/<slug>")
    def refuses(slug):
        _save_course(slug)
        return "refused", 422

    @probe.get("/probe/refuse-recorded/<slug>")
    def refuses_on_record(slug):
        _save_course(slug)
        keep_on_error()
        return "refused, and the refusal is recorded", 409

    @probe.get("/probe/stream/<slug>")
    def streams(slug):
        _save_course(slug)

        def body():
            # The body runs after the view returned: the write is already committed, seen from another connection.
            with db.engine.connect() as connection:
                yield str(connection.scalar(sa.select(sa.func.count()).select_from(Course).where(Course.slug == slug)))

        return Response(stream_with_context(body()))

    return probe


def _stored(slug: str) -> tuple[int, int]:
    """Courses with this slug and audit entries naming them, read on a fresh connection (what another request sees)."""
    with db.engine.connect() as connection:
        course_count = connection.scalar(sa.select(sa.func.count()).select_from(Course).where(Course.slug == slug))
        audit_count = connection.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "content.course_saved", AuditEvent.details["title"].as_string() == f"课程 {slug}"))
    return course_count, audit_count


def test_a_request_that_returns_normally_commits_once(probe_app):
    with probe_app.app_context():
        assert probe_app.test_client().get("/probe/ok/kept").status_code == 200
        assert _stored("kept") == (1, 1)


def test_a_failure_after_a_service_call_leaves_nothing_behind(probe_app):
    probe_app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the 500 page, not the test's traceback
    with probe_app.app_context():
        response = probe_app.test_client().get("/probe/raise/gone")
        assert response.status_code == 500
        assert _stored("gone") == (0, 0)


def test_a_failure_after_a_savepoint_leaves_nothing_behind(probe_app):
    probe_app.config["PROPAGATE_EXCEPTIONS"] = False
    with probe_app.app_context():
        assert probe_app.test_client().get("/probe/savepoint-then-raise/nested").status_code == 500
        assert _stored("nested") == (0, 0)


def test_an_error_status_rolls_back_unless_the_view_keeps_it(probe_app):
    with probe_app.app_context():
        client = probe_app.test_client()
        assert client.get("/probe/refuse/refused").status_code == 422
        assert _stored("refused") == (0, 0)
        assert client.get("/probe/refuse-recorded/recorded").status_code == 409
        assert _stored("recorded") == (1, 1)


def test_a_streamed_response_is_committed_before_its_body_is_sent(probe_app):
    with probe_app.app_context():
        assert probe_app.test_client().get("/probe/stream/streamed").get_data(as_text=True) == "1"


def test_a_commit_the_database_refuses_answers_503_and_keeps_nothing(probe_app):
    def refuse(_session):
        raise sa.exc.OperationalError("COMMIT", {}, Exception("database or disk is full"))

    with probe_app.app_context():
        sa.event.listen(Session, "before_commit", refuse)  # every session: the request has its own
        try:
            response = probe_app.test_client().get("/probe/ok/full")
        finally:
            sa.event.remove(Session, "before_commit", refuse)
        assert response.status_code == 503 and response.headers["Retry-After"] == "30"
        assert _stored("full") == (0, 0)


def test_every_command_runs_in_one_transaction(app):
    def commands(group):
        for command in group.commands.values():
            if isinstance(command, click.Group):
                yield from commands(command)
            else:
                yield command

    # `flask db` is Flask-Migrate's: Alembic runs each migration in its own transaction.
    found = list(commands(click.Group(commands={name: command for name, command in app.cli.commands.items()
                                                if name != "db"})))
    assert len(found) >= 6
    for command in found:
        callback = command.callback
        while not getattr(callback, "in_transaction", False) and hasattr(callback, "__wrapped__"):
            callback = callback.__wrapped__
        assert getattr(callback, "in_transaction", False), f"flask {command.name} is not in_transaction"


def test_a_failing_command_writes_nothing(app):
    @in_transaction
    def failing_command():
        _save_course("cli-gone")
        raise click.ClickException("stopped after the service call")

    @in_transaction
    def succeeding_command():
        _save_course("cli-kept")

    with app.app_context():
        with pytest.raises(click.ClickException):
            failing_command()
        assert _stored("cli-gone") == (0, 0)
        succeeding_command()
        assert _stored("cli-kept") == (1, 1)
