from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lecturehub.core.timeutil import utcnow
from lecturehub.core.types import LabelledEnum, UTCDateTime, enum_column
from lecturehub.courses.models import KeyPoint, Lecture
from lecturehub.extensions import db


class QuestionKind(LabelledEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    TRUE_FALSE = "truefalse"

    @classmethod
    def _labels(cls) -> dict:
        return {cls.SINGLE: _("Single choice"), cls.MULTIPLE: _("Multiple choice"), cls.TRUE_FALSE: _("True or false")}


class Question(db.Model):
    """A self-check question (自测题). `answer` holds the indexes of the correct options."""

    __tablename__ = "question"
    __table_args__ = (UniqueConstraint("lecture_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[QuestionKind] = mapped_column(
        enum_column(QuestionKind)
    )
    stem: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(JSON)
    answer: Mapped[list[int]] = mapped_column(JSON)
    explanation: Mapped[str] = mapped_column(Text, default="")
    key_point_id: Mapped[int | None] = mapped_column(ForeignKey("key_point.id", ondelete="SET NULL"))

    lecture: Mapped[Lecture] = relationship()
    key_point: Mapped[KeyPoint | None] = relationship()

    def snapshot(self) -> dict:
        """The question as it stands now, kept in an attempt so later edits do not rewrite history."""
        return {
            "key": self.key,
            "kind": self.kind.value,
            "stem": self.stem,
            "options": list(self.options),
            "answer": list(self.answer),
            "explanation": self.explanation,
            "key_point": self.key_point.title if self.key_point else None,
        }


class QuizAttempt(db.Model):
    """One submitted sitting of a lecture's quiz by a member."""

    __tablename__ = "quiz_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"), index=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    correct_count: Mapped[int] = mapped_column(Integer)
    question_count: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)  # percent, rounded down
    pass_mark: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)

    lecture: Mapped[Lecture] = relationship()
    answers: Mapped[list[AttemptAnswer]] = relationship(
        back_populates="attempt", order_by="AttemptAnswer.position", cascade="all, delete-orphan"
    )


class AttemptAnswer(db.Model):
    """A member's answer to one question, with the question as it was when answered."""

    __tablename__ = "attempt_answer"
    __table_args__ = (UniqueConstraint("attempt_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("quiz_attempt.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int | None] = mapped_column(ForeignKey("question.id", ondelete="SET NULL"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    question_snapshot: Mapped[dict] = mapped_column(JSON)
    chosen: Mapped[list[int]] = mapped_column(JSON)
    correct: Mapped[bool] = mapped_column(Boolean)

    attempt: Mapped[QuizAttempt] = relationship(back_populates="answers")


class FeedbackMode(str, enum.Enum):
    AFTER_SUBMIT = "after_submit"
    IMMEDIATE = "immediate"


class QuizSettings(db.Model):
    """How a lecture's quiz is set: shuffling, how many questions a sitting draws, feedback, attempts.

    A lecture without a row uses the defaults (no shuffling, all questions, feedback after submitting,
    unlimited attempts); the pass mark stays on the lecture.
    """

    __tablename__ = "quiz_settings"

    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"), primary_key=True)
    shuffle_questions: Mapped[bool] = mapped_column(Boolean, default=False)
    shuffle_options: Mapped[bool] = mapped_column(Boolean, default=False)
    draw_count: Mapped[int | None] = mapped_column(Integer)
    feedback: Mapped[FeedbackMode] = mapped_column(
        enum_column(FeedbackMode),
        default=FeedbackMode.AFTER_SUBMIT)
    max_attempts: Mapped[int | None] = mapped_column(Integer)


class QuizSitting(db.Model):
    """A quiz in progress: the questions drawn, their option order, and the answers given so far.

    Kept on the server so a reload, a lost connection or another phone continues where the member was.
    """

    __tablename__ = "quiz_sitting"
    __table_args__ = (UniqueConstraint("user_id", "lecture_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lecture.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # [{"q": question id, "o": option indexes in display order}]
    plan: Mapped[list] = mapped_column(JSON)
    # {"<question id>": [chosen option indexes]}
    draft: Mapped[dict] = mapped_column(JSON, default=dict)
    # question ids already checked with immediate feedback; their answers can no longer change
    locked: Mapped[list] = mapped_column(JSON, default=list)
