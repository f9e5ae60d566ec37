"""Quizzes' part of a content bundle: each lecture folder's quiz.yaml is read, previewed and imported here,
on the signals courses sends, so courses knows nothing of quizzes."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from lecturehub.core.contentfiles import ContentReader
from lecturehub.courses import content
from lecturehub.courses.format import LectureSpec
from lecturehub.courses.models import Lecture
from lecturehub.extensions import db

from .format import QuizSpec, read_quiz
from .models import Question
from .services import sync_questions

QUIZ_FILE = "quiz.yaml"


def on_lecture_folder_read(sender, reader: ContentReader, folder: Path, spec: LectureSpec,
                            key_point_count: int | None, **extra) -> None:
    path = folder / QUIZ_FILE
    if path.is_file():
        spec.parts["quiz"] = read_quiz(reader, path, key_point_count)
    else:
        spec.parts["quiz"] = QuizSpec()


def on_lecture_imported(sender, lecture: Lecture, spec: LectureSpec, summary: content.ImportSummary,
                         **extra) -> None:
    quiz: QuizSpec = spec.parts.get("quiz") or QuizSpec()
    if lecture.quiz_pass_mark != quiz.pass_mark:
        lecture.quiz_pass_mark = quiz.pass_mark
        summary.updated += 1
    created, updated = sync_questions(lecture, quiz.questions)
    summary.created += created
    summary.updated += updated
    summary.parts["question(s)"] += len(quiz.questions)


def on_lecture_previewed(sender, lecture: Lecture | None, spec: LectureSpec, **extra) -> dict[str, int]:
    """How the lecture's bank would change: new, changed and removed questions."""
    wanted = {q.key: q for q in (spec.parts.get("quiz") or QuizSpec()).questions}
    if lecture is None:
        return {"questions_new": len(wanted), "questions_changed": 0, "questions_removed": 0}
    existing = {q.key: q for q in db.session.scalars(sa.select(Question).where(Question.lecture_id == lecture.id))}
    changed = sum(
        1 for key in set(wanted) & set(existing)
        if (existing[key].kind.value, existing[key].stem, list(existing[key].options), list(existing[key].answer),
            existing[key].explanation) != (wanted[key].kind, wanted[key].stem, wanted[key].options,
                                           wanted[key].answer, wanted[key].explanation))
    return {"questions_new": len(set(wanted) - set(existing)), "questions_changed": changed,
            "questions_removed": len(set(existing) - set(wanted))}

