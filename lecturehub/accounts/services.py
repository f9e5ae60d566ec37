"""Account rules: creating users, reading rosters all-or-nothing, passwords."""
from __future__ import annotations

import functools
import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from lecturehub.audit import services as audit
from lecturehub.audit.changes import record_changes
from lecturehub.audit.models import AuditEvent
from lecturehub.core.forms import unstorable_character
from lecturehub.core.spreadsheets import TableError, cell_text, find_header, read_rows
from lecturehub.core.timeutil import to_local, utcnow
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from .models import (
    Membership,
    MembershipChange,
    Role,
    User,
    UserSession,
    coordinator_venue,
    hash_password,
    needs_rehash,
    verify_password,
)

# What the pages call each role, for the audit log (the roster import's ROLE_WORDS below go the other way).
ROLE_NAMES = {Role.MEMBER.value: _l("Member"), Role.COORDINATOR.value: _l("Coordinator"), Role.ADMIN.value: _l("Admin")}
audit.register_value_words("role", ROLE_NAMES)

MIN_PASSWORD_LENGTH = 8
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

ROLE_WORDS = {
    "": Role.MEMBER, "党员": Role.MEMBER, "member": Role.MEMBER,
    "正式党员": Role.MEMBER, "预备党员": Role.MEMBER,
    "分会场负责人": Role.COORDINATOR, "负责人": Role.COORDINATOR, "联络员": Role.COORDINATOR,
    "coordinator": Role.COORDINATOR,
    "管理员": Role.ADMIN, "admin": Role.ADMIN,
}
# Header words as `header_word` reduces them: the ones organisations' own rosters use.
HEADER_WORDS = {
    **dict.fromkeys(("姓名", "name"), "name"),
    **dict.fromkeys(("编号", "党员编号", "工号", "人员编号", "member_no", "membernumber", "number"), "member_no"),
    **dict.fromkeys(("分会场", "所在分会场", "会场", "所在支部", "所属会场", "venue"), "venue"),
    **dict.fromkeys(("角色", "身份", "role"), "role"),
}
VENUE_SEPARATORS = re.compile(r"[、,，;；]")


class AccountError(ValueError):
    """A rule about accounts was broken; the message is meant for the user."""


