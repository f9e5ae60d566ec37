"""`flask demo`: the seed organisation (1 main + 24 branch venues), its accounts and the seed lecture.

Safe to run again: venues and accounts are matched by code and user name, and
content is imported in place.
"""
from __future__ import annotations

import os
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from lecturehub.accounts.models import Membership, MembershipChange, Role, User, hash_password
from lecturehub.accounts.services import check_password_policy, current_membership, generate_password, transfer_member
from lecturehub.attendance.models import AttendanceRecord, KeyPointsRead, LeaveRequest, LeaveState, Method, Status
from lecturehub.core.timeutil import utcnow
from lecturehub.core.transaction import in_transaction
from lecturehub.courses.content import ContentError, import_content
from lecturehub.courses.models import Course, KeyPoint, Lecture, LectureFormat, LectureVenue
from lecturehub.extensions import db
from lecturehub.quizzes.models import AttemptAnswer, Question, QuizAttempt
from lecturehub.quizzes.services import is_correct, score_percent
from lecturehub.venues.models import Venue, VenueKind

SEED_COURSE_SLUG = "sishi-2020"
SEED_LECTURE_SLUG = "2020-12-29-renshe"

# The demo's members joined before the seed lecture (2020-12-29), so its reports count them as they do today.
MEMBERS_SINCE = datetime(2020, 1, 1, tzinfo=timezone.utc)
BRANCH_VENUES = 24
MEMBERS_PER_VENUE = 20
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英",
         "霞", "平", "刚", "桂英", "建华", "文", "华", "红", "建国", "志强", "晓东", "海燕", "丹", "玉兰", "浩", "宇",
         "欣怡", "子涵", "思远", "嘉怡", "俊杰", "雨萱", "立新", "春梅", "国庆", "卫东", "晓燕", "亚楠", "振华"]


def demo_venues() -> list[tuple[str, str, VenueKind]]:
    venues = [("main", "主会场", VenueKind.MAIN)]
    venues += [(f"b{n:02d}", f"第{n}分会场", VenueKind.BRANCH) for n in range(1, BRANCH_VENUES + 1)]
    return venues


def demo_member_name(number: int) -> str:
    # Deterministic, varied names so the same member keeps the same name on every run.
    return SURNAMES[(number * 7) % len(SURNAMES)] + GIVEN[(number * 13) % len(GIVEN)]


def _demo_password(instance_path: Path, given: str | None) -> str:
    """The password given, else the one kept from an earlier run, else a new one (kept for next time)."""
    keep = instance_path / "demo_password"
    if given:
        return given
    if keep.exists():
        return keep.read_text().strip()
    password = generate_password()
    keep.write_text(password)
    os.chmod(keep, 0o600)
    return password


def seed_venues() -> list[Venue]:
    existing = {v.code: v for v in db.session.scalars(sa.select(Venue))}
    venues = []
    for position, (code, name, kind) in enumerate(demo_venues()):
        venue = existing.get(code) or Venue(code=code)
        venue.name, venue.kind, venue.position = name, kind, position
        db.session.add(venue)
        venues.append(venue)
    db.session.flush()
    return venues


def seed_accounts(venues: list[Venue], password_hash: str) -> dict[str, int]:
    existing = {u.username: u for u in db.session.scalars(sa.select(User))}
    counts = {"admin": 0, "coordinator": 0, "member": 0}

    def upsert(username: str, name: str, role: Role, home: Venue | None) -> User:
        user = existing.get(username) or User(username=username)
        user.name, user.role, user.home_venue = name, role, home
        user.member_no = username if role is not Role.ADMIN else None
        user.password_hash, user.active, user.must_change_password = password_hash, True, False
        db.session.add(user)
        if home is not None:
            membership = current_membership(user) if user.id else None
            if membership is None:
                # A demo account that left or was disabled since comes back from now, never overlapping its past.
                returning = user.id is not None and db.session.scalar(
                    sa.select(Membership.id).where(Membership.user_id == user.id).limit(1)) is not None
                db.session.add(Membership(user=user, venue=home, starts_at=utcnow() if returning else MEMBERS_SINCE,
                                          began_how=MembershipChange.RE_ENABLED if returning
                                          else MembershipChange.JOINED))
            elif membership.venue_id != home.id:
                transfer_member(user, home, utcnow(), None, "flask demo")  # moved back to the demo's layout
        counts[role.value] += 1
        return user

    upsert("admin", "系统管理员", Role.ADMIN, None)
    number = 0
    for index, venue in enumerate(venues):
        coordinator = upsert(f"coord{index:02d}", f"{venue.name}负责人", Role.COORDINATOR, venue)
        coordinator.coordinated_venues = [venue]
        for _ in range(MEMBERS_PER_VENUE):
            number += 1
            upsert(f"m{number:04d}", demo_member_name(number), Role.MEMBER, venue)
    return counts


