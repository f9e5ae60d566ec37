"""LectureHub: study lectures across a main venue and its branch venues."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, render_template, request
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from .config import load_config
from .core import transaction
from .core.i18n import LANGUAGES, babel_locale, select_locale
from .extensions import babel, csrf, db, limiter, login_manager, migrate


def create_app(overrides: dict | None = None) -> Flask:
    """Build the application; `overrides` replaces settings (tests use it)."""
    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    app.config.update(load_config(Path(app.instance_path)))
    if overrides:
        app.config.update(overrides)
    # Only a remembered sign-in makes its session cookie permanent (outliving the browser); it then lasts as
    # long as the sign-in does on the server.
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(days=app.config["REMEMBER_DAYS"])
    # The sign-in on the server ends REMEMBER_DAYS after it began, however often it is used, so re-signing the
    # cookie on every request to push its expiry on gained nothing (and cost a twentieth of a check-in's time).
    # It is still written whenever the session changes.
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        proxies = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    _init_extensions(app)
    app.url_map.converters["int"] = IdConverter
    _register_blueprints(app)
    _connect_packages(app)
    _register_cli(app)
    _register_error_handlers(app)
    _register_template_helpers(app)
    _register_request_hooks(app)
    transaction.init_app(app)  # after the other hooks: their response is the one committed or rolled back
    if app.config["BENCH_ENDPOINTS"]:
        from .core.bench import register_reference_endpoints

        register_reference_endpoints(app)
    return app


class IdConverter(IntegerConverter):
    """`<int:...>` in routes: ids above the largest row id do not match (404) instead of overflowing the driver."""

    def __init__(self, map, *args, **kwargs):
        from .core.forms import MAX_ID

        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    csrf.init_app(app)
    from .core import ratelimit  # noqa: F401  (registers the database:// rate-limit storage before the limiter)

    babel.init_app(app, locale_selector=babel_locale, default_translation_directories="translations")
    limiter.init_app(app)

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    from .accounts.services import user_for_session

    @login_manager.user_loader
    def load_user(session_token: str):
        return user_for_session(session_token) if session_token else None


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL lets readers work during a write; the busy timeout makes writers queue instead of failing."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _register_blueprints(app: Flask) -> None:
    from .accounts.memberships import bp as memberships_bp
    from .accounts.routes import bp as accounts_bp
    from .api.pages import bp as kiosk_bp
    from .api.routes import bp as api_bp
    from .attendance.filing_views import bp as filing_bp
    from .attendance.routes import bp as attendance_bp
    from .audit.routes import bp as audit_bp
    from .core.routes import bp as core_bp
    from .courses.authoring import bp as authoring_bp
    from .courses.routes import bp as courses_bp
    from .organisation.routes import bp as organisation_bp
    from .quizzes.bank import bp as quiz_bank_bp
    from .quizzes.routes import bp as quizzes_bp
    from .reports.routes import bp as reports_bp
    from .venues.admin import bp as venue_admin_bp

    for blueprint in (core_bp, accounts_bp, memberships_bp, organisation_bp, venue_admin_bp, courses_bp, authoring_bp,
                      quizzes_bp, quiz_bank_bp, attendance_bp, filing_bp, reports_bp, audit_bp, api_bp, kiosk_bp):
        app.register_blueprint(blueprint)


def _connect_packages(app: Flask) -> None:
    """Where a lower package's page or event is extended by a package built on it, without importing it.

    Listed here, at app creation, so that every such seam can be found in one place."""
    from .attendance.makeup import on_quiz_submitted
    from .attendance.roster import count_expected_members
    from .attendance.routes import lecture_panel as checkin_panel
    from .attendance.tallies import keep_tallies
    from .audit.services import record_export
    from .core.exports import table_exported
    from .courses import bundles, content
    from .courses.archive import counting_expected_members
    from .courses.panels import register_lecture_panel
    from .quizzes import content as quiz_content
    from .quizzes.routes import lecture_panel as quiz_panel
    from .quizzes.services import quiz_submitted

    register_lecture_panel(app, "status", checkin_panel)
    register_lecture_panel(app, "study", quiz_panel)
    # Courses reads and imports a lecture folder; quizzes reads and saves the quiz in it.
    content.lecture_folder_read.connect(quiz_content.on_lecture_folder_read)
    content.lecture_imported.connect(quiz_content.on_lecture_imported)
    bundles.lecture_previewed.connect(quiz_content.on_lecture_previewed)
    # Archiving asks who a lecture expected; a passed quiz may complete a member's make-up study.
    counting_expected_members.connect(count_expected_members)
    quiz_submitted.connect(on_quiz_submitted)
    table_exported.connect(record_export)
    # Every commit keeps the finished lectures' tallies in step with their records (reports read them).
    keep_tallies()


def _register_cli(app: Flask) -> None:
    from .accounts.cli import members_cli, users_cli
    from .attendance.tallies import tally_cli
    from .core.cli import backup_command, restore_command
    from .courses.cli import content_cli
    from .demo import demo_command

    for command in (users_cli, members_cli, content_cli, tally_cli, demo_command, backup_command, restore_command):
        app.cli.add_command(command)


def _register_error_handlers(app: Flask) -> None:
    from flask_babel import gettext as _

    from .api import errors as api_errors

    messages = {
        400: _l("The request could not be understood."),
        403: _l("You do not have access to this page."),
        404: _l("This page does not exist."),
        405: _l("This action is not allowed here."),
        413: _l("The upload is too large."),
        429: _l("Too many attempts. Please wait a minute and try again."),
        500: _l("Something went wrong on our side. Please try again later."),
        503: _l("Your changes cannot be saved right now. Please try again later, and tell the administrator "
                "if this keeps happening."),
    }

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        if api_errors.is_api_request():
            return api_errors.csrf_error_response()
        message = _("Your form expired or was sent from elsewhere. Please reload the page and try again.")
        return render_template("error.html", code=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if api_errors.is_api_request():  # a kiosk reads JSON, never an HTML page or a redirect
            return api_errors.http_error_response(error)
        code = error.code or 500
        message = messages.get(code, error.description)
        return render_template("error.html", code=code, message=message), code

    @app.errorhandler(sa.exc.OperationalError)
    @app.errorhandler(sa.exc.InternalError)
    def database_unavailable(error: sa.exc.DBAPIError):
        """The database refused the work (read-only, disk full, connection lost): a 503, not a traceback.

        Rolling back first means nothing of the request is half-written; the member is told to try
        again, and the log says what the administrator has to fix.
        """
        if isinstance(error, sa.exc.InternalError) and not _is_read_only_error(error):
            raise error  # any other internal error is a bug: let the 500 handler report it
        return _database_unavailable_response(app, error, messages[503])

    @app.errorhandler(StaleDataError)
    def changed_meanwhile(error: StaleDataError):
        """Two requests changed the same rows at once (one moved a question another deleted): say so."""
        db.session.rollback()
        message = _("Someone else changed this at the same moment. Reload the page and try again.")
        return render_template("error.html", code=409, message=message), 409

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        if api_errors.is_api_request():
            return api_errors.error_response(500, "server_error")
        return render_template("error.html", code=500, message=messages[500]), 500


def _database_unavailable_response(app: Flask, error: sa.exc.DBAPIError, message):
    """Roll back, log what the administrator has to fix, and tell the member (or the kiosk) to try again."""
    from .api import errors as api_errors

    app.logger.error("database unavailable on %s %s: %s", request.method, request.path, error.orig)
    try:
        db.session.rollback()
    except sa.exc.SQLAlchemyError:
        db.session.remove()
    headers = {"Retry-After": "30"}
    if api_errors.is_api_request():
        response = api_errors.error_response(503, "unavailable")
        response.headers.update(headers)
        return response
    try:
        return render_template("error.html", code=503, message=message), 503, headers
    except sa.exc.SQLAlchemyError:
        # The page itself needs the database (the signed-in user); say it in plain text instead.
        db.session.remove()
        return str(message), 503, {**headers, "Content-Type": "text/plain; charset=utf-8"}


def _is_read_only_error(error: sa.exc.DBAPIError) -> bool:
    """PostgreSQL's read_only_sql_transaction (SQLSTATE 25006), e.g. a database set read-only or a standby."""
    return getattr(error.orig, "sqlstate", None) == "25006"