class RosterError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def role_label(role: Role) -> str:
    return {Role.MEMBER: _("Member"), Role.COORDINATOR: _("Coordinator"), Role.ADMIN: _("Admin")}[role]


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
                member_no: str | None = None, must_change_password: bool = False,
                joined_at: datetime | None = None, by: User | None = None) -> User:
    """Add an account (not committed). Coordinators run `venues`; members belong to the first one,
    from `joined_at` (default: now)."""
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
    user = User(username=username, name=name.strip(), role=role, member_no=normalise_member_no(member_no) or None,
                home_venue=venues[0] if venues else None, must_change_password=must_change_password)
    if role is Role.COORDINATOR:
        user.coordinated_venues = list(venues)
    user.set_password(password)
    db.session.add(user)
    if user.home_venue is not None:
        start_membership(user, user.home_venue, joined_at or utcnow(), by, MembershipChange.JOINED)
    audit.record("user.created", f"user:{username}", role=role.value, venues=", ".join(v.code for v in venues))
    return user


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or None. Unknown users cost the same time as wrong passwords."""
    user = _account_named(username)
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


def record_failed_sign_in(username: str, now=None) -> None:
    """Put a failed sign-in in the audit log, in a way anonymous visitors cannot flood.

    For an existing account the event names it (its attempts are held by the sign-in limits). A name
    that is no account is never stored (it may be a password typed into the wrong box), and at most one
    such event per address and minute is written, whatever the number of attempts.
    """
    name = username.strip()
    if db.session.scalar(sa.select(User.id).where(User.username == name)) is not None:
        audit.record_now("auth.sign_in_failed", f"user:{name[:64]}")
        return
    now = now or utcnow()
    address = (request.remote_addr or "") if has_request_context() else ""
    minute = now.replace(second=0, microsecond=0)
    already = db.session.scalar(sa.select(AuditEvent.id).where(
        AuditEvent.action == "auth.sign_in_failed_unknown", AuditEvent.address == address[:64],
        AuditEvent.at >= minute).limit(1))
    if already is None:
        audit.record_now("auth.sign_in_failed_unknown", "")


def _account_named(username: str) -> User | None:
    """The account with this user name; members type their number in any case (M0024 for m0024)."""
    username = normalise_member_no(username)
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None and username:
        candidates = list(db.session.scalars(
            sa.select(User).where(sa.func.lower(User.username) == username.lower()).limit(2)))
        user = candidates[0] if len(candidates) == 1 else None
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
    """Set the user's own new password; every other browser signed in as them is signed out.

    The new password must differ from the current one: after a reset the current one is the one-time
    password, which the admin who issued it still knows.
    """
    if user.check_password(new_password):
        raise AccountError(_("Choose a password different from your current one."))
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


def set_active(user: User, active: bool, by: User, now: datetime | None = None) -> None:
    """Disable (signing the user out everywhere, ending their membership) or enable an account (a new
    membership at their venue begins). Admins cannot lock themselves out."""
    if user.id == by.id and not active:
        raise AccountError(_("You cannot disable your own account."))
    if user.active == active:
        return
    now = now or utcnow()
    user.active = active
    if not active:
        _end_sessions(user)
        end_membership(user, now, by, MembershipChange.DISABLED)
    elif user.home_venue is not None and current_membership(user) is None:
        start_membership(user, user.home_venue, now, by, MembershipChange.RE_ENABLED)
    audit.record("user.enabled" if active else "user.disabled", f"user:{user.username}", actor=by)
    db.session.commit()


def describe_account(user: User) -> dict:
    """The account form's fields as labelled words, for the audit of an edit."""
    venues = user.coordinated_venues if user.role is Role.COORDINATOR else [user.home_venue] if user.home_venue else []
    return {"name": (_l("Name"), user.name), "role": (_l("Role"), ROLE_NAMES[user.role.value]),
            "venues": (_l("Venues"), [v.name for v in venues])}


def _access(user: User) -> tuple:
    return user.role, user.home_venue.id if user.home_venue else None, sorted(v.id for v in user.coordinated_venues)


def update_account(user: User, by: User, *, name: str, role: Role, venues: list[Venue],
                   effective_at: datetime | None = None, reason: str = "") -> None:
    """Change an account's name, role and venues; a role or venue change is audited with before and after.

    A new home venue is a transfer from `effective_at` (default: now): lectures before it keep the old venue.
    """
    if not name.strip() or len(name) > 80:
        raise AccountError(_("A name needs 1 to 80 characters."))
    if role is Role.COORDINATOR and not venues:
        raise AccountError(_("A coordinator needs at least one venue."))
    if role is Role.MEMBER and len(venues) != 1:
        raise AccountError(_("A member belongs to exactly one venue."))
    if user.id == by.id and role is not Role.ADMIN:
        raise AccountError(_("You cannot take the admin role from yourself."))
    before, access_before = describe_account(user), _access(user)
    user.name = name.strip()
    user.role = role
    _move_home(user, venues[0] if venues else None, effective_at or utcnow(), by, reason)
    user.coordinated_venues = list(venues) if role is Role.COORDINATOR else []
    record_changes("user.role_changed" if _access(user) != access_before else "user.updated",
                   f"user:{user.username}", before, describe_account(user), actor=by)
    db.session.commit()


# --- dated membership ----------------------------------------------------------------------------------

def current_membership(member: User) -> Membership | None:
    """The member's open membership (no end yet; it may begin in the future after a dated transfer)."""
    return db.session.scalar(sa.select(Membership).where(Membership.user_id == member.id,
                                                         Membership.ends_at.is_(None)))


def start_membership(member: User, venue: Venue, at: datetime, by: User | None, how: MembershipChange,
                     reason: str = "") -> Membership:
    """Open a membership of `venue` from `at` (flushed, not committed); the member must have none open."""
    membership = Membership(user=member, venue=venue, starts_at=at, began_how=how, began_by=by, reason=reason)
    member.home_venue = venue
    db.session.add(membership)
    db.session.flush()
    return membership


