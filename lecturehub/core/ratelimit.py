"""Rate-limit counters kept in the application's own database: `LECTUREHUB_RATELIMIT_STORAGE_URL=database://`.

Flask-Limiter's `memory://` keeps one set of counters per worker process, so with four gunicorn workers
every limit was four times as wide, and two nodes doubled it again. The database is already shared by
every worker and node and needs no extra server; Redis (`redis://...`) remains the choice for heavy sites.

Fixed windows, as Flask-Limiter's default strategy: one row per key with its count and the moment the
window ends. The increment is a single INSERT ... ON CONFLICT DO UPDATE (SQLite and PostgreSQL), so two
workers counting at once both land, and it runs on its own connection so that a request rolled back
afterwards still counts.
"""
from __future__ import annotations

import hashlib
import time

import sqlalchemy as sa
from flask import has_app_context
from limits.storage import Storage
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from lecturehub.extensions import db

KEY_LENGTH = 200
# Expired rows are swept now and then, not on every hit: the sweep is a range delete.
SWEEP_EVERY_SECONDS = 60


class RateLimitCounter(db.Model):
    __tablename__ = "rate_limit_counter"

    key: Mapped[str] = mapped_column(sa.String(KEY_LENGTH), primary_key=True)
    count: Mapped[int] = mapped_column(sa.Integer)
    # Seconds since the epoch, as `limits` hands them over: no time zone to convert.
    expires_at: Mapped[float] = mapped_column(sa.Float, index=True)


_table = RateLimitCounter.__table__
# Every check-in reads its counters: built once, on the table's columns (no ORM step on the way).
_LIVE_COUNTS = sa.select(_table.c.key, _table.c.count).where(
    _table.c.key.in_(sa.bindparam("keys", expanding=True)), _table.c.expires_at > sa.bindparam("now"))


def _stored_key(key: str) -> str:
    return key if len(key) <= KEY_LENGTH else hashlib.sha256(key.encode()).hexdigest()


class DatabaseStorage(Storage):
    """A `limits` storage on the Flask-SQLAlchemy engine of the running app (fixed-window strategy only)."""

    STORAGE_SCHEME = ["database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._last_sweep = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        return sa.exc.SQLAlchemyError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        table = RateLimitCounter.__table__
        now = time.time()
        insert = (postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert)(table)
        expired = table.c.expires_at <= now
        statement = insert.values(key=_stored_key(key), count=amount, expires_at=now + expiry).on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"count": sa.case((expired, amount), else_=table.c.count + amount),
                  "expires_at": sa.case((expired, now + expiry), else_=table.c.expires_at)},
        ).returning(table.c.count)
        with db.engine.begin() as connection:
            count = connection.execute(statement).scalar_one()
            if now - self._last_sweep > SWEEP_EVERY_SECONDS:
                self._last_sweep = now
                connection.execute(sa.delete(table).where(table.c.expires_at <= now))
        return count

    def _row(self, key: str):
        table = RateLimitCounter.__table__
        with db.engine.connect() as connection:
            return connection.execute(sa.select(table.c.count, table.c.expires_at).where(
                table.c.key == _stored_key(key), table.c.expires_at > time.time())).first()

    def get(self, key: str) -> int:
        row = self._row(key)
        return row.count if row else 0

    def get_many(self, keys: list[str]) -> dict[str, int]:
        """The live counts of several keys in one query, on the request's own connection (a check-in,
        which tests two counters on every attempt, needs no second connection for it)."""
        stored = {_stored_key(key): key for key in keys}
        rows = db.session.execute(_LIVE_COUNTS, {"keys": list(stored), "now": time.time()})
        counts = dict.fromkeys(keys, 0)
        counts.update({stored[key]: count for key, count in rows})
        return counts

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row.expires_at if row else time.time()

    def check(self) -> bool:
        try:
            with db.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        if not has_app_context():
            raise NotImplementedError("the database storage is reset from within the app")
        with db.engine.begin() as connection:
            return connection.execute(sa.delete(RateLimitCounter.__table__)).rowcount

    def clear(self, key: str) -> None:
        with db.engine.begin() as connection:
            connection.execute(sa.delete(RateLimitCounter.__table__).where(
                RateLimitCounter.key == _stored_key(key)))
