"""A venue's members and its membership history: who joined, was transferred in or out, left or was disabled.

It lives in accounts because memberships are accounts' records of venues; venues know nothing of accounts.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from lecturehub.core.permissions import role_required
from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db
from lecturehub.venues.models import Venue
from lecturehub.venues.services import get_venue_for

from .models import Membership, MembershipChange, Role, User

bp = Blueprint("memberships", __name__, template_folder="templates")


def change_label(change: MembershipChange, starting: bool) -> str:
    """How a period began or ended, in words; a transfer reads as in or out depending on the side."""
    if change is MembershipChange.TRANSFERRED:
        return _("Transferred in") if starting else _("Transferred out")
    return {MembershipChange.JOINED: _("Joined"), MembershipChange.IMPORTED: _("Joined by roster import"),
            MembershipChange.RE_ENABLED: _("Account enabled again"), MembershipChange.DISABLED: _("Account disabled"),
            MembershipChange.LEFT: _("Left")}[change]


bp.add_app_template_global(change_label, "membership_change_label")


@dataclass
class VenueEvent:
    at: datetime
    user: User
    label: str
    other_venue: Venue | None  # where a transfer came from or went to
    by: User | None
    reason: str


def venue_history(venue: Venue) -> tuple[list[Membership], list[Membership], list[VenueEvent]]:
    """The venue's current members, those joining later (dated transfers), and every membership event, newest
    first; three queries whatever the venue's size."""
    now = utcnow()
    memberships = list(db.session.scalars(
        sa.select(Membership).where(Membership.venue_id == venue.id)
        .options(selectinload(Membership.user), selectinload(Membership.began_by), selectinload(Membership.ended_by))
        .order_by(Membership.starts_at, Membership.id)))
    # The other side of each transfer: the period that ended (or began) at the same moment for the same person.
    neighbours = {}
    user_ids = {m.user_id for m in memberships}
    if user_ids:
        for other in db.session.scalars(sa.select(Membership).where(Membership.user_id.in_(user_ids),
                                                                    Membership.venue_id != venue.id)
                                        .options(selectinload(Membership.venue))):
            neighbours[("ends", other.user_id, other.ends_at)] = other.venue
            neighbours[("starts", other.user_id, other.starts_at)] = other.venue
    current = [m for m in memberships if m.covers(now)]
    upcoming = [m for m in memberships if m.starts_at > now]
    events = []
    for m in memberships:
        came_from = neighbours.get(("ends", m.user_id, m.starts_at)) if m.began_how is MembershipChange.TRANSFERRED \
            else None
        events.append(VenueEvent(m.starts_at, m.user, change_label(m.began_how, True), came_from, m.began_by,
                                 m.reason))
        if m.ends_at is not None and m.ended_how is not None:
            went_to = neighbours.get(("starts", m.user_id, m.ends_at)) \
                if m.ended_how is MembershipChange.TRANSFERRED else None
            events.append(VenueEvent(m.ends_at, m.user, change_label(m.ended_how, False), went_to, m.ended_by, ""))
    events.sort(key=lambda e: e.at, reverse=True)
    current.sort(key=lambda m: (m.user.member_no or m.user.username))
    return current, upcoming, events


@bp.get("/venues/<int:venue_id>/members")
@role_required(Role.COORDINATOR, Role.ADMIN)
def venue_members(venue_id: int):
    venue = get_venue_for(current_user, venue_id)
    current, upcoming, events = venue_history(venue)
    return render_template("accounts/venue_members.html", venue=venue, current=current, upcoming=upcoming,
                           events=events)
