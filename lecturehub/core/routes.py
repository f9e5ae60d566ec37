"""Home, health check and language switch."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, jsonify, make_response, redirect, request, url_for
from flask_login import current_user

from lecturehub.extensions import db

from .i18n import LANGUAGE_COOKIE, LANGUAGES
from .permissions import is_safe_next

bp = Blueprint("core", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/core")


@bp.get("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    return redirect(url_for("organisation.home"))


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
        database_ok = True
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        database_ok = False
    body = {"status": "ok" if database_ok else "error", "database": database_ok}
    return jsonify(body), 200 if database_ok else 503


@bp.get("/lang/<code>")
def set_language(code: str):
    if code not in LANGUAGES:
        abort(404)
    target = request.args.get("next")
    response = make_response(redirect(target if is_safe_next(target) else url_for("core.index")))
    response.set_cookie(LANGUAGE_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                        secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response