@click.command("demo")
@click.option("--password", default=None, help="One password for every demo account (default: generated once and kept).")
@click.option("--content", "content_path", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Content folder to import (default: the project's content/).")
@with_appcontext
@in_transaction
def demo_command(password: str | None, content_path: Path | None):
    """Build the demo organisation and seed lecture on this database, then print the logins."""
    if password is not None and check_password_policy(password):
        raise click.ClickException(check_password_policy(password))
    upgrade()
    password = _demo_password(Path(current_app.instance_path), password)
    venues = seed_venues()
    counts = seed_accounts(venues, hash_password(password))
    content_path = content_path or Path(current_app.root_path).parent / "content"
    try:
        summary = import_content(content_path)
    except ContentError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException("the demo content has problems; nothing was imported") from exc
    seed_lecture = db.session.scalar(sa.select(Lecture).join(Course).where(
        Course.slug == SEED_COURSE_SLUG, Lecture.slug == SEED_LECTURE_SLUG))
    history = seed_history(seed_lecture) if seed_lecture else 0
    live = seed_live_lecture(SEED_COURSE_SLUG, utcnow()) if seed_lecture else None
    if live is not None:
        copy_study_material(seed_lecture, live)

    last_member = f"m{len(venues) * MEMBERS_PER_VENUE:04d}"
    click.echo(f"Demo organisation ready: {len(venues)} venues, {counts['coordinator']} coordinators, "
               f"{counts['member']} members; {summary.lectures} lecture(s), {summary.parts['question(s)']} quiz questions.")
    click.echo("")
    click.echo("Demo logins (all share one password):")
    click.echo("  admin              administrator (all venues and users)")
    click.echo("  coord00            coordinator of 主会场 (main venue)")
    click.echo(f"  coord01 … coord{len(venues) - 1:02d}  coordinators of 第1 … 第{len(venues) - 1}分会场")
    click.echo(f"  m0001 … {last_member}      party members, {MEMBERS_PER_VENUE} per venue (m0001 at 主会场)")
    click.echo(f"  password: {password}")
    if live is not None:
        click.echo("")
        click.echo(f"Check-in is open now for “{live.title}” (lecture {live.id}); "
                   f"{history} attendance records were written for the seed lecture." if history else
                   f"Check-in is open now for “{live.title}” (lecture {live.id}).")


LIVE_LECTURE_SLUG = "demo-live"


def seed_live_lecture(course_slug: str, now: datetime) -> Lecture:
    """A lecture whose check-in is open now, so a newcomer can try the whole flow at once.

    Its times move to "now" on every run of the demo command.
    """
    course = db.session.scalar(sa.select(Course).where(Course.slug == course_slug))
    lecture = db.session.scalar(sa.select(Lecture).where(Lecture.course_id == course.id,
                                                         Lecture.slug == LIVE_LECTURE_SLUG))
    if lecture is None:
        lecture = Lecture(course=course, slug=LIVE_LECTURE_SLUG)
        db.session.add(lecture)
    start = (now + timedelta(minutes=10)).replace(second=0, microsecond=0)
    lecture.title = "【演示】四史学习教育专题党课·签到演示场次"
    lecture.speaker, lecture.host = "演示主讲人", "演示主持人"
    lecture.starts_at, lecture.ends_at = start, start + timedelta(hours=2)
    lecture.format, lecture.study_hours, lecture.published = LectureFormat.VIDEO_CONFERENCE, Decimal("2.0"), True
    lecture.summary_md = ("本场为演示用党课：签到窗口已经打开。协调人打开本会场的“会场大屏”，"
                          "党员用手机扫码或在本页输入签到码即可签到。")
    lecture.checkin_opens_minutes, lecture.checkin_grace_minutes, lecture.checkin_closes_minutes = 30, 10, 0
    db.session.flush()
    present = {link.venue_id for link in lecture.venue_links}
    for venue in db.session.scalars(sa.select(Venue).order_by(Venue.position)):
        if venue.id not in present:
            lecture.venue_links.append(LectureVenue(venue=venue))
    return lecture


def copy_study_material(source: Lecture, target: Lecture) -> None:
    """Give the demo lecture the seed lecture's key points and quiz, so make-up study can be tried on it too.

    Only when it has none yet: an admin's edits to the demo lecture survive another run.
    """
    if target.key_points or db.session.scalar(sa.select(Question.id).where(Question.lecture_id == target.id).limit(1)):
        return
    positions = {}
    for point in source.key_points:
        copy = KeyPoint(position=point.position, title=point.title, body_md=point.body_md)
        target.key_points.append(copy)
        positions[point.id] = copy
    db.session.flush()
    for question in db.session.scalars(sa.select(Question).where(Question.lecture_id == source.id)
                                       .order_by(Question.position)):
        point = positions.get(question.key_point_id)
        db.session.add(Question(lecture_id=target.id, key=question.key, position=question.position,
                                kind=question.kind, stem=question.stem, options=list(question.options),
                                answer=list(question.answer), explanation=question.explanation,
                                key_point_id=point.id if point else None))


LEAVE_REASONS = ["因公出差", "参加上级部门会议", "病假", "单位值班", "外出培训"]


def seed_history(lecture: Lecture) -> int:
    """Realistic attendance for the seed lecture: present, late, excused, absent and made up, varying by venue.

    Each venue gets its own turnout (some venues are punctual, some are not), and about half of the members
    who came took the quiz with honest, varied scores. Written once: a lecture that already has records keeps
    them. Returns the number of records written.
    """
    if db.session.scalar(sa.select(AttendanceRecord.id).where(AttendanceRecord.lecture_id == lecture.id).limit(1)):
        return 0
    rng = random.Random(20201229)  # the same history on every machine
    questions = list(db.session.scalars(sa.select(Question).where(Question.lecture_id == lecture.id)
                                        .order_by(Question.position)))
    users = list(db.session.scalars(sa.select(User).where(User.home_venue_id.is_not(None)).order_by(User.id)))
    turnout = {venue_id: rng.uniform(0.72, 0.98) for venue_id in {u.home_venue_id for u in users}}
    punctuality = {venue_id: rng.uniform(0.75, 0.97) for venue_id in turnout}
    written = 0
    for index, user in enumerate(users):
        venue_id = user.home_venue_id
        roll = rng.random()
        if roll < turnout[venue_id]:
            if rng.random() < punctuality[venue_id]:
                status, at = Status.PRESENT, lecture.starts_at - timedelta(minutes=rng.randint(0, 28))
            else:
                status, at = Status.LATE, lecture.starts_at + timedelta(minutes=rng.randint(11, 40))
        elif roll < turnout[venue_id] + (1 - turnout[venue_id]) * 0.55:
            status, at = Status.EXCUSED, None
        else:
            # Absent members get no record unless they made up: absence is what the closed window implies.
            status, at = Status.ABSENT, None
        made_up = status in (Status.EXCUSED, Status.ABSENT) and rng.random() < 0.6
        if status is Status.ABSENT and not made_up:
            continue
        record = AttendanceRecord(lecture_id=lecture.id, user_id=user.id, venue_id=venue_id, status=status,
                                  method=Method.QR if at else (Method.LEAVE if status is Status.EXCUSED else Method.MAKEUP),
                                  checked_in_at=at, updated_at=at or lecture.starts_at)
        if status is Status.EXCUSED:
            reason = LEAVE_REASONS[index % len(LEAVE_REASONS)]
            record.reason = reason
            db.session.add(LeaveRequest(lecture_id=lecture.id, user_id=user.id, reason=reason,
                                        state=LeaveState.APPROVED, requested_at=lecture.starts_at - timedelta(days=1),
                                        decided_at=lecture.starts_at - timedelta(hours=20)))
        if made_up:
            done = lecture.ends_at + timedelta(days=2 + index % 5)
            record.made_up_at = done
            db.session.add(KeyPointsRead(lecture_id=lecture.id, user_id=user.id, read_at=done - timedelta(hours=1)))
            db.session.add(_attempt(user.id, lecture, questions, done, rng, must_pass=True))
        elif at is not None and questions and rng.random() < 0.55:
            db.session.add(_attempt(user.id, lecture, questions, lecture.ends_at + timedelta(hours=rng.randint(1, 72)),
                                    rng, must_pass=False))
        db.session.add(record)
        written += 1
    return written


def _attempt(user_id: int, lecture: Lecture, questions: list[Question], at: datetime, rng: random.Random,
             must_pass: bool) -> QuizAttempt:
    """A quiz attempt with some wrong answers, graded like a real one; make-up attempts are passing ones."""
    skill = rng.uniform(0.6, 1.0)
    while True:
        chosen = [list(q.answer) if rng.random() < skill else _wrong_choice(q, rng) for q in questions]
        correct = sum(is_correct(q.answer, c) for q, c in zip(questions, chosen, strict=True))
        score = score_percent(correct, len(questions))
        if score >= lecture.quiz_pass_mark or not must_pass:
            break
        skill = min(1.0, skill + 0.1)
    attempt = QuizAttempt(user_id=user_id, lecture_id=lecture.id, submitted_at=at, correct_count=correct,
                          question_count=len(questions), score=score, pass_mark=lecture.quiz_pass_mark,
                          passed=score >= lecture.quiz_pass_mark)
    for position, (question, answer) in enumerate(zip(questions, chosen, strict=True), start=1):
        attempt.answers.append(AttemptAnswer(position=position, question_id=question.id,
                                             question_snapshot=question.snapshot(), chosen=answer,
                                             correct=is_correct(question.answer, answer)))
    return attempt


def _wrong_choice(question: Question, rng: random.Random) -> list[int]:
    count = len(question.options) or 2  # true/false questions have two implied options
    wrong = [i for i in range(count) if [i] != sorted(question.answer)]
    return [rng.choice(wrong)] if wrong else []
