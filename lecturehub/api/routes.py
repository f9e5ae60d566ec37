"""/api/v1: the kiosk and desk API. JSON in, JSON out, JSON errors; described at /api/v1/openapi.json.

A caller is a device token (Authorization: Bearer) bound to one venue, or a signed-in coordinator or
admin (the offline desk in the browser), whose unsafe calls then need the page's CSRF token in an
X-CSRFToken header. Every view loads the venue and lecture, checks the caller may act there, then acts.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, g, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from pydantic import BaseModel, Field

from lecturehub.accounts.models import Role
from lecturehub.attendance import codes
from lecturehub.attendance import services as attendance
from lecturehub.attendance.routes import _phase_label
from lecturehub.core.transaction import keep_on_error
from lecturehub.courses.models import Lecture, LectureVenue
from lecturehub.extensions import csrf, db, limiter
from lecturehub.venues.models import Venue

from . import schemas
from . import services as api
from .errors import ApiError, error_response
from .openapi import ApiRegistry, json_body, query_args

URL_PREFIX = "/api/v1"
bp = Blueprint("api_v1", __name__, url_prefix=URL_PREFIX)
csrf.exempt(bp)  # a bearer token is not sent by browsers on their own; session calls are checked below

DESCRIPTION = """Check-in for kiosks, door tablets and desks at a LectureHub venue.

Authenticate with a device token (`Authorization: Bearer lhd_…`) that the venue's coordinator creates
under 设备令牌 on the venue's page; a token acts only for its venue. Typical use: `GET /api/v1/caller` to learn
the venue, `GET …/lectures` for today's lectures, `GET …/roster` to keep the expected members on the device
(then `?since=<version>` for changes), and `POST …/checkins` (or `…/checkins/batch` for scans queued while
offline) with the scan's own time and a nonce. Every error is JSON with a `code` and a `message` in the
request's language (Accept-Language; Chinese by default)."""
registry = ApiRegistry(bp, "LectureHub kiosk API", "1.0.0", DESCRIPTION)
VENUE = "/venues/<int:venue_id>"
LECTURE = VENUE + "/lectures/<int:lecture_id>"


def _api_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


def _client_key() -> str:
    """Limits apply per device token (its hash), else per signed-in user, else per address."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return "device:" + api.hash_token(header[7:].strip())[:32]
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"addr:{request.remote_addr or '-'}"


limiter.limit(_api_limit, key_func=_client_key)(bp)


@bp.errorhandler(ApiError)
def api_error(error: ApiError):
    db.session.rollback()
    return error_response(error.status, error.code, error.message, error.details)


@bp.before_request
def authenticate():
    g.device, g.api_user = None, None
    if request.endpoint == "api_v1.openapi_document":
        return
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _sep, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "invalid_token")
        try:
            g.device = api.authenticate_device(token.strip())
        except api.TokenRefused as refused:
            raise ApiError(401, refused.code) from None
        return
    if not current_user.is_authenticated:
        raise ApiError(401, "unauthenticated")
    if current_user.must_change_password:
        raise ApiError(403, "password_change_required")
    if current_user.role not in (Role.COORDINATOR, Role.ADMIN):
        raise ApiError(403, "forbidden")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        try:
            csrf.protect()
        except CSRFError:
            raise ApiError(400, "csrf_failed") from None
    g.api_user = current_user._get_current_object()


def _venue(venue_id: int) -> Venue:
    venue = db.session.get(Venue, venue_id)
    if venue is None:
        raise ApiError(404, "venue_not_found")
    if g.device is not None:
        if g.device.venue_id != venue.id:
            raise ApiError(403, "wrong_venue")
    elif not g.api_user.can_manage_venue(venue.id):
        raise ApiError(403, "forbidden")
    return venue


def _lecture(venue: Venue, lecture_id: int) -> Lecture:
    link = db.session.scalar(sa.select(LectureVenue.id).where(
        LectureVenue.lecture_id == lecture_id, LectureVenue.venue_id == venue.id))
    lecture = db.session.get(Lecture, lecture_id) if link is not None else None
    # A device sees only published lectures; a coordinator's desk also works on a draft, as the desk page does.
    if lecture is None or (g.device is not None and not lecture.published):
        raise ApiError(404, "lecture_not_found")
    return lecture


def _reply(model: BaseModel, status: int = 200):
    """The answer as JSON; the request boundary commits its check-ins and the token's last use."""
    response = jsonify(model.model_dump(mode="json"))
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(registry.document(URL_PREFIX))


