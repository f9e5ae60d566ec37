"""Venue list and a venue's members, for its coordinators and admins."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask_login import current_user

from lecturehub.accounts.models import Role, User, coordinator_venue
from lecturehub.core.permissions import role_required
from lecturehub.extensions import db

from .services import get_venue_for, venues_for

bp = Blueprint("venues", __name__, template_folder="templates")


@bp.get("/venues")
@role_required(Role.COORDINATOR, Role.ADMIN)
def venue_list():
    venues = venues_for(current_user)
    sizes = dict(db.session.execute(
        sa.select(User.home_venue_id, sa.func.count(User.id))
        .where(User.home_venue_id.in_([v.id for v in venues])).group_by(User.home_venue_id)
    ).all())
    coordinators = {}
    for venue_id, name in db.session.execute(
        sa.select(coordinator_venue.c.venue_id, User.name)
        .join(User, User.id == coordinator_venue.c.user_id)
        .where(coordinator_venue.c.venue_id.in_([v.id for v in venues]))
        .order_by(User.username)
    ):
        coordinators.setdefault(venue_id, []).append(name)
    return render_template("venues/venue_list.html", venues=venues, sizes=sizes, coordinators=coordinators)


@bp.get("/venues/<int:venue_id>")
@role_required(Role.COORDINATOR, Role.ADMIN)
def venue_detail(venue_id: int):
    venue = get_venue_for(current_user, venue_id)
    members = list(db.session.scalars(
        sa.select(User).where(User.home_venue_id == venue.id).order_by(User.member_no, User.username)
    ))
    coordinators = list(db.session.scalars(
        sa.select(User).join(coordinator_venue, coordinator_venue.c.user_id == User.id)
        .where(coordinator_venue.c.venue_id == venue.id).order_by(User.username)
    ))
    return render_template("venues/venue_detail.html", venue=venue, members=members, coordinators=coordinators)
