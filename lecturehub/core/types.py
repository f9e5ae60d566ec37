"""Column types shared by all models."""
from __future__ import annotations

import enum
from datetime import datetime, timezone

from sqlalchemy import DateTime, Enum
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """A timezone-aware datetime kept in UTC on every backend.

    SQLite has no time zone type, so values are normalised to UTC before they
    are written and tagged UTC when read; PostgreSQL stores timestamptz.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; attach a time zone")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def enum_column(enum_cls: type[enum.Enum], length: int = 16) -> Enum:
    """How every enum is stored: its values (not its Python names) as plain strings, checked by SQLAlchemy, so
    that adding a member needs no ALTER TYPE on PostgreSQL and SQLite stores the same text."""
    return Enum(enum_cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class LabelledEnum(str, enum.Enum):
    """A stored choice that knows the words the pages show for it (`Status.LATE.label`), in the UI language.

    Subclasses return {member: gettext(...)} from `_labels`, called at display time so the words follow the
    request's language (or lazy_gettext(...), so that only the word asked for is translated)."""

    @classmethod
    def _labels(cls) -> dict:
        raise NotImplementedError

    @property
    def label(self) -> str:
        return str(type(self)._labels()[self])
