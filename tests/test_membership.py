"""Dated membership: who a lecture expected stays what it was, whatever happens to the roster later."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from lecturehub.accounts import services as accounts
from lecturehub.accounts.models import MembershipChange, Role, User
from lecturehub.attendance import services as attendance
from lecturehub.attendance.models import AttendanceRecord, Method
from lecturehub.courses.models import Lecture
from lecturehub.extensions import db
from lecturehub.quizzes.models import Question, QuizAttempt
from lecturehub.reports import services as reports
from lecturehub.venues.models import Venue

from .conftest import POSTGRES_ADMIN_URL, PROJECT_ROOT
from .test_tallies import assert_tallies_match_records

UTC = timezone.utc


def user(username: str) -> User:
    return db.session.scalar(sa.select(User).where(User.username == username))


def venue(code: str) -> Venue:
    return db.session.scalar(sa.select(Venue).where(Venue.code == code))


def figures(lecture: Lecture) -> list[tuple]:
    """What the lecture report says per venue, down to the names under each status and the leave reasons."""
    return [(s.venue.code, s.expected, s.count("present"), s.count("late"), s.count("excused"), s.count("absent"),
             s.made_up, s.rate, s.quiz_done, s.quiz_average,
             tuple((m.user.member_no, m.key, m.made_up, m.best_score) for m in s.members),
             tuple((u.member_no, reason, state.value) for u, reason, state in s.leave_reasons))
            for s in reports.lecture_report(lecture, None)]


def xlsx_content(data: bytes) -> tuple:
    """Everything a reader of the workbook sees: cells, number formats, frozen panes, widths, sheet title.

    openpyxl stamps the save time into the package, so the bytes themselves differ from second to second.
    """
    book = load_workbook(io.BytesIO(data))
    sheet = book.active
    cells = tuple(tuple((c.value, c.number_format, bool(c.font.bold)) for c in row) for row in sheet.iter_rows())
    widths = tuple(sorted((k, d.width) for k, d in sheet.column_dimensions.items()))
    return sheet.title, sheet.freeze_panes, widths, cells


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    # The sign-out form's CSRF token carries a timestamp; everything else on the page is the record.
    return re.sub(r'name="csrf_token" value="[^"]*"', "", response.get_data(as_text=True))


def roster_csv(rows: list[tuple[str, str, str]]) -> bytes:
    lines = ["姓名,编号,分会场,角色"] + [f"{name},{number},{venue_code},党员" for name, number, venue_code in rows]
    return "\n".join(lines).encode("utf-8")


# --- the bug in the issue ---------------------------------------------------------------------------

def test_importing_30_members_today_leaves_the_2020_lecture_as_it_was(client, seed_lecture, org):
    lecture = db.session.get(Lecture, seed_lecture["lecture_id"])
    branch = db.session.get(Venue, org["branch_a"])
    attendance.check_in(user("m0001"), lecture, branch.id, Method.ROSTER, now=lecture.starts_at)
    client.login("admin")
    before = figures(lecture)
    before_bytes = client.get(f"/reports/lectures/{lecture.id}?format=xlsx").data
    before_xlsx = xlsx_content(before_bytes)
    before_record = page(client, f"/reports/lectures/{lecture.id}/venues/{branch.id}/record")
    before_sheet = page(client, f"/reports/lectures/{lecture.id}/venues/{branch.id}/sheet")
    a = next(row for row in before if row[0] == "b01")
    assert a[1:3] == (3, 1)  # coord01, m0001, m0002 expected; m0001 present

    outcome = accounts.import_roster("roster.csv", roster_csv([(f"新党员{n}", f"N{n:03d}", "第1分会场")
                                                               for n in range(30)]), password="Start-pass-1")
    assert len(outcome.created) == 30

    db.session.expire_all()
    assert figures(lecture) == before
    after_bytes = client.get(f"/reports/lectures/{lecture.id}?format=xlsx").data
    assert xlsx_content(after_bytes) == before_xlsx
    assert after_bytes == before_bytes  # the file filed upward is byte for byte the same
    assert page(client, f"/reports/lectures/{lecture.id}/venues/{branch.id}/record") == before_record
    assert page(client, f"/reports/lectures/{lecture.id}/venues/{branch.id}/sheet") == before_sheet
    newcomer = user("N000")
    assert attendance.open_makeup_tasks(newcomer) == []
    assert attendance.needs_makeup(newcomer, lecture) is None
    assert reports.member_ledger(newcomer, 2020) == []
    # …while they are counted from today on: the venue's current members include them.
    assert [m.venue.code for m in newcomer.memberships] == ["b01"]
    assert newcomer.memberships[0].began_how is MembershipChange.IMPORTED


# --- transfers, departures, re-enabling -----------------------------------------------------------------

def test_a_transfer_after_a_lecture_leaves_that_lecture_with_the_old_venue(org, make_lecture):
    l1 = make_lecture(datetime(2025, 3, 1, 6, tzinfo=UTC))
    l2 = make_lecture(datetime(2025, 5, 1, 6, tzinfo=UTC))
    member, admin = user("m0001"), user("admin")
    # Absent at l1 (no record): the absence belongs to 第1分会场, where they were then.
    accounts.transfer_member(member, venue("b02"), datetime(2025, 4, 1, tzinfo=UTC), admin, "工作调动")
    db.session.commit()

    at_l1 = {row[0]: row for row in figures(l1)}
    at_l2 = {row[0]: row for row in figures(l2)}
    assert "m0001" in [m[0] for m in at_l1["b01"][10]] and at_l1["b01"][1] == 3
    assert "m0001" not in [m[0] for m in at_l1["b02"][10]] and at_l1["b02"][1] == 2
    assert "m0001" in [m[0] for m in at_l2["b02"][10]] and at_l2["b02"][1] == 3
    assert at_l2["b01"][1] == 2
    assert member.home_venue.code == "b02"
    history = [(m.venue.code, m.began_how, m.ended_how, m.reason) for m in accounts.memberships_of(member)]
    assert history == [("b01", MembershipChange.JOINED, MembershipChange.TRANSFERRED, ""),
                       ("b02", MembershipChange.TRANSFERRED, None, "工作调动")]
    # The matrix of 第2分会场 shows the member only from the lecture after the transfer.
    matrix = reports.course_matrix(l1.course, venue("b02"))
    row = next(cells for m, cells, _totals in matrix.rows if m.username == "m0001")
    assert row[0] is None and row[1].key == "absent"


def test_a_transfer_cannot_reach_back_before_the_membership_began(org):
    member = user("m0001")
    with pytest.raises(accounts.AccountError):
        accounts.transfer_member(member, venue("b02"), datetime(1999, 1, 1, tzinfo=UTC), user("admin"))


def test_disabling_ends_membership_and_re_enabling_starts_a_new_one(org, make_lecture):
    before = make_lecture(datetime(2025, 3, 1, 6, tzinfo=UTC))
    during = make_lecture(datetime(2025, 5, 1, 6, tzinfo=UTC))
    after = make_lecture(datetime(2025, 7, 1, 6, tzinfo=UTC))
    member, admin = user("m0002"), user("admin")
    accounts.set_active(member, False, admin, now=datetime(2025, 4, 1, tzinfo=UTC))
    accounts.set_active(member, True, admin, now=datetime(2025, 6, 1, tzinfo=UTC))
    expected = {lec.id: [m for s in reports.lecture_report(lec, None) for m in s.members] for lec in
                (before, during, after)}
    assert "m0002" in [m.user.username for m in expected[before.id]]
    assert "m0002" not in [m.user.username for m in expected[during.id]]
    assert "m0002" in [m.user.username for m in expected[after.id]]
    tasks = {t.lecture.id for t in attendance.open_makeup_tasks(member)}
    assert tasks == {before.id, after.id}
    assert [(m.began_how, m.ended_how) for m in accounts.memberships_of(member)] == [
        (MembershipChange.JOINED, MembershipChange.DISABLED), (MembershipChange.RE_ENABLED, None)]


# --- archive lectures and make-up without a quiz ----------------------------------------------------

def test_an_archive_lecture_expects_no_one(org, make_lecture):
    lecture = make_lecture(datetime(2025, 3, 1, 6, tzinfo=UTC), archive=True)
    assert all(s.expected == 0 for s in reports.lecture_report(lecture, None))
    assert attendance.open_makeup_tasks(user("m0001")) == []
    assert lecture.id not in [lec.id for lec in reports.organisation_overview(None, None, None).lectures]
    assert reports.member_ledger(user("m0001"), 2025) == []
    with pytest.raises(attendance.CheckinError):
        attendance.check_in(user("m0001"), lecture, org["branch_a"], Method.ROSTER, now=lecture.starts_at)


def test_make_up_without_quiz_questions_is_done_once_the_key_points_are_read(client, org, make_lecture):
    lecture = make_lecture(datetime(2025, 3, 1, 6, tzinfo=UTC))
    db.session.execute(sa.delete(Question).where(Question.lecture_id == lecture.id))
    db.session.commit()
    client.login("m0001")
    makeup = client.get(f"/makeup/{lecture.id}").get_data(as_text=True)
    assert f"/lectures/{lecture.id}/quiz" not in makeup
    assert "没有自测题" in makeup
    client.submit(f"/lectures/{lecture.id}/read", {}, token_from=f"/makeup/{lecture.id}")
    record = db.session.scalar(sa.select(AttendanceRecord).where(AttendanceRecord.lecture_id == lecture.id,
                                                                 AttendanceRecord.user_id == org["member_a"]))
    assert record.made_up_at is not None and record.venue_id == org["branch_a"]
    assert f"/makeup/{lecture.id}" not in client.get("/home").get_data(as_text=True)


# --- a year in the life of an organisation ----------------------------------------------------------------

YEAR = 2025


def _lecture_snapshot(client, lecture: Lecture, venue_ids: list[int]) -> dict:
    """Everything a past lecture's records say: report, its exports, branch records, sheets and study hours."""
    snapshot = {"figures": figures(lecture),
                "xlsx": xlsx_content(client.get(f"/reports/lectures/{lecture.id}?format=xlsx").data),
                # The overview reads the lecture's tally once it is finished; it must hold like the rest.
                "overview": {venue_id: cell for (lecture_id, venue_id), cell in
                             reports.organisation_overview(None, None, None).cells.items()
                             if lecture_id == lecture.id}}
    for venue_id in venue_ids:
        base = f"/reports/lectures/{lecture.id}/venues/{venue_id}"
        snapshot[venue_id] = (xlsx_content(client.get(f"{base}?format=xlsx").data), page(client, f"{base}/record"),
                              page(client, f"{base}/sheet"))
    # Each member's line for this lecture in their ledger (status and hours credited); members the lecture
    # never concerned have none, and must keep having none.
    snapshot["hours"] = {}
    for member in db.session.scalars(sa.select(User).order_by(User.id)):
        lines = [(line.status, line.made_up, line.hours) for line in reports.member_ledger(member, YEAR)
                 if line.lecture.id == lecture.id]
        if lines:
            snapshot["hours"][member.username] = lines
    return snapshot


