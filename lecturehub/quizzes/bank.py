"""Admins edit a lecture's question bank in the browser: add, edit, reorder, delete, import and export."""
from __future__ import annotations

import io

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from wtforms import SelectChoice

from lecturehub.accounts.models import Role
from lecturehub.audit import services as audit
from lecturehub.core.contentfiles import ContentError
from lecturehub.core.errors import show_on_form
from lecturehub.core.permissions import role_required
from lecturehub.courses.models import Lecture
from lecturehub.extensions import db

from . import services
from .format import answer_text, quiz_yaml, read_quiz_text
from .forms import BankImportForm, QuestionForm, QuizSettingsForm, SimpleForm
from .models import FeedbackMode, Question, QuestionKind

bp = Blueprint("quiz_bank", __name__, template_folder="templates", url_prefix="/admin")

MAX_BANK_BYTES = 1024 * 1024


def load_lecture(lecture_id: int) -> Lecture:
    return db.session.get(Lecture, lecture_id) or abort(404)


def load_question(question_id: int) -> Question:
    return db.session.get(Question, question_id) or abort(404)


def kind_choices() -> list[SelectChoice]:
    from .routes import question_kind_name

    return [SelectChoice(k.value, question_kind_name(k.value)) for k in QuestionKind]


@bp.route("/lectures/<int:lecture_id>/quiz", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def bank(lecture_id: int):
    lecture = load_lecture(lecture_id)
    settings = settings_form(lecture)
    status = 200
    if settings.validate_on_submit():
        services.save_settings(lecture, pass_mark=settings.quiz_pass_mark.data, draw_count=settings.draw_count.data,
                               shuffle_questions=settings.shuffle_questions.data,
                               shuffle_options=settings.shuffle_options.data,
                               feedback=FeedbackMode(settings.feedback.data), max_attempts=settings.max_attempts.data)
        flash(_("Quiz settings saved."), "success")
        return redirect(url_for("quiz_bank.bank", lecture_id=lecture.id))
    if settings.is_submitted():
        status = 422
    return render_template("quizzes/bank.html", lecture=lecture, questions=services.lecture_questions(lecture.id),
                           settings=settings, import_form=BankImportForm(formdata=None)), status


def settings_form(lecture: Lecture, from_request: bool = True) -> QuizSettingsForm:
    current = services.quiz_settings(lecture.id)
    kwargs = {} if from_request else {"formdata": None}
    form = QuizSettingsForm(quiz_pass_mark=lecture.quiz_pass_mark, draw_count=current.draw_count,
                            shuffle_questions=current.shuffle_questions, shuffle_options=current.shuffle_options,
                            feedback=current.feedback.value, max_attempts=current.max_attempts, **kwargs)
    form.feedback.choices = [SelectChoice(FeedbackMode.AFTER_SUBMIT.value, _("After submitting the quiz")),
                             SelectChoice(FeedbackMode.IMMEDIATE.value, _("Right after each answer"))]
    return form


def _question_form(lecture: Lecture, question: Question | None) -> QuestionForm:
    if question is not None and not request.form:
        form = QuestionForm(kind=question.kind.value, stem=question.stem, options_text="\n".join(question.options),
                            answer=answer_text(question.kind.value, question.answer),
                            explanation=question.explanation, key_point=str(question.key_point_id or ""))
    else:
        form = QuestionForm()
    form.kind.choices = kind_choices()
    form.key_point.choices = [SelectChoice("", _("none"))] + [
        SelectChoice(str(kp.id), f"{kp.position}. {kp.title}") for kp in lecture.key_points]
    return form


@bp.route("/lectures/<int:lecture_id>/quiz/new", methods=["GET", "POST"])
@bp.route("/questions/<int:question_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_question(lecture_id: int | None = None, question_id: int | None = None):
    question = load_question(question_id) if question_id is not None else None
    lecture = load_lecture(question.lecture_id if question else lecture_id)
    form = _question_form(lecture, question)
    status = 200
    if form.validate_on_submit():
        kind = QuestionKind(form.kind.data)
        try:
            options, answer = services.parse_answer(kind, form.options_text.data or "", form.answer.data)
        except services.QuestionError as exc:
            status = show_on_form(form, exc)
        else:
            key_point_id = int(form.key_point.data) if form.key_point.data else None
            services.save_question(lecture, question, kind=kind, stem=form.stem.data, options=options, answer=answer,
                                   explanation=form.explanation.data, key_point_id=key_point_id)
            flash(_("Question saved."), "success")
            return redirect(url_for("quiz_bank.bank", lecture_id=lecture.id))
    elif form.is_submitted():
        status = 422
    return render_template("quizzes/question_form.html", lecture=lecture, question=question, form=form), status


@bp.post("/questions/<int:question_id>/move")
@role_required(Role.ADMIN)
def move_question(question_id: int):
    question = load_question(question_id)
    if not SimpleForm().validate_on_submit() or request.form.get("direction") not in ("up", "down"):
        abort(400)
    services.move_question(question, -1 if request.form["direction"] == "up" else 1)
    return redirect(url_for("quiz_bank.bank", lecture_id=question.lecture_id) + f"#question-{question.id}")


@bp.post("/questions/<int:question_id>/delete")
@role_required(Role.ADMIN)
def delete_question(question_id: int):
    question = load_question(question_id)
    if not SimpleForm().validate_on_submit():
        abort(400)
    lecture_id = question.lecture_id
    services.delete_question(question)
    flash(_("Question deleted. Past attempts keep it as it was."), "success")
    return redirect(url_for("quiz_bank.bank", lecture_id=lecture_id))


@bp.get("/lectures/<int:lecture_id>/quiz/export")
@role_required(Role.ADMIN)
def export_bank(lecture_id: int):
    lecture = load_lecture(lecture_id)
    positions = {kp.id: kp.position for kp in lecture.key_points}
    text = quiz_yaml(lecture.quiz_pass_mark, services.lecture_questions(lecture.id), positions)
    audit.record_now("export.quiz_bank", f"lecture:{lecture.id}")
    return send_file(io.BytesIO(text.encode("utf-8")), mimetype="application/x-yaml", as_attachment=True,
                     download_name=f"{lecture.slug}-quiz.yaml")


@bp.post("/lectures/<int:lecture_id>/quiz/import")
@role_required(Role.ADMIN)
def import_bank(lecture_id: int):
    """Replace the bank with an uploaded quiz.yaml: all of it, or nothing when any line has a problem."""
    lecture = load_lecture(lecture_id)
    form = BankImportForm()
    problems: list[str] = []
    if form.validate_on_submit():
        data = form.bank.data.read(MAX_BANK_BYTES + 1)
        if len(data) > MAX_BANK_BYTES:
            problems = [_("The file is larger than %(size)s MB.", size=1)]
        else:
            try:
                quiz = read_quiz_text(form.bank.data.filename or "quiz.yaml", data.decode("utf-8-sig"),
                                      len(lecture.key_points))
            except UnicodeDecodeError:
                problems = [_("File is not valid UTF-8 text (perhaps saved as GBK): save it as UTF-8.")]
            except ContentError as exc:
                problems = [str(p) for p in exc.problems]
            else:
                lecture.quiz_pass_mark, specs = quiz.pass_mark, quiz.questions
                created, updated = services.sync_questions(lecture, specs)
                audit.record("content.quiz_imported", f"lecture:{lecture.id}", file=form.bank.data.filename or "",
                             created=created, updated=updated, total=len(specs))
                flash(_("Quiz imported: %(created)s new, %(updated)s changed, %(total)s in all.",
                        created=created, updated=updated, total=len(specs)), "success")
                return redirect(url_for("quiz_bank.bank", lecture_id=lecture.id))
    else:
        problems = [str(e) for e in form.bank.errors]
    return render_template("quizzes/bank.html", lecture=lecture, questions=services.lecture_questions(lecture.id),
                           settings=settings_form(lecture, from_request=False), import_form=form,
                           import_problems=problems), 422
