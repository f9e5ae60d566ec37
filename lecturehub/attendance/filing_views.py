"""Filing pages: which venues of a lecture have filed their record, filing it, and the admins' review."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from lecturehub.accounts.models import Role
from lecturehub.core.permissions import role_required
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.services import get_lecture_for
from lecturehub.extensions import db

from . import filing as filing_services
from .forms import FileRecordForm, ReviewForm
from .models import VenueFiling
from .routes import managed_lecture_venue
from .services import window_of

bp = Blueprint("filing", __name__, template_folder="templates")


@bp.get("/lectures/<int:lecture_id>/filings")
@role_required(Role.COORDINATOR, Role.ADMIN)
def lecture_filings(lecture_id: int):
    """Every venue's filing state: admins see all venues, a coordinator only their own."""
    lecture = get_lecture_for(current_user, lecture_id)
    venues = [v for v in filing_services.lecture_venues(lecture.id) if current_user.can_manage_venue(v.id)]
    if not venues and not current_user.is_admin:
        abort(403)
    links = {link.venue_id: link for link in lecture.venue_links}
    return render_template("attendance/filings.html", lecture=lecture, venues=venues, links=links,
                           filings=filing_services.filings(lecture.id, [v.id for v in venues]),
                           phase=window_of(lecture).phase(utcnow()), file_form=FileRecordForm(),
                           review_form=ReviewForm(formdata=None))


@bp.post("/filings/<int:lecture_venue_id>/file")
@role_required(Role.COORDINATOR, Role.ADMIN)
def file_record(lecture_venue_id: int):
    link = managed_lecture_venue(lecture_venue_id)
    if not FileRecordForm().validate_on_submit():
        abort(400)
    try:
        filing_services.file_record(link.lecture, link.venue, by=current_user)
    except filing_services.FilingError as exc:
        return render_template("error.html", code=409, message=str(exc)), 409
    flash(_("The record of %(venue)s has been filed.", venue=link.venue.name), "success")
    return redirect(url_for("filing.lecture_filings", lecture_id=link.lecture_id))


@bp.post("/filings/<int:lecture_venue_id>/review")
@role_required(Role.ADMIN)
def review(lecture_venue_id: int):
    link = managed_lecture_venue(lecture_venue_id)
    form = ReviewForm()
    if not form.validate_on_submit() or not (form.acknowledge.data or form.send_back.data):
        message = " ".join(map(str, form.comment.errors)) or _("Choose acknowledge or return.")
        return render_template("error.html", code=422, message=message), 422
    filing = db.session.scalar(db.select(VenueFiling).filter_by(lecture_id=link.lecture_id, venue_id=link.venue_id))
    if filing is None:
        return render_template("error.html", code=409, message=_("This record has not been filed yet.")), 409
    try:
        filing_services.review(filing, current_user, acknowledge=bool(form.acknowledge.data),
                               comment=form.comment.data or "")
    except filing_services.FilingError as exc:
        return render_template("error.html", code=409, message=str(exc)), 409
    flash(_("The record of %(venue)s has been acknowledged.", venue=link.venue.name) if form.acknowledge.data
          else _("The record of %(venue)s has been returned to its coordinators.", venue=link.venue.name), "success")
    return redirect(url_for("filing.lecture_filings", lecture_id=link.lecture_id))


@bp.app_template_global()
def filing_state_label(filing: VenueFiling | None) -> str:
    return _("Draft (not filed)") if filing is None else str(filing_services.FILING_WORDS[filing.state.value])
