"""Report queries. Each function runs a fixed number of SQL statements, whatever the data size:
members, records and scores are fetched in grouped or joined queries, then combined in Python.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from decimal import Decimal
from functools import cached_property

import sqlalchemy as sa
from flask import current_app

from lecturehub.accounts.models import Membership, Role, User
from lecturehub.attendance.models import (
    AttendanceRecord,
    LeaveRequest,
    LeaveState,
    LectureTally,
    MemberHours,
    Status,
)
from lecturehub.attendance.services import (
    Phase,
    effective_status,
    expected_members_query,
    expected_memberships,
    window_of,
)
from lecturehub.attendance.tallies import tallied_or_counted
from lecturehub.core.numbers import best_percent, one_decimal, percent
from lecturehub.core.timeutil import local_zone, to_local, utcnow
from lecturehub.courses.models import Course, Lecture, LectureVenue
from lecturehub.extensions import db
from lecturehub.quizzes.models import QuizAttempt
from lecturehub.venues.models import Venue

ARRIVED = (Status.PRESENT, Status.LATE)
STATUS_KEYS = ("present", "late", "excused", "absent", "pending")


def rate(part: int, whole: int) -> float:
    return percent(part, whole) or 0.0


# Reports read only the columns they show, as rows with attribute access: loading thousands of whole ORM
# objects was most of a report's time (a lecture of 5,000 members: 0.7 s of 1.2 s).
MEMBER_COLUMNS = (User.id, User.username, User.name, User.member_no, User.role)
RECORD_COLUMNS = (AttendanceRecord.lecture_id, AttendanceRecord.user_id, AttendanceRecord.status,
                  AttendanceRecord.made_up_at, AttendanceRecord.checked_in_at, AttendanceRecord.reason)


@dataclass(slots=True)
class MemberStatus:
    user: sa.Row  # MEMBER_COLUMNS
    status: Status | None  # None: window still open and no record yet
    record: sa.Row | None  # RECORD_COLUMNS
    best_score: float | None = None

    @property
    def key(self) -> str:
        return self.status.value if self.status else "pending"

    @property
    def made_up(self) -> bool:
        return bool(self.record and self.record.made_up_at)

    @property
    def shown(self) -> str:
        """What a matrix cell says: made up wins over the status it made up for."""
        return "made_up" if self.made_up else self.key


class VenueRates(ABC):
    """The rate and quiz figures of a venue's row in a lecture report, from its counts and best scores (the same
    for a lecture counted member by member and for one read from its tally)."""

    expected: int
    best_scores: list[float]

    @abstractmethod
    def count(self, key: str) -> int:
        """How many of the venue's expected members have this status key."""

    @property
    def arrived(self) -> int:
        return self.count("present") + self.count("late")

    @property
    def rate(self) -> float:
        return rate(self.arrived, self.expected)

    @property
    def quiz_done(self) -> int:
        return len(self.best_scores)

    @property
    def quiz_average(self) -> float | None:
        scores = self.best_scores
        return one_decimal(sum(scores) / len(scores)) if scores else None


@dataclass
class VenueStats(VenueRates):
    venue: Venue
    members: list[MemberStatus] = field(default_factory=list)
    leave_reasons: list[tuple[User, str, LeaveState]] = field(default_factory=list)

    @property
    def expected(self) -> int:
        return len(self.members)

    @cached_property
    def _counts(self) -> Counter:
        # Counted once, after the report has gathered its members (pages ask for each figure several times).
        counts = Counter(m.key for m in self.members)
        counts["made_up"] = sum(1 for m in self.members if m.made_up)
        return counts

    def count(self, key: str) -> int:
        return self._counts[key]

    def names(self, key: str) -> list[MemberStatus]:
        if key == "made_up":
            return [m for m in self.members if m.made_up]
        return [m for m in self.members if m.key == key]

    @property
    def made_up(self) -> int:
        return self._counts["made_up"]

    @property
    def best_scores(self) -> list[float]:
        return [m.best_score for m in self.members if m.best_score is not None]


def lecture_venues(lecture: Lecture, venue_ids: list[int] | None) -> list[Venue]:
    """The lecture's venues, limited to `venue_ids` (None: all)."""
    query = (sa.select(Venue).join(LectureVenue, LectureVenue.venue_id == Venue.id)
             .where(LectureVenue.lecture_id == lecture.id).order_by(Venue.position))
    if venue_ids is not None:
        query = query.where(Venue.id.in_(venue_ids))
    return list(db.session.scalars(query))


