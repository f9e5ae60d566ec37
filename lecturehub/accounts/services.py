"""Account rules: creating users, reading rosters all-or-nothing, passwords."""
from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from flask_babel import gettext as _

from lecturehub.audit import services as audit
from lecturehub.core.spreadsheets import TableError, cell_text, read_rows
from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from .models import Role, User, UserSession, hash_password, needs_rehash, verify_password

MIN_PASSWORD_LENGTH = 8
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

ROLE_WORDS = {
    "": Role.MEMBER, "党员": Role.MEMBER, "member": Role.MEMBER,
    "分会场负责人": Role.COORDINATOR, "负责人": Role.COORDINATOR, "联络员": Role.COORDINATOR,
    "coordinator": Role.COORDINATOR,
    "管理员": Role.ADMIN, "admin": Role.ADMIN,
}
HEADER_WORDS = {
    "姓名": "name", "name": "name",
    "编号": "member_no", "member_no": "member_no", "number": "member_no",
    "分会场": "venue", "会场": "venue", "venue": "venue",
    "角色": "role", "role": "role",
}
VENUE_SEPARATORS = re.compile(r"[、,，;；]")


class AccountError(ValueError):
    """A rule about accounts was broken; the message is meant for the user."""


class RosterError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def generate_password() -> str:
    return secrets.token_urlsafe(9)


def check_password_policy(password: str) -> str | None:
    """Return a message when the password is too weak, else None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _("A password needs at least %(n)s characters.", n=MIN_PASSWORD_LENGTH)
    if password.isdigit() or password.isalpha():
        return _("A password needs both letters and digits or symbols.")
    return None


def venues_by_label() -> dict[str, Venue]:
    """Venues looked up by code or by name, as people write either in rosters."""
    lookup: dict[str, Venue] = {}
    for venue in db.session.scalars(sa.select(Venue)):
        lookup[venue.code.lower()] = venue
        lookup[venue.name.lower()] = venue
    return lookup


def create_user(username: str, name: str, role: Role, password: str, venues: list[Venue] | None = None,
                member_no: str | None = None, must_change_password: bool = False) -> User:
    """Add an account (not committed). Coordinators run `venues`; members belong to the first one."""
    venues = venues or []
    if not USERNAME_RE.match(username):
        raise AccountError(_("A user name may use letters, digits, '.', '_' and '-' only (1 to 64)."))
    if not name.strip() or len(name) > 80:
        raise AccountError(_("A name needs 1 to 80 characters."))
    if db.session.scalar(sa.select(User.id).where(User.username == username)):
        raise AccountError(_("The user name %(name)s is taken.", name=username))
    if role is Role.COORDINATOR and not venues:
        raise AccountError(_("A coordinator needs at least one venue."))
    if role is Role.MEMBER and len(venues) > 1:
        raise AccountError(_("A member belongs to one venue."))
    problem = check_password_policy(password)
    if problem:
        raise AccountError(problem)
    user = User(username=username, name=name.strip(), role=role, member_no=member_no,
                home_venue=venues[0] if venues else None, must_change_password=must_change_password)
    if role is Role.COORDINATOR:
        user.coordinated_venues = list(venues)
    user.set_password(password)
    db.session.add(user)
    audit.record("user.created", f"user:{username}", role=role.value, venues=", ".join(v.code for v in venues))
    return user


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or None. Unknown users cost the same time as wrong passwords."""
    user = db.session.scalar(sa.select(User).where(User.username == username.strip()))
    if user is None:
        verify_password(_dummy_hash(), password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    if needs_rehash(user.password_hash):
        # The only moment the password is known: an older scrypt hash (or argon2 at a lower cost) is
        # replaced now, and committed with the sign-in.
        user.set_password(password)
    return user


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(8))


# --- sessions ----------------------------------------------------------------------------------------

def _session_cutoffs():
    """The oldest start of an ordinary and of a remembered sign-in that still stands."""
    now = utcnow()
    config = current_app.config
    return now - timedelta(days=config["SESSION_DAYS"]), now - timedelta(days=config["REMEMBER_DAYS"])


