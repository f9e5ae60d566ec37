"""Lecture tallies: each finished lecture's figures per venue, and members' study hours per year from those
lectures, kept up to date at every commit.

Reports over many lectures (the organisation overview: 25 venues × 50 lectures, 250,000 records) read these
rows instead of counting every record again. A tally is exactly what `count_lectures` counts from the records
and memberships, written in the same transaction as the change it follows, so it can never say something the
records do not:

- any change to a lecture's attendance records, venue links, time or archive flag marks the lecture;
- a membership begun, ended or moved marks every tallied lecture from the earliest moment it changed;
- at commit, each marked lecture's rows are deleted and, if its check-in window has closed, counted again.

A lecture whose window is still open has no tally (the check-in burst would otherwise recount it at every
check-in), and neither has a lecture that closed with nothing changed since: readers count those from
the records (`tallied_or_counted`). Time only closes windows, never reopens them, so an open lecture has no
stale rows; `flask attendance tally` fills the tallies of closed lectures after an upgrade.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from decimal import Decimal

import click
import sqlalchemy as sa
from flask.cli import AppGroup
from sqlalchemy import event
from sqlalchemy.orm import Session

from lecturehub.accounts.models import Membership
from lecturehub.core.timeutil import local_zone, to_local, utcnow
from lecturehub.core.transaction import in_transaction
from lecturehub.courses.models import Lecture, LectureVenue
from lecturehub.extensions import db

from .checkin import Phase, window_of
from .models import TALLY_LECTURES, TALLY_MARKS, AttendanceRecord, LectureTally, MemberHours, Status
from .roster import expected_memberships

FIGURES = ("expected", "present", "late", "excused", "absent", "made_up")
_MEMBERSHIPS_SINCE = "attendance_tally_memberships_since"
_MOVED = "attendance_tally_moved_lectures"
# Changing these moves who a lecture expected, when its window closes or the hours it earns.
_LECTURE_FIELDS = ("starts_at", "ends_at", "archive", "study_hours", "checkin_opens_minutes",
                   "checkin_grace_minutes", "checkin_closes_minutes")


def count_lectures(lecture_ids: Iterable[int]) -> dict[tuple[int, int], dict[str, int]]:
    """(lecture_id, venue_id) -> expected and recorded counts, for every venue of these lectures; three queries.

    Records count at the venue where the lecture expected the member; records of members it did not expect
    (visitors with no membership then) are left out, as every report leaves them out.
    """
    lecture_ids = list(lecture_ids)
    cells = {(lecture_id, venue_id): dict.fromkeys(FIGURES, 0) for lecture_id, venue_id in db.session.execute(
        sa.select(LectureVenue.lecture_id, LectureVenue.venue_id).where(LectureVenue.lecture_id.in_(lecture_ids)))}
    expected_then = expected_memberships().where(Lecture.id.in_(lecture_ids)).subquery()
    for lecture_id, venue_id, count in db.session.execute(
            sa.select(expected_then.c.lecture_id, expected_then.c.venue_id, sa.func.count())
            .group_by(expected_then.c.lecture_id, expected_then.c.venue_id)):
        if (lecture_id, venue_id) in cells:
            cells[lecture_id, venue_id]["expected"] = count
    for lecture_id, venue_id, status, count, made_up in db.session.execute(
            sa.select(AttendanceRecord.lecture_id, expected_then.c.venue_id, AttendanceRecord.status,
                      sa.func.count(AttendanceRecord.id), sa.func.count(AttendanceRecord.made_up_at))
            .join(expected_then, sa.and_(expected_then.c.lecture_id == AttendanceRecord.lecture_id,
                                         expected_then.c.user_id == AttendanceRecord.user_id))
            .group_by(AttendanceRecord.lecture_id, expected_then.c.venue_id, AttendanceRecord.status)):
        cell = cells.get((lecture_id, venue_id))
        if cell is not None:
            cell[status.value] += count
            cell["made_up"] += made_up
    return cells


def tallied_or_counted(lecture_ids: Iterable[int]) -> dict[tuple[int, int], dict[str, int]]:
    """`count_lectures` for these lectures, read from their tallies where they have one; four queries."""
    lecture_ids = list(lecture_ids)
    cells = {(row.lecture_id, row.venue_id): {name: getattr(row, name) for name in FIGURES}
             for row in db.session.execute(sa.select(LectureTally).where(LectureTally.lecture_id.in_(lecture_ids))
                                           .with_only_columns(*LectureTally.__table__.columns))}
    tallied = {lecture_id for lecture_id, _venue_id in cells}
    cells.update(count_lectures(lecture_id for lecture_id in lecture_ids if lecture_id not in tallied))
    return cells


def refresh(session: Session, lecture_ids: Iterable[int], moved: Iterable[int] = (),
            members: dict[int, set[int]] | None = None, memberships_since: datetime | None = None,
            now: datetime | None = None) -> int:
    """Delete these lectures' tallies and write them again for those whose window has closed, then the study hours
    of the members concerned; how many lectures were tallied.

    A lecture whose window is open has no tally, unless it was `moved` (its time, window or hours edited)
    since it was tallied: only then are its rows deleted, so that a check-in costs no statement here.
    `members` names, per lecture, the members whose records changed: only their hours are added up again,
    unless the lecture is tallied for the first time, moved, or leaves the tallies (then all its members').
    `memberships_since`: memberships changed from that moment, so every tallied lecture after it is recounted.
    """
    lecture_ids, moved, members = set(lecture_ids), set(moved), members or {}
    now = now or utcnow()
    # By primary key: a check-in's lecture is still in the session (held by mark_for_tally), so the check-in
    # burst, whose lectures are all open, leaves here without a statement.
    known = [lecture for lecture in (session.get(Lecture, lecture_id) for lecture_id in lecture_ids | moved)
             if lecture is not None]
    if not moved and memberships_since is None and not any(_closed(lecture, now) for lecture in known):
        return 0
    _one_recount_at_a_time(session)
    if memberships_since is not None:
        lecture_ids |= set(session.scalars(sa.select(LectureTally.lecture_id).distinct()
                                           .join(Lecture, Lecture.id == LectureTally.lecture_id)
                                           .where(Lecture.starts_at >= memberships_since)))
    # Read again after the lock: another transaction may have moved a lecture since this one loaded it.
    lectures = session.scalars(sa.select(Lecture).where(Lecture.id.in_(lecture_ids | moved))
                               .execution_options(populate_existing=True)).all()
    closed = sorted(lec.id for lec in lectures if _closed(lec, now))
    stale = sorted(set(closed) | moved)
    tallied_before = set(session.scalars(sa.select(LectureTally.lecture_id).distinct()
                                         .where(LectureTally.lecture_id.in_(stale))))
    session.execute(sa.delete(LectureTally).where(LectureTally.lecture_id.in_(stale)))
    cells = count_lectures(closed)
    if cells:
        session.execute(sa.insert(LectureTally), [
            {"lecture_id": lecture_id, "venue_id": venue_id, **figures}
            for (lecture_id, venue_id), figures in sorted(cells.items())])
    tallied_now = {lecture_id for lecture_id, _venue_id in cells}
    whole = (tallied_now ^ tallied_before) | (moved & (tallied_now | tallied_before))
    concerned = set(session.scalars(sa.select(AttendanceRecord.user_id).distinct()
                                    .where(AttendanceRecord.lecture_id.in_(whole)))) if whole else set()
    for lecture_id in tallied_now - whole:
        concerned |= members.get(lecture_id, set())
    add_up_hours(session, concerned)
    return len(closed)


def _closed(lecture: Lecture, now: datetime) -> bool:
    return not lecture.archive and window_of(lecture).phase(now) is Phase.CLOSED


# Any number; it names the lock that recounts take in turn on PostgreSQL.
_RECOUNT_LOCK = 4_210_627


def _one_recount_at_a_time(session: Session) -> None:
    """Recounts run one after another (PostgreSQL; SQLite writes one at a time anyway): a transaction that
    recounts after another waits for its commit and, in READ COMMITTED, then counts with its changes, so
    neither leaves a tally or a member's hours counted from what the other had not yet committed. Only
    changes to finished lectures and memberships wait here, never a check-in on an open lecture."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_RECOUNT_LOCK)))


HOURS_BATCH = 5000  # members per statement: SQLite takes at most 32,766 parameters


def add_up_hours(session: Session, user_ids: Iterable[int]) -> None:
    """Write these members' study hours per year again, from every lecture that has a tally."""
    user_ids = sorted(set(user_ids))
    if not user_ids:
        return
    tallied = sa.exists().where(LectureTally.lecture_id == AttendanceRecord.lecture_id)
    first, last = session.execute(sa.select(sa.func.min(Lecture.starts_at), sa.func.max(Lecture.starts_at))
                                  .where(sa.exists().where(LectureTally.lecture_id == Lecture.id))).one()
    zone = local_zone()
    years = range(to_local(first).year, to_local(last).year + 1) if first is not None else range(0)
    # The year in the organisation's zone, as the reports count it: one bound per year, not per lecture.
    year = sa.case(*[(Lecture.starts_at >= datetime(y, 1, 1, tzinfo=zone).astimezone(timezone.utc), y)
                     for y in reversed(years)], else_=years[0]) if years else sa.literal(0)
    hours = Lecture.study_hours
    made_up = AttendanceRecord.made_up_at.is_not(None)
    for start in range(0, len(user_ids), HOURS_BATCH):
        batch = user_ids[start:start + HOURS_BATCH]
        session.execute(sa.delete(MemberHours).where(MemberHours.user_id.in_(batch)))
        rows = session.execute(
            sa.select(AttendanceRecord.user_id, year,
                      sa.func.sum(sa.case((sa.or_(AttendanceRecord.status == Status.PRESENT, made_up), hours),
                                          else_=0)),
                      sa.func.sum(sa.case((sa.and_(AttendanceRecord.status == Status.LATE, ~made_up), hours),
                                          else_=0)))
            .join(Lecture, Lecture.id == AttendanceRecord.lecture_id)
            .where(AttendanceRecord.user_id.in_(batch), tallied)
            .group_by(AttendanceRecord.user_id, year)).all()
        if rows:
            session.execute(sa.insert(MemberHours), [
                {"user_id": user_id, "year": year_value, "credited": Decimal(credited or 0),
                 "late": Decimal(late or 0)} for user_id, year_value, credited, late in rows])


def _changed(instance, names: Iterable[str]) -> bool:
    state = sa.inspect(instance)
    return any(state.attrs[name].history.has_changes() for name in names)


def _membership_moments(instance) -> list[datetime]:
    state = sa.inspect(instance)
    moments = []
    for name in ("starts_at", "ends_at"):
        history = state.attrs[name].history
        moments += [value for value in (*history.added, *history.deleted, *history.unchanged) if value is not None]
    return moments


def _note_changes(session: Session, _flush_context) -> None:
    """After each flush (the lists still hold what it wrote): which lectures' tallies it may have changed."""
    marked = session.info.setdefault(TALLY_MARKS, {})
    moments = []
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, AttendanceRecord):
            marked.setdefault(instance.lecture_id, set()).add(instance.user_id)
        elif isinstance(instance, LectureVenue):
            marked.setdefault(instance.lecture_id, set())
        elif isinstance(instance, Lecture) and instance not in session.new and _changed(instance, _LECTURE_FIELDS):
            session.info.setdefault(_MOVED, set()).add(instance.id)
        elif isinstance(instance, Membership) and (instance in session.new or instance in session.deleted
                                                   or _changed(instance, ("starts_at", "ends_at", "venue_id"))):
            moments += _membership_moments(instance)
    if moments:
        earliest = min(moments)
        since = session.info.get(_MEMBERSHIPS_SINCE)
        session.info[_MEMBERSHIPS_SINCE] = earliest if since is None else min(since, earliest)


