"""Venue rules: which venues a user may see."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort

from lecturehub.extensions import db

from .models import Venue


def venues_for(user) -> list[Venue]:
    """Every venue for an admin; a coordinator's own venues; nothing for a member."""
    if user.is_admin:
        return list(db.session.scalars(sa.select(Venue).order_by(Venue.position)))
    if user.is_coordinator:
        return list(user.coordinated_venues)
    return []


def get_venue_for(user, venue_id: int) -> Venue:
    """Load a venue, 404 when it does not exist, 403 when the user does not run it."""
    venue = db.session.get(Venue, venue_id)
    if venue is None:
        abort(404)
    if not user.can_manage_venue(venue.id):
        abort(403)
    return venue
