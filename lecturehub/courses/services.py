"""Course rules: what each user may see, loaded with a fixed number of queries."""
from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import abort
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from lecturehub.audit import services as audit
from lecturehub.audit.changes import record_changes
from lecturehub.core.errors import UserError
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from .models import Course, Lecture, LectureFormat, LectureVenue, Material, MaterialKind


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


# Every check-in loads its lecture: the statements are built once (see accounts/sessions._USER_FOR_SESSION).
_LECTURE = sa.select(Lecture).where(Lecture.id == sa.bindparam("lecture_id")).options(joinedload(Lecture.course))
_LECTURE_WITH_CONTENT = _LECTURE.options(selectinload(Lecture.key_points), selectinload(Lecture.materials))


def get_lecture_for(user, lecture_id: int, with_content: bool = True) -> Lecture:
    """Load a lecture the user may read; unpublished work does not exist for members (404).

    `with_content=False` leaves out the key points and materials, for pages that show neither (check-in):
    two queries fewer, and two fewer again when the lecture is refreshed after a commit.
    """
    lecture = db.session.scalar(_LECTURE_WITH_CONTENT if with_content else _LECTURE, {"lecture_id": lecture_id})
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


class AuthoringError(UserError):
    """A rule about content was broken; `field` names the form field it concerns."""

    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)


def describe_course(course: Course | None) -> dict:
    """The course form's fields as labelled words, for the audit of an edit."""
    if course is None:
        return {}
    return {"title": (_l("Title"), course.title), "slug": (_l("Short name"), course.slug),
            "description_md": (_l("Description"), course.description_md),
            "position": (_l("Order"), course.position), "published": (_l("Published"), course.published)}


def describe_lecture(lecture: Lecture | None) -> dict:
    """The lecture form's fields as labelled words (times in the organisation's zone), for the audit of an edit."""
    from .format import key_points_text
    from .routes import format_name

    if lecture is None:
        return {}
    venues = sorted((link.venue for link in lecture.venue_links), key=lambda v: (v.position, v.id))
    key_points = sorted(lecture.key_points, key=lambda kp: kp.position)
    return {
        "course": (_l("Course"), lecture.course.title), "title": (_l("Title"), lecture.title),
        "slug": (_l("Short name"), lecture.slug), "speaker": (_l("Speaker"), lecture.speaker),
        "host": (_l("Host"), lecture.host), "starts_at": (_l("Starts (Beijing time)"), lecture.starts_at),
        "ends_at": (_l("Ends (Beijing time)"), lecture.ends_at), "format": (_l("Format"), format_name(lecture.format)),
        "study_hours": (_l("Study hours"), lecture.study_hours),
        "venues": (_l("Venues taking part"), [v.name for v in venues]),
        "key_points": (_l("Summary and key points"), key_points_text(lecture.summary_md, key_points)),
        "published": (_l("Published"), lecture.published),
    }


def save_course(course: Course | None, *, title: str, slug: str, description_md: str, position: int,
                published: bool) -> Course:
    """Create or update a course; slugs are unique."""
    clash = db.session.scalar(sa.select(Course.id).where(Course.slug == slug))
    if clash is not None and (course is None or clash != course.id):
        raise AuthoringError("slug", _("Another course already uses this short name."))
    before = describe_course(course)
    created = course is None
    course = course or Course()
    # Browsers send CRLF from a textarea; kept as LF so that saving untouched changes nothing.
    course.title, course.slug, course.description_md = title.strip(), slug, (description_md or "").replace("\r\n", "\n")
    course.position, course.published = position, published
    db.session.add(course)
    db.session.flush()
    if created:
        audit.record("content.course_saved", f"course:{course.id}", title=course.title, published=published)
    else:
        record_changes("content.course_saved", f"course:{course.id}", before, describe_course(course),
                       title=course.title)
    db.session.flush()
    return course


