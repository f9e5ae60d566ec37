"""Filing (报送): a venue's coordinator files the venue's record of a closed lecture; an admin acknowledges
it (审阅) or returns it (退回) with a comment. A filed record is frozen: later status changes are corrections
(更正), with a reason (see `services.set_status` and `services.import_sheet`)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from lecturehub.accounts.models import User
from lecturehub.audit import services as audit
from lecturehub.core.errors import UserError
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.models import Lecture, LectureVenue
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from .models import AttendanceChange, FilingState, VenueFiling
from .services import Phase, window_of

FILING_WORDS = {FilingState.FILED.value: _l("Filed"), FilingState.ACKNOWLEDGED.value: _l("Acknowledged"),
                FilingState.RETURNED.value: _l("Returned")}
audit.register_value_words("state", FILING_WORDS)


class FilingError(UserError):
    """The record cannot be filed or reviewed now; the message says why."""


def filings(lecture_id: int, venue_ids: list[int] | None = None) -> dict[int, VenueFiling]:
    """The lecture's filings by venue id (all venues, or only `venue_ids`), in one query."""
    query = sa.select(VenueFiling).where(VenueFiling.lecture_id == lecture_id).options(
        joinedload(VenueFiling.filed_by), joinedload(VenueFiling.reviewed_by))
    if venue_ids is not None:
        query = query.where(VenueFiling.venue_id.in_(venue_ids))
    return {f.venue_id: f for f in db.session.scalars(query)}


def lecture_venues(lecture_id: int) -> list[Venue]:
    """The venues taking part in a lecture, in their order."""
    return list(db.session.scalars(sa.select(Venue).join(LectureVenue, LectureVenue.venue_id == Venue.id)
                                   .where(LectureVenue.lecture_id == lecture_id).order_by(Venue.position)))


def is_draft(lecture: Lecture, filing: VenueFiling | None, now: datetime | None = None) -> bool:
    """A record is a draft while check-in is open, and until it is filed (again, after a return)."""
    if window_of(lecture).phase(now or utcnow()) is not Phase.CLOSED:
        return True
    return filing is None or not filing.is_filed


def file_record(lecture: Lecture, venue: Venue, by: User, now: datetime | None = None) -> VenueFiling:
    """File the venue's record: only once check-in has closed, and again only after a return."""
    now = now or utcnow()
    if window_of(lecture).phase(now) is not Phase.CLOSED:
        raise FilingError(_("The record can be filed once check-in has closed."))
    filing = db.session.scalar(sa.select(VenueFiling).where(VenueFiling.lecture_id == lecture.id,
                                                            VenueFiling.venue_id == venue.id))
    if filing is not None and filing.is_filed:
        raise FilingError(_("This record has already been filed."))
    if filing is None:
        filing = VenueFiling(lecture_id=lecture.id, venue_id=venue.id)
        db.session.add(filing)
    filing.state, filing.filed_by_id, filing.filed_at = FilingState.FILED, by.id, now
    filing.reviewed_by_id, filing.reviewed_at = None, None
    audit.record("filing.filed", f"lecture:{lecture.id}", actor=by, venue=venue.code)
    db.session.flush()
    return filing


def review(filing: VenueFiling, by: User, acknowledge: bool, comment: str = "",
           now: datetime | None = None) -> VenueFiling:
    """An admin acknowledges a filed record, or returns it with a comment for the coordinator to correct."""
    now = now or utcnow()
    comment = comment.strip()
    if not filing.is_filed:
        raise FilingError(_("This record has been returned and not filed again yet."))
    if acknowledge and filing.state is FilingState.ACKNOWLEDGED:
        raise FilingError(_("This record has already been acknowledged."))
    if not acknowledge and not comment:
        raise FilingError(_("Say what needs correcting: a returned record needs a comment."))
    filing.state = FilingState.ACKNOWLEDGED if acknowledge else FilingState.RETURNED
    filing.reviewed_by_id, filing.reviewed_at = by.id, now
    if comment or not acknowledge:
        filing.comment = comment
    audit.record("filing.acknowledged" if acknowledge else "filing.returned", f"lecture:{filing.lecture_id}",
                 actor=by, venue=filing.venue.code, **({"comment": comment} if comment else {}))
    db.session.flush()
    return filing


def corrections(lecture_id: int, user_ids: list[int]) -> list[AttendanceChange]:
    """Changes made to these members' records after filing, oldest first, with who made them; one query."""
    if not user_ids:
        return []
    return list(db.session.scalars(
        sa.select(AttendanceChange).where(AttendanceChange.lecture_id == lecture_id,
                                          AttendanceChange.user_id.in_(user_ids),
                                          AttendanceChange.correction.is_(True))
        .options(joinedload(AttendanceChange.user), joinedload(AttendanceChange.changed_by))
        .order_by(AttendanceChange.changed_at, AttendanceChange.id)))
