from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy import Boolean, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lecturehub.core.types import LabelledEnum, UTCDateTime, enum_column
from lecturehub.extensions import db
from lecturehub.venues.models import Venue


class LectureFormat(LabelledEnum):
    IN_PERSON = "in_person"
    VIDEO_CONFERENCE = "video_conference"
    ONLINE = "online"

    @classmethod
    def _labels(cls) -> dict:
        return {cls.IN_PERSON: _("In person"), cls.VIDEO_CONFERENCE: _("Video conference"), cls.ONLINE: _("Online")}


class MaterialKind(str, enum.Enum):
    ARTICLE = "article"
    FILE = "file"
    LINK = "link"


class Course(db.Model):
    """A lecture series, e.g. 四史学习教育专题党课."""

    __tablename__ = "course"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description_md: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    published: Mapped[bool] = mapped_column(Boolean, default=True)

    lectures: Mapped[list[Lecture]] = relationship(
        back_populates="course", order_by="Lecture.starts_at", cascade="all, delete-orphan"
    )


class Lecture(db.Model):
    """One talk of a course, held at a main venue and its branch venues."""

    __tablename__ = "lecture"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(300))
    speaker: Mapped[str] = mapped_column(String(120))
    host: Mapped[str] = mapped_column(String(120), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    format: Mapped[LectureFormat] = mapped_column(enum_column(LectureFormat), default=LectureFormat.IN_PERSON)
    study_hours: Mapped[Decimal] = mapped_column(Numeric(4, 1), default=Decimal("1.0"))
    summary_md: Mapped[str] = mapped_column(Text, default="")
    quiz_pass_mark: Mapped[int] = mapped_column(Integer, default=80)
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    # 归档党课: kept for its content only; no one is expected, so no absences, make-up or study hours.
    archive: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa.false())
    # The check-in window, relative to the lecture's times: opens before the start, on time until the
    # start plus the grace period, late after that, closed after the end plus the close offset.
    checkin_opens_minutes: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    checkin_grace_minutes: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    checkin_closes_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    course: Mapped[Course] = relationship(back_populates="lectures")
    venue_links: Mapped[list[LectureVenue]] = relationship(
        back_populates="lecture", cascade="all, delete-orphan"
    )
    key_points: Mapped[list[KeyPoint]] = relationship(
        back_populates="lecture", order_by="KeyPoint.position", cascade="all, delete-orphan"
    )
    materials: Mapped[list[Material]] = relationship(
        back_populates="lecture", order_by="Material.position", cascade="all, delete-orphan"
    )


class LectureVenue(db.Model):
    """A venue taking part in a lecture. Attendance hangs off this pair."""

    __tablename__ = "lecture_venue"
    __table_args__ = (UniqueConstraint("lecture_id", "venue_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"), index=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id", ondelete="CASCADE"), index=True)

    lecture: Mapped[Lecture] = relationship(back_populates="venue_links")
    venue: Mapped[Venue] = relationship()


class KeyPoint(db.Model):
    """One numbered point of a lecture's summary (要点); quiz questions may refer to it."""

    __tablename__ = "key_point"
    __table_args__ = (UniqueConstraint("lecture_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text, default="")

    lecture: Mapped[Lecture] = relationship(back_populates="key_points")


class Material(db.Model):
    """Reading attached to a lecture: an article in Markdown, an uploaded file or a link."""

    __tablename__ = "material"
    __table_args__ = (UniqueConstraint("lecture_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[MaterialKind] = mapped_column(enum_column(MaterialKind), default=MaterialKind.ARTICLE)
    title: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(300), default="")
    body_md: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(1000))
    # Uploaded files live outside the static folder under a generated name; the original name is kept
    # only for the download.
    stored_name: Mapped[str | None] = mapped_column(String(64))
    original_filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(120))
    size_bytes: Mapped[int | None] = mapped_column(Integer)

    lecture: Mapped[Lecture] = relationship(back_populates="materials")
