"""The admin's venue pages: create, rename, set kind, code and order, retire and bring back.

Assigning coordinators lives with the accounts (`accounts.venue_coordinators`): venues know nothing of users.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice

from lecturehub.core.errors import show_on_form
from lecturehub.core.permissions import Role, role_required
from lecturehub.extensions import db

from . import services
from .forms import VenueForm
from .models import Venue, VenueKind

bp = Blueprint("venue_admin", __name__, template_folder="templates", url_prefix="/admin/venues")



def _form(venue: Venue | None) -> VenueForm:
    form = VenueForm(obj=venue)
    form.kind.choices = [SelectChoice(k.value, services.kind_label(k)) for k in VenueKind]
    if not form.is_submitted():
        if venue is not None:
            form.kind.data = venue.kind.value
        else:
            form.kind.data = VenueKind.BRANCH.value
            form.position.data = (db.session.scalar(sa.select(sa.func.max(Venue.position))) or 0) + 1
    return form


@bp.get("")
@role_required(Role.ADMIN)
def venue_admin_list():
    venues = list(db.session.scalars(sa.select(Venue).order_by(Venue.retired_at.is_not(None), Venue.position,
                                                               Venue.id)))
    return render_template("venues/admin_list.html", venues=venues, confirm=FlaskForm())


@bp.route("/new", methods=["GET", "POST"])
@bp.route("/<int:venue_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_venue(venue_id: int | None = None):
    venue = db.get_or_404(Venue, venue_id) if venue_id is not None else None
    form = _form(venue)
    if form.validate_on_submit():
        fields = dict(code=form.code.data, name=form.name.data, kind=form.kind_value(), position=form.position.data)
        try:
            if venue is None:
                venue = services.create_venue(current_user, **fields)
                message = _("The venue %(name)s has been created.", name=venue.name)
            else:
                changes = services.update_venue(venue, current_user, **fields)
                message = _("The venue has been saved.") if changes else _("Nothing was changed.")
        except services.VenueError as exc:
            db.session.rollback()
            status = show_on_form(form, exc, "code")
            return render_template("venues/admin_edit.html", form=form, venue=venue), status
        flash(message, "success")
        return redirect(url_for("organisation.venue_detail", venue_id=venue.id))
    status = 422 if form.is_submitted() else 200
    return render_template("venues/admin_edit.html", form=form, venue=venue), status


@bp.post("/<int:venue_id>/retire")
@role_required(Role.ADMIN)
def retire_venue(venue_id: int):
    venue = db.get_or_404(Venue, venue_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    services.retire_venue(venue, current_user)
    flash(_("%(name)s is retired: its history stays, and it is no longer offered for new lectures or members.",
            name=venue.name), "success")
    return redirect(url_for("venue_admin.venue_admin_list"))


@bp.post("/<int:venue_id>/restore")
@role_required(Role.ADMIN)
def restore_venue(venue_id: int):
    venue = db.get_or_404(Venue, venue_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    services.restore_venue(venue, current_user)
    flash(_("%(name)s is in use again.", name=venue.name), "success")
    return redirect(url_for("venue_admin.venue_admin_list"))
