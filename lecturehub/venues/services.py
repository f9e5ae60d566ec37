"""Venue rules: which venues a user may see."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import abort
from flask_babel import gettext as _

from lecturehub.audit import services as audit
from lecturehub.core.errors import UserError
from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db

from .models import Venue, VenueKind


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


# --- the admin's venue pages ------------------------------------------------------------------------------

class VenueError(UserError):
    """A venue rule was broken; the message is for the admin."""


def kind_label(kind: VenueKind) -> str:
    return kind.label


def active_venues_query() -> sa.Select:
    """Venues offered for new work (lectures, accounts, rosters): every venue not retired, in order."""
    return sa.select(Venue).where(Venue.retired_at.is_(None)).order_by(Venue.position, Venue.id)


def _check_unique(code: str, name: str, venue_id: int | None) -> None:
    others = sa.select(Venue).where(Venue.id != venue_id) if venue_id else sa.select(Venue)
    if db.session.scalar(others.where(sa.func.lower(Venue.code) == code.lower()).limit(1)):
        raise VenueError(_("Another venue already has the code %(code)s.", code=code))
    if db.session.scalar(others.where(Venue.name == name).limit(1)):
        raise VenueError(_("Another venue is already called %(name)s.", name=name))


def create_venue(by, *, code: str, name: str, kind: VenueKind, position: int) -> Venue:
    """Add a venue (flushed, not committed) and its audit entry."""
    code, name = code.strip(), name.strip()
    _check_unique(code, name, None)
    venue = Venue(code=code, name=name, kind=kind, position=position)
    db.session.add(venue)
    db.session.flush()
    audit.record("venue.created", f"venue:{venue.code}", actor=by, name=name, kind=kind_label(kind),
                 position=position)
    return venue


def update_venue(venue: Venue, by, *, code: str, name: str, kind: VenueKind, position: int) -> list[str]:
    """Change a venue; returns the changes in words (old → new). Nothing changed writes no audit entry."""
    code, name = code.strip(), name.strip()
    _check_unique(code, name, venue.id)
    changes = changed_fields(
        venue, {"code": code, "name": name, "kind": kind, "position": position},
        {"code": _("Short code"), "name": _("Venue name"), "kind": _("Kind"), "position": _("Order")},
        show={"kind": kind_label})
    if changes:
        venue.code, venue.name, venue.kind, venue.position = code, name, kind, position
        audit.record("venue.updated", f"venue:{venue.code}", actor=by, changes=changes)
    return changes


def changed_fields(obj, values: dict, labels: dict[str, str], show: dict | None = None) -> list[str]:
    """The fields of `obj` that `values` would change, in words: "Name: 第1分会场 → 一支部".

    A local helper until the shared one (from the records-filing work) lands; same idea, same output.
    """
    show = show or {}
    changes = []
    for key, new in values.items():
        old = getattr(obj, key)
        if old != new:
            as_text = show.get(key, str)
            changes.append(f"{labels[key]}: {as_text(old)} → {as_text(new)}")
    return changes


def retire_venue(venue: Venue, by, now: datetime | None = None) -> None:
    """Retire a venue: its history stays; it leaves the venue lists offered for new lectures and accounts."""
    if venue.retired_at is None:
        venue.retired_at = now or utcnow()
        audit.record("venue.retired", f"venue:{venue.code}", actor=by, name=venue.name)


def restore_venue(venue: Venue, by) -> None:
    if venue.retired_at is not None:
        venue.retired_at = None
        audit.record("venue.restored", f"venue:{venue.code}", actor=by, name=venue.name)