def lecture_report(lecture: Lecture, venue_ids: list[int] | None, now: datetime | None = None) -> list[VenueStats]:
    """Per venue: every member the lecture expected there (by membership at its start), their status,
    leave reasons and best quiz score. Five queries."""
    now = now or utcnow()
    phase = window_of(lecture).phase(now)
    venues = lecture_venues(lecture, venue_ids)
    ids = [v.id for v in venues]
    expected = expected_members_query(lecture.id, ids)
    members = db.session.execute(expected.with_only_columns(*MEMBER_COLUMNS, Membership.venue_id)
                                 .order_by(User.member_no, User.id)).all()
    member_filter = User.id.in_(expected.with_only_columns(User.id))
    records = {r.user_id: r for r in db.session.execute(
        sa.select(*RECORD_COLUMNS).join(User, User.id == AttendanceRecord.user_id)
        .where(AttendanceRecord.lecture_id == lecture.id, member_filter))}
    leaves = list(db.session.execute(
        sa.select(LeaveRequest.user_id, LeaveRequest.reason, LeaveRequest.state)
        .join(User, User.id == LeaveRequest.user_id)
        .where(LeaveRequest.lecture_id == lecture.id, member_filter).order_by(LeaveRequest.requested_at)))
    # Each member's best attempt, from right and asked rather than the stored whole-number score, so that the
    # report rounds as every other share does (5 of 8 is 62.5%).
    attempts: dict[int, list[tuple[int, int]]] = {}
    for user_id, right, asked in db.session.execute(
            sa.select(QuizAttempt.user_id, QuizAttempt.correct_count, QuizAttempt.question_count)
            .join(User, User.id == QuizAttempt.user_id)
            .where(QuizAttempt.lecture_id == lecture.id, member_filter)):
        attempts.setdefault(user_id, []).append((right, asked))
    scores = {user_id: best_percent(results) for user_id, results in attempts.items()}
    stats = {v.id: VenueStats(v) for v in venues}
    venue_of = {}
    for member in members:
        venue_id = member.venue_id
        record = records.get(member.id)
        stats[venue_id].members.append(
            MemberStatus(member, effective_status(record, phase), record, scores.get(member.id)))
        venue_of[member.id] = (member, venue_id)
    for user_id, reason, state in leaves:
        member, venue_id = venue_of[user_id]
        stats[venue_id].leave_reasons.append((member, reason, state))
    return [stats[v.id] for v in venues]


# Members per page of a course matrix on screen (a page of 50 members × 50 lectures is 2,500 cells); exports
# have every member.
MATRIX_PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class MatrixCell:
    """What one cell of a course matrix says. Cells that say the same are one shared object: a matrix of 10,000
    cells holds a handful of kinds, and making an object per cell was a third of a large matrix's time."""

    status: Status | None  # None: window still open and no record yet
    made_up: bool
    key: str  # as MemberStatus.key
    shown: str  # as MemberStatus.shown

    @classmethod
    def of(cls, status: Status | str | None, made_up: bool) -> MatrixCell:
        status = Status(status) if status is not None else None
        key = status.value if status else "pending"
        return cls(status, made_up, key, "made_up" if made_up else key)


@dataclass
class Matrix:
    course: Course
    venue: Venue
    lectures: list[Lecture]
    rows: list[tuple[User, list[MatrixCell | None], dict[str, int]]]
    page: object | None = None  # Flask-SQLAlchemy's Pagination of the members, when paged


