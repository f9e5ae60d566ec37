"""Quiz rules: keeping a lecture's bank in step with content, and grading attempts."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from blinker import Namespace
from flask import current_app
from flask_babel import gettext as _

from lecturehub.courses.models import Lecture
from lecturehub.extensions import db

from .models import AttemptAnswer, Question, QuestionKind, QuizAttempt

_signals = Namespace()
# Sent after an attempt is stored; attendance listens (make-up study) without quizzes knowing of it.
quiz_submitted = _signals.signal("quiz-submitted")


def sync_questions(lecture: Lecture, specs: Sequence) -> tuple[int, int]:
    """Make the lecture's bank match `specs` (matched by question id); return (created, updated).

    Removed questions are deleted; past attempts keep their snapshots.
    """
    existing = {q.key: q for q in db.session.scalars(sa.select(Question).where(Question.lecture_id == lecture.id))}
    key_points = {kp.position: kp for kp in lecture.key_points}
    created = updated = 0
    for position, spec in enumerate(specs, start=1):
        values = {
            "position": position,
            "kind": QuestionKind(spec.kind),
            "stem": spec.stem,
            "options": list(spec.options),
            "answer": list(spec.answer),
            "explanation": spec.explanation,
            "key_point_id": key_points[spec.key_point].id if spec.key_point else None,
        }
        question = existing.pop(spec.key, None)
        if question is None:
            db.session.add(Question(lecture_id=lecture.id, key=spec.key, **values))
            created += 1
        elif any(getattr(question, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(question, name, value)
            updated += 1
    for stale in existing.values():
        db.session.delete(stale)
    db.session.flush()
    return created, updated


def lecture_questions(lecture_id: int) -> list[Question]:
    return list(
        db.session.scalars(
            sa.select(Question).where(Question.lecture_id == lecture_id).order_by(Question.position)
        )
    )


def option_labels(kind: str, options: Sequence[str]) -> list[str]:
    """Choices as shown to the member; true/false questions have fixed, translated choices."""
    if kind == QuestionKind.TRUE_FALSE.value:
        return [_("True"), _("False")]
    return list(options)


def is_correct(answer: Sequence[int], chosen: Sequence[int]) -> bool:
    """All-or-nothing: a multiple-choice answer counts only when exactly the right options are chosen."""
    return sorted(set(chosen)) == sorted(set(answer))


def is_partial(answer: Sequence[int], chosen: Sequence[int]) -> bool:
    """Some right options and no wrong one, but not all of them (shown to the member, scores nothing)."""
    chosen_set, answer_set = set(chosen), set(answer)
    return bool(chosen_set) and chosen_set < answer_set


def score_percent(correct: int, total: int) -> int:
    return (correct * 100) // total if total else 0


def submit_attempt(user_id: int, lecture: Lecture, questions: Sequence[Question],
                   responses: Mapping[int, Sequence[int]]) -> QuizAttempt:
    """Grade a member's answers (question id -> chosen option indexes), store the attempt with snapshots, commit."""
    attempt = QuizAttempt(user_id=user_id, lecture_id=lecture.id, pass_mark=lecture.quiz_pass_mark,
                          question_count=len(questions), correct_count=0, score=0, passed=False)
    for position, question in enumerate(questions, start=1):
        chosen = sorted(set(responses.get(question.id, [])))
        correct = is_correct(question.answer, chosen)
        attempt.correct_count += int(correct)
        attempt.answers.append(AttemptAnswer(position=position, question_id=question.id,
                                             question_snapshot=question.snapshot(), chosen=chosen, correct=correct))
    attempt.score = score_percent(attempt.correct_count, attempt.question_count)
    attempt.passed = attempt.score >= attempt.pass_mark
    db.session.add(attempt)
    db.session.commit()
    quiz_submitted.send(current_app._get_current_object(), attempt=attempt)
    return attempt


def attempts_of(user_id: int, lecture_id: int) -> list[QuizAttempt]:
    return list(
        db.session.scalars(
            sa.select(QuizAttempt)
            .where(QuizAttempt.user_id == user_id, QuizAttempt.lecture_id == lecture_id)
            .order_by(QuizAttempt.submitted_at.desc())
        )
    )


def lecture_quiz_summary(user_id: int, lecture_id: int) -> dict:
    """How many questions the lecture's quiz has and the user's best attempt, in two queries."""
    count = db.session.scalar(sa.select(sa.func.count(Question.id)).where(Question.lecture_id == lecture_id))
    best = db.session.scalar(
        sa.select(QuizAttempt)
        .where(QuizAttempt.user_id == user_id, QuizAttempt.lecture_id == lecture_id)
        .order_by(QuizAttempt.score.desc(), QuizAttempt.submitted_at.desc()).limit(1)
    )
    return {"question_count": count or 0, "best": best}


def passed_lecture_ids(user_id: int, lecture_ids: Sequence[int]) -> set[int]:
    """Which of these lectures' quizzes the user has passed at least once."""
    if not lecture_ids:
        return set()
    return set(db.session.scalars(
        sa.select(QuizAttempt.lecture_id).where(QuizAttempt.user_id == user_id, QuizAttempt.passed.is_(True),
                                                QuizAttempt.lecture_id.in_(lecture_ids)).distinct()))
