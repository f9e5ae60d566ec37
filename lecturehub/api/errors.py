"""JSON errors for everything under /api: a machine-readable code and a message in the request's language.

A kiosk cannot follow a redirect to the sign-in page or read an HTML error page, so the app's error
handlers hand any request under /api to `error_response` instead of rendering a template.
"""
from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

API_PREFIX = "/api/"

MESSAGES = {
    "bad_request": _l("The request could not be understood."),
    "invalid_json": _l("The request body is not valid JSON."),
    "invalid_request": _l("Some values in the request are missing or not valid."),
    "csrf_failed": _l("The request lacks a valid CSRF token; reload the page and try again."),
    "unauthenticated": _l("Send a device token (Authorization: Bearer …) or sign in."),
    "invalid_token": _l("This device token is not valid."),
    "token_revoked": _l("This device token has been revoked."),
    "forbidden": _l("You do not have access to this."),
    "wrong_venue": _l("This device token belongs to another venue."),
    "password_change_required": _l("Choose a new password on the website first."),
    "not_found": _l("This does not exist."),
    "venue_not_found": _l("No such venue."),
    "lecture_not_found": _l("No such lecture at this venue."),
    "method_not_allowed": _l("This method is not allowed here."),
    "too_large": _l("The request is too large."),
    "rate_limited": _l("Too many requests. Please wait a minute and try again."),
    "server_error": _l("Something went wrong on our side. Please try again later."),
    "unavailable": _l("Check-ins cannot be saved right now. Keep them on the device and send them again later."),
}

_BY_STATUS = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "too_large", 429: "rate_limited", 500: "server_error",
              503: "unavailable"}


class ApiError(Exception):
    """Raised by API views; turned into a JSON error response."""

    def __init__(self, status: int, code: str, message: str | None = None, details: list | None = None):
        super().__init__(code)
        self.status, self.code, self.message, self.details = status, code, message, details


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def error_response(status: int, code: str, message: str | None = None, details: list | None = None):
    body = {"code": code, "message": message or str(MESSAGES.get(code, MESSAGES["bad_request"]))}
    if details:
        body["details"] = details
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="lecturehub"'
    return response


def http_error_response(error: HTTPException):
    """Any HTTP error under /api as JSON, keeping the error's own headers (Retry-After, Allow)."""
    status = error.code or 500
    response = error_response(status, _BY_STATUS.get(status, "bad_request"))
    for name in ("Retry-After", "Allow"):
        value = error.get_headers() and dict(error.get_headers()).get(name)
        if value:
            response.headers[name] = value
    return response


def csrf_error_response():
    return error_response(400, "csrf_failed")


def message(code: str) -> str:
    return str(MESSAGES[code]) if code in MESSAGES else _("The request could not be understood.")
