"""Quiz rules: keeping a lecture's bank in step with content, and grading attempts."""
from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from collections.abc import Callable, Mapping, Sequence

import sqlalchemy as sa
from blinker import Namespace
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, URLSafeSerializer

from lecturehub.audit import services as audit
from lecturehub.audit.changes import record_changes
from lecturehub.core.errors import UserError
from lecturehub.core.transaction import savepoint
from lecturehub.courses.models import Lecture
from lecturehub.extensions import db

from .format import LETTERS, AnswerError, answer_indexes, checked_options
from .models import AttemptAnswer, FeedbackMode, Question, QuestionKind, QuizAttempt, QuizSettings, QuizSitting

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
    """The whole-number score an attempt keeps and is passed on: rounded down, never up (15 of 19 is 78, which
    does not pass an 80 mark), unlike core.numbers.percent, which shows shares with one decimal."""
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
    db.session.flush()
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


class QuestionError(UserError):
    """A question cannot be saved as written; `field` is the editor's field it concerns."""

    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)


def parse_answer(kind: QuestionKind, options_text: str, answer_text: str) -> tuple[list[str], list[int]]:
    """Options (one a line) and right answer from the editor's text fields, by the importer's own rules."""
    try:
        options = [] if kind is QuestionKind.TRUE_FALSE else checked_options(
            [line.strip() for line in (options_text or "").splitlines() if line.strip()])
        return options, answer_indexes(kind.value, answer_text, len(options))
    except AnswerError as exc:
        raise QuestionError("options_text" if exc.field == "options" else "answer", exc.message) from exc


FEEDBACK_WORDS = {FeedbackMode.AFTER_SUBMIT.value: _l("After submitting the quiz"),
                  FeedbackMode.IMMEDIATE.value: _l("Right after each answer")}
audit.register_value_words("feedback", FEEDBACK_WORDS)


def describe_question(question: Question | None) -> dict:
    """The question form's fields as labelled words, for the audit of an edit."""
    from .routes import question_kind_name

    if question is None:
        return {}
    if question.kind is QuestionKind.TRUE_FALSE:
        answer = _("True") if question.answer == [0] else _("False")
    else:
        answer = ",".join(LETTERS[i] for i in question.answer)
    key_point = next((f"{kp.position}. {kp.title}" for kp in question.lecture.key_points
                      if kp.id == question.key_point_id), None) if question.key_point_id else None
    return {"kind": (_l("Type"), question_kind_name(question.kind.value)), "stem": (_l("Question"), question.stem),
            "options": (_l("Options"), list(question.options)), "answer": (_l("Right answer"), answer),
            "explanation": (_l("Explanation"), question.explanation), "key_point": (_l("Key point"), key_point)}


def save_question(lecture: Lecture, question: Question | None, *, kind: QuestionKind, stem: str, options: list[str],
                  answer: list[int], explanation: str, key_point_id: int | None) -> Question:
    """Create or edit a question. Past attempts keep their snapshots, so their scores do not change."""
    if question is None:
        last = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(Question.position), 0))
                                 .where(Question.lecture_id == lecture.id))
        question = Question(lecture_id=lecture.id, key=f"q{secrets.token_hex(3)}", position=last + 1)
        db.session.add(question)
    before = describe_question(question) if question.id is not None else None
    # Browsers send CRLF from a textarea; kept as LF so that saving untouched changes nothing.
    question.kind, question.stem, question.options, question.answer = kind, stem.strip().replace("\r\n", "\n"), \
        options, answer
    question.explanation, question.key_point_id = explanation.strip().replace("\r\n", "\n"), key_point_id
    db.session.flush()
    if before is None:
        audit.record("content.question_saved", f"lecture:{lecture.id}", question=question.key, stem=question.stem[:80])
    else:
        record_changes("content.question_saved", f"lecture:{lecture.id}", before, describe_question(question),
                       question=question.key)
    db.session.flush()
    return question


def move_question(question: Question, step: int) -> None:
    """Swap the question with its neighbour above (-1) or below (+1)."""
    bank = lecture_questions(question.lecture_id)
    index = next(i for i, q in enumerate(bank) if q.id == question.id)
    other = index + step
    if 0 <= other < len(bank):
        bank[index], bank[other] = bank[other], bank[index]
        for position, item in enumerate(bank, start=1):
            item.position = position
        audit.record("content.question_moved", f"lecture:{question.lecture_id}", question=question.key,
                     position=question.position)
        db.session.flush()


def delete_question(question: Question) -> None:
    lecture_id = question.lecture_id
    audit.record("content.question_deleted", f"lecture:{lecture_id}", question=question.key, stem=question.stem[:80])
    db.session.delete(question)
    db.session.flush()
    for position, item in enumerate(lecture_questions(lecture_id), start=1):
        item.position = position
    db.session.flush()


# --- sittings: settings, drawing, drafts, immediate feedback ------------------------------------

