"""Taking a lecture's self-check quiz and reading the graded attempt."""
from __future__ import annotations

import re

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from lecturehub.accounts.models import Role
from lecturehub.core.exports import Column, Table, download
from lecturehub.core.permissions import role_required
from lecturehub.core.transaction import keep_on_error
from lecturehub.courses.panels import LecturePanel
from lecturehub.courses.services import get_lecture_for
from lecturehub.extensions import db

from . import services, statistics
from .format import LETTERS
from .forms import build_quiz_form, field_name, responses_from
from .models import FeedbackMode, QuestionKind, QuizAttempt

bp = Blueprint("quizzes", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/quizzes")


@bp.route("/lectures/<int:lecture_id>/quiz", methods=["GET", "POST"])
@login_required
def take(lecture_id: int):
    """The quiz in progress: answers are kept on the server, so a reload continues where the member was."""
    lecture = get_lecture_for(current_user, lecture_id)
    settings = services.quiz_settings(lecture.id)
    if request.method == "POST":
        sitting = services.open_sitting(current_user.id, lecture, settings, request.form.get("paper"))
    else:
        # Showing the quiz writes nothing: until the first answer is saved the paper is drawn again, the same.
        sitting = services.shown_sitting(current_user.id, lecture, settings)
    attempts = services.attempts_of(current_user.id, lecture.id)
    if sitting is None:
        if not services.lecture_questions(lecture.id):
            abort(404)
        status = 409 if request.method == "POST" else 200
        return render_template("quizzes/take.html", lecture=lecture, form=None, attempts=attempts,
                               settings=settings, letters=LETTERS), status
    items = services.sitting_questions(sitting)
    locked = set(sitting.locked or [])
    form = build_quiz_form(items, locked, draft=sitting.draft)
    status = 200
    if request.method == "POST":
        action = request.form.get("action", "submit")
        if action == "save":
            services.save_draft(sitting, responses_from(form, items, locked))
            flash(_("Your answers are saved; you can come back later."), "success")
            return redirect(url_for("quizzes.take", lecture_id=lecture.id))
        if action.startswith("check:") and settings.feedback is FeedbackMode.IMMEDIATE:
            question = next((q for q, _o in items if f"check:{q.id}" == action), None)
            if question is None:
                abort(400)
            responses = responses_from(form, items, locked)
            services.save_draft(sitting, responses)
            if question.id not in locked and not responses.get(question.id):
                form[field_name(question)].errors = [_("Choose an answer before checking it.")]
                status = 422
                keep_on_error()  # the answers given so far are saved even though this check is refused
            else:
                services.check_answer(sitting, question, responses.get(question.id, []))
                return redirect(url_for("quizzes.take", lecture_id=lecture.id) + f"#question-{question.id}")
        elif form.validate_on_submit():
            attempt = services.submit_sitting(sitting, lecture, responses_from(form, items, locked))
            return redirect(url_for("quizzes.attempt_detail", attempt_id=attempt.id))
        else:
            services.save_draft(sitting, responses_from(form, items, locked))
            status = 422
            keep_on_error()  # an incomplete submission is refused, but the answers given so far are kept
    fields = []
    for question, _order in items:
        verdict = None
        if question.id in locked:
            chosen = (sitting.draft or {}).get(str(question.id), [])
            verdict = services.is_correct(question.answer, chosen)
        fields.append((question, form[field_name(question)], verdict))
    paper = services.paper_token(sitting) if sitting.id is None else None
    return render_template("quizzes/take.html", lecture=lecture, form=form, fields=fields, attempts=attempts,
                           settings=settings, paper=paper, letters=LETTERS,
                           attempts_left=services.attempts_left(current_user.id, lecture.id, settings)), status


@bp.post("/lectures/<int:lecture_id>/quiz/draft")
@login_required
def save_draft(lecture_id: int):
    """Autosave from the quiz page's script; the same as the page's Save button (the first one stores the sitting)."""
    lecture = get_lecture_for(current_user, lecture_id)
    settings = services.quiz_settings(lecture.id)
    sitting = services.open_sitting(current_user.id, lecture, settings, request.form.get("paper"))
    if sitting is None:
        if not services.lecture_questions(lecture.id):
            abort(404)
        return jsonify({"saved": False}), 409  # no attempts left
    items = services.sitting_questions(sitting)
    locked = set(sitting.locked or [])
    form = build_quiz_form(items, locked)
    services.save_draft(sitting, responses_from(form, items, locked))
    return jsonify({"saved": True})


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


def lecture_panel(user, lecture) -> LecturePanel:
    """The lecture page's self-check section: how many questions, the user's best score, the way in.

    Registered with courses' lecture page at app creation (courses knows nothing of quizzes)."""
    quiz = services.lecture_quiz_summary(user.id, lecture.id)
    panel = LecturePanel("quizzes/_lecture_panel.html", quiz)
    if quiz["question_count"]:
        panel.nav_label, panel.nav_url = _("Self-check quiz"), url_for("quizzes.take", lecture_id=lecture.id)
    return panel


@bp.app_template_global()
def question_kind_name(kind: str) -> str:
    return QuestionKind(kind).label


# Question writers often end a stem with （多选） themselves; the label would then say it twice.
KIND_IN_STEM = re.compile(r"[（(]\s*(单选|多选|判断)题?\s*[）)]")


@bp.app_template_global()
def question_kind_tag(stem: str, kind: str) -> str:
    """The kind in brackets after a question, unless its text already names it."""
    return "" if KIND_IN_STEM.search(stem) else _("(%(text)s)", text=question_kind_name(kind))


@bp.get("/lectures/<int:lecture_id>/quiz/analysis")
@role_required(Role.COORDINATOR, Role.ADMIN)
def analysis(lecture_id: int):
    """Item analysis: coordinators see their own venues' members, admins everyone and each venue side by side."""
    lecture = get_lecture_for(current_user, lecture_id)
    venue_ids = None if current_user.is_admin else [v.id for v in current_user.coordinated_venues]
    result = statistics.analyse(lecture.id, venue_ids)
    fmt = request.args.get("format")
    if fmt is not None:
        if fmt not in ("xlsx", "csv"):
            abort(400)
        return _analysis_download(lecture, result, fmt)
    return render_template("quizzes/analysis.html", lecture=lecture, result=result)


def _analysis_download(lecture, result, fmt: str):
    with force_locale("zh_CN"):
        table = Table(_("Question analysis"), [
            Column(_("No.")), Column(_("Question")), Column(_("Members who answered"), "int"), Column(_("Share right"), "percent"),
            Column(_("Discrimination"), "number"), Column(_("Flag"))]
            + [Column(venue.name, "percent") for venue in result.venues])
        for index, item in enumerate(result.questions, start=1):
            table.rows.append([index, item.question.stem, item.overall.answered, item.overall.share,
                               item.discrimination, flag_label(item.flag)]
                              + [item.by_venue[v.id].share if v.id in item.by_venue else None for v in result.venues])
        table.heading = f"{table.title} · {lecture.title}"
    return download(table, f"quiz-analysis-{lecture.id}", fmt)


@bp.app_template_global()
def flag_label(flag: str | None) -> str:
    return {"easy": _("almost everyone right"), "hard": _("almost everyone wrong"), None: ""}[flag]