def end_membership(member: User, at: datetime, by: User | None, kind: MembershipChange) -> None:
    """End the member's open membership at `at` (left or disabled); lectures from then on no longer expect them.

    Nothing happens when no membership is open. Ending before the membership began would rewrite
    lectures it already covered, so it is refused.
    """
    membership = current_membership(member)
    if membership is None:
        return
    if at < membership.starts_at:
        raise AccountError(_("The date cannot be before the membership began (%(date)s).",
                             date=_local_text(membership.starts_at)))
    membership.ends_at, membership.ended_how, membership.ended_by = at, kind, by
    audit.record("user.membership_ended", f"user:{member.username}", actor=by, venue=membership.venue.code,
                 how=kind.value, at=at.isoformat())
    db.session.flush()


def transfer_member(member: User, venue: Venue, effective_at: datetime, by: User | None, reason: str = "") -> None:
    """组织关系转接: the member belongs to `venue` from `effective_at` (past or future); lectures that start
    before it keep the old venue. Flushes; the caller commits."""
    membership = current_membership(member)
    if membership is not None and membership.venue_id == venue.id:
        return
    if membership is not None and effective_at < membership.starts_at:
        raise AccountError(_("The transfer cannot take effect before the current membership began (%(date)s).",
                             date=_local_text(membership.starts_at)))
    old_code = membership.venue.code if membership is not None else ""
    if membership is not None and effective_at == membership.starts_at:
        # The old period never covered a moment, so the open one simply names the new venue.
        db.session.delete(membership)
        db.session.flush()
        membership = None
        how = MembershipChange.TRANSFERRED
    elif membership is not None:
        membership.ends_at, membership.ended_how, membership.ended_by = (effective_at, MembershipChange.TRANSFERRED,
                                                                         by)
        how = MembershipChange.TRANSFERRED
    else:
        how = MembershipChange.JOINED
    start_membership(member, venue, effective_at, by, how, reason)
    audit.record("user.transferred", f"user:{member.username}", actor=by, venues=f"{old_code} → {venue.code}",
                 effective=effective_at.isoformat(), reason=reason)


def _move_home(member: User, venue: Venue | None, at: datetime, by: User | None, reason: str) -> None:
    """A changed home venue as dated membership: a transfer, or the end of membership when no venue is left."""
    if venue is None:
        end_membership(member, at, by, MembershipChange.LEFT)
        member.home_venue = None
    elif not member.active:
        member.home_venue = venue  # a disabled account belongs nowhere; re-enabling opens its membership here
    elif member.home_venue_id != venue.id:
        transfer_member(member, venue, at, by, reason)


def _local_text(moment: datetime) -> str:
    return to_local(moment).strftime("%Y-%m-%d %H:%M")


def memberships_of(member: User) -> list[Membership]:
    """The member's membership periods, oldest first, with venues and who made each change."""
    return list(db.session.scalars(
        sa.select(Membership).where(Membership.user_id == member.id)
        .options(selectinload(Membership.venue), selectinload(Membership.began_by), selectinload(Membership.ended_by))
        .order_by(Membership.starts_at, Membership.id)))


def set_venue_coordinators(venue: Venue, keep_ids: set[int], add: str, by: User) -> tuple[list[User], list[User]]:
    """Set who runs `venue`: the current coordinators in `keep_ids` stay, `add` (a member number or user
    name) joins. A member who joins becomes a coordinator; one left running no venue becomes a member
    again (their own venue is unchanged). Returns (added, removed); no change writes no audit entry."""
    current = list(db.session.scalars(
        sa.select(User).join(coordinator_venue, coordinator_venue.c.user_id == User.id)
        .where(coordinator_venue.c.venue_id == venue.id).order_by(User.username)))
    added: list[User] = []
    if add.strip():
        user = find_member(add) or _account_named(add)
        if user is None or not user.active:
            raise AccountError(_("No active account has the number or user name %(name)s.", name=add.strip()))
        if user.is_admin:
            raise AccountError(_("%(name)s is an admin and runs every venue already.", name=user.name))
        if all(u.id != user.id for u in current):
            added.append(user)
    removed = [u for u in current if u.id not in keep_ids]
    for user in removed:
        user.coordinated_venues = [v for v in user.coordinated_venues if v.id != venue.id]
        if not user.coordinated_venues:
            user.role = Role.MEMBER
    for user in added:
        if user.role is not Role.COORDINATOR:
            user.role = Role.COORDINATOR
            user.coordinated_venues = []
        user.coordinated_venues = [*user.coordinated_venues, venue]
        user.home_venue = user.home_venue or venue
    if added or removed:
        audit.record("venue.coordinators_changed", f"venue:{venue.code}", actor=by,
                     added=[f"{u.name} ({u.username})" for u in added],
                     removed=[f"{u.name} ({u.username})" for u in removed])
    return added, removed


