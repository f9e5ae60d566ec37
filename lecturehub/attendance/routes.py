"""Check-in (screen, phone, desk), the venue roster, leave, make-up study and the live view.

Every view loads its object, then checks that the signed-in user may act on it, then acts.
"""
from __future__ import annotations

import segno
import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from lecturehub.accounts.models import Role
from lecturehub.core.addresses import link_warning, public_url_for
from lecturehub.core.errors import show_on_form
from lecturehub.core.numbers import percent
from lecturehub.core.permissions import role_required
from lecturehub.core.timeutil import to_local, utcnow
from lecturehub.courses.models import Lecture, LectureVenue
from lecturehub.courses.panels import LecturePanel
from lecturehub.courses.services import get_lecture_for
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from . import attempts, codes, roster_views, scans, services
from .forms import (
    CheckinSettingsForm,
    CodeForm,
    ConfirmCheckinForm,
    DeskForm,
    checked_post_form,
)
from .models import AttendanceRecord, LeaveRequest, LeaveState, Method
from .view_helpers import (
    MEMBER_CARD_PREFIX,
    _phase_label,
    find_member,
    load_lecture_venue,
    managed_lecture_venue,
    status_label,
)

bp = Blueprint("attendance", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/attendance")



bp.add_app_template_global(status_label)


@bp.app_template_global()
def leave_state_label(state: LeaveState) -> str:
    return state.label


@bp.app_template_filter()
def clock_time(moment) -> str:
    """The local time of day of `moment`, HH:MM:SS: the same digits in every language the site has, so the check-in
    answer needs no Babel formatting for it."""
    return "" if moment is None else to_local(moment).strftime("%H:%M:%S")


def _result_page(lecture: Lecture, result: services.CheckinResult | None = None,
                 error: services.CheckinError | None = None, venue: tuple[int, str] | None = None):
    """The answer to a check-in; `venue` is the (id, name) of the venue the view already read, if it did."""
    if error is not None:
        status = {"not_open": 409, "closed": 409, "too_many": 429}.get(error.reason, 422)
        return render_template("attendance/checkin_result.html", lecture=lecture, error=error,
                               form=CodeForm()), status
    venue_id = result.record.venue_id
    if venue is not None and venue[0] == venue_id:
        venue_name = venue[1]
    else:  # checked in earlier at another venue
        venue_name = None if venue_id is None else db.session.scalar(sa.select(Venue.name).where(Venue.id == venue_id))
    # The answer is rendered after the request's commit (a streamed body: core.transaction commits before it is
    # sent). On SQLite a check-in's INSERT locks the whole database until that commit, and rendering first kept
    # every other check-in waiting through the page. What the page shows was just read or written, so the
    # commit need not expire it (a session lasts one request).
    db.session().expire_on_commit = False

    # In one piece: streaming the template itself sent some forty, each through the WSGI layers (and under
    # gunicorn each its own write to the socket).
    @stream_with_context
    def page():
        yield render_template("attendance/checkin_result.html", lecture=lecture, result=result,
                              venue_name=venue_name, form=None)

    return current_app.response_class(page()), 200


@bp.get("/checkin/<int:lecture_venue_id>")
def checkin_confirm(lecture_venue_id: int):
    """Where the venue screen's QR code leads: one tap to confirm.

    Opening the link while its code is valid keeps a proof of the scan in this browser, before anything
    else, so that signing in (or choosing a new password) first does not make the member miss the code.
    """
    link = load_lecture_venue(lecture_venue_id, with_venue=True)
    code = request.args.get("code", "").strip()[:6]
    scans.remember_scan(link, code, utcnow())
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    lecture = get_lecture_for(current_user, link.lecture_id, with_content=False)
    existing = services.arrival_of(current_user, lecture)
    if existing is not None:
        # Scanning again after checking in: say so at once instead of offering to check in again.
        return _result_page(lecture, services.CheckinResult(existing, False,
                                                            other_venue=current_user.home_venue_id != existing.venue_id),
                            venue=(link.venue_id, link.venue.name))
    form = ConfirmCheckinForm(formdata=None, code=code)
    return render_template("attendance/checkin_confirm.html", lecture=lecture, venue=link.venue, link=link, form=form,
                           scan=scans.pending_scan(link))


@bp.post("/checkin/<int:lecture_venue_id>")
@login_required
def checkin_scan(lecture_venue_id: int):
    link = load_lecture_venue(lecture_venue_id, with_venue=True)
    lecture = get_lecture_for(current_user, link.lecture_id, with_content=False)
    form = checked_post_form(ConfirmCheckinForm)
    proof = scans.pending_scan(link)
    try:
        if proof is not None:  # the code in the form may have rotated meanwhile; the scan counts (CSRF is app-wide)
            result = services.check_in_with_scan(current_user, lecture, link.venue_id, proof, Method.QR)
            scans.forget_scan()
        else:
            services.ensure_open(lecture)
            if not form.validate_on_submit():
                raise services.CheckinError("code", " ".join(str(e) for e in form.code.errors))
            result = attempts.check_code(current_user, lecture, lambda: services.check_in_at_link(
                current_user, lecture, link, form.code.data.strip(), Method.QR))
    except services.CheckinError as error:
        if error.reason in ("scan_expired", "scan_used"):
            scans.forget_scan()
        return _result_page(lecture, error=error)
    return _result_page(lecture, result, venue=(link.venue_id, link.venue.name))


@bp.post("/lectures/<int:lecture_id>/checkin")
@login_required
def checkin_code(lecture_id: int):
    """A member types the code shown on the screen into the lecture page."""
    lecture = get_lecture_for(current_user, lecture_id, with_content=False)
    form = checked_post_form(CodeForm)
    try:
        services.ensure_open(lecture)
        if not form.validate_on_submit():
            raise services.CheckinError("code", " ".join(str(e) for e in form.code.errors))
        venue = attempts.check_code(current_user, lecture,
                                    lambda: services.venue_showing(lecture, form.code.data.strip()))
        result = services.check_in(current_user, lecture, venue[0], Method.CODE)
    except services.CheckinError as error:
        return _result_page(lecture, error=error)
    return _result_page(lecture, result, venue=venue)


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
                status = show_on_form(form, error, "member", status=409)
    elif form.is_submitted():
        status = 422
    counts = services.venue_counts(link.lecture, [link.venue_id])[link.venue_id]
    return render_template("attendance/desk.html", link=link, lecture=link.lecture, venue=link.venue, form=form,
                           outcome=outcome, counts=counts), status


# The roster, leave and make-up pages (roster_views.py), on this blueprint under their own names.
bp.add_url_rule("/roster/<int:lecture_venue_id>", view_func=roster_views.roster, methods=["GET"])
bp.add_url_rule("/roster/<int:lecture_venue_id>/state", view_func=roster_views.roster_state, methods=["GET"])
bp.add_url_rule("/roster/<int:lecture_venue_id>/status", view_func=roster_views.roster_set_status, methods=["POST"])
bp.add_url_rule("/roster/<int:lecture_venue_id>/sheet", view_func=roster_views.roster_sheet, methods=["POST"])
bp.add_url_rule("/lectures/<int:lecture_id>/leave", view_func=roster_views.request_leave, methods=["GET", "POST"])
bp.add_url_rule("/leave/<int:leave_id>/decide", view_func=roster_views.decide_leave, methods=["POST"])
bp.add_url_rule("/makeup/<int:lecture_id>", view_func=roster_views.makeup, methods=["GET"])
bp.add_url_rule("/lectures/<int:lecture_id>/read", view_func=roster_views.key_points_read, methods=["POST"])




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
        flash(_("Check-in settings saved."), "success")
        return redirect(url_for("courses.lecture_detail", lecture_id=lecture.id))
    if form.is_submitted():
        status = 422
    return render_template("attendance/settings.html", lecture=lecture, form=form,
                           window=services.window_of(lecture)), status


def lecture_panel(user, lecture: Lecture) -> LecturePanel:
    """The lecture page's check-in panel for `user`: the window, their record or leave, and their venues' links.

    Registered with courses' lecture page at app creation (courses knows nothing of attendance)."""
    now = utcnow()
    window = services.window_of(lecture)
    phase = window.phase(now)
    record = db.session.scalar(sa.select(AttendanceRecord).where(
        AttendanceRecord.lecture_id == lecture.id, AttendanceRecord.user_id == user.id))
    leave = db.session.scalar(sa.select(LeaveRequest).where(
        LeaveRequest.lecture_id == lecture.id, LeaveRequest.user_id == user.id))
    links = list(db.session.scalars(
        sa.select(LectureVenue).join(Venue, Venue.id == LectureVenue.venue_id)
        .where(LectureVenue.lecture_id == lecture.id).order_by(Venue.position)))
    expected = services.expected_venue_id(user, lecture) is not None
    managed = [link for link in links if user.can_manage_venue(link.venue_id)] \
        if user.role in (Role.COORDINATOR, Role.ADMIN) else []
    return LecturePanel("attendance/_lecture_panel.html", {
        "window": window, "phase": phase, "record": record, "leave": leave, "expected": expected,
        "status": services.effective_status(record, phase) if expected or record else None,
        "managed": managed, "code_form": CodeForm(formdata=None),
        "can_ask_leave": expected and now < lecture.starts_at and record is None
        and (leave is None or leave.state is LeaveState.REFUSED),
        "needs_makeup": phase is services.Phase.CLOSED and expected
        and services.needs_makeup(user, lecture, now) is not None,
    })