def course_matrix(course: Course, venue: Venue, now: datetime | None = None, page: int | None = None) -> Matrix:
    """Members a venue expected at any of the course's lectures x those lectures, each cell a status (None where
    the member was not expected there: before joining or after leaving or transferring); five queries.

    `page` (1-based) gives MATRIX_PAGE_SIZE members in member-number order; None gives them all (exports).
    """
    now = now or utcnow()
    lectures = list(db.session.scalars(
        sa.select(Lecture).join(LectureVenue, LectureVenue.lecture_id == Lecture.id)
        .where(Lecture.course_id == course.id, LectureVenue.venue_id == venue.id).order_by(Lecture.starts_at)))
    expected_here = (expected_memberships()
                     .where(Lecture.course_id == course.id, Membership.venue_id == venue.id).subquery())
    members_query = (sa.select(User).where(User.id.in_(sa.select(expected_here.c.user_id)))
                     .order_by(User.member_no, User.id))
    pagination = None
    if page is None:
        members = list(db.session.scalars(members_query))
    else:
        pagination = db.paginate(members_query, page=page, per_page=MATRIX_PAGE_SIZE,
                                 max_per_page=MATRIX_PAGE_SIZE, error_out=False)
        members = list(pagination.items)
    member_ids = sorted(m.id for m in members)
    # Plain tuples, not rows, in the sets and dicts: a row compares far slower, and 10,000 cells are looked up.
    expected = {(lecture_id, user_id) for lecture_id, user_id in db.session.execute(
        sa.select(expected_here.c.lecture_id, expected_here.c.user_id).where(expected_here.c.user_id.in_(member_ids)))}
    # The members' records of these lectures, by index, rather than a join with the expectation subquery;
    # records where the member was not expected here are left out below, as the cells are. Read as the stored
    # word and whether it was made up: a cell needs no more, and 10,000 dates and enums cost a fifth of the page.
    records = {(lecture_id, user_id): (status, made_up) for lecture_id, user_id, status, made_up in db.session.execute(
        sa.select(AttendanceRecord.lecture_id, AttendanceRecord.user_id,
                  sa.type_coerce(AttendanceRecord.status, sa.String), AttendanceRecord.made_up_at.is_not(None))
        .where(AttendanceRecord.lecture_id.in_([lec.id for lec in lectures]), AttendanceRecord.user_id.in_(member_ids)))}
    columns = [(lec.id, window_of(lec).phase(now)) for lec in lectures]
    without_record = {phase: (effective_status(None, phase), False) for _lecture_id, phase in columns}
    kinds: dict[tuple, MatrixCell] = {}
    rows = []
    for member in members:
        member_id, cells = member.id, []
        for lecture_id, phase in columns:
            key = (lecture_id, member_id)
            if key not in expected:
                cells.append(None)
                continue
            kind = records.get(key) or without_record[phase]
            cell = kinds.get(kind)
            if cell is None:
                cell = kinds[kind] = MatrixCell.of(*kind)
            cells.append(cell)
        totals = Counter(cell.key for cell in cells if cell is not None)
        totals["made_up"] = sum(1 for cell in cells if cell is not None and cell.made_up)
        rows.append((member, cells, dict(totals)))
    return Matrix(course, venue, lectures, rows, pagination)


@dataclass
class Overview:
    lectures: list[Lecture]
    venues: list[Venue]
    # (lecture_id, venue_id) -> {"expected", "present", "late", "excused", "absent", "made_up", "arrived", "rate"}
    cells: dict[tuple[int, int], dict[str, float]]
    trend: list[tuple[Lecture, float]]


def organisation_overview(course_id: int | None, start: date | None, end: date | None,
                          now: datetime | None = None) -> Overview:
    """All venues x the selected lectures with counts and rates; six queries, finished lectures read from their
    tallies.

    Each lecture counts the members of each venue at its start; archive lectures take no attendance and
    are left out.
    """
    now = now or utcnow()
    query = (sa.select(Lecture).where(Lecture.published.is_(True), Lecture.archive.is_(False))
             .order_by(Lecture.starts_at))
    if course_id:
        query = query.where(Lecture.course_id == course_id)
    zone = local_zone()
    if start:
        query = query.where(Lecture.starts_at >= datetime.combine(start, time.min, zone).astimezone(timezone.utc))
    if end:
        query = query.where(Lecture.starts_at <= datetime.combine(end, time.max, zone).astimezone(timezone.utc))
    lectures = list(db.session.scalars(query))
    lecture_ids = [lec.id for lec in lectures]
    venues = list(db.session.scalars(sa.select(Venue).order_by(Venue.position)))
    cells: dict[tuple[int, int], dict[str, float]] = tallied_or_counted(lecture_ids)
    phases = {lec.id: window_of(lec).phase(now) for lec in lectures}
    for (lecture_id, _venue_id), cell in cells.items():
        recorded = cell["present"] + cell["late"] + cell["excused"] + cell["absent"]
        if phases[lecture_id] is Phase.CLOSED:
            cell["absent"] += max(cell["expected"] - recorded, 0)  # no record after the window: absent
        cell["arrived"] = cell["present"] + cell["late"]
        cell["rate"] = rate(cell["arrived"], cell["expected"])
    trend = []
    # A lecture still open (or not yet held) would show as a sudden fall: the trend has finished lectures only.
    by_lecture: dict[int, list[dict]] = defaultdict(list)
    for (lecture_id, _venue_id), cell in cells.items():
        by_lecture[lecture_id].append(cell)
    for lecture in (lec for lec in lectures if phases[lec.id] is Phase.CLOSED):
        trend.append((lecture, rate(sum(c["arrived"] for c in by_lecture[lecture.id]),
                                    sum(c["expected"] for c in by_lecture[lecture.id]))))
    return Overview(lectures, venues, cells, trend)


