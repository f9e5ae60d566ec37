"""The home page of each role, the venue list and a venue's page: each gathers from several packages."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask_login import current_user, login_required

from lecturehub.accounts.models import Role, User, coordinator_venue
from lecturehub.accounts.services import members_of_venue, members_per_venue
from lecturehub.attendance import services as attendance
from lecturehub.core.permissions import role_required
from lecturehub.courses.services import visible_courses
from lecturehub.extensions import db
from lecturehub.venues.models import Venue
from lecturehub.venues.services import get_venue_for, venues_for

bp = Blueprint("organisation", __name__, template_folder="templates")


def _door(user) -> dict:
    """Today's lectures at the user's venues and the leave requests waiting for them, for the home page."""
    if user.is_admin:
        return {"door_today": attendance.door_lectures(None), "leaves": []}
    if not user.is_coordinator:
        return {"door_today": [], "leaves": []}
    venue_ids = [v.id for v in user.coordinated_venues]
    return {"door_today": attendance.door_lectures(venue_ids), "leaves": attendance.waiting_leaves(venue_ids)}


@bp.get("/home")
@login_required
def home():
    courses = visible_courses(current_user)
    if current_user.is_admin:
        counts = {
            "venues": db.session.scalar(sa.select(sa.func.count(Venue.id))),
            "users": db.session.scalar(sa.select(sa.func.count(User.id))),
            "members": db.session.scalar(sa.select(sa.func.count(User.id)).where(User.role == Role.MEMBER)),
            "courses": len(courses),
        }
        return render_template("organisation/home_admin.html", counts=counts, courses=courses, **_door(current_user))
    venue_sizes = {}
    if current_user.is_coordinator:
        venue_sizes = members_per_venue([v.id for v in current_user.coordinated_venues])
    return render_template("organisation/home.html", courses=courses, venue_sizes=venue_sizes,
                           open_checkins=attendance.open_checkin_lectures(current_user),
                           makeup_tasks=attendance.open_makeup_tasks(current_user), **_door(current_user))


@bp.get("/venues")
@role_required(Role.COORDINATOR, Role.ADMIN)
def venue_list():
    venues = venues_for(current_user)
    sizes = members_per_venue([v.id for v in venues])
    coordinators = {}
    for venue_id, name in db.session.execute(
        sa.select(coordinator_venue.c.venue_id, User.name)
        .join(User, User.id == coordinator_venue.c.user_id)
        .where(coordinator_venue.c.venue_id.in_([v.id for v in venues]))
        .order_by(User.username)
    ):
        coordinators.setdefault(venue_id, []).append(name)
    return render_template("organisation/venue_list.html", venues=venues, sizes=sizes, coordinators=coordinators)


@bp.get("/venues/<int:venue_id>")
@role_required(Role.COORDINATOR, Role.ADMIN)
def venue_detail(venue_id: int):
    venue = get_venue_for(current_user, venue_id)
    members = members_of_venue(venue.id)
    coordinators = list(db.session.scalars(
        sa.select(User).join(coordinator_venue, coordinator_venue.c.user_id == User.id)
        .where(coordinator_venue.c.venue_id == venue.id).order_by(User.username)
    ))
    return render_template("organisation/venue_detail.html", venue=venue, members=members, coordinators=coordinators)