def quiz_settings(lecture_id: int) -> QuizSettings:
    """The lecture's settings, or the defaults (not stored until an admin saves them)."""
    return db.session.get(QuizSettings, lecture_id) or QuizSettings(
        lecture_id=lecture_id, shuffle_questions=False, shuffle_options=False, draw_count=None,
        feedback=FeedbackMode.AFTER_SUBMIT, max_attempts=None)


def submitted_count(user_id: int, lecture_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.count(QuizAttempt.id)).where(
        QuizAttempt.user_id == user_id, QuizAttempt.lecture_id == lecture_id)) or 0


def attempts_left(user_id: int, lecture_id: int, settings: QuizSettings) -> int | None:
    """None when unlimited."""
    if not settings.max_attempts:
        return None
    return max(settings.max_attempts - submitted_count(user_id, lecture_id), 0)


def _draw_plan(questions: Sequence[Question], settings: QuizSettings, key: Callable[[str, int], bytes]
               ) -> list[dict]:
    """The questions drawn, in display order, with their option order; `key(purpose, question id)` decides.

    Each question's draw, place and option order come from its own key rather than from one stream of random
    numbers, so a question added to or deleted from the bank changes nothing else on a paper not yet saved.
    """
    chosen = list(questions)
    if settings.draw_count and settings.draw_count < len(chosen):
        chosen = sorted(chosen, key=lambda q: key("draw", q.id))[:settings.draw_count]
    if settings.shuffle_questions:
        chosen.sort(key=lambda q: key("place", q.id))
    else:
        chosen.sort(key=lambda q: (q.position, q.id))
    plan = []
    for question in chosen:
        order = list(range(len(option_labels(question.kind.value, question.options))))
        if settings.shuffle_options and question.kind is not QuestionKind.TRUE_FALSE:
            random.Random(key("options", question.id)).shuffle(order)
        plan.append({"q": question.id, "o": order})
    return plan


def _paper_key(user_id: int, lecture_id: int, submitted: int) -> Callable[[str, int], bytes]:
    """The keys of a member's paper: the same on every page load and device until they submit (the count of
    attempts moves on, so the next attempt draws afresh); made with the secret, so no one can work a paper out."""
    secret = current_app.config["SECRET_KEY"]
    secret = secret if isinstance(secret, bytes) else secret.encode()

    def key(purpose: str, question_id: int) -> bytes:
        message = f"quiz-paper:{user_id}:{lecture_id}:{submitted}:{purpose}:{question_id}"
        return hmac.new(secret, message.encode(), hashlib.sha256).digest()

    return key


def _fresh_plan(user_id: int, lecture_id: int, settings: QuizSettings, bank: Mapping[int, Question]
                ) -> list[dict] | None:
    """The paper a new sitting draws; None when no attempts are left or there are no questions."""
    submitted = submitted_count(user_id, lecture_id)
    if not bank or (settings.max_attempts and submitted >= settings.max_attempts):
        return None
    return _draw_plan(list(bank.values()), settings, _paper_key(user_id, lecture_id, submitted))


def _paper_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="quiz-paper")


def paper_token(sitting: QuizSitting) -> str:
    """The unsaved paper shown, signed, for the page's form: the first POST stores exactly it even when the
    settings changed or a question was added after the page was drawn (drawing again could then differ)."""
    submitted = submitted_count(sitting.user_id, sitting.lecture_id)
    return _paper_signer().dumps({"u": sitting.user_id, "l": sitting.lecture_id, "n": submitted, "p": sitting.plan})


def _shown_plan(token: str | None, user_id: int, lecture_id: int, bank: Mapping[int, Question]) -> list[dict] | None:
    """The plan a form was shown with, when its token is genuine and of this member's current attempt."""
    if not token:
        return None
    try:
        paper = _paper_signer().loads(token)
    except BadData:
        return None
    if not isinstance(paper, dict) or (paper.get("u"), paper.get("l")) != (user_id, lecture_id) \
            or paper.get("n") != submitted_count(user_id, lecture_id):
        return None  # another member's, another quiz's, or from before an attempt was submitted
    kept = [item for item in paper.get("p") or [] if item["q"] in bank]
    return kept or None


def _stored_sitting(user_id: int, lecture_id: int) -> QuizSitting | None:
    return db.session.scalar(sa.select(QuizSitting).where(QuizSitting.user_id == user_id,
                                                          QuizSitting.lecture_id == lecture_id))


def _bank(lecture_id: int) -> dict[int, Question]:
    return {q.id: q for q in lecture_questions(lecture_id)}


def shown_sitting(user_id: int, lecture: Lecture, settings: QuizSettings) -> QuizSitting | None:
    """What the quiz page shows, writing nothing: the member's sitting, or an unsaved one drawn as `open_sitting`
    will store it; None when no attempts are left.

    A question deleted meanwhile is left out by `sitting_questions`; the stored plan is trimmed at the next POST.
    """
    bank = _bank(lecture.id)
    sitting = _stored_sitting(user_id, lecture.id)
    if sitting is not None and any(item["q"] in bank for item in sitting.plan):
        return sitting
    fresh = _fresh_plan(user_id, lecture.id, settings, bank)
    if fresh is None:
        return None
    # Not added to the session: a GET must not write, and an object outside the session is never flushed.
    return QuizSitting(user_id=user_id, lecture_id=lecture.id, plan=fresh, draft={}, locked=[])


