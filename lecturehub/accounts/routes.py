"""Sign-in, sign-out, password change, the account page, and the admin's user list."""
from __future__ import annotations

import hashlib
from datetime import datetime, time
from pathlib import PurePath

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from lecturehub.core import pending
from lecturehub.core.errors import show_on_form
from lecturehub.core.permissions import is_safe_next, role_required
from lecturehub.core.timeutil import parse_local, to_local, utcnow
from lecturehub.extensions import db, limiter
from lecturehub.venues.models import Venue

from . import services
from .forms import (
    AccountForm,
    ChangePasswordForm,
    ConfirmForm,
    LoginForm,
    RosterApplyForm,
    RosterUploadForm,
    UserFilterForm,
    VenueCoordinatorsForm,
)
from .models import Role, User, coordinator_venue

bp = Blueprint("accounts", __name__, template_folder="templates")

USERS_PER_PAGE = 50


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _login_ip_limit() -> str:
    return current_app.config["LOGIN_IP_RATE_LIMIT"]


def _login_account_limit() -> str:
    return current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"]


def _account_key() -> str:
    # Hashed: whatever was typed into the user-name box (a password, by mistake) is not kept in the counters.
    typed = (request.form.get("username") or "").strip().lower()[:64]
    return "login-user:" + hashlib.sha256(typed.encode()).hexdigest()[:32]


def _account_and_address_key() -> str:
    return f"{_account_key()}:{request.remote_addr or '-'}"


def _sign_in_failed(response) -> bool:
    return response.status_code == 401


# Three limits (see config.py): attempts per address; attempts per account from one address, so that
# guessing from elsewhere does not lock the owner out; and failed attempts per account from everywhere,
# a slower ceiling against guessing spread over many addresses.
@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_ip_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_account_and_address_key)
@limiter.limit(_login_account_limit, methods=["POST"], key_func=_account_key, deduct_when=_sign_in_failed)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("organisation.home"))
    form = LoginForm()
    if not form.is_submitted():
        # Ticked by default on phones, the devices that come back to every lecture (Chromium's Sec-CH-UA-Mobile
        # hint, or "Mobi" in the user agent as MDN advises); a shared desktop stays unticked.
        form.remember.data = (request.headers.get("Sec-CH-UA-Mobile") == "?1"
                              or "Mobi" in (request.user_agent.string or ""))
    status = 200
    if form.validate_on_submit():
        user = services.authenticate(form.username.data, form.password.data)
        if user is not None:
            services.start_session(user, remembered=form.remember.data)
            # A permanent cookie outlives the browser and, with Flask-Login's "strong" protection, survives
            # the phone changing network (the session is then only marked not fresh instead of cleared).
            session.permanent = bool(form.remember.data)
            login_user(user)
            target = request.args.get("next")
            return redirect(target if is_safe_next(target) else url_for("organisation.home"))
        form.password.errors.append(_("The user name or password is wrong."))
        services.record_failed_sign_in(form.username.data)
        status = 401
    elif form.is_submitted():
        status = 422
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    services.end_session(current_user)
    logout_user()
    flash(_("You have signed out."), "success")
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        if not current_user.check_password(form.current_password.data):
            form.current_password.errors.append(_("The current password is wrong."))
            status = 422
        else:
            try:
                services.change_password(current_user, form.new_password.data)
            except services.AccountError as exc:
                status = show_on_form(form, exc, "new_password")
            else:
                flash(_("Your password has been changed."), "success")
                target = request.args.get("next")
                return redirect(target if is_safe_next(target) else url_for("organisation.home"))
    elif form.is_submitted():
        status = 422
    return render_template("accounts/change_password.html", form=form), status


@bp.get("/account")
@login_required
def account():
    """The member's own account: every browser and phone signed in as them, each of which they can end."""
    return render_template("accounts/account.html", sessions=services.sessions_of(current_user),
                           current_token=current_user.session_token, form=ConfirmForm())


@bp.post("/account/sessions/<handle>/end")
@login_required
def end_session(handle: str):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if not services.end_session_by_handle(current_user, handle[:64]):
        abort(404)
    flash(_("That device is signed out."), "success")
    if not services.user_for_session(current_user.session_token or ""):
        logout_user()  # the member ended this very sign-in
        return redirect(url_for("accounts.login"))
    return redirect(url_for("accounts.account"))


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.end_all_sessions(current_user)
    logout_user()
    flash(_("You have signed out on every device."), "success")
    return redirect(url_for("accounts.login"))


