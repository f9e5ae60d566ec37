"""Check-in (screen, phone, desk), the venue roster, leave, make-up study and the live view.

Every view loads its object, then checks that the signed-in user may act on it, then acts.
"""
from __future__ import annotations

import segno
import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms import SelectChoice

from lecturehub.accounts import services as account_services
from lecturehub.accounts.models import Role, User
from lecturehub.core.addresses import link_warning, public_url_for
from lecturehub.core.numbers import percent
from lecturehub.core.permissions import role_required
from lecturehub.core.timeutil import to_local, utcnow
from lecturehub.courses.models import Lecture, LectureVenue
from lecturehub.courses.services import get_lecture_for
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from . import attempts, codes, scans, services
from .filing import filings
from .forms import (
    STATUS_CHOICES,
    CheckinSettingsForm,
    CodeForm,
    ConfirmCheckinForm,
    DecideLeaveForm,
    DeskForm,
    LeaveForm,
    ReadForm,
    SheetForm,
    StatusForm,
)
from .models import AttendanceRecord, LeaveRequest, LeaveState, Method, Status

bp = Blueprint("attendance", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/attendance")


def load_lecture_venue(lecture_venue_id: int) -> LectureVenue:
    link = db.session.get(LectureVenue, lecture_venue_id)
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
    return {
        None: _("Not checked in"),
        Status.PRESENT: _("Present"),
        Status.LATE: _("Late"),
        Status.EXCUSED: _("Excused"),
        Status.ABSENT: _("Absent"),
    }[status]


bp.add_app_template_global(status_label)


@bp.app_template_global()
def leave_state_label(state: LeaveState) -> str:
    return {LeaveState.PENDING: _("waiting for a decision"), LeaveState.APPROVED: _("approved"),
            LeaveState.REFUSED: _("refused")}[state]


def _result_page(lecture: Lecture, result: services.CheckinResult | None = None,
                 error: services.CheckinError | None = None):
    if error is not None:
        status = {"not_open": 409, "closed": 409, "too_many": 429}.get(error.reason, 422)
        return render_template("attendance/checkin_result.html", lecture=lecture, error=error,
                               form=CodeForm()), status
    venue = db.session.get(Venue, result.record.venue_id)
    return render_template("attendance/checkin_result.html", lecture=lecture, result=result, venue=venue,
                           form=None), 200


@bp.get("/checkin/<int:lecture_venue_id>")
def checkin_confirm(lecture_venue_id: int):
    """Where the venue screen's QR code leads: one tap to confirm.

    Opening the link while its code is valid keeps a proof of the scan in this browser, before anything
    else, so that signing in (or choosing a new password) first does not make the member miss the code.
    """
    link = load_lecture_venue(lecture_venue_id)
    code = request.args.get("code", "").strip()[:6]
    scans.remember_scan(link, code, utcnow())
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    lecture = get_lecture_for(current_user, link.lecture_id, with_content=False)
    existing = services.arrival_of(current_user, lecture)
    if existing is not None:
        # Scanning again after checking in: say so at once instead of offering to check in again.
        return _result_page(lecture, services.CheckinResult(existing, False,
                                                            other_venue=current_user.home_venue_id != existing.venue_id))
    form = ConfirmCheckinForm(formdata=None, code=code)
    return render_template("attendance/checkin_confirm.html", lecture=lecture, venue=link.venue, link=link, form=form,
                           scan=scans.pending_scan(link))


@bp.post("/checkin/<int:lecture_venue_id>")
@login_required
def checkin_scan(lecture_venue_id: int):
    link = load_lecture_venue(lecture_venue_id)
    lecture = get_lecture_for(current_user, link.lecture_id, with_content=False)
    form = ConfirmCheckinForm()
    proof = scans.pending_scan(link)
    try:
        if proof is not None:  # the code in the form may have rotated meanwhile; the scan counts (CSRF is app-wide)
            result = services.check_in_with_scan(current_user, lecture, link.venue_id, proof, Method.QR)
            scans.forget_scan()
        else:
            services.ensure_open(lecture)
            if not form.validate_on_submit():
                raise services.CheckinError("code", " ".join(str(e) for e in form.code.errors))
            result = attempts.check_code(current_user, lecture, lambda: services.check_in_with_code(
                current_user, lecture, link.venue_id, form.code.data.strip(), Method.QR))
    except services.CheckinError as error:
        if error.reason in ("scan_expired", "scan_used"):
            scans.forget_scan()
        return _result_page(lecture, error=error)
    return _result_page(lecture, result)


@bp.post("/lectures/<int:lecture_id>/checkin")
@login_required
def checkin_code(lecture_id: int):
    """A member types the code shown on the screen into the lecture page."""
    lecture = get_lecture_for(current_user, lecture_id, with_content=False)
    form = CodeForm()
    try:
        services.ensure_open(lecture)
        if not form.validate_on_submit():
            raise services.CheckinError("code", " ".join(str(e) for e in form.code.errors))
        venue_id = attempts.check_code(current_user, lecture,
                                       lambda: services.venue_for_code(lecture, form.code.data.strip()))
        result = services.check_in(current_user, lecture, venue_id, Method.CODE)
    except services.CheckinError as error:
        return _result_page(lecture, error=error)
    return _result_page(lecture, result)


def _screen_state(link: LectureVenue) -> dict:
    now = utcnow()
    lecture = link.lecture
    code, remaining = codes.current_code(lecture.id, link.venue_id, now)
    target = public_url_for("attendance.checkin_confirm", lecture_venue_id=link.id, code=code)
    counts = services.venue_counts(lecture, [link.venue_id])[link.venue_id]
    phase = services.window_of(lecture).phase(now)
    return {
        "code": code if phase in (services.Phase.ON_TIME, services.Phase.LATE) else None,
        "seconds_left": remaining,
        "qr_svg": segno.make(target, error="m").svg_inline(scale=6, border=2, omitsize=True),
        "url": target,
        "arrived": counts["arrived"],
        "expected": counts["expected"],
        "phase": phase.value,
        "phase_label": _phase_label(phase),
    }


def _phase_label(phase: services.Phase) -> str:
    return {
        services.Phase.NOT_OPEN: _("Check-in has not opened yet"),
        services.Phase.ON_TIME: _("Check-in is open"),
        services.Phase.LATE: _("Check-in is open; arrivals now count as late"),
        services.Phase.CLOSED: _("Check-in has closed"),
    }[phase]


@bp.app_template_global()
def checkin_phase_label(lecture: Lecture) -> str:
    return _phase_label(services.window_of(lecture).phase(utcnow()))


@bp.get("/screen/<int:lecture_venue_id>")
@login_required
def screen(lecture_venue_id: int):
    link = managed_lecture_venue(lecture_venue_id)
    state = _screen_state(link)
    return render_template("attendance/screen.html", link=link, lecture=link.lecture, venue=link.venue,
                           state=state, address_warning=link_warning(state["url"]))


@bp.get("/screen/<int:lecture_venue_id>/state")
@login_required
def screen_state(lecture_venue_id: int):
    link = managed_lecture_venue(lecture_venue_id)
    response = jsonify(_screen_state(link))
    response.headers["Cache-Control"] = "no-store"
    return response


def find_member(text: str) -> User | None:
    """A member by number, as typed at the desk or read from the member's card QR code."""
    value = text.strip()
    if value.upper().startswith(MEMBER_CARD_PREFIX):
        value = value[len(MEMBER_CARD_PREFIX):]
    return account_services.find_member(value)


MEMBER_CARD_PREFIX = "LH-MEMBER:"


@bp.route("/desk/<int:lecture_venue_id>", methods=["GET", "POST"])
@login_required
def desk(lecture_venue_id: int):
    """The coordinator's door desk: type or scan member numbers, one after another."""
    link = managed_lecture_venue(lecture_venue_id)
    form = DeskForm()
    outcome, status = None, 200
    if form.validate_on_submit():
        member = find_member(form.member.data)
        if member is None:
            form.member.errors.append(_("No active member has the number %(no)s.", no=form.member.data.strip()))
            status = 422
        else:
            try:
                result = services.check_in(member, link.lecture, link.venue_id, Method.DESK, by=current_user)
                outcome = {"member": member, "result": result}
                form = DeskForm(formdata=None)
            except services.CheckinError as error:
                form.member.errors.append(error.message)
                status = 409
    elif form.is_submitted():
        status = 422
    counts = services.venue_counts(link.lecture, [link.venue_id])[link.venue_id]
    return render_template("attendance/desk.html", link=link, lecture=link.lecture, venue=link.venue, form=form,
                           outcome=outcome, counts=counts), status


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


@bp.get("/roster/<int:lecture_venue_id>")
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


@bp.get("/roster/<int:lecture_venue_id>/state")
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


@bp.post("/roster/<int:lecture_venue_id>/status")
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


@bp.post("/roster/<int:lecture_venue_id>/sheet")
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


@bp.route("/lectures/<int:lecture_id>/leave", methods=["GET", "POST"])
@login_required
def request_leave(lecture_id: int):
    lecture = get_lecture_for(current_user, lecture_id)
    form = LeaveForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.request_leave(current_user, lecture, form.reason.data.strip())
        except services.LeaveError as exc:
            form.reason.errors.append(str(exc))
            status = 409
        else:
            flash(_("Your request for leave has been sent to your venue's coordinator."), "success")
            return redirect(url_for("courses.lecture_detail", lecture_id=lecture.id))
    elif form.is_submitted():
        status = 422
    return render_template("attendance/leave.html", lecture=lecture, form=form), status


@bp.post("/leave/<int:leave_id>/decide")
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


@bp.get("/makeup/<int:lecture_id>")
@login_required
def makeup(lecture_id: int):
    lecture = get_lecture_for(current_user, lecture_id)
    status = services.needs_makeup(current_user, lecture)
    tasks = {t.lecture.id: t for t in services.open_makeup_tasks(current_user)}
    task = tasks.get(lecture.id)
    return render_template("attendance/makeup.html", lecture=lecture, status=status, task=task, form=ReadForm())


@bp.post("/lectures/<int:lecture_id>/read")
@login_required
def key_points_read(lecture_id: int):
    lecture = get_lecture_for(current_user, lecture_id)
    if not ReadForm().validate_on_submit():
        abort(400)
    services.mark_key_points_read(current_user, lecture)
    if request.accept_mimetypes.best == "application/json":
        return jsonify({"read": True})
    return redirect(url_for("attendance.makeup", lecture_id=lecture.id))


def _live_venues(lecture: Lecture) -> list[Venue]:
    """The lecture's venues this user may watch: all for admins, their own for coordinators (403 for others)."""
    query = (sa.select(Venue).join(LectureVenue, LectureVenue.venue_id == Venue.id)
             .where(LectureVenue.lecture_id == lecture.id).order_by(Venue.position))
    if not current_user.is_admin:
        if not current_user.is_coordinator:
            abort(403)
        query = query.where(Venue.id.in_([v.id for v in current_user.coordinated_venues]))
    return list(db.session.scalars(query))


def _live_state(lecture: Lecture, venues: list[Venue]) -> dict:
    counts = services.live_counts(lecture, [v.id for v in venues])
    links = dict(db.session.execute(sa.select(LectureVenue.venue_id, LectureVenue.id).where(
        LectureVenue.lecture_id == lecture.id, LectureVenue.venue_id.in_([v.id for v in venues]))).all())
    rows = []
    for venue in venues:
        c = counts[venue.id]
        rows.append({"venue_id": venue.id, "name": venue.name, "arrived": c["own"], "expected": c["expected"],
                     "not_yet": max(c["expected"] - c["own"], 0), "visitors": c["visitors"],
                     "rate": percent(c["own"], c["expected"]) or 0.0,
                     "roster_url": url_for("attendance.roster", lecture_venue_id=links[venue.id])})
    arrived, expected = sum(r["arrived"] for r in rows), sum(r["expected"] for r in rows)
    return {"venues": rows, "arrived": arrived, "expected": expected,
            "visitors": sum(r["visitors"] for r in rows),
            "rate": percent(arrived, expected) or 0.0,
            "phase_label": _phase_label(services.window_of(lecture).phase(utcnow()))}


@bp.get("/live/<int:lecture_id>")
@role_required(Role.COORDINATOR, Role.ADMIN)
def live(lecture_id: int):
    lecture = get_lecture_for(current_user, lecture_id)
    venues = _live_venues(lecture)
    if not venues:
        abort(404)  # none of this coordinator's venues takes part
    return render_template("attendance/live.html", lecture=lecture, state=_live_state(lecture, venues))


@bp.get("/live/<int:lecture_id>/state")
@role_required(Role.COORDINATOR, Role.ADMIN)
def live_state(lecture_id: int):
    lecture = get_lecture_for(current_user, lecture_id)
    venues = _live_venues(lecture)
    if not venues:
        abort(404)
    response = jsonify(_live_state(lecture, venues))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/me/card")
@login_required
def member_card():
    """The member's personal QR code, for the coordinator's desk scanner (members without a phone print it)."""
    if not current_user.member_no:
        abort(404)
    svg = segno.make(MEMBER_CARD_PREFIX + current_user.member_no, error="m").svg_inline(scale=8, border=2,
                                                                                          omitsize=True)
    return render_template("attendance/card.html", svg=svg)


@bp.route("/lectures/<int:lecture_id>/checkin-settings", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def checkin_settings(lecture_id: int):
    lecture = get_lecture_for(current_user, lecture_id)
    form = CheckinSettingsForm(obj=lecture)
    status = 200
    if form.validate_on_submit():
        services.save_checkin_settings(lecture, opens_minutes=form.checkin_opens_minutes.data,
                                       grace_minutes=form.checkin_grace_minutes.data,
                                       closes_minutes=form.checkin_closes_minutes.data)
        db.session.commit()
        flash(_("Check-in settings saved."), "success")
        return redirect(url_for("courses.lecture_detail", lecture_id=lecture.id))
    if form.is_submitted():
        status = 422
    return render_template("attendance/settings.html", lecture=lecture, form=form,
                           window=services.window_of(lecture)), status


@bp.app_template_global()
def attendance_panel(lecture: Lecture) -> dict:
    """What the lecture page shows about attendance for the signed-in user."""
    now = utcnow()
    window = services.window_of(lecture)
    phase = window.phase(now)
    record = db.session.scalar(sa.select(AttendanceRecord).where(
        AttendanceRecord.lecture_id == lecture.id, AttendanceRecord.user_id == current_user.id))
    leave = db.session.scalar(sa.select(LeaveRequest).where(
        LeaveRequest.lecture_id == lecture.id, LeaveRequest.user_id == current_user.id))
    links = list(db.session.scalars(
        sa.select(LectureVenue).join(Venue, Venue.id == LectureVenue.venue_id)
        .where(LectureVenue.lecture_id == lecture.id).order_by(Venue.position)))
    expected = services.expected_venue_id(current_user, lecture) is not None
    managed = [link for link in links if current_user.can_manage_venue(link.venue_id)] \
        if current_user.role in (Role.COORDINATOR, Role.ADMIN) else []
    return {
        "window": window, "phase": phase, "record": record, "leave": leave, "expected": expected,
        "status": services.effective_status(record, phase) if expected or record else None,
        "managed": managed, "code_form": CodeForm(formdata=None),
        "can_ask_leave": expected and now < lecture.starts_at and record is None
        and (leave is None or leave.state is LeaveState.REFUSED),
        "needs_makeup": phase is services.Phase.CLOSED and expected
        and services.needs_makeup(current_user, lecture, now) is not None,
    }


@bp.app_template_global()
def makeup_tasks() -> list[services.MakeupTask]:
    """The signed-in member's open make-up tasks, for the home page."""
    return services.open_makeup_tasks(current_user)


@bp.app_template_global()
def door_today() -> list[tuple[Lecture, list[LectureVenue]]]:
    """Today's lectures at the venues the signed-in coordinator runs (every venue for admins), for the home page."""
    if current_user.is_admin:
        return services.door_lectures(None)
    if not current_user.is_coordinator:
        return []
    return services.door_lectures([v.id for v in current_user.coordinated_venues])


@bp.app_template_global()
def leaves_to_decide() -> list[tuple[LeaveRequest, Lecture, int]]:
    """Leave requests waiting for the signed-in coordinator, for the home page."""
    if not current_user.is_coordinator:
        return []
    return services.waiting_leaves([v.id for v in current_user.coordinated_venues])


@bp.app_template_global()
def open_checkins() -> list[Lecture]:
    """Lectures the signed-in member can check in to right now, for the home page."""
    return services.open_checkin_lectures(current_user)
