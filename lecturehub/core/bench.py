"""Reference endpoints for the benchmark (bench/run.py), only with LECTUREHUB_BENCH_ENDPOINTS=1.

They measure the limits of the stack on the same server settings: a bare handler that returns a
constant, and a bare handler that does one raw INSERT into the same database.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from lecturehub.extensions import csrf, db

_probe = sa.Table("bench_probe", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                  sa.Column("note", sa.String(20)))


def create_probe_table(engine: sa.Engine) -> None:
    """The reference INSERT's table; the harness creates it once, before the workers start (not each worker,
    which would race)."""
    _probe.create(engine, checkfirst=True)


def register_reference_endpoints(app: Flask) -> None:
    @app.get("/bench/constant")
    def bench_constant():
        return "ok"

    @csrf.exempt
    @app.post("/bench/insert")
    def bench_insert():
        with db.engine.begin() as conn:
            conn.execute(_probe.insert().values(note="x"))
        return "ok"
