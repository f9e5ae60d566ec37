"""The roster import: read a spreadsheet, preview every change, then apply all of it or nothing."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from lecturehub.audit import services as audit
from lecturehub.core.forms import unstorable_character
from lecturehub.core.spreadsheets import TableError, cell_text, find_header, read_rows
from lecturehub.core.timeutil import utcnow
from lecturehub.core.transaction import savepoint
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from .common import (
    HEADER_WORDS,
    ROLE_WORDS,
    USERNAME_RE,
    VENUE_SEPARATORS,
    AccountError,
    RosterError,
    check_password_policy,
    generate_password,
    role_label,
    venues_by_label,
)
from .member_numbers import members_by_key, normalise_member_no
from .models import (
    Membership,
    MembershipChange,
    Role,
    User,
    coordinator_venue,
    hash_password,
)
from .sessions import _end_sessions
from .venue_membership import current_membership, end_membership, start_membership, transfer_member

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
    _check_roster_choices(plan, name_choices, leaving, password)
    outcome = RosterOutcome([], [], [], [], None)
    problems: list[str] = []
    lines: list[str] = []
    reason = _("Roster import: %(file)s", file=plan.filename)
    now = now or utcnow()
    if plan.new:
        outcome.initial_password = password or generate_password()
        _create_members(plan, hash_password(outcome.initial_password), by=by, now=now, reason=reason,
                        outcome=outcome, lines=lines, progress=progress)
    for change in plan.changes:
        _apply_roster_change(change, name_choices, by=by, effective_at=effective_at, now=now, reason=reason,
                             outcome=outcome, lines=lines, problems=problems)
    if progress and plan.changes:
        progress(len(plan.changes))
    for user in plan.missing:
        if user.id in leaving:
            _mark_left(user, by=by, effective_at=effective_at, outcome=outcome, lines=lines, problems=problems)
    if problems:
        raise RosterError(problems)
    db.session.flush()
    audit.record("roster.imported", "", actor=by, file=plan.filename, created=len(outcome.created),
                 updated=len(outcome.updated), left=len(outcome.left), skipped=len(outcome.skipped),
                 effective=effective_at.isoformat(), changes=lines)
    return outcome


def _check_roster_choices(plan: RosterPlan, name_choices: dict[int, str], leaving: set[int],
                          password: str | None) -> None:
    """Refuse (RosterError) a plan with problems, an undecided name conflict, a wrong leaver or a weak password."""
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


def _create_members(plan: RosterPlan, shared_hash: str, *, by: User | None, now: datetime, reason: str,
                    outcome: RosterOutcome, lines: list[str], progress) -> None:
    """Insert the plan's new members, their first membership and the coordinators' venues, in chunks."""
    roles = {role: role_label(role) for role in Role}
    # Translated once: a 20,000-row import would otherwise spend seconds looking up the same message.
    new_line = _("row %(row)s: new %(no)s %(name)s, %(role)s, %(venues)s")
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


def _apply_roster_change(change: RosterChange, name_choices: dict[int, str], *, by: User | None,
                         effective_at: datetime, now: datetime, reason: str, outcome: RosterOutcome,
                         lines: list[str], problems: list[str]) -> None:
    """Bring one existing member in line with their row (or skip it, as the admin chose for a name conflict)."""
    if change.conflict and name_choices[change.row.row] == "skip":
        outcome.skipped.append(change)
        lines.append(_("row %(row)s: skipped (%(no)s is %(old)s, the file says %(new)s)", row=change.row.row,
                       no=change.row.member_no, old=change.name[0], new=change.name[1]))
        return
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


def _mark_left(user: User, *, by: User | None, effective_at: datetime, outcome: RosterOutcome, lines: list[str],
               problems: list[str]) -> None:
    """Left: lectures from the date on no longer expect them, and the account no longer signs in; their history
    stays."""
    try:
        end_membership(user, effective_at, by, MembershipChange.LEFT)
    except AccountError as exc:
        problems.append(f"{user.member_no} {user.name}: {exc}")
    user.active = False
    _end_sessions(user)
    outcome.left.append(user)
    lines.append(_("%(no)s %(name)s: left the organisation", no=user.member_no, name=user.name))


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
    # A savepoint: on any problem the roster's writes are undone, and nothing else of the caller's.
    with savepoint():
        outcome = apply_roster_plan(plan, by=by, effective_at=effective_at or now or utcnow(), name_choices=name_choices, now=now,
                                    password=password)
    return outcome