def _pass_quiz(member: User, lecture: Lecture, at: datetime) -> None:
    db.session.add(QuizAttempt(user_id=member.id, lecture_id=lecture.id, correct_count=1, question_count=1,
                               score=100, pass_mark=80, passed=True, submitted_at=at))
    db.session.commit()


def _first_of(month: int) -> datetime:
    return datetime(YEAR, month, 1, 2, tzinfo=UTC)

def _roster_changes(month: int, admin: User) -> None:
    """What changes in the roster on the first of `month` of the year."""
    at = _first_of(month)
    if month == 2:
        accounts.create_user("n0001", "新人甲", Role.MEMBER, "Start-pass-1", [venue("b01")], member_no="n0001",
                             joined_at=at, by=admin)
    elif month == 3:
        accounts.transfer_member(user("m0001"), venue("b02"), at, admin, "工作调动")
    elif month == 4:
        accounts.set_active(user("m0002"), False, admin, now=at)
    elif month == 5:
        accounts.set_active(user("m0002"), True, admin, now=at)
    elif month == 6:
        # Next year's roster, early: five newcomers at 第2分会场 and m0003 moved to 第1分会场.
        rows = [(f"新人{n}", f"r{n:04d}", "b02") for n in range(5)] + [("王芳", "m0003", "b01")]
        accounts.import_roster("roster.csv", roster_csv(rows), password="Start-pass-1", now=at)
    elif month == 7:
        accounts.end_membership(user("m0003"), at, admin, MembershipChange.LEFT)
    elif month == 8:
        # Decided now, effective from September: August's lecture still expects n0001 at 第1分会场.
        accounts.transfer_member(user("n0001"), venue("main"), _first_of(9), admin, "借调")
    elif month == 10:
        accounts.update_account(user("coord02"), admin, name="乙负责人", role=Role.COORDINATOR,
                                venues=[venue("b01")], effective_at=at)
    db.session.commit()

