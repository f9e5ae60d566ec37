"""The admins' view of the audit log: read and filter only; nothing here can change it."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from wtforms import SelectChoice

from lecturehub.core.permissions import role_required
from lecturehub.core.timeutil import parse_local
from lecturehub.extensions import db

from . import services
from .changes import changes_text
from .forms import AuditFilterForm

bp = Blueprint("audit", __name__, template_folder="templates")

EVENTS_PER_PAGE = 50


@bp.get("/admin/audit")
@role_required("admin")
def audit_log():
    form = AuditFilterForm(request.args)
    form.action.choices = [SelectChoice("", _("All actions"))] + [
        SelectChoice(action, str(label)) for action, label in services.ACTIONS.items()]
    criteria = services.AuditFilter()
    status, page_number = 200, 1
    if form.validate():
        page_number = form.page.data or 1
        criteria = services.AuditFilter(
            action=form.action.data or None, who=(form.who.data or "").strip() or None,
            target=(form.target.data or "").strip() or None,
            start=parse_local(datetime.combine(form.start.data, time.min)) if form.start.data else None,
            # The end date is inclusive: everything before the next midnight.
            end=parse_local(datetime.combine(form.end.data + timedelta(days=1), time.min)) if form.end.data else None)
    else:
        status = 400
    page = db.paginate(services.events_query(criteria), page=page_number, per_page=EVENTS_PER_PAGE,
                       max_per_page=EVENTS_PER_PAGE, error_out=False)
    filters = {key: value for key, value in request.args.items() if key != "page"}
    return render_template("audit/log.html", form=form, page=page, filters=filters), status


@bp.app_template_global()
def audit_action_label(action: str) -> str:
    return services.action_label(action)


@bp.app_template_global()
def audit_detail_label(key: str) -> str:
    return services.detail_label(key)


@bp.app_template_global()
def audit_detail_value(key: str, value) -> str:
    return services.detail_value(key, value)


@bp.app_template_global()
def audit_change_lines(changes) -> list[str]:
    return changes_text(changes if isinstance(changes, list) else [])