# --- member numbers ----------------------------------------------------------------------------------

def normalise_member_no(text: str | None) -> str:
    """A member number as stored: full-width characters made ordinary (Ｍ００２４ → M0024) and trimmed.

    Case is kept as the organisation writes it; every lookup compares without regard to case
    (`member_key`), and the database keeps numbers unique without regard to case too.
    """
    return unicodedata.normalize("NFKC", text or "").strip()


def member_key(text: str | None) -> str:
    """The form in which member numbers are compared: normalised and lower-case."""
    return normalise_member_no(text).lower()


def find_member(text: str, active_only: bool = True) -> User | None:
    """The account with this member number, typed in any case (the desk, paper sheets, kiosks)."""
    query = sa.select(User).where(sa.func.lower(User.member_no) == member_key(text))
    if active_only:
        query = query.where(User.active.is_(True))
    return db.session.scalar(query)


def members_by_key(numbers: list[str], active_only: bool = True) -> dict[str, User]:
    """Accounts for many member numbers at once, keyed by `member_key`; one query per 500 numbers."""
    keys = sorted({member_key(n) for n in numbers if n})
    found: dict[str, User] = {}
    for start in range(0, len(keys), 500):
        query = (sa.select(User).where(sa.func.lower(User.member_no).in_(keys[start:start + 500]))
                 .options(selectinload(User.home_venue), selectinload(User.coordinated_venues)))
        if active_only:
            query = query.where(User.active.is_(True))
        found.update({member_key(u.member_no): u for u in db.session.scalars(query)})
    return found


# --- roster import ---------------------------------------------------------------------------------------

@dataclass
class RosterRow:
    row: int
    name: str
    member_no: str
    venues: list[Venue]
    role: Role


def read_roster(filename: str, data: bytes) -> list[dict[str, str]]:
    """Rows of a roster file as dicts keyed by field (name, member_no, venue, role), with their row numbers.

    The header may sit below a title row and use the words organisations use (党员编号, 所在分会场, 身份, …);
    other columns are ignored and 角色 may be left out (everyone is then a 党员).
    """
    try:
        rows = read_rows(filename, data)
    except TableError as exc:
        raise RosterError([str(exc)]) from exc
    if not rows:
        raise RosterError([_("The file is empty.")])
    found = find_header(rows, HEADER_WORDS, {"name", "member_no", "venue"})
    if found is None:
        raise RosterError([_("Row 1: no header row names the columns 姓名, 编号 (or 党员编号) and 分会场 "
                             "(or 所在分会场).")])
    header_index, columns = found
    records = []
    for number, cells in enumerate(rows[header_index + 1:], start=header_index + 2):
        values = {field: cell_text(cells, column) for field, column in columns.items()}
        if any(values.values()):
            values["_row"] = str(number)
            records.append(values)
    return records