def ranking(overview: Overview, lecture_id: int, by: str = "rate") -> list[tuple[Venue, dict[str, float]]]:
    """The lecture's venues from the highest attendance rate to the lowest, or (`by="absent"`) from the fewest
    absences without leave to the most; ties by the other figure, then by venue order."""
    rows = [(v, overview.cells[(lecture_id, v.id)]) for v in overview.venues if (lecture_id, v.id) in overview.cells]
    if by == "absent":
        return sorted(rows, key=lambda item: (item[1]["absent"], -item[1]["rate"], item[0].position))
    return sorted(rows, key=lambda item: (-item[1]["rate"], item[1]["absent"], item[0].position))


# --- study hours ----------------------------------------------------------------------------------

def hours_target(role: Role) -> Decimal:
    targets = current_app.config["STUDY_HOURS_TARGETS"]
    return Decimal(str(targets.get(role.value, targets.get("default", 32))))


def credited(status: Status | None, made_up: bool) -> bool:
    """Whether a lecture's study hours count: present, late (if configured), or made up."""
    if made_up or status is Status.PRESENT:
        return True
    return status is Status.LATE and current_app.config["LATE_EARNS_STUDY_HOURS"]


def year_bounds(year: int) -> tuple[datetime, datetime]:
    zone = local_zone()
    return (datetime(year, 1, 1, tzinfo=zone).astimezone(timezone.utc),
            datetime(year + 1, 1, 1, tzinfo=zone).astimezone(timezone.utc))


def credit_condition():
    condition = sa.or_(AttendanceRecord.status == Status.PRESENT, AttendanceRecord.made_up_at.is_not(None))
    if current_app.config["LATE_EARNS_STUDY_HOURS"]:
        condition = sa.or_(condition, AttendanceRecord.status == Status.LATE)
    return condition


def expected_share(year: int, now: datetime | None = None) -> Decimal:
    """How much of the yearly target should be done by now: all of it for a past year, a share for this one."""
    now = now or utcnow()
    start, end = year_bounds(year)
    if now >= end:
        return Decimal(1)
    if now <= start:
        return Decimal(0)
    return Decimal((now - start).total_seconds() / (end - start).total_seconds())


@dataclass
class HoursRow:
    user: sa.Row  # MEMBER_COLUMNS
    hours: Decimal
    target: Decimal
    on_track: bool


