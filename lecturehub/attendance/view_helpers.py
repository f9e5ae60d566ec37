"""What the attendance views (and the kiosk API) share: loading a lecture-venue with its access check, finding a
member by number or card, and the words for a status or a check-in phase."""
from __future__ import annotations

from flask import abort
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from lecturehub.accounts import services as account_services
from lecturehub.accounts.models import User
from lecturehub.courses.models import LectureVenue
from lecturehub.courses.services import get_lecture_for
from lecturehub.extensions import db

from . import services
from .models import Status


def load_lecture_venue(lecture_venue_id: int, with_venue: bool = False) -> LectureVenue:
    """The lecture-venue pair or 404; `with_venue` reads its venue in the same query (the check-in pages show it)."""
    link = db.session.get(LectureVenue, lecture_venue_id,
                          options=[joinedload(LectureVenue.venue)] if with_venue else None)
    if link is None:
        abort(404)
    return link


def managed_lecture_venue(lecture_venue_id: int) -> LectureVenue:
    """The lecture-venue pair, only for that venue's coordinators and admins (403 for others).

    A lecture the user may not read (a draft, for anyone but admins) is 404 here as everywhere else,
    so its roster, screen, desk and sheet upload do not exist for the venue's coordinator either.
    """
    link = load_lecture_venue(lecture_venue_id)
    get_lecture_for(current_user, link.lecture_id, with_content=False)
    if not current_user.can_manage_venue(link.venue_id):
        abort(403)
    return link


def status_label(status: Status | None, made_up: bool = False) -> str:
    if made_up:
        return _("Made up")
    return _("Not checked in") if status is None else status.label



def _phase_label(phase: services.Phase) -> str:
    return {
        services.Phase.NOT_OPEN: _("Check-in has not opened yet"),
        services.Phase.ON_TIME: _("Check-in is open"),
        services.Phase.LATE: _("Check-in is open; arrivals now count as late"),
        services.Phase.CLOSED: _("Check-in has closed"),
    }[phase]




def find_member(text: str) -> User | None:
    """A member by number, as typed at the desk or read from the member's card QR code."""
    value = text.strip()
    if value.upper().startswith(MEMBER_CARD_PREFIX):
        value = value[len(MEMBER_CARD_PREFIX):]
    return account_services.find_member(value)


MEMBER_CARD_PREFIX = "LH-MEMBER:"