@registry.route("/caller", summary="Who is calling: the device or user, and its venues",
                responses={200: ("The caller", schemas.Caller)})
def caller():
    """A kiosk calls this first to learn the venue its token belongs to."""
    if g.device is not None:
        return _reply(schemas.Caller(kind="device", name=g.device.name, venue_ids=[g.device.venue_id]))
    user = g.api_user
    venue_ids = (list(db.session.scalars(sa.select(Venue.id).order_by(Venue.position)))
                 if user.is_admin else [v.id for v in user.coordinated_venues])
    return _reply(schemas.Caller(kind="user", name=user.name, venue_ids=venue_ids))


def _lecture_out(lecture: Lecture, now) -> schemas.LectureOut:
    window = attendance.window_of(lecture)
    return schemas.LectureOut(id=lecture.id, title=lecture.title, speaker=lecture.speaker or "",
                              starts_at=lecture.starts_at, ends_at=lecture.ends_at,
                              checkin_opens_at=window.opens_at, on_time_until=window.on_time_until,
                              checkin_closes_at=window.closes_at, phase=window.phase(now).value)


@registry.route(VENUE + "/lectures", summary="Lectures at the venue whose check-in is open now or opens today",
                responses={200: ("Lectures, earliest first", schemas.LectureList)})
def lectures(venue_id: int):
    """Published lectures whose check-in window is open now or opens within 24 hours."""
    venue = _venue(venue_id)
    now = attendance.utcnow()
    return _reply(schemas.LectureList(venue_id=venue.id, lectures=[
        _lecture_out(lec, now) for lec in api.lectures_today(venue.id, now)]))


class RosterQuery(BaseModel):
    since: int | None = Field(None, ge=0, le=2**62, description="The `version` of an earlier roster: "
                              "then only members whose status changed since (with a minute's overlap).")


@registry.route(LECTURE + "/roster", summary="The venue's expected members and their status (a versioned snapshot)",
                query=RosterQuery, responses={200: ("The roster, or what changed since `since`", schemas.Roster)})
def roster(venue_id: int, lecture_id: int):
    """Expected members of the venue and visitors who checked in here. Keep it on the device to check members
    in while offline; fetch `?since=<version>` to update it and apply the rows by `member_no`."""
    venue = _venue(venue_id)
    lecture = _lecture(venue, lecture_id)
    query = query_args(RosterQuery)
    snapshot = api.roster_snapshot(lecture, venue, query.since)
    members = [schemas.RosterMember(
        member_no=row.user.member_no or row.user.username, name=row.user.name, expected_here=row.expected_here,
        status=row.status.value if row.status else None,
        checked_in_at=row.record.checked_in_at if row.record else None,
        checked_in_venue_id=row.record.venue_id if row.record and row.record.checked_in_at else None,
    ) for row in snapshot.rows]
    return _reply(schemas.Roster(venue_id=venue.id, lecture_id=lecture.id, version=snapshot.version,
                                 complete=snapshot.complete, members=members))


def _scan_result(answer: dict, replayed: bool) -> schemas.ScanResult:
    return schemas.ScanResult(**{key: answer.get(key) for key in (
        "nonce", "outcome", "code", "member_no", "name", "status", "checked_in_at", "checked_in_venue_id")},
        message=api.answer_message(answer), replayed=replayed)


