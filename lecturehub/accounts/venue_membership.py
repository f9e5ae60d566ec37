"""Dated membership of venues: a member belongs to a venue from a date; transfers keep earlier lectures at the old venue."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from lecturehub.audit import services as audit
from lecturehub.core.timeutil import to_local, utcnow
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from .common import AccountError
from .member_numbers import find_member
from .models import (
    Membership,
    MembershipChange,
    Role,
    User,
    coordinator_venue,
)
from .passwords import _account_named

# --- dated membership ----------------------------------------------------------------------------------

def current_membership(member: User) -> Membership | None:
    """The member's open membership (no end yet; it may begin in the future after a dated transfer)."""
    return db.session.scalar(sa.select(Membership).where(Membership.user_id == member.id,
                                                         Membership.ends_at.is_(None)))


def start_membership(member: User, venue: Venue, at: datetime, by: User | None, how: MembershipChange,
                     reason: str = "") -> Membership:
    """Open a membership of `venue` from `at` (flushed, not committed); the member must have none open."""
    membership = Membership(user=member, venue=venue, starts_at=at, began_how=how, began_by=by, reason=reason)
    member.home_venue = venue
    db.session.add(membership)
    db.session.flush()
    return membership


def end_membership(member: User, at: datetime, by: User | None, kind: MembershipChange) -> None:
    """End the member's open membership at `at` (left or disabled); lectures from then on no longer expect them.

    Nothing happens when no membership is open. Ending before the membership began would rewrite
    lectures it already covered, so it is refused.
    """
    membership = current_membership(member)
    if membership is None:
        return
    if at < membership.starts_at:
        raise AccountError(_("The date cannot be before the membership began (%(date)s).",
                             date=_local_text(membership.starts_at)))
    membership.ends_at, membership.ended_how, membership.ended_by = at, kind, by
    audit.record("user.membership_ended", f"user:{member.username}", actor=by, venue=membership.venue.code,
                 how=kind.value, at=at.isoformat())
    db.session.flush()


def transfer_member(member: User, venue: Venue, effective_at: datetime, by: User | None, reason: str = "") -> None:
    """组织关系转接: the member belongs to `venue` from `effective_at` (past or future); lectures that start
    before it keep the old venue. Flushes; the caller commits."""
    membership = current_membership(member)
    if membership is not None and membership.venue_id == venue.id:
        return
    if membership is not None and effective_at < membership.starts_at:
        raise AccountError(_("The transfer cannot take effect before the current membership began (%(date)s).",
                             date=_local_text(membership.starts_at)))
    old_code = membership.venue.code if membership is not None else ""
    if membership is not None and effective_at == membership.starts_at:
        # The old period never covered a moment, so the open one simply names the new venue.
        db.session.delete(membership)
        db.session.flush()
        membership = None
        how = MembershipChange.TRANSFERRED
    elif membership is not None:
        membership.ends_at, membership.ended_how, membership.ended_by = (effective_at, MembershipChange.TRANSFERRED,
                                                                         by)
        how = MembershipChange.TRANSFERRED
    else:
        how = MembershipChange.JOINED
    start_membership(member, venue, effective_at, by, how, reason)
    audit.record("user.transferred", f"user:{member.username}", actor=by, venues=f"{old_code} → {venue.code}",
                 effective=effective_at.isoformat(), reason=reason)


def _move_home(member: User, venue: Venue | None, at: datetime, by: User | None, reason: str) -> None:
    """A changed home venue as dated membership: a transfer, or the end of membership when no venue is left."""
    if venue is None:
        end_membership(member, at, by, MembershipChange.LEFT)
        member.home_venue = None
    elif not member.active:
        member.home_venue = venue  # a disabled account belongs nowhere; re-enabling opens its membership here
    elif member.home_venue_id != venue.id:
        transfer_member(member, venue, at, by, reason)


def _local_text(moment: datetime) -> str:
    return to_local(moment).strftime("%Y-%m-%d %H:%M")


def memberships_of(member: User) -> list[Membership]:
    """The member's membership periods, oldest first, with venues and who made each change."""
    return list(db.session.scalars(
        sa.select(Membership).where(Membership.user_id == member.id)
        .options(selectinload(Membership.venue), selectinload(Membership.began_by), selectinload(Membership.ended_by))
        .order_by(Membership.starts_at, Membership.id)))


def set_venue_coordinators(venue: Venue, keep_ids: set[int], add: str, by: User) -> tuple[list[User], list[User]]:
    """Set who runs `venue`: the current coordinators in `keep_ids` stay, `add` (a member number or user
    name) joins. A member who joins becomes a coordinator; one left running no venue becomes a member
    again (their own venue is unchanged). Returns (added, removed); no change writes no audit entry."""
    current = list(db.session.scalars(
        sa.select(User).join(coordinator_venue, coordinator_venue.c.user_id == User.id)
        .where(coordinator_venue.c.venue_id == venue.id).order_by(User.username)))
    added: list[User] = []
    if add.strip():
        user = find_member(add) or _account_named(add)
        if user is None or not user.active:
            raise AccountError(_("No active account has the number or user name %(name)s.", name=add.strip()))
        if user.is_admin:
            raise AccountError(_("%(name)s is an admin and runs every venue already.", name=user.name))
        if all(u.id != user.id for u in current):
            added.append(user)
    removed = [u for u in current if u.id not in keep_ids]
    for user in removed:
        user.coordinated_venues = [v for v in user.coordinated_venues if v.id != venue.id]
        if not user.coordinated_venues:
            user.role = Role.MEMBER
    for user in added:
        if user.role is not Role.COORDINATOR:
            user.role = Role.COORDINATOR
            user.coordinated_venues = []
        user.coordinated_venues = [*user.coordinated_venues, venue]
        user.home_venue = user.home_venue or venue
    if added or removed:
        audit.record("venue.coordinators_changed", f"venue:{venue.code}", actor=by,
                     added=[f"{u.name} ({u.username})" for u in added],
                     removed=[f"{u.name} ({u.username})" for u in removed])
    return added, removed


def members_per_venue(venue_ids: list[int], at: datetime | None = None) -> dict[int, int]:
    """How many members belong to each venue at `at` (now): those whose dated membership covers it, so a
    disabled, departed or not-yet-transferred member is not counted. One grouped query; every page that shows
    a venue's size uses it, so they agree."""
    return dict(db.session.execute(
        sa.select(Membership.venue_id, sa.func.count(Membership.user_id))
        .where(Membership.venue_id.in_(venue_ids), Membership.covers(at or utcnow()))
        .group_by(Membership.venue_id)).all())


def members_of_venue(venue_id: int, at: datetime | None = None) -> list[User]:
    """The members who belong to the venue at `at` (now), by member number: the people members_per_venue counts."""
    return list(db.session.scalars(
        sa.select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.venue_id == venue_id, Membership.covers(at or utcnow()))
        .order_by(User.member_no, User.username)))
