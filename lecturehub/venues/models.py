from __future__ import annotations

import enum

from sqlalchemy import Enum, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lecturehub.extensions import db


class VenueKind(str, enum.Enum):
    MAIN = "main"
    BRANCH = "branch"


class Venue(db.Model):
    """A room taking part in lectures; the seed has 1 main venue and 24 branch venues."""

    __tablename__ = "venue"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[VenueKind] = mapped_column(
        Enum(VenueKind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    position: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def is_main(self) -> bool:
        return self.kind is VenueKind.MAIN

    def __repr__(self) -> str:
        return f"<Venue {self.code} {self.name}>"
