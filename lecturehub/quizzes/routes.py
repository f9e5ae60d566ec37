"""Taking a lecture's self-check quiz and reading the graded attempt."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from lecturehub.courses.services import get_lecture_for
from lecturehub.extensions import db

from . import services
from .forms import build_quiz_form, field_name, responses_from
from .models import QuizAttempt

bp = Blueprint("quizzes", __name__, template_folder="templates")

LETTERS = "ABCDEFGH"


@bp.route("/lectures/<int:lecture_id>/quiz", methods=["GET", "POST"])
@login_required
def take(lecture_id: int):
    lecture = get_lecture_for(current_user, lecture_id)
    questions = services.lecture_questions(lecture.id)
    if not questions:
        abort(404)
    form = build_quiz_form(questions)
    status = 200
    if form.validate_on_submit():
        attempt = services.submit_attempt(current_user.id, lecture, questions, responses_from(form, questions))
        return redirect(url_for("quizzes.attempt_detail", attempt_id=attempt.id))
    if form.is_submitted():
        status = 422
    attempts = services.attempts_of(current_user.id, lecture.id)
    fields = [(question, form[field_name(question)]) for question in questions]
    return render_template("quizzes/take.html", lecture=lecture, form=form, fields=fields, attempts=attempts,
                           letters=LETTERS), status


@bp.get("/quiz/attempts/<int:attempt_id>")
@login_required
def attempt_detail(attempt_id: int):
    attempt = db.session.get(QuizAttempt, attempt_id)
    if attempt is None:
        abort(404)
    # A member sees only their own attempts; admins may read any.
    if attempt.user_id != current_user.id and not current_user.is_admin:
        abort(403)
    lecture = attempt.lecture
    rows = []
    for answer in attempt.answers:
        snap = answer.question_snapshot
        labels = services.option_labels(snap["kind"], snap["options"])
        if answer.correct:
            verdict = ("ok", _("Correct"))
        elif services.is_partial(snap["answer"], answer.chosen):
            verdict = ("warn", _("Partly correct: some right options are missing"))
        else:
            verdict = ("bad", _("Wrong"))
        rows.append({"answer": answer, "snap": snap, "labels": labels, "verdict": verdict})
    return render_template("quizzes/attempt.html", attempt=attempt, lecture=lecture, rows=rows, letters=LETTERS)


@bp.app_template_global()
def question_kind_name(kind: str) -> str:
    return {"single": _("Single choice"), "multiple": _("Multiple choice"), "truefalse": _("True or false")}[kind]