@bp.get("/admin/users")
@role_required(Role.ADMIN)
def user_list():
    form = UserFilterForm(request.args)
    venues = list(db.session.scalars(sa.select(Venue).order_by(Venue.position)))
    form.role.choices = [SelectChoice("", _("All roles"))] + [SelectChoice(r.value, role_label(r)) for r in Role]
    form.venue.choices = [SelectChoice("", _("All venues"))] + [SelectChoice(str(v.id), v.name) for v in venues]
    query = sa.select(User).options(selectinload(User.home_venue), selectinload(User.coordinated_venues))
    valid = form.validate()
    if valid:
        if form.q.data:
            pattern = f"%{form.q.data.strip()}%"
            query = query.where(sa.or_(User.name.ilike(pattern), User.username.ilike(pattern),
                                       User.member_no.ilike(pattern)))
        if form.role.data:
            query = query.where(User.role == Role(form.role.data))
        if form.venue.data:
            query = query.where(User.home_venue_id == int(form.venue.data))
    page = db.paginate(query.order_by(User.role.desc(), User.username), page=(form.page.data if valid else None) or 1,
                       per_page=USERS_PER_PAGE,
                       error_out=False, max_per_page=USERS_PER_PAGE)
    return render_template("accounts/user_list.html", form=form, page=page), 200 if valid else 422


role_label = services.role_label


@bp.app_template_global()
def role_name(role: Role) -> str:
    return role_label(role)


def load_account(user_id: int) -> User:
    return db.get_or_404(User, user_id)


def _account_form(user: User) -> AccountForm:
    form = AccountForm(obj=user) if request.method == "GET" else AccountForm()
    held = [v.id for v in user.coordinated_venues] + ([user.home_venue_id] if user.home_venue_id else [])
    venues = list(db.session.scalars(sa.select(Venue).where(sa.or_(Venue.retired_at.is_(None), Venue.id.in_(held)))
                                     .order_by(Venue.position)))
    form.role.choices = [SelectChoice(r.value, role_label(r)) for r in Role]
    form.venue_ids.choices = [(v.id, v.name) for v in venues]
    if request.method == "GET":
        form.effective_at.data = to_local(utcnow()).replace(tzinfo=None, second=0, microsecond=0)
        form.role.data = user.role.value
        form.venue_ids.data = [v.id for v in user.coordinated_venues] if user.is_coordinator else (
            [user.home_venue_id] if user.home_venue_id else [])
    return form


def _account_page(user: User, form: AccountForm, status: int = 200, new_password: str | None = None):
    return render_template("accounts/user_detail.html", user=user, form=form, confirm=ConfirmForm(),
                           new_password=new_password, memberships=services.memberships_of(user)), status


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def user_detail(user_id: int):
    user = load_account(user_id)
    form = _account_form(user)
    if form.validate_on_submit():
        venues = list(db.session.scalars(sa.select(Venue).where(Venue.id.in_(form.venue_ids.data))
                                         .order_by(Venue.position)))
        try:
            services.update_account(user, current_user, name=form.name.data, role=Role(form.role.data),
                                    venues=venues, reason=form.transfer_reason.data or "",
                                    effective_at=parse_local(form.effective_at.data) if form.effective_at.data
                                    else None)
        except services.AccountError as exc:
            db.session.rollback()
            return _account_page(user, form, show_on_form(form, exc, "venue_ids"))
        flash(_("The account has been saved."), "success")
        return redirect(url_for("accounts.user_detail", user_id=user.id))
    return _account_page(user, form, 422 if form.is_submitted() else 200)