def hours_by_member(venue_ids: list[int], year: int, now: datetime | None = None) -> dict[int, list[HoursRow]]:
    """Study hours earned in `year` by each member of the venues, against their role's target; three queries.

    A venue's members are those who belonged to it at the end of the year (or now, for this year), so a
    past year's figures stay as they were; a member's hours go with them when they transfer.
    """
    now = now or utcnow()
    start, end = year_bounds(year)
    share = expected_share(year, now)
    as_of = min(now, end)
    belonged = (sa.select(*MEMBER_COLUMNS, Membership.venue_id).join(Membership, Membership.user_id == User.id)
                .where(Membership.venue_id.in_(venue_ids), Membership.starts_at < as_of,
                       sa.or_(Membership.ends_at.is_(None), Membership.ends_at >= as_of)))
    members = db.session.execute(belonged.order_by(User.member_no, User.id)).all()
    member_ids = belonged.with_only_columns(User.id)
    # Lectures with a tally are already added up per member and year; the rest (still open, or closed with
    # nothing changed since) are added up here from their records.
    late_earns = current_app.config["LATE_EARNS_STUDY_HOURS"]
    earned: dict[int, Decimal] = defaultdict(Decimal)
    for user_id, credited, late in db.session.execute(
            sa.select(MemberHours.user_id, MemberHours.credited, MemberHours.late)
            .where(MemberHours.year == year, MemberHours.user_id.in_(member_ids))):
        earned[user_id] += Decimal(credited) + (Decimal(late) if late_earns else 0)
    untallied = sa.select(Lecture.id).where(Lecture.starts_at >= start, Lecture.starts_at < end,
                                            Lecture.archive.is_(False),
                                            ~sa.exists().where(LectureTally.lecture_id == Lecture.id))
    # Everyone's, not only these members': filtered by lecture, the database reads just those lectures' records.
    for user_id, hours in db.session.execute(
            sa.select(AttendanceRecord.user_id, sa.func.sum(Lecture.study_hours))
            .join(Lecture, Lecture.id == AttendanceRecord.lecture_id)
            .where(AttendanceRecord.lecture_id.in_(untallied), credit_condition())
            .group_by(AttendanceRecord.user_id)):
        earned[user_id] += Decimal(hours or 0)
    result: dict[int, list[HoursRow]] = defaultdict(list)
    targets = {role: hours_target(role) for role in Role}
    tenth = Decimal("0.1")
    for member in members:
        hours = Decimal(earned.get(member.id) or 0).quantize(tenth)
        target = targets[member.role]
        result[member.venue_id].append(HoursRow(member, hours, target, hours >= target * share))
    return result


@dataclass
class LedgerLine:
    lecture: Lecture
    status: Status | None
    made_up: bool
    hours: Decimal


def _member_lectures(member: User):
    """Published lectures that expected the member (at the venue they belonged to then), or that they
    attended elsewhere; archive lectures take no attendance."""
    expected = expected_memberships().where(Membership.user_id == member.id).with_only_columns(Lecture.id)
    return sa.and_(Lecture.published.is_(True), Lecture.archive.is_(False),
                   sa.or_(Lecture.id.in_(expected),
                          Lecture.id.in_(sa.select(AttendanceRecord.lecture_id)
                                         .where(AttendanceRecord.user_id == member.id))))


def member_years(member: User) -> list[int]:
    """The years (in the organisation's zone) in which the member had lectures, newest first; one query."""
    starts = db.session.scalars(sa.select(Lecture.starts_at).where(_member_lectures(member)))
    return sorted({to_local(moment).year for moment in starts}, reverse=True)


def member_ledger(member: User, year: int, now: datetime | None = None) -> list[LedgerLine]:
    """The member's lectures of the year (expected at their venue then, or attended elsewhere) with the hours
    each credited."""
    now = now or utcnow()
    start, end = year_bounds(year)
    lectures = list(db.session.scalars(
        sa.select(Lecture).where(Lecture.starts_at >= start, Lecture.starts_at < end, _member_lectures(member))
        .order_by(Lecture.starts_at)))
    records = {r.lecture_id: r for r in db.session.scalars(sa.select(AttendanceRecord).where(
        AttendanceRecord.user_id == member.id, AttendanceRecord.lecture_id.in_([lec.id for lec in lectures])))}
    lines = []
    for lecture in lectures:
        record = records.get(lecture.id)
        status = effective_status(record, window_of(lecture).phase(now))
        made_up = bool(record and record.made_up_at)
        lines.append(LedgerLine(lecture, status, made_up, lecture.study_hours if credited(status, made_up)
                                else Decimal("0")))
    return lines


def member_quiz_results(member: User) -> list[tuple[Lecture, int, float, bool]]:
    """(lecture, attempts, best score in per cent, passed) for every quiz the member took; two queries."""
    by_lecture: dict[int, list] = {}
    for lecture_id, right, asked, passed in db.session.execute(
            sa.select(QuizAttempt.lecture_id, QuizAttempt.correct_count, QuizAttempt.question_count,
                      QuizAttempt.passed).where(QuizAttempt.user_id == member.id)):
        by_lecture.setdefault(lecture_id, []).append((right, asked, passed))
    lectures = {lec.id: lec for lec in db.session.scalars(
        sa.select(Lecture).where(Lecture.id.in_(list(by_lecture))))}
    return sorted(((lectures[lid], len(results), best_percent((r, a) for r, a, _p in results),
                    any(p for _r, _a, p in results)) for lid, results in by_lecture.items()),
                  key=lambda item: item[0].starts_at, reverse=True)