def open_sitting(user_id: int, lecture: Lecture, settings: QuizSettings, paper: str | None = None
                 ) -> QuizSitting | None:
    """For a POST: the member's quiz in progress, or one stored now; None when no attempts are left.

    A new sitting stores the paper the form was shown (`paper`, from `paper_token`) when it is genuine, else
    the same draw as the page's, which is what the page showed unless the settings or the bank changed since.
    """
    sitting = _stored_sitting(user_id, lecture.id)
    bank = _bank(lecture.id)
    if sitting is not None:
        kept = [item for item in sitting.plan if item["q"] in bank]  # a question deleted meanwhile drops out
        if kept:
            if len(kept) != len(sitting.plan):
                sitting.plan = kept
            return sitting
        db.session.delete(sitting)
        db.session.flush()
    fresh = _fresh_plan(user_id, lecture.id, settings, bank)
    if fresh is None:
        return None
    plan = _shown_plan(paper, user_id, lecture.id, bank) or fresh
    sitting = QuizSitting(user_id=user_id, lecture_id=lecture.id, plan=plan, draft={}, locked=[])
    try:
        # A savepoint, so a lost race undoes only this insert and not the rest of the request.
        with savepoint():
            db.session.add(sitting)
    except sa.exc.IntegrityError:
        # The same member answered on two devices at once: use the sitting the other request made.
        return _stored_sitting(user_id, lecture.id)
    return sitting


def sitting_questions(sitting: QuizSitting) -> list[tuple[Question, list[int]]]:
    """The sitting's questions in display order with their option order."""
    bank = {q.id: q for q in db.session.scalars(sa.select(Question).where(
        Question.id.in_([item["q"] for item in sitting.plan])))}
    return [(bank[item["q"]], item["o"]) for item in sitting.plan if item["q"] in bank]


def save_draft(sitting: QuizSitting, responses: Mapping[int, Sequence[int]]) -> None:
    """Keep the answers given so far; answers already checked stay as they were."""
    draft = dict(sitting.draft or {})
    locked = set(sitting.locked or [])
    for question_id, chosen in responses.items():
        if question_id not in locked:
            draft[str(question_id)] = sorted(set(chosen))
    sitting.draft = draft
    db.session.flush()


def check_answer(sitting: QuizSitting, question: Question, chosen: Sequence[int]) -> bool:
    """Immediate feedback: lock this question's answer and say whether it is right."""
    if question.id not in (sitting.locked or []):
        draft = dict(sitting.draft or {})
        draft[str(question.id)] = sorted(set(chosen))
        sitting.draft, sitting.locked = draft, list(sitting.locked or []) + [question.id]
        db.session.flush()
    return is_correct(question.answer, sitting.draft[str(question.id)])


def submit_sitting(sitting: QuizSitting, lecture: Lecture, responses: Mapping[int, Sequence[int]]) -> QuizAttempt:
    """Grade the sitting (checked answers stand), store the attempt with snapshots and close the sitting."""
    save_draft(sitting, responses)
    questions = [question for question, _order in sitting_questions(sitting)]
    answers = {int(k): v for k, v in (sitting.draft or {}).items()}
    db.session.delete(sitting)
    return submit_attempt(sitting.user_id, lecture, questions, answers)


def describe_quiz_settings(lecture: Lecture, settings) -> dict:
    """The quiz settings form's fields as labelled words, for the audit of an edit."""
    return {"pass_mark": (_l("Pass mark (%)"), lecture.quiz_pass_mark),
            "draw": (_l("Questions per attempt (empty: all)"), settings.draw_count),
            "shuffle_questions": (_l("Shuffle the questions"), bool(settings.shuffle_questions)),
            "shuffle_options": (_l("Shuffle the options"), bool(settings.shuffle_options)),
            "feedback": (_l("Feedback"), FEEDBACK_WORDS[settings.feedback.value]),
            "attempts": (_l("Attempts allowed (empty: unlimited)"), settings.max_attempts)}


def save_settings(lecture: Lecture, *, pass_mark: int, draw_count: int | None, shuffle_questions: bool,
                  shuffle_options: bool, feedback: FeedbackMode, max_attempts: int | None) -> QuizSettings:
    """Store the lecture's quiz settings; sittings already in progress keep the questions they drew."""
    settings = db.session.get(QuizSettings, lecture.id) or QuizSettings(lecture_id=lecture.id)
    before = describe_quiz_settings(lecture, quiz_settings(lecture.id))
    settings.draw_count, settings.shuffle_questions, settings.shuffle_options = draw_count, shuffle_questions, \
        shuffle_options
    settings.feedback, settings.max_attempts = feedback, max_attempts
    lecture.quiz_pass_mark = pass_mark
    db.session.add(settings)
    record_changes("content.quiz_settings_saved", f"lecture:{lecture.id}", before,
                   describe_quiz_settings(lecture, settings))
    db.session.flush()
    return settings
