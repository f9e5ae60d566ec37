"""Time zone rules: store UTC, show the organisation's zone (Asia/Shanghai)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


def local_zone() -> ZoneInfo:
    name = current_app.config["LECTUREHUB_TIMEZONE"] if has_app_context() else "Asia/Shanghai"
    return ZoneInfo(name)


def utcnow() -> datetime:
    """Now, in UTC. Browser tests move the application's clock with CLOCK_OFFSET_SECONDS (set only in tests)
    instead of sleeping past a check-in code's life."""
    now = datetime.now(timezone.utc)
    if has_app_context():
        offset = current_app.config.get("CLOCK_OFFSET_SECONDS")
        if offset:
            now += timedelta(seconds=offset)
    return now


def to_local(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(local_zone())


def parse_local(value: datetime) -> datetime:
    """Interpret a naive wall-clock time as the organisation's zone and return it in UTC.

    Raises ValueError for a moment that has no UTC equivalent (the first hours of year 1).
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=local_zone())
    try:
        return value.astimezone(timezone.utc)
    except OverflowError as exc:
        raise ValueError(f"{value.isoformat()} is out of range") from exc