def _hold_the_lecture(lecture: Lecture, month: int, admin: User) -> None:
    """Everyone expected checks in (some late) except one on leave and every fourth; one absentee makes up."""
    start = lecture.starts_at
    expected = {m.user.username for s in reports.lecture_report(lecture, None, now=start) for m in s.members}
    members = sorted(expected)
    asker = members[month % len(members)]
    leave = attendance.request_leave(user(asker), lecture, "出差", now=start - timedelta(days=3))
    attendance.decide_leave(leave, True, admin, now=start - timedelta(days=2))
    for index, username in enumerate(members):
        if username == asker or index % 4 == 3:
            continue  # on leave, or absent
        late = index % 4 == 2
        member = user(username)
        attendance.check_in(member, lecture, member.home_venue_id, Method.QR,
                            now=start + timedelta(minutes=30 if late else -5))
    after = lecture.ends_at + timedelta(hours=1)
    # One absent member makes the lecture up at once.
    absent = [u for i, u in enumerate(members) if i % 4 == 3 and u != asker]
    if absent:
        member = user(absent[0])
        _pass_quiz(member, lecture, after)
        attendance.mark_key_points_read(member, lecture, now=after)


def test_a_year_of_roster_changes_leaves_every_earlier_lecture_as_it_was(client, org, make_lecture):
    admin = user("admin")
    venue_ids = [org["main"], org["branch_a"], org["branch_b"]]
    lectures = [make_lecture(datetime(YEAR, month, 10, 6, tzinfo=UTC), study_hours=Decimal("2.0"))
                for month in range(1, 13)]
    client.login("admin")

    snapshots: dict[int, dict] = {}
    for month, lecture in enumerate(lectures, start=1):
        _roster_changes(month, admin)
        db.session.expire_all()
        for held in lectures[:month - 1]:
            assert _lecture_snapshot(client, held, venue_ids) == snapshots[held.id], (month, held.starts_at)
        assert_tallies_match_records()
        _hold_the_lecture(lecture, month, admin)
        db.session.expire_all()
        snapshots[lecture.id] = _lecture_snapshot(client, lecture, venue_ids)
        now = lecture.ends_at + timedelta(hours=2)
        for member in db.session.scalars(sa.select(User)):
            expected_at = {held.id for held in lectures[:month]
                           if member.member_no in {m[0] for row in snapshots[held.id]["figures"] for m in row[10]}}
            tasks = {task.lecture.id for task in attendance.open_makeup_tasks(member, now=now)}
            assert tasks <= expected_at, (month, member.username)

    # Every finished lecture was tallied along the way, and the tallies agreed with the records at each step.
    from lecturehub.attendance.models import LectureTally

    assert set(db.session.scalars(sa.select(LectureTally.lecture_id))) == {lec.id for lec in lectures}

    # The year's story, read back from the records.
    figures_by_month = {month: {row[0]: row for row in snapshots[lec.id]["figures"]}
                        for month, lec in enumerate(lectures, start=1)}
    b01 = lambda month: {m[0] for m in figures_by_month[month]["b01"][10]}  # noqa: E731
    b02 = lambda month: {m[0] for m in figures_by_month[month]["b02"][10]}  # noqa: E731
    main = lambda month: {m[0] for m in figures_by_month[month]["main"][10]}  # noqa: E731
    assert "n0001" not in b01(1) and "n0001" in b01(2)
    assert "m0001" in b01(2) and "m0001" in b02(3) and "m0001" not in b01(3)
    assert "m0002" in b01(3) and "m0002" not in b01(4) and "m0002" in b01(5)
    assert "r0000" not in b02(5) and "r0000" in b02(6)
    assert "m0003" in b02(5) and "m0003" in b01(6) and "m0003" not in b01(7) | b02(7)
    assert "n0001" in b01(8) and "n0001" in main(9)
    assert "coord02" in b02(9) and "coord02" in b01(10)
    hours = {u: sum(line[2] for snap in snapshots.values() for line in snap["hours"].get(u, []))
             for u in ("m0001", "n0001")}
    assert hours["m0001"] > 0 and hours["n0001"] > 0


