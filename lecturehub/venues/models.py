from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lecturehub.core.types import LabelledEnum, UTCDateTime, enum_column
from lecturehub.extensions import db


class VenueKind(LabelledEnum):
    MAIN = "main"
    BRANCH = "branch"

    @classmethod
    def _labels(cls) -> dict:
        return {cls.MAIN: _("Main venue"), cls.BRANCH: _("Branch venue")}


class Venue(db.Model):
    """A room taking part in lectures; the seed has 1 main venue and 24 branch venues."""

    __tablename__ = "venue"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[VenueKind] = mapped_column(
        enum_column(VenueKind)
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    # A retired venue keeps its lectures, records and reports, and leaves every list offered for new work.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def retired(self) -> bool:
        return self.retired_at is not None

    @property
    def is_main(self) -> bool:
        return self.kind is VenueKind.MAIN

    def __repr__(self) -> str:
        return f"<Venue {self.code} {self.name}>"
