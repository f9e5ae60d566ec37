"""Admins write courses and lectures in the browser: metadata, venues, key points with a live preview."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from lecturehub.core.errors import show_on_form
from lecturehub.core.markdown import render_markdown
from lecturehub.core.permissions import Role, role_required
from lecturehub.core.timeutil import parse_local, to_local
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from . import bundles, services
from .archive import members_who_would_get_makeup, undecided_past_lectures
from .content import ContentError, import_content, read_bundle
from .format import key_points_text
from .forms import (
    BundleApplyForm,
    BundleUploadForm,
    CourseForm,
    DeleteForm,
    LectureForm,
    MaterialLinkForm,
    MaterialUploadForm,
)
from .models import Course, Lecture, LectureFormat, Material, MaterialKind
from .uploads import UploadError, store_upload

bp = Blueprint("authoring", __name__, template_folder="templates", url_prefix="/admin")

MAX_PREVIEW_CHARS = 100000


def format_choices() -> list[SelectChoice]:
    from .routes import format_name

    return [SelectChoice(f.value, format_name(f)) for f in LectureFormat]


@bp.get("/content")
@role_required(Role.ADMIN)
def content():
    courses = services.visible_courses(current_user)
    return render_template("courses/admin_content.html", courses=courses)


@bp.route("/courses/new", methods=["GET", "POST"])
@bp.route("/courses/<int:course_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_course(course_id: int | None = None):
    course = None
    if course_id is not None:
        course = db.session.get(Course, course_id) or abort(404)
    form = CourseForm(obj=course)
    status = 200
    if form.validate_on_submit():
        try:
            course = services.save_course(course, title=form.title.data, slug=form.slug.data,
                                          description_md=form.description_md.data or "",
                                          position=form.position.data, published=form.published.data)
        except services.AuthoringError as exc:
            status = show_on_form(form, exc)
        else:
            flash(_("Course saved."), "success")
            return redirect(url_for("authoring.content"))
    elif form.is_submitted():
        status = 422
    return render_template("courses/admin_course_form.html", form=form, course=course), status


def _lecture_form(lecture: Lecture | None) -> LectureForm:
    # Retired venues are offered no more, except on a lecture that already has them (its history holds).
    linked = [link.venue_id for link in lecture.venue_links] if lecture is not None else []
    venues = list(db.session.scalars(sa.select(Venue).where(sa.or_(Venue.retired_at.is_(None), Venue.id.in_(linked)))
                                     .order_by(Venue.position)))
    courses = list(db.session.scalars(sa.select(Course).order_by(Course.position, Course.id)))
    if lecture is not None and not request.form:
        # Every field from `data`, none from `obj=`: WTForms prefers an object's attribute to a keyword, and the
        # lecture's own starts_at (UTC) and format (an enum) would fill the Beijing-time fields and miss the select.
        form = LectureForm(data=dict(
            course_id=lecture.course_id, title=lecture.title, slug=lecture.slug, speaker=lecture.speaker,
            host=lecture.host, starts_at=to_local(lecture.starts_at).replace(tzinfo=None),
            ends_at=to_local(lecture.ends_at).replace(tzinfo=None), format=lecture.format.value,
            study_hours=lecture.study_hours, venue_ids=[link.venue_id for link in lecture.venue_links],
            key_points_md=key_points_text(lecture.summary_md, lecture.key_points), published=lecture.published))
    elif lecture is None and not request.form:
        form = LectureForm(course_id=request.args.get("course", type=int), venue_ids=[v.id for v in venues],
                           format=LectureFormat.IN_PERSON.value)
    else:
        form = LectureForm()
    form.course_id.choices = [SelectChoice(c.id, c.title) for c in courses]
    form.venue_ids.choices = [SelectChoice(v.id, v.name) for v in venues]
    form.format.choices = format_choices()
    return form


@bp.route("/lectures/new", methods=["GET", "POST"])
@bp.route("/lectures/<int:lecture_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_lecture(lecture_id: int | None = None):
    lecture = None
    if lecture_id is not None:
        lecture = db.session.get(Lecture, lecture_id) or abort(404)
    form = _lecture_form(lecture)
    status = 200
    if form.validate_on_submit():
        try:
            lecture = services.save_lecture(
                lecture, course_id=form.course_id.data, title=form.title.data, slug=form.slug.data,
                speaker=form.speaker.data, host=form.host.data or "",
                starts_at=parse_local(form.starts_at.data), ends_at=parse_local(form.ends_at.data),
                lecture_format=form.format.data, study_hours=form.study_hours.data,
                venue_ids=form.venue_ids.data, key_points_md=form.key_points_md.data or "",
                published=form.published.data, archive=form.archive.data)
        except services.AuthoringError as exc:
            status = show_on_form(form, exc)
        else:
            flash(_("Lecture saved."), "success")
            return redirect(url_for("courses.lecture_detail", lecture_id=lecture.id))
    elif form.is_submitted():
        status = 422
    return render_template("courses/admin_lecture_form.html", form=form, lecture=lecture,
                           preview=render_markdown(form.key_points_md.data or "")), status


@bp.post("/preview")
@role_required(Role.ADMIN)
def preview():
    """Sanitised HTML for the live Markdown preview (the CSRF token comes in the X-CSRFToken header)."""
    text = request.form.get("text", "")
    if len(text) > MAX_PREVIEW_CHARS:
        abort(413)
    return jsonify({"html": str(render_markdown(text))})


@bp.route("/lectures/<int:lecture_id>/materials", methods=["GET"])
@role_required(Role.ADMIN)
def materials(lecture_id: int, upload_form=None, link_form=None, status: int = 200):
    lecture = db.session.get(Lecture, lecture_id) or abort(404)
    return render_template("courses/admin_materials.html", lecture=lecture,
                           upload_form=upload_form or MaterialUploadForm(formdata=None),
                           link_form=link_form or MaterialLinkForm(formdata=None), delete_form=DeleteForm()), status


@bp.post("/lectures/<int:lecture_id>/materials/upload")
@role_required(Role.ADMIN)
def upload_material(lecture_id: int):
    lecture = db.session.get(Lecture, lecture_id) or abort(404)
    form = MaterialUploadForm()
    if not form.validate_on_submit():
        return materials(lecture.id, upload_form=form, status=422)
    upload = form.file.data
    try:
        stored = store_upload(upload.filename or "", upload.read())
    except UploadError as exc:
        return materials(lecture.id, upload_form=form, status=show_on_form(form, exc, "file"))
    services.add_material(lecture, title=form.title.data or stored.original_filename, kind=MaterialKind.FILE,
                          stored=stored)
    flash(_("%(name)s uploaded.", name=stored.original_filename), "success")
    return redirect(url_for("authoring.materials", lecture_id=lecture.id))


@bp.post("/lectures/<int:lecture_id>/materials/link")
@role_required(Role.ADMIN)
def add_link(lecture_id: int):
    lecture = db.session.get(Lecture, lecture_id) or abort(404)
    form = MaterialLinkForm()
    if not form.validate_on_submit():
        return materials(lecture.id, link_form=form, status=422)
    services.add_material(lecture, title=form.title.data, kind=MaterialKind.LINK, url=form.url.data.strip())
    flash(_("Link added."), "success")
    return redirect(url_for("authoring.materials", lecture_id=lecture.id))


@bp.post("/materials/<int:material_id>/delete")
@role_required(Role.ADMIN)
def delete_material(material_id: int):
    material = db.session.get(Material, material_id) or abort(404)
    if not DeleteForm().validate_on_submit():
        abort(400)
    lecture_id = material.lecture_id
    services.delete_material(material)
    flash(_("Material deleted."), "success")
    return redirect(url_for("authoring.materials", lecture_id=lecture_id))


@bp.route("/bundle", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def bundle():
    """Upload a ZIP bundle and see what it would change; nothing is written until it is applied."""
    form = BundleUploadForm()
    if not form.is_submitted():
        return render_template("courses/admin_bundle.html", form=form)
    problems: list[str] = []
    if form.validate_on_submit():
        token = None
        name = bundles.bundle_name(form.bundle.data.filename or "")
        try:
            token = bundles.keep_upload(form.bundle.data.read(), name)
            specs = bundles.read_kept(token)
            changes = bundles.preview(specs)
        except bundles.BundleError as exc:
            problems = [str(exc)]
        except ContentError as exc:
            problems = [str(p) for p in exc.problems]
        else:
            return _bundle_preview(form, changes, specs, BundleApplyForm(formdata=None, token=token))
        if token:
            bundles.drop(token)
        return render_template("courses/admin_bundle.html", form=form, problems=problems, bundle_name=name), 422
    problems = [str(e) for e in form.bundle.errors]
    return render_template("courses/admin_bundle.html", form=form, problems=problems), 422


@bp.post("/bundle/apply")
@role_required(Role.ADMIN)
def apply_bundle():
    form = BundleApplyForm()
    if not form.validate_on_submit():
        abort(400)
    archive_past = {"yes": True, "no": False}.get(form.archive_past.data)
    name = bundles.kept_name(form.token.data)
    try:
        with bundles.unpacked(bundles.kept_path(form.token.data)) as root:
            if archive_past is None:
                specs = read_bundle(root, name)
                if undecided_past_lectures(specs):
                    # The preview asked; an answer is needed before anything is written.
                    form.archive_past.errors = [_("Choose whether the lectures that already ended are archive "
                                                  "lectures.")]
                    return _bundle_preview(BundleUploadForm(formdata=None), bundles.preview(specs), specs, form, 422)
            summary = import_content(root, archive_past, name)
    except bundles.BundleError as exc:
        return render_template("courses/admin_bundle.html", form=BundleUploadForm(formdata=None),
                               problems=[str(exc)], bundle_name=name), 422
    except ContentError as exc:
        return render_template("courses/admin_bundle.html", form=BundleUploadForm(formdata=None),
                               problems=[str(p) for p in exc.problems], bundle_name=name), 422
    bundles.drop(form.token.data)
    flash(_("Bundle imported: %(created)s created, %(updated)s updated.", created=summary.created,
            updated=summary.updated), "success")
    return redirect(url_for("authoring.content"))


def _bundle_preview(form, changes, specs, apply_form, status: int = 200):
    """The preview of a bundle, asking about new lectures that already ended and saying what is at stake."""
    past = undecided_past_lectures(specs)
    return render_template("courses/admin_bundle.html", form=form, changes=changes, apply_form=apply_form,
                           past_lectures=past, makeup_members=members_who_would_get_makeup(past)), status


@bp.app_template_global()
def change_label(state: str) -> str:
    return {"new": _("new"), "changed": _("changed"), "unchanged": _("unchanged")}[state]