def validate_roster(records: list[dict[str, str]]) -> tuple[list[RosterRow], list[str]]:
    """Check every row; the good rows, and a message for every problem with its row number."""
    venues = venues_by_label()
    problems: list[str] = []
    result: list[RosterRow] = []
    seen: dict[str, str] = {}
    for record in records:
        row = record["_row"]
        name = record.get("name", "").strip()
        member_no = normalise_member_no(record.get("member_no", ""))
        role_word = record.get("role", "").strip().lower()
        row_problems = []
        if not name or len(name) > 80 or unstorable_character(name):
            row_problems.append(_("Row %(row)s: 姓名 needs 1 to 80 characters.", row=row))
        if not member_no or not USERNAME_RE.match(member_no) or len(member_no) > 32:
            row_problems.append(_("Row %(row)s: 编号 needs 1 to 32 letters or digits.", row=row))
        elif member_no.lower() in seen:
            row_problems.append(_("Row %(row)s: 编号 %(no)s already appears in row %(first)s.", row=row,
                                  no=member_no, first=seen[member_no.lower()]))
        else:
            seen[member_no.lower()] = row
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
            elif venue.retired:
                row_problems.append(_("Row %(row)s: 分会场 “%(venue)s” is retired.", row=row, venue=label))
        if role is Role.MEMBER and len(labels) > 1:
            row_problems.append(_("Row %(row)s: a member belongs to one venue.", row=row))
        if row_problems:
            problems.extend(row_problems)
        else:
            result.append(RosterRow(int(row), name, member_no, row_venues, role))
    return result, problems


@dataclass
class RosterChange:
    """An existing account whose row in the file says something else."""

    row: RosterRow
    user: User
    name: tuple[str, str] | None = None  # old → new: a different person's name on this number is a conflict
    role: tuple[Role, Role] | None = None
    venues: tuple[list[Venue], list[Venue]] | None = None  # the venues a coordinator runs
    transfer: tuple[Venue | None, Venue] | None = None  # home venue old → new: a dated transfer
    rejoins: bool = False  # the account had left (disabled) and is back on the roster

    @property
    def conflict(self) -> bool:
        return self.name is not None


@dataclass
class RosterPlan:
    """Exactly what importing a roster file would change; built without writing anything."""

    filename: str
    new: list[RosterRow] = field(default_factory=list)
    changes: list[RosterChange] = field(default_factory=list)
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)
    missing: list[User] = field(default_factory=list)  # on no row of the file: may be marked as left

    @property
    def conflicts(self) -> list[RosterChange]:
        return [c for c in self.changes if c.conflict]

    @property
    def transfers(self) -> list[RosterChange]:
        return [c for c in self.changes if c.transfer]

    @property
    def digest(self) -> str:
        """A fingerprint of the plan: confirming refuses when the data changed since the preview."""
        parts = [f"n{r.member_no}" for r in self.new]
        for change in self.changes:
            parts.append(f"c{change.user.id}:{change.name}:{change.role}:{change.transfer and change.transfer[1].id}:"
                         f"{change.venues and [v.id for v in change.venues[1]]}:{change.rejoins}")
        parts += [f"m{u.id}" for u in self.missing]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def plan_roster(filename: str, data: bytes) -> RosterPlan:
    """Read and check a roster file and compare it with the accounts; nothing is written.

    Raises RosterError when the file itself cannot be read; row problems are kept in the plan.
    """
    rows, problems = validate_roster(read_roster(filename, data))
    plan = RosterPlan(filename=filename, problems=problems)
    existing = members_by_key([r.member_no for r in rows], active_only=False)
    taken_usernames = {name.lower() for name in db.session.scalars(
        sa.select(User.username).where(sa.func.lower(User.username).in_([r.member_no.lower() for r in rows])))} \
        if rows else set()
    for row in rows:
        user = existing.get(row.member_no.lower())
        if user is None:
            if row.member_no.lower() in taken_usernames:
                plan.problems.append(_("Row %(row)s: the user name %(name)s is taken by another account.",
                                       row=row.row, name=row.member_no))
            else:
                plan.new.append(row)
            continue
        change = _compare(row, user)
        if change is None:
            plan.unchanged += 1
        else:
            plan.changes.append(change)
    listed = {u.id for u in existing.values()}
    plan.missing = list(db.session.scalars(
        sa.select(User).where(User.member_no.is_not(None), User.active.is_(True), User.role != Role.ADMIN)
        .order_by(User.member_no)))
    plan.missing = [u for u in plan.missing if u.id not in listed]
    return plan