@bp.post("/admin/users/<int:user_id>/password")
@role_required(Role.ADMIN)
def reset_password(user_id: int):
    user = load_account(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    password = services.reset_password(user, current_user)
    # Shown once, on this page only; never stored in plain text or put in a URL.
    return _account_page(user, _account_form(user), new_password=password)


@bp.post("/admin/users/<int:user_id>/active")
@role_required(Role.ADMIN)
def set_active(user_id: int):
    user = load_account(user_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.set_active(user, not user.active, current_user)
    except services.AccountError as exc:
        flash(str(exc), "error")
        return _account_page(user, _account_form(user), 409)
    flash(_("The account is enabled.") if user.active else _("The account is disabled and signed out everywhere."),
          "success")
    return redirect(url_for("accounts.user_detail", user_id=user.id))


# --- roster import: upload, preview, confirm ------------------------------------------------------------

PENDING_ROSTERS = "rosters"


def _roster_page(status: int = 200, **context):
    context.setdefault("form", RosterUploadForm(formdata=None))
    return render_template("accounts/roster_import.html", describe_change=services.describe_change, **context), status


def _apply_form(plan: services.RosterPlan, **data) -> RosterApplyForm:
    form = RosterApplyForm.with_conflicts([c.row.row for c in plan.conflicts])(**data)
    form.left_ids.choices = [SelectChoice(u.id, f"{u.member_no} {u.name}") for u in plan.missing]
    return form


@bp.route("/admin/roster", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def roster_import():
    """Upload a roster and see exactly what it would change; nothing is written until it is confirmed."""
    form = RosterUploadForm()
    if not form.is_submitted():
        return _roster_page(form=form)
    if not form.validate_on_submit():
        return _roster_page(422, form=form, problems=[str(e) for e in form.roster.errors] or
                            [_("The form has expired; upload the file again.")])
    data = form.roster.data.read()
    filename = PurePath(form.roster.data.filename or "roster").name[:200]
    try:
        plan = services.plan_roster(filename, data)
    except services.RosterError as exc:
        return _roster_page(422, form=form, problems=exc.problems)
    token = pending.keep(PENDING_ROSTERS, data)
    apply_form = _apply_form(plan, formdata=None, token=token, digest=plan.digest, filename=filename,
                             effective_on=to_local(utcnow()).date())
    return _roster_page(422 if plan.problems else 200, form=form, plan=plan, apply_form=apply_form)


@bp.post("/admin/roster/apply")
@role_required(Role.ADMIN)
def roster_apply():
    """Apply a previewed roster as it was shown: all of it, or nothing when anything changed meanwhile."""
    submitted = RosterApplyForm()
    data = pending.read(PENDING_ROSTERS, submitted.token.data or "")
    filename = PurePath(submitted.filename.data or "").name[:200]
    if data is None or not filename:
        return _roster_page(409, problems=[_("This upload has expired; upload the roster again.")])
    try:
        plan = services.plan_roster(filename, data)
    except services.RosterError as exc:
        return _roster_page(422, problems=exc.problems)
    form = _apply_form(plan)
    if not form.validate_on_submit():
        return _roster_page(422, plan=plan, apply_form=form,
                            problems=[_("Check the choices marked below.")])
    if form.digest.data != plan.digest:
        form.digest.data = plan.digest
        return _roster_page(409, plan=plan, apply_form=form,
                            problems=[_("The accounts changed since this preview was made; check the preview "
                                        "again before confirming.")])
    effective_at = parse_local(datetime.combine(form.effective_on.data, time.min))
    try:
        outcome = services.apply_roster_plan(
            plan, by=current_user, effective_at=effective_at,
            name_choices=form.name_choices([c.row.row for c in plan.conflicts]), leaving=set(form.left_ids.data))
    except services.RosterError as exc:
        db.session.rollback()
        return _roster_page(422, plan=plan, apply_form=form, problems=exc.problems)
    pending.drop(PENDING_ROSTERS, form.token.data)
    # The initial password is shown once, on this page only, never stored in plain text, put in a URL or cached.
    body, status = _roster_page(outcome=outcome, filename=filename)
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/admin/venues/<int:venue_id>/coordinators", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def venue_coordinators(venue_id: int):
    """Who runs a venue, set from the venue: untick to remove, add by member number or user name."""
    venue = db.get_or_404(Venue, venue_id)
    current = list(db.session.scalars(
        sa.select(User).join(coordinator_venue, coordinator_venue.c.user_id == User.id)
        .where(coordinator_venue.c.venue_id == venue.id).order_by(User.username)))
    form = VenueCoordinatorsForm()
    form.keep_ids.choices = [SelectChoice(u.id, f"{u.name} ({u.username})") for u in current]
    if not form.is_submitted():
        form.keep_ids.data = [u.id for u in current]
    status = 200
    if form.validate_on_submit():
        try:
            added, removed = services.set_venue_coordinators(venue, set(form.keep_ids.data), form.add.data or "",
                                                             current_user)
        except services.AccountError as exc:
            db.session.rollback()
            status = show_on_form(form, exc, "add")
        else:
            flash(_("The coordinators have been saved.") if added or removed else _("Nothing was changed."),
                  "success")
            return redirect(url_for("organisation.venue_detail", venue_id=venue.id))
    elif form.is_submitted():
        status = 422
    return render_template("accounts/venue_coordinators.html", venue=venue, form=form), status
