"""Pages for kiosks and desks: device tokens on a venue's page, and the offline desk (an installable web app).

The offline desk uses the coordinator's own sign-in, not a device token: it is the coordinator's browser
at the door, and the API accepts a signed-in coordinator's calls with the page's CSRF token. A tablet left
at the door unattended gets a device token instead and talks to the API directly.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, flash, make_response, redirect, render_template, send_from_directory, url_for
from flask_babel import gettext as _
from flask_login import current_user

from lecturehub.accounts.models import Role
from lecturehub.attendance import services as attendance
from lecturehub.attendance.models import DeviceToken
from lecturehub.attendance.routes import MEMBER_CARD_PREFIX, managed_lecture_venue
from lecturehub.core.permissions import role_required
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.models import Lecture, LectureVenue
from lecturehub.extensions import db
from lecturehub.venues.models import Venue
from lecturehub.venues.services import get_venue_for

from . import services as api
from .forms import DeviceTokenForm, RevokeForm

bp = Blueprint("kiosk", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/kiosk")


@bp.route("/venues/<int:venue_id>/devices", methods=["GET", "POST"])
@role_required(Role.COORDINATOR, Role.ADMIN)
def devices(venue_id: int):
    """A venue's device tokens: create one (shown once), see when each was last used, revoke."""
    venue = get_venue_for(current_user, venue_id)
    form = DeviceTokenForm()
    status, new_token = 200, None
    if form.validate_on_submit():
        device, new_token = api.create_device_token(venue, form.name.data.strip(), by=current_user)
        form = DeviceTokenForm(formdata=None)
    elif form.is_submitted():
        status = 422
    response = make_response(render_template("api/devices.html", venue=venue, form=form, new_token=new_token,
                                             tokens=api.device_tokens(venue.id), revoke_form=RevokeForm()), status)
    response.headers["Cache-Control"] = "no-store"  # the new token must not stay in a cache
    return response


@bp.post("/venues/<int:venue_id>/devices/<int:device_id>/revoke")
@role_required(Role.COORDINATOR, Role.ADMIN)
def revoke_device(venue_id: int, device_id: int):
    venue = get_venue_for(current_user, venue_id)
    device = db.session.get(DeviceToken, device_id)
    if device is None or device.venue_id != venue.id:
        abort(404)
    if not RevokeForm().validate_on_submit():
        abort(400)
    api.revoke_device_token(device, by=current_user)
    flash(_("The device token “%(name)s” is revoked; the device can no longer check anyone in.", name=device.name),
          "success")
    return redirect(url_for("kiosk.devices", venue_id=venue.id))


@bp.get("/desk-app/")
@role_required(Role.COORDINATOR, Role.ADMIN)
def desk_index():
    """The installed app's start page: today's lectures at the coordinator's venues."""
    now = utcnow()
    venue_ids = ([v.id for v in db.session.scalars(sa.select(Venue))] if current_user.is_admin
                 else [v.id for v in current_user.coordinated_venues])
    links = list(db.session.scalars(
        sa.select(LectureVenue).join(Lecture, Lecture.id == LectureVenue.lecture_id)
        .join(Venue, Venue.id == LectureVenue.venue_id)
        .where(LectureVenue.venue_id.in_(venue_ids), Lecture.starts_at <= now + timedelta(days=1),
               Lecture.ends_at >= now - timedelta(days=1))
        .order_by(Lecture.starts_at, Venue.position)))
    links = [link for link in links
             if attendance.window_of(link.lecture).phase(now) is not attendance.Phase.CLOSED]
    return render_template("api/desk_index.html", links=links)


@bp.get("/desk-app/<int:lecture_venue_id>")
@role_required(Role.COORDINATOR, Role.ADMIN)
def desk_app(lecture_venue_id: int):
    link = managed_lecture_venue(lecture_venue_id)
    response = make_response(render_template("api/desk_app.html", link=link, lecture=link.lecture, venue=link.venue,
                                             card_prefix=MEMBER_CARD_PREFIX))
    response.headers["Cache-Control"] = "no-cache"  # the service worker keeps its own copy for offline use
    return response


@bp.get("/desk-app/manifest.webmanifest")
def manifest():
    data = {
        "name": _("LectureHub desk check-in"), "short_name": _("Desk check-in"),
        "start_url": url_for("kiosk.desk_index"), "scope": url_for("kiosk.desk_index"),
        "display": "standalone", "background_color": "#ffffff", "theme_color": "#b71c1c",
        "icons": [{"src": url_for("kiosk.static", filename=f"icon-{size}.png"), "sizes": f"{size}x{size}",
                   "type": "image/png"} for size in (192, 512)],
    }
    response = make_response(data)
    response.mimetype = "application/manifest+json"
    return response


@bp.get("/desk-app/sw.js")
def service_worker():
    """Served from /desk-app/ so that its scope covers the desk pages (a worker controls only below its path)."""
    response = send_from_directory(bp.static_folder, "sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response