def _standing(ordinary=None, remembered=None):
    """Sign-ins that still stand: started after the cutoff of their kind (now, unless bound parameters)."""
    if ordinary is None:
        ordinary, remembered = _session_cutoffs()
    return sa.or_(sa.and_(UserSession.remembered.is_(False), UserSession.created_at >= ordinary),
                  sa.and_(UserSession.remembered.is_(True), UserSession.created_at >= remembered))


# Every request runs this. Built once with bound parameters, it no longer costs a statement construction
# per request (in the check-in profile the lookup fell from 14% to 8% of a check-in).
_USER_FOR_SESSION = (
    sa.select(User, UserSession.last_used_at).join(UserSession, UserSession.user_id == User.id)
    .where(UserSession.token == sa.bindparam("token"),
           _standing(sa.bindparam("ordinary"), sa.bindparam("remembered")), User.active.is_(True)))


# Refreshing "last used" on every request would turn each page view into a write.
LAST_USED_RESOLUTION = timedelta(hours=1)


def device_label(user_agent: str) -> str:
    """"iPhone · iOS · Mobile Safari" from a browser's user agent, for the member's list of sign-ins."""
    from ua_parser import parse  # its regex tables load on first use: only sign-ins pay for them

    result = parse(user_agent or "")
    parts = []
    if result.device and result.device.family not in ("Other", "Spider"):
        parts.append(result.device.family)
    if result.os and result.os.family != "Other":
        parts.append(result.os.family)
    if result.user_agent and result.user_agent.family != "Other":
        parts.append(result.user_agent.family)
    return " · ".join(parts)[:120]


def start_session(user: User, remembered: bool = False) -> str:
    """Record a new sign-in of `user` (and the audit entry) and return its token for the cookie.

    A remembered sign-in (记住这台手机) lasts REMEMBER_DAYS instead of SESSION_DAYS.
    """
    token = secrets.token_urlsafe(32)
    address = (request.remote_addr or "")[:64] if has_request_context() else ""
    agent = (request.user_agent.string or "")[:200] if has_request_context() else ""
    now = utcnow()
    # Ended sign-ins of this user are cleared here, so the table does not grow without bound.
    db.session.execute(sa.delete(UserSession).where(UserSession.user_id == user.id, sa.not_(_standing())))
    db.session.add(UserSession(token=token, user_id=user.id, address=address, user_agent=agent, created_at=now,
                               last_used_at=now, remembered=remembered, device=device_label(agent)))
    audit.record("auth.sign_in", f"user:{user.username}", actor=user, remembered="yes" if remembered else "no")
    db.session.commit()
    user.session_token = token
    return token


def user_for_session(token: str) -> User | None:
    """The active user signed in with `token`, if that sign-in still stands; one query per request.

    Its "last used" time is refreshed at most once an hour, in its own short transaction: it is
    bookkeeping that must stick even when the request only reads or fails.
    """
    ordinary, remembered = _session_cutoffs()
    row = db.session.execute(_USER_FOR_SESSION, {"token": token, "ordinary": ordinary,
                                                 "remembered": remembered}).first()
    if row is None:
        return None
    user, last_used_at = row
    now = utcnow()
    if last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION:
        with db.engine.begin() as connection:
            connection.execute(sa.update(UserSession).where(UserSession.token == token).values(last_used_at=now))
    user.session_token = token
    return user


def sessions_of(user: User) -> list[UserSession]:
    """The user's sign-ins that still stand, the most recently used first."""
    return list(db.session.scalars(
        sa.select(UserSession).where(UserSession.user_id == user.id, _standing())
        .order_by(sa.func.coalesce(UserSession.last_used_at, UserSession.created_at).desc())))


def end_session_by_handle(user: User, handle: str) -> bool:
    """End one of the user's own sign-ins, named by its handle; False when it is not theirs or already over."""
    for row in sessions_of(user):
        if secrets.compare_digest(row.handle, handle):
            db.session.delete(row)
            audit.record("auth.session_ended", f"user:{user.username}", actor=user, device=row.device)
            db.session.commit()
            return True
    return False


def end_all_sessions(user: User) -> None:
    """Sign out everywhere: every browser and remembered phone of the user, this one included."""
    _end_sessions(user)
    audit.record("auth.signed_out_everywhere", f"user:{user.username}", actor=user)
    db.session.commit()