def save_lecture(lecture: Lecture | None, *, course_id: int, title: str, slug: str, speaker: str, host: str,
                 starts_at: datetime, ends_at: datetime, lecture_format: str, study_hours: Decimal,
                 venue_ids: list[int], key_points_md: str, published: bool, archive: bool = False) -> Lecture:
    """Create or update a lecture with its venues and key points (updated by position, so quiz links hold)."""
    from .content import apply_key_points
    from .format import key_point_problems, split_key_points

    if ends_at <= starts_at:
        raise AuthoringError("ends_at", _("The lecture must end after it starts."))
    course = db.session.get(Course, course_id)
    if course is None:
        raise AuthoringError("course_id", _("Choose a course."))
    clash = db.session.scalar(sa.select(Lecture.id).where(Lecture.course_id == course_id, Lecture.slug == slug))
    if clash is not None and (lecture is None or clash != lecture.id):
        raise AuthoringError("slug", _("Another lecture of this course already uses this short name."))
    summary, points = split_key_points(key_points_md or "")
    problems = key_point_problems(points)
    if problems:
        line, message = problems[0]
        raise AuthoringError("key_points_md", _("Line %(line)s: %(message)s", line=line, message=message))
    venues = list(db.session.scalars(sa.select(Venue).where(Venue.id.in_(venue_ids)).order_by(Venue.position)))
    if len(venues) != len(set(venue_ids)):
        raise AuthoringError("venue_ids", _("Choose venues from the list."))
    before = describe_lecture(lecture)
    created = lecture is None
    lecture = lecture or Lecture(course=course)
    lecture.course = course
    lecture.title, lecture.slug, lecture.speaker, lecture.host = title.strip(), slug, speaker.strip(), host.strip()
    lecture.starts_at, lecture.ends_at = starts_at, ends_at
    lecture.format, lecture.study_hours, lecture.published = LectureFormat(lecture_format), study_hours, published
    lecture.summary_md = summary
    lecture.archive = archive
    db.session.add(lecture)
    wanted = {v.id for v in venues}
    for link in list(lecture.venue_links):
        if link.venue_id not in wanted:
            lecture.venue_links.remove(link)
    present = {link.venue_id for link in lecture.venue_links}
    for venue in venues:
        if venue.id not in present:
            lecture.venue_links.append(LectureVenue(venue=venue))
    apply_key_points(lecture, [(title, body) for title, body, _line in points])
    db.session.flush()
    if created:
        audit.record("content.lecture_saved", f"lecture:{lecture.id}", title=lecture.title, published=published)
    else:
        record_changes("content.lecture_saved", f"lecture:{lecture.id}", before, describe_lecture(lecture),
                       title=lecture.title)
    db.session.flush()
    return lecture


def add_material(lecture: Lecture, *, title: str, kind: MaterialKind, url: str | None = None,
                 stored=None) -> Material:
    """Attach a file (already stored) or a link to a lecture, after its other materials."""
    position = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(Material.position), 0))
                                 .where(Material.lecture_id == lecture.id)) + 1
    material = Material(lecture_id=lecture.id, slug=f"{kind.value}-{secrets.token_hex(4)}", position=position,
                        kind=kind, title=title.strip(), url=url, source="")
    if stored is not None:
        material.stored_name, material.original_filename = stored.stored_name, stored.original_filename
        material.content_type, material.size_bytes = stored.content_type, stored.size_bytes
    db.session.add(material)
    db.session.flush()
    audit.record("content.material_added", f"lecture:{lecture.id}", title=material.title,
                 file=material.original_filename or material.url or "")
    db.session.flush()
    return material


def delete_material(material: Material) -> None:
    """Remove a material and, once the database has forgotten it, its file."""
    from .uploads import remove_stored

    stored_name = material.stored_name
    audit.record("content.material_deleted", f"lecture:{material.lecture_id}", title=material.title)
    db.session.delete(material)
    db.session.flush()
    remove_stored(stored_name)
