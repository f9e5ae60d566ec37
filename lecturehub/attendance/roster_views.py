"""The venue roster (marks, paper sheets), leave requests and make-up study pages.

Their URLs are registered on the attendance blueprint in routes.py, next to the other attendance pages."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms import SelectChoice

from lecturehub.accounts.models import User
from lecturehub.core.errors import show_on_form
from lecturehub.core.timeutil import to_local
from lecturehub.courses.models import LectureVenue
from lecturehub.courses.services import get_lecture_for
from lecturehub.extensions import db

from . import services
from .filing import filings
from .forms import (
    STATUS_CHOICES,
    DecideLeaveForm,
    LeaveForm,
    ReadForm,
    SheetForm,
    StatusForm,
)
from .models import AttendanceRecord, LeaveRequest, LeaveState, Status
from .view_helpers import _phase_label, managed_lecture_venue, status_label


def _roster_page(link: LectureVenue, status_code: int = 200, sheet_form: SheetForm | None = None,
                 sheet_problems: list[str] | None = None, row_message: tuple[int, str, str] | None = None):
    """`row_message` (member id, category, text) is shown in that member's row, where the coordinator is looking,
    rather than at the top of a long page."""
    roster = services.venue_roster(link.lecture, link.venue)
    changes = services.changes_for(link.lecture_id, [row.user.id for row in roster.rows])
    leaves = services.pending_leaves(link.lecture_id, [link.venue_id])
    filing = filings(link.lecture_id, [link.venue_id]).get(link.venue_id)
    return render_template("attendance/roster.html", link=link, lecture=link.lecture, venue=link.venue,
                           roster=roster, changes=changes, leaves=leaves, statuses=STATUS_CHOICES, filing=filing,
                           sheet_form=sheet_form or SheetForm(), sheet_problems=sheet_problems or [],
                           decide_form=DecideLeaveForm(), status_form=StatusForm(),
                           row_message=row_message), status_code


@login_required
def roster(lecture_venue_id: int):
    link = managed_lecture_venue(lecture_venue_id)
    row_message = None
    saved = request.args.get("saved", type=int)
    if saved is not None:
        member = db.session.get(User, saved)
        record = member and db.session.scalar(sa.select(AttendanceRecord).where(
            AttendanceRecord.lecture_id == link.lecture_id, AttendanceRecord.user_id == member.id))
        if record is not None:
            row_message = (member.id, "success", _("%(name)s is now marked %(status)s.", name=member.name,
                                                   status=status_label(record.status)))
    return _roster_page(link, row_message=row_message)


@login_required
def roster_state(lecture_venue_id: int):
    """Each row's status and check-in time, so an open roster follows check-ins without a reload."""
    link = managed_lecture_venue(lecture_venue_id)
    roster = services.venue_roster(link.lecture, link.venue)
    response = jsonify({
        "members": {str(row.user.id): {"status": row.status.value if row.status else "none",
                                       "label": status_label(row.status, row.made_up),
                                       "time": to_local(row.record.checked_in_at).strftime("%H:%M")
                                       if row.record and row.record.checked_in_at else ""}
                    for row in roster.rows},
        "counts": {"expected": roster.expected, **{s.value: roster.count(s) for s in STATUS_CHOICES},
                   "made_up": roster.made_up},
        "phase_label": _phase_label(roster.phase)})
    response.headers["Cache-Control"] = "no-store"
    return response


@login_required
def roster_set_status(lecture_venue_id: int):
    link = managed_lecture_venue(lecture_venue_id)
    form = StatusForm()
    form.status.choices = [SelectChoice(s.value, status_label(s)) for s in STATUS_CHOICES]
    if not form.validate_on_submit():
        message = _("The change was not saved: choose a status and keep the reason under 500 characters.")
        if form.member_id.data:
            return _roster_page(link, 422, row_message=(form.member_id.data, "error", message))
        flash(message, "error")
        return _roster_page(link, 422)
    member = db.session.get(User, form.member_id.data)
    roster_ids = {row.user.id for row in services.venue_roster(link.lecture, link.venue).rows}
    if member is None or member.id not in roster_ids:
        abort(404)  # not on this venue's roster: another venue's member is not this coordinator's to mark
    try:
        services.set_status(link.lecture, member, link.venue_id, Status(form.status.data),
                            (form.reason.data or "").strip(), by=current_user)
    except services.CorrectionError as exc:
        flash(str(exc), "error")
        return _roster_page(link, 422)
    # The confirmation appears in the member's row, and the page returns to it.
    return redirect(url_for("attendance.roster", lecture_venue_id=link.id, saved=member.id,
                            _anchor=f"member-{member.id}"))