def _register_template_helpers(app: Flask) -> None:
    from .core.markdown import render_markdown
    from .core.numbers import percent, score_text
    from .core.timeutil import to_local

    app.jinja_env.filters["markdown"] = render_markdown

    @app.template_filter("localtime")
    def localtime(moment, fmt: str = "medium"):
        if moment is None:
            return ""
        return format_datetime(to_local(moment), fmt)

    from flask_babel import gettext

    # Punctuation differs between the languages (（）、： in Chinese), so it goes through the catalogue too.
    app.jinja_env.globals.update(
        paren=lambda text: gettext("(%(text)s)", text=text),
        labelled=lambda label, value: gettext("%(label)s: %(value)s", label=label, value=value),
        list_sep=lambda: gettext(", "),
        percent=percent,
        score_text=score_text,
    )

    @app.context_processor
    def layout_context():
        return {"languages": LANGUAGES, "current_locale": select_locale()}


def _register_request_hooks(app: Flask) -> None:
    from flask import redirect, url_for
    from flask_login import current_user

    allowed_while_password_expired = {"accounts.change_password", "accounts.logout", "static",
                                      "core.set_language", "core.healthz"}

    @app.before_request
    def require_password_change():
        if (current_user.is_authenticated and current_user.must_change_password
                and request.endpoint not in allowed_while_password_expired
                and not request.path.startswith("/api/")):  # the API answers in JSON instead
            # Where the member was going (a scanned check-in link) is kept for after the new password.
            target = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("accounts.change_password", next=target))
        return None

    @app.after_request
    def security_headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Language", select_locale().replace("_", "-"))
        if not (request.endpoint or "").endswith(".static"):
            # Rosters, records, attempts and one-time passwords must not stay in a shared browser's or a
            # proxy's cache; only the public static assets may be kept.
            response.headers["Cache-Control"] = "no-store"
        if app.config["SESSION_COOKIE_SECURE"]:
            # Served over HTTPS (the cookies say so): browsers must not fall back to plain HTTP later.
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