def _compare(row: RosterRow, user: User) -> RosterChange | None:
    change = RosterChange(row, user)
    if user.name != row.name:
        change.name = (user.name, row.name)
    if user.role is not row.role:
        change.role = (user.role, row.role)
    new_home = row.venues[0] if row.venues else None
    if new_home is not None and user.home_venue_id != new_home.id:
        change.transfer = (user.home_venue, new_home)
    old_runs = list(user.coordinated_venues)
    new_runs = list(row.venues) if row.role is Role.COORDINATOR else []
    if {v.id for v in old_runs} != {v.id for v in new_runs}:
        change.venues = (old_runs, new_runs)
    change.rejoins = not user.active
    if not (change.name or change.role or change.transfer or change.venues or change.rejoins):
        return None
    return change


@dataclass
class RosterOutcome:
    created: list[str]  # member numbers of the new accounts
    updated: list[User]
    skipped: list[RosterChange]
    left: list[User]
    initial_password: str | None  # the one password every new account starts with (None: no new accounts)


NAME_CHOICES = ("update", "skip")


def apply_roster_plan(plan: RosterPlan, *, by: User | None, effective_at: datetime,
                      name_choices: dict[int, str] | None = None, leaving: set[int] | None = None,
                      password: str | None = None, progress=None, now: datetime | None = None) -> RosterOutcome:
    """Apply a previewed plan in the caller's transaction (flushed, not committed): all of it or, on a
    problem, nothing (RosterError).

    A conflict row (its number belongs to someone of another name) needs a choice in `name_choices`
    (row → "update" or "skip"). `leaving` holds the ids of missing members the admin ticked as left.
    New accounts share one initial password (the given one or one generated), hashed once: scrypt
    takes a tenth of a second a hash, half an hour for 20,000 members; everyone must choose their own
    at the first sign-in. `progress(n)` is called as rows are applied.
    """
    name_choices = name_choices or {}
    leaving = leaving or set()
    if plan.problems:
        raise RosterError(plan.problems)
    undecided = [c.row.row for c in plan.conflicts if name_choices.get(c.row.row) not in NAME_CHOICES]
    if undecided:
        raise RosterError([_("Row %(row)s: 编号 %(no)s belongs to %(old)s, not %(new)s; choose whether to update "
                             "the name or skip the row.", row=c.row.row, no=c.row.member_no, old=c.name[0],
                             new=c.name[1]) for c in plan.conflicts if c.row.row in undecided])
    missing_ids = {u.id for u in plan.missing}
    if not leaving <= missing_ids:
        raise RosterError([_("Only members missing from the file can be marked as left.")])
    if password is not None:
        problem = check_password_policy(password)
        if problem:
            raise RosterError([problem])
    outcome = RosterOutcome([], [], [], [], None)
    problems: list[str] = []
    lines: list[str] = []
    reason = _("Roster import: %(file)s", file=plan.filename)
    roles = {role: role_label(role) for role in Role}
    # Translated once: a 20,000-row import would otherwise spend seconds looking up the same message.
    new_line = _("row %(row)s: new %(no)s %(name)s, %(role)s, %(venues)s")
    if plan.new:
        outcome.initial_password = password or generate_password()
        shared_hash = hash_password(outcome.initial_password)
    now = now or utcnow()
    for start in range(0, len(plan.new), 500):
        chunk = plan.new[start:start + 500]
        # One INSERT a chunk rather than an ORM object a member: 20,000 members in seconds, not a minute.
        db.session.execute(sa.insert(User), [
            dict(username=row.member_no, member_no=row.member_no, name=row.name, role=row.role,
                 home_venue_id=row.venues[0].id if row.venues else None, must_change_password=True,
                 password_hash=shared_hash, active=True, created_at=now) for row in chunk])
        for row in chunk:
            outcome.created.append(row.member_no)
            lines.append(new_line % dict(row=row.row, no=row.member_no, name=row.name, role=roles[row.role],
                                         venues="、".join(v.name for v in row.venues)))
        if progress:
            progress(len(chunk))
    # New members belong to their venue from now: lectures already held never expected them, whatever date
    # the admin chose for transfers.
    placed = {row.member_no: row.venues[0].id for row in plan.new if row.venues}
    if placed:
        new_ids = dict(db.session.execute(sa.select(User.username, User.id).where(User.username.in_(placed))).all())
        db.session.execute(sa.insert(Membership), [
            dict(user_id=new_ids[number], venue_id=venue_id, starts_at=now, began_how=MembershipChange.IMPORTED,
                 began_by_id=by.id if by else None, reason=reason) for number, venue_id in placed.items()])
    coordinators = {row.member_no: row.venues for row in plan.new if row.role is Role.COORDINATOR}
    if coordinators:
        ids = dict(db.session.execute(sa.select(User.username, User.id).where(User.username.in_(coordinators))).all())
        db.session.execute(sa.insert(coordinator_venue), [
            {"user_id": ids[number], "venue_id": venue.id} for number, venues in coordinators.items()
            for venue in venues])
    for change in plan.changes:
        if change.conflict and name_choices[change.row.row] == "skip":
            outcome.skipped.append(change)
            lines.append(_("row %(row)s: skipped (%(no)s is %(old)s, the file says %(new)s)", row=change.row.row,
                           no=change.row.member_no, old=change.name[0], new=change.name[1]))
            continue
        user = change.user
        lines.append(_("row %(row)s: %(no)s %(changes)s", row=change.row.row, no=user.member_no,
                       changes="; ".join(describe_change(change))))
        user.name = change.row.name
        user.role = change.row.role
        if change.venues:
            user.coordinated_venues = list(change.venues[1])
        if change.rejoins:
            user.active = True
        if change.transfer:
            try:
                transfer_member(user, change.transfer[1], effective_at, by, reason=reason)
            except AccountError as exc:
                problems.append(_("Row %(row)s: %(problem)s", row=change.row.row, problem=str(exc)))
        elif change.rejoins and user.home_venue is not None and current_membership(user) is None:
            start_membership(user, user.home_venue, max(effective_at, now), by, MembershipChange.RE_ENABLED, reason)
        outcome.updated.append(user)
    if progress and plan.changes:
        progress(len(plan.changes))
    for user in plan.missing:
        if user.id in leaving:
            # Left: lectures from the date on no longer expect them, and the account no longer signs in;
            # their history stays.
            try:
                end_membership(user, effective_at, by, MembershipChange.LEFT)
            except AccountError as exc:
                problems.append(f"{user.member_no} {user.name}: {exc}")
            user.active = False
            _end_sessions(user)
            outcome.left.append(user)
            lines.append(_("%(no)s %(name)s: left the organisation", no=user.member_no, name=user.name))
    if problems:
        raise RosterError(problems)
    db.session.flush()
    audit.record("roster.imported", "", actor=by, file=plan.filename, created=len(outcome.created),
                 updated=len(outcome.updated), left=len(outcome.left), skipped=len(outcome.skipped),
                 effective=effective_at.isoformat(), changes=lines)
    return outcome