def end_session(user: User) -> None:
    """Sign out this browser: its cookie stops working even if someone kept a copy."""
    db.session.execute(sa.delete(UserSession).where(UserSession.token == user.session_token))
    audit.record("auth.sign_out", f"user:{user.username}", actor=user)
    db.session.commit()


def _end_sessions(user: User, keep: str | None = None) -> None:
    query = sa.delete(UserSession).where(UserSession.user_id == user.id)
    if keep:
        query = query.where(UserSession.token != keep)
    db.session.execute(query)


def change_password(user: User, new_password: str) -> None:
    """Set the user's own new password; every other browser signed in as them is signed out."""
    problem = check_password_policy(new_password)
    if problem:
        raise AccountError(problem)
    user.set_password(new_password)
    user.must_change_password = False
    _end_sessions(user, keep=user.session_token)
    audit.record("auth.password_changed", f"user:{user.username}", actor=user)
    db.session.commit()


def reset_password(user: User, by: User) -> str:
    """An admin gives `user` a new one-time password (returned to show once); they choose their own at sign-in."""
    password = generate_password()
    user.set_password(password)
    user.must_change_password = True
    _end_sessions(user)
    audit.record("user.password_reset", f"user:{user.username}", actor=by)
    db.session.commit()
    return password


def set_active(user: User, active: bool, by: User) -> None:
    """Disable (signing the user out everywhere) or enable an account. Admins cannot lock themselves out."""
    if user.id == by.id and not active:
        raise AccountError(_("You cannot disable your own account."))
    if user.active == active:
        return
    user.active = active
    if not active:
        _end_sessions(user)
    audit.record("user.enabled" if active else "user.disabled", f"user:{user.username}", actor=by)
    db.session.commit()


def update_account(user: User, by: User, *, name: str, role: Role, venues: list[Venue]) -> None:
    """Change an account's name, role and venues; a role or venue change is audited with before and after."""
    if not name.strip() or len(name) > 80:
        raise AccountError(_("A name needs 1 to 80 characters."))
    if role is Role.COORDINATOR and not venues:
        raise AccountError(_("A coordinator needs at least one venue."))
    if role is Role.MEMBER and len(venues) != 1:
        raise AccountError(_("A member belongs to exactly one venue."))
    if user.id == by.id and role is not Role.ADMIN:
        raise AccountError(_("You cannot take the admin role from yourself."))
    before = (user.role.value, [v.code for v in user.coordinated_venues], user.home_venue.code if user.home_venue else "")
    user.name = name.strip()
    user.role = role
    user.home_venue = venues[0] if venues else None
    user.coordinated_venues = list(venues) if role is Role.COORDINATOR else []
    after = (role.value, [v.code for v in user.coordinated_venues], user.home_venue.code if user.home_venue else "")
    if before != after:
        audit.record("user.role_changed", f"user:{user.username}", actor=by,
                     role=f"{before[0]} → {after[0]}", venues=f"{', '.join(before[1]) or before[2]} → "
                     f"{', '.join(after[1]) or after[2]}")
    else:
        audit.record("user.updated", f"user:{user.username}", actor=by)
    db.session.commit()


@dataclass
class RosterRow:
    row: int
    name: str
    member_no: str
    venues: list[Venue]
    role: Role


def read_roster(filename: str, data: bytes) -> list[dict[str, str]]:
    """Rows of a CSV or XLSX roster as dicts keyed by field (name, member_no, venue, role), with row numbers."""
    try:
        rows = read_rows(filename, data)
    except TableError as exc:
        raise RosterError([str(exc)]) from exc
    if not rows:
        raise RosterError([_("The file is empty.")])
    header = [HEADER_WORDS.get(cell_text(rows[0], i).lower()) for i in range(len(rows[0]))]
    missing = {"name", "member_no", "venue"} - set(header)
    if missing:
        raise RosterError([_("Row 1: the header must name the columns 姓名, 编号, 分会场 and 角色.")])
    records = []
    for number, cells in enumerate(rows[1:], start=2):
        values = {field: cell_text(cells, i) for i, field in enumerate(header) if field}
        if any(values.values()):
            values["_row"] = str(number)
            records.append(values)
    return records