@login_required
def roster_sheet(lecture_venue_id: int):
    link = managed_lecture_venue(lecture_venue_id)
    form = SheetForm()
    if not form.validate_on_submit():
        return _roster_page(link, 422, sheet_form=form,
                            sheet_problems=form.sheet.errors or [_("The form has expired; upload the file again.")])
    upload = form.sheet.data
    try:
        marked, already = services.import_sheet(link.lecture, link.venue, upload.filename, upload.read(),
                                                by=current_user, correction_reason=form.reason.data or "")
    except services.SheetError as exc:
        return _roster_page(link, 422, sheet_form=form, sheet_problems=exc.problems)
    flash(_("Sign-in sheet entered: %(marked)s marked present, %(already)s already present.",
            marked=marked, already=already), "success")
    return redirect(url_for("attendance.roster", lecture_venue_id=link.id))


@login_required
def request_leave(lecture_id: int):
    lecture = get_lecture_for(current_user, lecture_id)
    form = LeaveForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.request_leave(current_user, lecture, form.reason.data.strip())
        except services.LeaveError as exc:
            status = show_on_form(form, exc, "reason", status=409)
        else:
            flash(_("Your request for leave has been sent to your venue's coordinator."), "success")
            return redirect(url_for("courses.lecture_detail", lecture_id=lecture.id))
    elif form.is_submitted():
        status = 422
    return render_template("attendance/leave.html", lecture=lecture, form=form), status


@login_required
def decide_leave(leave_id: int):
    leave = db.session.get(LeaveRequest, leave_id)
    if leave is None:
        abort(404)
    get_lecture_for(current_user, leave.lecture_id, with_content=False)  # a draft's leave is not decided (404)
    if leave.user.home_venue_id is None or not current_user.can_manage_venue(leave.user.home_venue_id):
        abort(403)
    link = db.session.scalar(sa.select(LectureVenue).where(LectureVenue.lecture_id == leave.lecture_id,
                                                           LectureVenue.venue_id == leave.user.home_venue_id))
    form = DecideLeaveForm()
    if not form.validate_on_submit() or not (form.approve.data or form.refuse.data):
        abort(400)
    try:
        services.decide_leave(leave, approve=bool(form.approve.data), by=current_user, note=form.note.data or "")
    except services.LeaveError as exc:
        return render_template("error.html", code=409, message=str(exc)), 409
    flash(_("Leave approved for %(name)s.", name=leave.user.name) if leave.state is LeaveState.APPROVED
          else _("Leave refused for %(name)s.", name=leave.user.name), "success")
    if link is None:
        return redirect(url_for("courses.lecture_detail", lecture_id=leave.lecture_id))
    return redirect(url_for("attendance.roster", lecture_venue_id=link.id))


@login_required
def makeup(lecture_id: int):
    lecture = get_lecture_for(current_user, lecture_id)
    status = services.needs_makeup(current_user, lecture)
    tasks = {t.lecture.id: t for t in services.open_makeup_tasks(current_user)}
    task = tasks.get(lecture.id)
    return render_template("attendance/makeup.html", lecture=lecture, status=status, task=task, form=ReadForm())


@login_required
def key_points_read(lecture_id: int):
    lecture = get_lecture_for(current_user, lecture_id)
    if not ReadForm().validate_on_submit():
        abort(400)
    services.mark_key_points_read(current_user, lecture)
    if request.accept_mimetypes.best == "application/json":
        return jsonify({"read": True})
    return redirect(url_for("attendance.makeup", lecture_id=lecture.id))