def describe_change(change: RosterChange) -> list[str]:
    """The change in words, old → new, for the preview and the audit log."""
    parts = []
    if change.name:
        parts.append(_("name %(old)s → %(new)s", old=change.name[0], new=change.name[1]))
    if change.role:
        parts.append(_("role %(old)s → %(new)s", old=role_label(change.role[0]), new=role_label(change.role[1])))
    if change.transfer:
        parts.append(_("venue %(old)s → %(new)s", old=change.transfer[0].name if change.transfer[0] else "—",
                       new=change.transfer[1].name))
    if change.venues:
        parts.append(_("runs %(old)s → %(new)s", old="、".join(v.name for v in change.venues[0]) or "—",
                       new="、".join(v.name for v in change.venues[1]) or "—"))
    if change.rejoins:
        parts.append(_("back on the roster (account enabled)"))
    return parts


def import_roster(filename: str, data: bytes, password: str | None = None, by: User | None = None,
                  name_choices: dict[int, str] | None = None, effective_at: datetime | None = None,
                  now: datetime | None = None) -> RosterOutcome:
    """Read, check and apply a roster file in one go and commit; on any problem nothing is written."""
    plan = plan_roster(filename, data)
    try:
        outcome = apply_roster_plan(plan, by=by, effective_at=effective_at or now or utcnow(), name_choices=name_choices, now=now,
                                    password=password)
    except RosterError:
        db.session.rollback()
        raise
    db.session.commit()
    return outcome
