"""Writing to the audit log, and reading it back for admins.

`record` adds the event to the caller's transaction, so a change and its audit row are kept or
lost together. `record_now` writes on its own connection at once: for things that change nothing
else (a failed sign-in, a download) and must be kept even when the request fails afterwards.
"""
from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import has_request_context, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db

from .models import AuditEvent

ACTIONS = {
    "auth.sign_in": _l("Signed in"),
    "auth.sign_in_failed": _l("Failed sign-in"),
    # One event per address and minute, however many attempts; the name typed is not kept.
    "auth.sign_in_failed_unknown": _l("Failed sign-ins with an unknown user name"),
    "auth.sign_out": _l("Signed out"),
    "auth.password_changed": _l("Changed own password"),
    "auth.session_ended": _l("Ended a sign-in"),
    "auth.signed_out_everywhere": _l("Signed out everywhere"),
    "user.created": _l("Account created"),
    "user.updated": _l("Account changed"),
    "user.role_changed": _l("Role or venues changed"),
    "user.password_reset": _l("Password reset"),
    "user.disabled": _l("Account disabled"),
    "user.enabled": _l("Account enabled"),
    "user.transferred": _l("Member transferred to another venue"),
    "user.membership_ended": _l("Membership ended"),
    "roster.imported": _l("Member roster imported"),
    "venue.created": _l("Venue created"),
    "venue.updated": _l("Venue changed"),
    "venue.retired": _l("Venue retired"),
    "venue.restored": _l("Venue back in use"),
    "venue.coordinators_changed": _l("Venue coordinators changed"),
    "attendance.status_set": _l("Attendance status set"),
    "attendance.desk_check_in": _l("Checked in at the desk"),
    "attendance.device_check_in": _l("Checked in by a device"),
    "device.created": _l("Device token created"),
    "device.revoked": _l("Device token revoked"),
    "attendance.sheet_imported": _l("Paper sign-in sheet entered"),
    "attendance.settings_saved": _l("Check-in settings changed"),
    "attendance.corrected": _l("Filed record corrected"),
    "filing.filed": _l("Venue record filed"),
    "filing.acknowledged": _l("Filed record acknowledged"),
    "filing.returned": _l("Filed record returned"),
    "leave.approved": _l("Leave approved"),
    "leave.refused": _l("Leave refused"),
    "content.course_saved": _l("Course saved"),
    "content.lecture_saved": _l("Lecture saved"),
    "content.material_added": _l("Material added"),
    "content.material_deleted": _l("Material deleted"),
    "content.question_saved": _l("Question saved"),
    "content.question_moved": _l("Question moved"),
    "content.question_deleted": _l("Question deleted"),
    "content.quiz_settings_saved": _l("Quiz settings changed"),
    "content.quiz_imported": _l("Quiz bank imported"),
    "content.imported": _l("Content imported"),
    "export.report": _l("Report exported"),
    "export.quiz_bank": _l("Quiz bank exported"),
}


# Keys of `details`, named for the reader; a key missing here is shown as written.
DETAIL_LABELS = {
    "member": _l("Member number"), "status": _l("Status"), "reason": _l("Reason"), "note": _l("Note"),
    "file": _l("File"), "rows": _l("Rows"), "title": _l("Title"), "published": _l("Published"),
    "courses": _l("Courses"), "lectures": _l("Lectures"), "key_points": _l("Key points"),
    "questions": _l("Questions"), "materials": _l("Materials"), "created": _l("New"), "updated": _l("Changed"),
    "role": _l("Role"), "venues": _l("Venues"), "venue": _l("Venue"), "marked": _l("Marked present"),
    "already": _l("Already present"),
    "device": _l("Device"), "pass_mark": _l("Pass mark"), "draw": _l("Questions drawn"),
    "attempts": _l("Attempts allowed"), "feedback": _l("Feedback"), "question": _l("Question"),
    "stem": _l("Question text"), "position": _l("Position"), "total": _l("Total"), "source": _l("Source"),
    "checkin_opens_minutes": _l("Opens (minutes before)"), "checkin_grace_minutes": _l("On time (minutes after)"),
    "checkin_closes_minutes": _l("Closes (minutes after the end)"), "comment": _l("Comment"),
    "effective": _l("Effective from"), "how": _l("How"), "at": _l("Date"),
    "remembered": _l("Remember this phone"),
    "changes": _l("Changes"), "name": _l("Name"), "kind": _l("Kind"), "left": _l("Left"),
    "skipped": _l("Skipped"), "added": _l("Added"), "removed": _l("Removed"),
}

# Words for the codes some entries hold (a status, a role), registered by the package that owns the code,
# so that entries written with codes, old ones included, read in words without audit knowing the domains.
VALUE_WORDS: dict[str, dict[str, object]] = {}
# How older entries joined a before and an after in one value ("coordinator → member").
ARROW = " → "


def register_value_words(key: str, words: dict[str, object]) -> None:
    """Let the audit log show `words[code]` (a lazy translation) for the code a `key` detail holds."""
    VALUE_WORDS.setdefault(key, {}).update(words)


def action_label(action: str) -> str:
    return str(ACTIONS.get(action, action))


def detail_label(key: str) -> str:
    return str(DETAIL_LABELS.get(key, key))


def detail_value(key: str, value) -> str:
    """A detail's value in words: 是/否 for yes/no, the owner's word for a code, — for nothing."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if value is None or value == "":
        return "—"
    words = VALUE_WORDS.get(key)
    if words and isinstance(value, str):
        return ARROW.join(str(words.get(part, part)) for part in value.split(ARROW))
    return str(value)


def _actor(actor) -> tuple[int | None, str]:
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user
    if actor is not None:
        return actor.id, f"{actor.name} ({actor.username})"
    if has_request_context():
        return None, ""
    return None, f"cli:{getpass.getuser()}"


def _event_values(action: str, target: str, details: dict, actor) -> dict:
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")  # a typo would hide events from the filters
    actor_id, actor_name = _actor(actor)
    address = (request.remote_addr or "") if has_request_context() else "cli"
    return {"at": utcnow(), "actor_id": actor_id, "actor_name": actor_name[:120], "action": action,
            "target": target[:200], "details": details, "address": address[:64]}


def record(action: str, target: str = "", actor=None, **details) -> None:
    """Add an event to the current transaction; it is written when the caller commits."""
    db.session.add(AuditEvent(**_event_values(action, target, details, actor)))


def record_now(action: str, target: str = "", actor=None, **details) -> None:
    """Write an event at once, outside the request's transaction."""
    with db.engine.begin() as connection:
        connection.execute(sa.insert(AuditEvent), [_event_values(action, target, details, actor)])


def record_export(_sender, *, path: str, filename: str, rows: int) -> None:
    """A report table left the system (core.exports.table_exported): who took which file, at once."""
    record_now("export.report", path, file=filename, rows=rows)


@dataclass
class AuditFilter:
    action: str | None = None
    who: str | None = None
    target: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def events_query(criteria: AuditFilter) -> sa.Select:
    """Newest first, narrowed by the admin's filters."""
    query = sa.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if criteria.action:
        query = query.where(AuditEvent.action == criteria.action)
    if criteria.who:
        query = query.where(AuditEvent.actor_name.icontains(criteria.who, autoescape=True))
    if criteria.target:
        query = query.where(AuditEvent.target.icontains(criteria.target, autoescape=True))
    if criteria.start:
        query = query.where(AuditEvent.at >= criteria.start)
    if criteria.end:
        query = query.where(AuditEvent.at < criteria.end)
    return query