# --- the pages that show the history ----------------------------------------------------------------------

def test_admin_transfers_a_member_from_a_date_and_both_pages_show_the_history(client, org, make_lecture):
    lecture = make_lecture(datetime(2025, 3, 1, 6, tzinfo=UTC))
    client.login("admin")
    url = f"/admin/users/{org['member_a']}"
    form = client.get(url).get_data(as_text=True)
    assert 'name="effective_at"' in form
    response = client.submit(url, {"name": "张伟", "role": "member", "venue_ids": str(org["branch_b"]),
                                   "effective_at": "2025-04-01T09:00", "transfer_reason": "工作调动"})
    assert response.status_code == 302
    db.session.expire_all()
    history = [(m.venue.code, m.starts_at, m.ends_at, m.reason) for m in accounts.memberships_of(user("m0001"))]
    effective = datetime(2025, 4, 1, 1, tzinfo=UTC)  # 09:00 in Beijing
    assert history[-2][0] == "b01" and history[-2][2] == effective
    assert history[-1] == ("b02", effective, None, "工作调动")
    # The lecture before the transfer still counts the member at 第1分会场.
    assert "m0001" in [m[0] for row in figures(lecture) if row[0] == "b01" for m in row[10]]

    account = client.get(url).get_data(as_text=True)
    assert "第1分会场" in account and "第2分会场" in account and "2025-04-01 09:00" in account
    assert "转出" in account and "转入" in account and "工作调动" in account
    old_venue = client.get(f"/venues/{org['branch_a']}/members").get_data(as_text=True)
    assert "张伟" in old_venue.split("成员变动记录")[1] and "转出" in old_venue and "第2分会场" in old_venue
    assert "张伟" not in old_venue.split("成员变动记录")[0]  # no longer a current member there
    new_venue = client.get(f"/venues/{org['branch_b']}/members").get_data(as_text=True)
    assert "张伟" in new_venue.split("成员变动记录")[0] and "转入" in new_venue


