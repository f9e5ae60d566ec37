"""Reading pages: courses, a lecture with its key points, and its materials."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, send_file
from flask_babel import gettext as _
from flask_login import current_user, login_required

from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from .models import LectureFormat, LectureVenue
from .panels import lecture_panels
from .services import get_course_for, get_lecture_for, get_material_for, visible_courses
from .uploads import stored_path

bp = Blueprint("courses", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/courses")


@bp.get("/courses")
@login_required
def course_list():
    return render_template("courses/course_list.html", courses=visible_courses(current_user))


@bp.get("/courses/<int:course_id>")
@login_required
def course_detail(course_id: int):
    course = get_course_for(current_user, course_id)
    lectures = [lec for lec in course.lectures if lec.published or current_user.is_admin]
    return render_template("courses/course_detail.html", course=course, lectures=lectures)


@bp.get("/lectures/<int:lecture_id>")
@login_required
def lecture_detail(lecture_id: int):
    lecture = get_lecture_for(current_user, lecture_id)
    venues = list(db.session.scalars(
        sa.select(Venue).join(LectureVenue, LectureVenue.venue_id == Venue.id)
        .where(LectureVenue.lecture_id == lecture.id).order_by(Venue.position)
    ))
    return render_template("courses/lecture_detail.html", lecture=lecture, venues=venues,
                           panels=lecture_panels(current_user, lecture))


@bp.get("/lectures/<int:lecture_id>/materials/<int:material_id>")
@login_required
def material_detail(lecture_id: int, material_id: int):
    lecture, material = get_material_for(current_user, lecture_id, material_id)
    return render_template("courses/material_detail.html", lecture=lecture, material=material)


@bp.get("/lectures/<int:lecture_id>/materials/<int:material_id>/download")
@login_required
def material_download(lecture_id: int, material_id: int):
    """An uploaded file, to signed-in users who may read the lecture, under its original name."""
    _lecture, material = get_material_for(current_user, lecture_id, material_id)
    if not material.stored_name:
        abort(404)
    try:
        path = stored_path(material.stored_name)
    except FileNotFoundError:
        abort(404)
    if not path.exists():
        abort(404)
    return send_file(path, mimetype=material.content_type, as_attachment=True,
                     download_name=material.original_filename or path.name, max_age=0)


@bp.app_template_global()
def format_name(lecture_format: LectureFormat) -> str:
    return lecture_format.label


@bp.app_template_global()
def venue_summary(venues: list[Venue]) -> str:
    main = sum(1 for v in venues if v.is_main)
    return _("%(main)s main venue and %(branch)s branch venues", main=main, branch=len(venues) - main)
