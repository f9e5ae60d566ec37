"""Leave requests: asked before the lecture by the member, decided by the coordinator of their venue."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from lecturehub.accounts.models import User
from lecturehub.audit import services as audit
from lecturehub.core.errors import UserError
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.models import Lecture, LectureVenue
from lecturehub.extensions import db

from .checkin import _log_change, filed_venue_ids
from .models import (
    AttendanceRecord,
    LeaveRequest,
    LeaveState,
    Method,
    Status,
)
from .roster import expected_members_query, expected_venue_id

# --- leave ----------------------------------------------------------------------------------------

class LeaveError(UserError):
    """The leave request cannot be asked or decided now; the message says why."""


def request_leave(member: User, lecture: Lecture, reason: str, now: datetime | None = None) -> LeaveRequest:
    """Ask, before the lecture starts, to be excused. A refused request may be asked again."""
    now = now or utcnow()
    if now >= lecture.starts_at:
        raise LeaveError(_("Leave must be asked before the lecture starts."))
    if expected_venue_id(member, lecture) is None:
        raise LeaveError(_("Your venue does not take part in this lecture."))
    leave = db.session.scalar(sa.select(LeaveRequest).where(LeaveRequest.lecture_id == lecture.id,
                                                            LeaveRequest.user_id == member.id))
    if leave is not None and leave.state is not LeaveState.REFUSED:
        raise LeaveError(_("You have already asked for leave for this lecture."))
    if leave is None:
        leave = LeaveRequest(lecture_id=lecture.id, user_id=member.id, reason=reason)
        db.session.add(leave)
    leave.reason, leave.state, leave.requested_at = reason, LeaveState.PENDING, now
    leave.decided_by_id, leave.decided_at, leave.decision_note = None, None, ""
    db.session.flush()
    return leave


def decide_leave(leave: LeaveRequest, approve: bool, by: User, note: str = "", now: datetime | None = None) -> None:
    """Approve (the member becomes excused unless already arrived) or refuse a pending request."""
    now = now or utcnow()
    if leave.state is not LeaveState.PENDING:
        raise LeaveError(_("This request has already been decided."))
    leave.state = LeaveState.APPROVED if approve else LeaveState.REFUSED
    leave.decided_by_id, leave.decided_at, leave.decision_note = by.id, now, note
    if approve:
        lecture = db.session.get(Lecture, leave.lecture_id)
        record = db.session.scalar(sa.select(AttendanceRecord).where(
            AttendanceRecord.lecture_id == leave.lecture_id, AttendanceRecord.user_id == leave.user_id))
        # Approved after the venue filed its record (a late decision): the member's absence becomes leave on a
        # filed record, so it shows there as a correction, the leave reason being its reason.
        correction = (record is None or record.status is Status.ABSENT) and bool(
            filed_venue_ids(leave.lecture_id, {expected_venue_id(leave.user, lecture)}))
        if record is None:
            record = AttendanceRecord(lecture_id=leave.lecture_id, user_id=leave.user_id,
                                      venue_id=expected_venue_id(leave.user, lecture),
                                      status=Status.EXCUSED, method=Method.LEAVE,
                                      reason=leave.reason, updated_at=now)
            db.session.add(record)
            _log_change(record, Status.EXCUSED, Method.LEAVE, by, now, leave.reason,
                        old_status=Status.ABSENT if correction else None, correction=correction)
        elif record.status is Status.ABSENT:
            _log_change(record, Status.EXCUSED, Method.LEAVE, by, now, leave.reason, correction=correction)
            record.status, record.method, record.reason = Status.EXCUSED, Method.LEAVE, leave.reason
    audit.record("leave.approved" if approve else "leave.refused", f"lecture:{leave.lecture_id}", actor=by,
                 member=leave.user.member_no, reason=leave.reason, note=note)
    db.session.flush()


def pending_leaves(lecture_id: int, venue_ids: list[int]) -> list[LeaveRequest]:
    expected_there = expected_members_query(lecture_id, venue_ids).with_only_columns(User.id)
    return list(db.session.scalars(
        sa.select(LeaveRequest)
        .where(LeaveRequest.lecture_id == lecture_id, LeaveRequest.state == LeaveState.PENDING,
               LeaveRequest.user_id.in_(expected_there))
        .order_by(LeaveRequest.requested_at)))


def waiting_leaves(venue_ids: list[int], now: datetime | None = None) -> list[tuple[LeaveRequest, Lecture, int]]:
    """Leave requests still to decide from members of the venues, for lectures not yet over, each with its lecture
    and the id of the lecture-venue roster where it is decided; two queries."""
    now = now or utcnow()
    return [(leave, lecture, link_id) for leave, lecture, link_id in db.session.execute(
        sa.select(LeaveRequest, Lecture, LectureVenue.id)
        .join(User, User.id == LeaveRequest.user_id).join(Lecture, Lecture.id == LeaveRequest.lecture_id)
        .join(LectureVenue, sa.and_(LectureVenue.lecture_id == Lecture.id,
                                    LectureVenue.venue_id == User.home_venue_id))
        .options(selectinload(LeaveRequest.user))
        .where(LeaveRequest.state == LeaveState.PENDING, User.home_venue_id.in_(venue_ids), Lecture.ends_at >= now)
        .order_by(Lecture.starts_at, LeaveRequest.requested_at))]
