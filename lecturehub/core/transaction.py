"""One transaction per request and per CLI command: services flush, this module commits.

A request that returns normally commits once, after the view and before the response (streamed bodies
included) is sent; a failed commit goes through the application's error handlers, so a read-only, full or
lost database still answers 503. A request that raises, or answers with a status of 400 or more, rolls
back everything it wrote, unless the view called `keep_on_error()` because what it recorded on a refusal
(a failed sign-in's audit entry, a wrong check-in code counted against its limit) must stay.

CLI commands get the same rule from `in_transaction`: commit once at the end, roll back on any error.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from flask import Flask, Response, g

from lecturehub.extensions import db

_KEEP_FLAG = "_transaction_keep_on_error"

F = TypeVar("F", bound=Callable)


def keep_on_error() -> None:
    """This request's writes stay even though it answers with an error status (a refusal that is recorded)."""
    setattr(g, _KEEP_FLAG, True)


def init_app(app: Flask) -> None:
    """Register the request boundary; call it after the other `after_request` hooks so they see its response."""

    @app.after_request
    def commit_or_roll_back(response: Response) -> Response:
        if response.status_code >= 400 and not g.get(_KEEP_FLAG):
            db.session.rollback()
            return response
        try:
            db.session.commit()
        except sa.exc.SQLAlchemyError as error:
            # The database refused at the last moment: the existing handlers (503 for an unavailable
            # database, 409 for a concurrent change) answer, as if the view itself had raised it.
            db.session.rollback()
            return app.make_response(app.handle_user_exception(error))
        return response

    @app.teardown_request
    def roll_back_on_exception(error: BaseException | None) -> None:
        if error is not None:
            db.session.rollback()


def savepoint():
    """`db.session.begin_nested()` that stays nested on SQLite as well: undoes only its own writes on an error.

    pysqlite starts its transaction lazily, at the first INSERT/UPDATE/DELETE, and not before a SAVEPOINT;
    a savepoint opened first would then be the outermost transaction and releasing it would commit, out of
    the request's reach. BEGIN is sent here only then, right before the savepoint's writes, so reads before
    it still run outside a transaction, as pysqlite does them (no stale snapshot for concurrent writers).
    """
    connection = db.session.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.driver_connection.in_transaction:
        connection.exec_driver_sql("BEGIN")
    return db.session.begin_nested()


def in_transaction(command: F) -> F:
    """Run a CLI command's body as one transaction: commit at the end, roll back on any error (Abort included)."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            result = command(*args, **kwargs)
        except BaseException:
            db.session.rollback()
            raise
        db.session.commit()
        return result

    run.in_transaction = True  # type: ignore[attr-defined]  (tests check every command has it)
    return run  # type: ignore[return-value]
