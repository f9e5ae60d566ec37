"""Course rules: what each user may see, loaded with a fixed number of queries."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort
from sqlalchemy.orm import selectinload

from lecturehub.extensions import db

from .models import Course, Lecture, Material


def can_see_drafts(user) -> bool:
    return user.is_admin


def visible_courses(user) -> list[tuple[Course, list[Lecture]]]:
    """Courses with the lectures the user may open: admins see drafts, everyone else only published work."""
    query = sa.select(Course).options(selectinload(Course.lectures)).order_by(Course.position, Course.id)
    drafts = can_see_drafts(user)
    if not drafts:
        query = query.where(Course.published.is_(True))
    return [(course, [lec for lec in course.lectures if drafts or lec.published])
            for course in db.session.scalars(query)]


def get_course_for(user, course_id: int) -> Course:
    course = db.session.get(Course, course_id)
    if course is None or (not course.published and not can_see_drafts(user)):
        abort(404)
    return course


def get_lecture_for(user, lecture_id: int) -> Lecture:
    """Load a lecture the user may read; unpublished work does not exist for members (404)."""
    lecture = db.session.scalar(
        sa.select(Lecture).where(Lecture.id == lecture_id)
        .options(selectinload(Lecture.key_points), selectinload(Lecture.materials), selectinload(Lecture.course))
    )
    if lecture is None:
        abort(404)
    if not can_see_drafts(user) and not (lecture.published and lecture.course.published):
        abort(404)
    return lecture


def get_material_for(user, lecture_id: int, material_id: int) -> tuple[Lecture, Material]:
    lecture = get_lecture_for(user, lecture_id)
    material = db.session.get(Material, material_id)
    if material is None or material.lecture_id != lecture.id:
        abort(404)
    return lecture, material