def validate_roster(records: list[dict[str, str]]) -> list[RosterRow]:
    """Check every row; raise RosterError listing every problem by row number."""
    venues = venues_by_label()
    problems: list[str] = []
    result: list[RosterRow] = []
    seen: dict[str, str] = {}
    for record in records:
        row = record["_row"]
        name, member_no = record.get("name", ""), record.get("member_no", "")
        role_word = record.get("role", "").lower()
        row_problems = []
        if not name or len(name) > 80:
            row_problems.append(_("Row %(row)s: 姓名 needs 1 to 80 characters.", row=row))
        if not member_no or not USERNAME_RE.match(member_no) or len(member_no) > 32:
            row_problems.append(
                _("Row %(row)s: 编号 needs 1 to 32 letters or digits.", row=row)
            )
        elif member_no in seen:
            row_problems.append(
                _("Row %(row)s: 编号 %(no)s already appears in row %(first)s.", row=row, no=member_no, first=seen[member_no])
            )
        else:
            seen[member_no] = row
        role = ROLE_WORDS.get(role_word)
        if role is None:
            row_problems.append(_("Row %(row)s: unknown 角色 “%(role)s”.", row=row, role=record.get("role", "")))
        labels = [label.strip() for label in VENUE_SEPARATORS.split(record.get("venue", "")) if label.strip()]
        row_venues = [venues.get(label.lower()) for label in labels]
        if not labels and role is not Role.ADMIN:
            row_problems.append(_("Row %(row)s: 分会场 is missing.", row=row))
        for label, venue in zip(labels, row_venues, strict=True):
            if venue is None:
                row_problems.append(_("Row %(row)s: unknown 分会场 “%(venue)s”.", row=row, venue=label))
        if role is Role.MEMBER and len(labels) > 1:
            row_problems.append(_("Row %(row)s: a member belongs to one venue.", row=row))
        if row_problems:
            problems.extend(row_problems)
        else:
            result.append(RosterRow(int(row), name, member_no, row_venues, role))
    if problems:
        raise RosterError(problems)
    return result


@dataclass
class RosterOutcome:
    created: list[tuple[User, str]]
    updated: list[User]


def apply_roster(rows: list[RosterRow], password: str | None = None) -> RosterOutcome:
    """Create or update one account per row, matched by 编号, and commit once.

    New accounts get `password` (or a generated one each) and must change it at first sign-in.
    """
    existing = {u.member_no: u for u in db.session.scalars(
        sa.select(User).where(User.member_no.in_([r.member_no for r in rows])))}
    taken_usernames = set(db.session.scalars(
        sa.select(User.username).where(User.username.in_([r.member_no for r in rows]))))
    outcome = RosterOutcome([], [])
    problems = []
    # One hash for a shared initial password: argon2id is deliberately slow, and rosters are long.
    shared_hash = hash_password(password) if password else None
    for row in rows:
        user = existing.get(row.member_no)
        if user is None:
            if row.member_no in taken_usernames:
                problems.append(_("Row %(row)s: the user name %(name)s is taken by another account.",
                                  row=row.row, name=row.member_no))
                continue
            initial = password or generate_password()
            user = User(username=row.member_no, member_no=row.member_no, name=row.name, role=row.role,
                        home_venue=row.venues[0] if row.venues else None, must_change_password=True)
            if shared_hash:
                user.password_hash = shared_hash
            else:
                user.set_password(initial)
            db.session.add(user)
            outcome.created.append((user, initial))
        else:
            if user.role is not row.role:
                audit.record("user.role_changed", f"user:{user.username}", role=f"{user.role.value} → {row.role.value}",
                             source=_("Roster row %(row)s", row=row.row))
            user.name, user.role = row.name, row.role
            user.home_venue = row.venues[0] if row.venues else None
            outcome.updated.append(user)
        user.coordinated_venues = list(row.venues) if row.role is Role.COORDINATOR else []
    if problems:
        db.session.rollback()
        raise RosterError(problems)
    audit.record("roster.imported", "", created=len(outcome.created), updated=len(outcome.updated))
    db.session.commit()
    return outcome


def import_roster(filename: str, data: bytes, password: str | None = None) -> RosterOutcome:
    """Read, check and apply a roster file; on any problem nothing is written."""
    if password is not None:
        problem = check_password_policy(password)
        if problem:
            raise RosterError([problem])
    return apply_roster(validate_roster(read_roster(filename, data)), password)