def test_saving_an_account_untouched_transfers_no_one(client, org):
    client.login("admin")
    url = f"/admin/users/{org['member_a']}"
    before = [(m.venue_id, m.starts_at, m.ends_at) for m in accounts.memberships_of(user("m0001"))]
    form = client.get(url).get_data(as_text=True)
    effective = re.search(r'name="effective_at" type="datetime-local" value="([^"]+)"', form).group(1)
    response = client.submit(url, {"name": "张伟", "role": "member", "venue_ids": str(org["branch_a"]),
                                   "effective_at": effective, "transfer_reason": ""})
    assert response.status_code == 302
    db.session.expire_all()
    assert [(m.venue_id, m.starts_at, m.ends_at) for m in accounts.memberships_of(user("m0001"))] == before


def test_a_coordinator_sees_only_their_own_venues_membership_history(client, org):
    client.login("coord01")
    assert client.get(f"/venues/{org['branch_a']}/members").status_code == 200
    assert client.get(f"/venues/{org['branch_b']}/members").status_code == 403


# --- the migration -------------------------------------------------------------------------------------------

@pytest.fixture
def empty_database(database_url, tmp_path):
    """A database of its own on the same backend, for running the migrations step by step."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
        return
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"lecturehub_migrate_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _flask(url: str, *args: str) -> None:
    env = dict(os.environ, LECTUREHUB_DATABASE_URL=url, LECTUREHUB_SECRET_KEY="tests-only-secret")
    subprocess.run([str(Path(sys.executable).parent / "flask"), "--app", "wsgi", *args], cwd=PROJECT_ROOT, env=env,
                   check=True, capture_output=True)


def test_the_migration_gives_existing_accounts_a_membership_that_keeps_past_reports(empty_database):
    _flask(empty_database, "db", "upgrade", "8fdfd9f5bf65")
    engine = sa.create_engine(empty_database)
    created = datetime(2026, 11, 1, tzinfo=UTC)
    lecture_start = datetime(2020, 12, 29, 6, tzinfo=UTC)
    sqlite = empty_database.startswith("sqlite")
    stamp = (lambda moment: moment.replace(tzinfo=None)) if sqlite else (lambda moment: moment)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO venue (id, code, name, kind, position) VALUES "
                             "(1, 'b01', '第1分会场', 'branch', 1), (2, 'b02', '第2分会场', 'branch', 2)"))
        conn.execute(sa.text(
            'INSERT INTO "user" (id, username, name, role, home_venue_id, password_hash, active, '
            "must_change_password, created_at) VALUES "
            "(1, 'm1', '甲', 'member', 1, 'x', true, false, :created), "
            "(2, 'm2', '乙', 'member', 2, 'x', true, false, :created), "
            "(3, 'm3', '丙', 'member', 1, 'x', false, false, :created), "
            "(4, 'admin', '管理员', 'admin', NULL, 'x', true, false, :created)"), {"created": stamp(created)})
        conn.execute(sa.text("INSERT INTO course (id, slug, title, description_md, position, published) "
                             "VALUES (1, 'c', '专题', '', 0, true)"))
        conn.execute(sa.text(
            "INSERT INTO lecture (id, course_id, slug, title, speaker, host, starts_at, ends_at, format, "
            "study_hours, summary_md, quiz_pass_mark, published) VALUES (1, 1, 'l', '党课', '主讲', '', :start, "
            ":end, 'in_person', 2, '', 80, true)"),
            {"start": stamp(lecture_start), "end": stamp(lecture_start + timedelta(hours=2))})
        conn.execute(sa.text("INSERT INTO lecture_venue (lecture_id, venue_id) VALUES (1, 1)"))
    _flask(empty_database, "db", "upgrade")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT user_id, venue_id, starts_at, ends_at, began_how FROM membership "
                                    "ORDER BY user_id")).all()
        archive = conn.execute(sa.text("SELECT archive FROM lecture")).scalar_one()
        links = conn.execute(sa.text("SELECT lecture_id, venue_id FROM lecture_venue")).all()
    engine.dispose()
    assert links == [(1, 1)]  # adding the column kept the lecture's venues (no table copy cascading deletes)
    as_utc = (lambda value: datetime.fromisoformat(str(value)).replace(tzinfo=UTC)) if sqlite else (lambda v: v)
    # m1's venue took part in the 2020 lecture: their membership reaches back to it, so it still expects them.
    # m2's venue had no lecture: from the account's creation. Disabled m3 and the venue-less admin: none.
    assert [(r[0], r[1], as_utc(r[2]), r[3], r[4]) for r in rows] == [
        (1, 1, lecture_start, None, "joined"), (2, 2, created, None, "joined")]
    assert archive in (False, 0)