def _recount_before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outermost commit recounts everything
    session.flush()  # the last changes are noted too
    marked = session.info.pop(TALLY_MARKS, {})
    refresh(session, set(marked), session.info.pop(_MOVED, set()), marked,
            memberships_since=session.info.pop(_MEMBERSHIPS_SINCE, None))
    session.info.pop(TALLY_LECTURES, None)


def _forget(session: Session, transaction) -> None:
    # Only when the whole transaction ends: a savepoint rolled back leaves the marks of what came before it
    # (a mark too many costs a recount; one too few would leave a tally behind its records).
    if transaction.parent is None:
        for key in (TALLY_MARKS, TALLY_LECTURES, _MEMBERSHIPS_SINCE, _MOVED):
            session.info.pop(key, None)


def keep_tallies() -> None:
    """Keep every lecture's tally in step with its records at each commit (registered once, at app creation)."""
    for name, listener in (("after_flush", _note_changes), ("before_commit", _recount_before_commit),
                           ("after_transaction_end", _forget)):
        if not event.contains(db.session, name, listener):
            event.listen(db.session, name, listener)


tally_cli = AppGroup("attendance", help="Attendance bookkeeping.")


@tally_cli.command("tally")
@click.option("--all", "everything", is_flag=True, help="Count every closed lecture again, not only those without.")
@in_transaction
def tally_command(everything: bool) -> None:
    """Write the tallies of closed lectures that have none (after an upgrade, or a bulk load)."""
    query = sa.select(Lecture.id)
    if not everything:
        query = query.where(~sa.exists().where(LectureTally.lecture_id == Lecture.id))
    lecture_ids = db.session.scalars(query).all()
    # --all also adds up every member's hours again (after records were loaded in bulk).
    written = refresh(db.session, lecture_ids, moved=lecture_ids if everything else ())
    click.echo(f"{written} lectures tallied.")