SCAN_STATUS = {"checked_in": 201, "already_checked_in": 200, "checked_in_elsewhere": 409}


@registry.route(LECTURE + "/checkins", "POST", summary="Check a member in by number or member card",
                body=schemas.Scan, responses={
                    201: ("Checked in (`checked_in`), on time or late by `scanned_at`", schemas.ScanResult),
                    200: ("Had already checked in here (`already_checked_in`); nothing changed", schemas.ScanResult),
                    409: ("Not counted: checked in at another venue (`checked_in_elsewhere`), or `refused` (see "
                          "`code`: `unknown_member`, `not_open`, `closed`, `scanned_in_future`, `too_late_to_send`, `filed`)",
                          schemas.ScanResult),
                })
def check_in(venue_id: int, lecture_id: int):
    """One scan. Sending the same `nonce` again, even at the same moment, gives the same answer and
    one check-in."""
    venue = _venue(venue_id)
    lecture = _lecture(venue, lecture_id)
    body = json_body(schemas.Scan)
    answer, replayed = api.submit_scan(lecture, venue, api.ScanInput(body.member, body.scanned_at, body.nonce),
                                       device=g.device, by=g.api_user)
    status = SCAN_STATUS.get(answer["outcome"], 409)
    if status >= 400:
        # A refused scan is still recorded under its nonce with its answer, so the same scan sent again
        # (a device retrying after a lost reply) gets the same answer instead of being judged anew.
        keep_on_error()
    return _reply(_scan_result(answer, replayed), status)


@registry.route(LECTURE + "/checkins/batch", "POST", summary="Send scans queued on the device",
                body=schemas.ScanBatch, responses={200: ("One result per scan, in order", schemas.BatchResult)})
def check_in_batch(venue_id: int, lecture_id: int):
    """Up to 200 scans, e.g. those queued while the network was down. Each counts by its own `scanned_at`;
    conflicts and refusals come back per scan, and scans already sent (same nonce) are answered again."""
    venue = _venue(venue_id)
    lecture = _lecture(venue, lecture_id)
    body = json_body(schemas.ScanBatch)
    results: list[schemas.ScanResult | None] = [None] * len(body.scans)
    # Members in one order for every batch, so two devices' batches never lock the same records crosswise;
    # a member's earliest scan first, so it is the one that counts.
    order = sorted(range(len(body.scans)),
                   key=lambda i: (api.member_key(body.scans[i].member), body.scans[i].scanned_at))
    for index in order:
        scan = body.scans[index]
        answer, replayed = api.submit_scan(lecture, venue, api.ScanInput(scan.member, scan.scanned_at, scan.nonce),
                                           device=g.device, by=g.api_user)
        results[index] = _scan_result(answer, replayed)
    return _reply(schemas.BatchResult(results=results))


@registry.route(LECTURE + "/screen", summary="The venue screen's state and live counts",
                responses={200: ("Phase, current check-in code and counts", schemas.ScreenState)})
def screen(venue_id: int, lecture_id: int):
    """What the venue screen shows: the phase, the rotating 6-digit code and how many have arrived."""
    venue = _venue(venue_id)
    lecture = _lecture(venue, lecture_id)
    now = attendance.utcnow()
    phase = attendance.window_of(lecture).phase(now)
    code, seconds_left = codes.current_code(lecture.id, venue.id, now)
    counts = attendance.venue_counts(lecture, [venue.id])[venue.id]
    open_now = phase in (attendance.Phase.ON_TIME, attendance.Phase.LATE)
    return _reply(schemas.ScreenState(venue_id=venue.id, lecture_id=lecture.id, phase=phase.value,
                                      phase_label=_phase_label(phase), code=code if open_now else None,
                                      seconds_left=seconds_left, arrived=counts["arrived"],
                                      expected=counts["expected"]))
