"""Lecture tallies: the overview reads finished lectures' figures from them, and they always equal a recount."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from click.testing import CliRunner

from lecturehub.accounts import services as accounts
from lecturehub.accounts.models import User
from lecturehub.attendance import services as attendance
from lecturehub.attendance.models import AttendanceRecord, LectureTally, MemberHours, Method, Status
from lecturehub.attendance.tallies import count_lectures, tally_command
from lecturehub.core.timeutil import local_zone, utcnow
from lecturehub.courses.models import Lecture
from lecturehub.extensions import db
from lecturehub.reports import services as reports
from lecturehub.reports.lecture_figures import VenueFigures, lecture_figures
from lecturehub.venues.models import Venue


def user(username: str) -> User:
    return db.session.scalar(sa.select(User).where(User.username == username))


def venue(code: str) -> Venue:
    return db.session.scalar(sa.select(Venue).where(Venue.code == code))


def stored(lecture_id: int) -> dict[tuple[int, int], dict[str, int]]:
    rows = db.session.scalars(sa.select(LectureTally).where(LectureTally.lecture_id == lecture_id))
    return {(r.lecture_id, r.venue_id): {name: getattr(r, name) for name in
                                         ("expected", "present", "late", "excused", "absent", "made_up")}
            for r in rows}


def assert_tallies_match_records() -> None:
    """Every tally says exactly what counting the records again says; only finished lectures have one; every
    member's kept hours are what adding up their records of the tallied lectures gives."""
    db.session.expire_all()
    lecture_ids = set(db.session.scalars(sa.select(LectureTally.lecture_id).distinct()))
    for lecture_id in lecture_ids:
        assert stored(lecture_id) == count_lectures([lecture_id]), lecture_id
    now = utcnow()
    for lecture in db.session.scalars(sa.select(Lecture).where(Lecture.id.in_(lecture_ids))):
        assert not lecture.archive and attendance.window_of(lecture).phase(now) is attendance.Phase.CLOSED
        # The lecture report and its export read the tally: the same figures as counting member by member.
        from_tally = lecture_figures(lecture, None, now)
        assert all(isinstance(figures, VenueFigures) for figures in from_tally)
        assert [report_figures(f) for f in from_tally] == [
            report_figures(s) for s in reports.lecture_report(lecture, None, now)], lecture.id
    expected_hours: dict[tuple[int, int], list[Decimal]] = {}
    for record, lecture in db.session.execute(sa.select(AttendanceRecord, Lecture).join(Lecture).where(
            Lecture.id.in_(lecture_ids))):
        key = (record.user_id, lecture.starts_at.astimezone(local_zone()).year)
        credited, late = expected_hours.setdefault(key, [Decimal(0), Decimal(0)])
        if record.status is Status.PRESENT or record.made_up_at is not None:
            credited += lecture.study_hours
        elif record.status is Status.LATE:
            late += lecture.study_hours
        expected_hours[key] = [credited, late]
    kept = {(h.user_id, h.year): [h.credited, h.late] for h in db.session.scalars(sa.select(MemberHours))}
    assert kept == expected_hours


def report_figures(stats) -> tuple:
    return (stats.venue.id, stats.expected, *(stats.count(key) for key in reports.STATUS_KEYS), stats.made_up,
            stats.arrived, stats.rate, stats.quiz_done, stats.quiz_average)


def overview_cell(lecture_id: int, venue_id: int, now: datetime | None = None) -> dict:
    return reports.organisation_overview(None, None, None, now=now).cells[(lecture_id, venue_id)]


def test_a_finished_lecture_is_tallied_at_the_commit_that_changes_it(client, org, make_lecture):
    lecture = make_lecture(datetime(2025, 3, 10, 6, tzinfo=UTC))
    start = lecture.starts_at
    attendance.check_in(user("m0001"), lecture, org["branch_a"], Method.QR, now=start - timedelta(minutes=5))
    attendance.check_in(user("m0003"), lecture, org["branch_b"], Method.QR, now=start + timedelta(minutes=30))
    db.session.commit()
    tally = stored(lecture.id)
    assert tally[(lecture.id, org["branch_a"])] == {"expected": 3, "present": 1, "late": 0, "excused": 0,
                                                     "absent": 0, "made_up": 0}  # 张伟, 李娜, coordinator 甲
    assert tally[(lecture.id, org["branch_b"])]["late"] == 1
    # The overview reads the tally and adds the members with no record as absent, as before.
    cell = overview_cell(lecture.id, org["branch_a"])
    assert (cell["expected"], cell["present"], cell["absent"], cell["rate"]) == (3, 1, 2, 33.3)

    # A correction by the coordinator is in the tally and the overview at once.
    attendance.set_status(lecture, user("m0002"), org["branch_a"], Status.EXCUSED, "病假", user("coord01"),
                          now=lecture.ends_at + timedelta(days=1))
    db.session.commit()
    assert stored(lecture.id)[(lecture.id, org["branch_a"])]["excused"] == 1
    assert overview_cell(lecture.id, org["branch_a"])["absent"] == 1
    assert_tallies_match_records()


def test_a_failed_request_leaves_the_tally_as_it_was(client, org, make_lecture):
    lecture = make_lecture(datetime(2025, 3, 10, 6, tzinfo=UTC))
    attendance.check_in(user("m0001"), lecture, org["branch_a"], Method.QR, now=lecture.starts_at)
    db.session.commit()
    before = stored(lecture.id)
    attendance.set_status(lecture, user("m0002"), org["branch_a"], Status.PRESENT, "补登", user("admin"),
                          now=lecture.ends_at + timedelta(days=1))
    db.session.rollback()
    assert stored(lecture.id) == before
    db.session.add(AttendanceRecord(lecture_id=lecture.id, user_id=org["member_a2"], venue_id=org["branch_a"],
                                    status=Status.LATE, method=Method.ROSTER))
    db.session.commit()  # a later, unrelated commit recounts only what it changed, and correctly
    assert stored(lecture.id)[(lecture.id, org["branch_a"])]["late"] == 1
    assert_tallies_match_records()


def test_an_open_lecture_has_no_tally_and_the_overview_counts_it_live(client, org, open_lecture):
    attendance.check_in(user("m0001"), open_lecture, org["branch_a"], Method.QR)
    db.session.commit()
    assert stored(open_lecture.id) == {}
    assert overview_cell(open_lecture.id, org["branch_a"])["present"] == 1


def test_a_scan_queued_offline_that_arrives_after_the_lecture_reaches_its_tally(client, org, make_lecture):
    """A kiosk's queued scan is written by the check-in's own INSERT, which the session's change lists do not
    show: it still reaches the finished lecture's tally."""
    lecture = make_lecture(datetime(2025, 3, 10, 6, tzinfo=UTC))
    attendance.check_in(user("m0001"), lecture, org["branch_a"], Method.QR, now=lecture.starts_at)
    db.session.commit()
    assert stored(lecture.id)[(lecture.id, org["branch_a"])]["present"] == 1
    result = attendance.record_check_in(user("m0002"), lecture, org["branch_a"], Method.QR,
                                        scanned_at=lecture.starts_at - timedelta(minutes=5))
    assert result.created
    db.session.commit()
    assert stored(lecture.id)[(lecture.id, org["branch_a"])]["present"] == 2
    assert_tallies_match_records()


def test_a_savepoint_rolled_back_keeps_the_earlier_changes_marked(client, org, make_lecture):
    from lecturehub.core.transaction import savepoint

    lecture = make_lecture(datetime(2025, 3, 10, 6, tzinfo=UTC))
    attendance.check_in(user("m0001"), lecture, org["branch_a"], Method.QR, now=lecture.starts_at)
    db.session.commit()
    attendance.set_status(lecture, user("m0002"), org["branch_a"], Status.EXCUSED, "病假", user("coord01"),
                          now=lecture.ends_at + timedelta(days=1))
    try:
        with savepoint():
            db.session.add(Venue(code="b01", name="重复的编号"))  # refused: the code is taken
    except sa.exc.IntegrityError:
        pass
    db.session.commit()
    assert stored(lecture.id)[(lecture.id, org["branch_a"])]["excused"] == 1
    assert_tallies_match_records()


def test_a_backdated_transfer_recounts_the_lectures_after_it(client, org, make_lecture):
    march = make_lecture(datetime(2025, 3, 10, 6, tzinfo=UTC))
    may = make_lecture(datetime(2025, 5, 10, 6, tzinfo=UTC))
    for lecture in (march, may):
        attendance.check_in(user("m0001"), lecture, org["branch_a"], Method.QR, now=lecture.starts_at)
    db.session.commit()
    assert stored(may.id)[(may.id, org["branch_a"])]["expected"] == 3
    accounts.transfer_member(user("m0001"), venue("b02"), datetime(2025, 4, 1, 1, tzinfo=UTC), user("admin"),
                             "工作调动")
    db.session.commit()
    assert stored(march.id)[(march.id, org["branch_a"])]["expected"] == 3  # before the transfer: as it was
    assert stored(may.id)[(may.id, org["branch_a"])]["expected"] == 2
    assert stored(may.id)[(may.id, org["branch_b"])]["present"] == 1  # counted where May expected them
    assert_tallies_match_records()


def test_moving_a_lecture_or_its_venues_recounts_it(client, org, make_lecture):
    lecture = make_lecture(datetime(2025, 3, 10, 6, tzinfo=UTC), venues=("main", "branch_a"))
    attendance.check_in(user("m0001"), lecture, org["branch_a"], Method.QR, now=lecture.starts_at)
    db.session.commit()
    assert (lecture.id, org["branch_b"]) not in stored(lecture.id)
    from lecturehub.courses.models import LectureVenue

    lecture.venue_links.append(LectureVenue(venue_id=org["branch_b"]))
    db.session.commit()
    assert stored(lecture.id)[(lecture.id, org["branch_b"])]["expected"] == 2  # 王芳 and coordinator 乙
    link = next(link for link in lecture.venue_links if link.venue_id == org["branch_b"])
    lecture.venue_links.remove(link)
    db.session.delete(link)
    db.session.commit()
    assert (lecture.id, org["branch_b"]) not in stored(lecture.id)
    # Moved before anyone joined: it expected no one, anywhere.
    lecture.starts_at, lecture.ends_at = datetime(1999, 3, 10, 6, tzinfo=UTC), datetime(1999, 3, 10, 8, tzinfo=UTC)
    db.session.commit()
    assert all(cell["expected"] == 0 for cell in stored(lecture.id).values())
    # Moved into the future: its window is no longer closed, so it has no tally at all.
    lecture.starts_at = utcnow() + timedelta(days=3)
    lecture.ends_at = lecture.starts_at + timedelta(hours=2)
    db.session.commit()
    assert stored(lecture.id) == {}


def test_the_tally_command_fills_lectures_loaded_in_bulk(app, org, make_lecture):
    lecture = make_lecture(datetime(2025, 3, 10, 6, tzinfo=UTC))
    # A bulk load writes with core statements and commits without the session (as the benchmark does).
    with db.engine.begin() as conn:
        conn.execute(sa.delete(LectureTally))
        conn.execute(sa.insert(AttendanceRecord), [
            {"lecture_id": lecture.id, "user_id": org["member_b"], "venue_id": org["branch_b"],
             "status": Status.PRESENT, "method": Method.QR, "reason": "", "updated_at": lecture.starts_at}])
    assert stored(lecture.id) == {}
    # Until then the overview counts it from the records.
    assert overview_cell(lecture.id, org["branch_b"])["present"] == 1
    db.session.remove()
    runner = CliRunner()
    with app.test_request_context():
        result = runner.invoke(tally_command, [], obj=app.cli, catch_exceptions=False)
    assert result.exit_code == 0 and "1 lectures tallied" in result.output
    assert stored(lecture.id)[(lecture.id, org["branch_b"])]["present"] == 1
    result = app.test_cli_runner().invoke(args=["attendance", "tally"])
    assert "0 lectures tallied" in result.output  # nothing left without a tally
    assert_tallies_match_records()


# --- study hours per member and year ----------------------------------------------------------------------

def recounted_hours(year: int) -> dict[str, Decimal]:
    """Every member's hours of the year added up from the records, without the kept sums."""
    start, end = reports.year_bounds(year)
    rows = db.session.execute(
        sa.select(User.username, sa.func.sum(Lecture.study_hours))
        .join(AttendanceRecord, AttendanceRecord.user_id == User.id)
        .join(Lecture, Lecture.id == AttendanceRecord.lecture_id)
        .where(Lecture.starts_at >= start, Lecture.starts_at < end, Lecture.archive.is_(False),
               reports.credit_condition())
        .group_by(User.username))
    return {username: Decimal(hours).quantize(Decimal("0.1")) for username, hours in rows}


def reported_hours(org, year: int) -> dict[str, Decimal]:
    by_venue = reports.hours_by_member([org["main"], org["branch_a"], org["branch_b"]], year)
    return {row.user.username: row.hours for rows in by_venue.values() for row in rows if row.hours}


def test_study_hours_are_kept_with_the_tallies_and_equal_a_recount(app, client, org, make_lecture):
    march = make_lecture(datetime(2025, 3, 10, 6, tzinfo=UTC), study_hours=Decimal("2.0"))
    may = make_lecture(datetime(2025, 5, 10, 6, tzinfo=UTC), study_hours=Decimal("1.5"))
    for lecture in (march, may):
        attendance.check_in(user("m0001"), lecture, org["branch_a"], Method.QR, now=lecture.starts_at)
        attendance.check_in(user("m0003"), lecture, org["branch_b"], Method.QR,
                            now=lecture.starts_at + timedelta(minutes=40))  # late
    db.session.commit()
    kept = {(h.user_id, h.year): (h.credited, h.late) for h in db.session.scalars(sa.select(MemberHours))}
    assert kept[(org["member_a"], 2025)] == (Decimal("3.5"), Decimal("0"))
    assert kept[(org["member_b"], 2025)] == (Decimal("0"), Decimal("3.5"))
    assert reported_hours(org, 2025) == recounted_hours(2025) == {"m0001": Decimal("3.5"), "m0003": Decimal("3.5")}

    # Whether late arrivals earn hours is a setting, read with the kept sums without recounting them.
    app.config["LATE_EARNS_STUDY_HOURS"] = False
    try:
        assert reported_hours(org, 2025) == recounted_hours(2025) == {"m0001": Decimal("3.5")}
    finally:
        app.config["LATE_EARNS_STUDY_HOURS"] = True

    # A correction changes that member's hours only; a lecture's hours edited change everyone's.
    attendance.set_status(march, user("m0002"), org["branch_a"], Status.PRESENT, "补登", user("coord01"),
                          now=march.ends_at + timedelta(days=1))
    db.session.commit()
    assert reported_hours(org, 2025) == recounted_hours(2025) == {"m0001": Decimal("3.5"), "m0002": Decimal("2.0"),
                                                                  "m0003": Decimal("3.5")}
    may.study_hours = Decimal("3.0")
    db.session.commit()
    assert reported_hours(org, 2025) == recounted_hours(2025) == {"m0001": Decimal("5.0"), "m0002": Decimal("2.0"),
                                                                  "m0003": Decimal("5.0")}
    # Moved into the next year: its hours leave 2025 and count in 2026.
    may.starts_at, may.ends_at = datetime(2026, 1, 10, 6, tzinfo=UTC), datetime(2026, 1, 10, 8, tzinfo=UTC)
    db.session.commit()
    assert reported_hours(org, 2025) == recounted_hours(2025) == {"m0001": Decimal("2.0"), "m0002": Decimal("2.0"),
                                                                  "m0003": Decimal("2.0")}
    assert reported_hours(org, 2026) == recounted_hours(2026) == {"m0001": Decimal("3.0"), "m0003": Decimal("3.0")}


def test_an_open_lectures_hours_are_added_up_from_its_records(client, org, open_lecture):
    attendance.check_in(user("m0001"), open_lecture, org["branch_a"], Method.QR)
    db.session.commit()
    year = open_lecture.starts_at.astimezone(local_zone()).year
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MemberHours)) == 0
    assert reported_hours(org, year) == recounted_hours(year) == {"m0001": open_lecture.study_hours}


def test_hours_count_in_the_year_of_the_organisations_zone(client, org, make_lecture):
    """17:00 UTC on 31 December is already 1 January in Beijing: the lecture's hours count in the new year."""
    new_year = make_lecture(datetime(2025, 12, 31, 17, tzinfo=UTC), study_hours=Decimal("2.0"))
    attendance.check_in(user("m0001"), new_year, org["branch_a"], Method.QR, now=new_year.starts_at)
    db.session.commit()
    assert db.session.scalar(sa.select(MemberHours.year).where(MemberHours.user_id == org["member_a"])) == 2026
    assert reported_hours(org, 2026) == recounted_hours(2026) == {"m0001": Decimal("2.0")}
    assert reported_hours(org, 2025) == recounted_hours(2025) == {}
    assert_tallies_match_records()


def test_the_lecture_report_of_a_finished_lecture_reads_its_tally_and_says_what_the_records_say(client, org,
                                                                                                make_lecture):
    from lecturehub.quizzes.models import QuizAttempt

    lecture = make_lecture(datetime(2025, 3, 10, 6, tzinfo=UTC))
    start = lecture.starts_at
    attendance.check_in(user("m0001"), lecture, org["branch_a"], Method.QR, now=start - timedelta(minutes=5))
    attendance.check_in(user("m0003"), lecture, org["branch_b"], Method.QR, now=start + timedelta(minutes=30))
    # 张伟 tried the quiz twice (the better try counts: 2 of 3); 李娜 at branch B once (1 of 2).
    for username, right, asked in (("m0001", 1, 3), ("m0001", 2, 3), ("m0003", 1, 2)):
        db.session.add(QuizAttempt(user_id=user(username).id, lecture_id=lecture.id, submitted_at=lecture.ends_at,
                                   correct_count=right, question_count=asked, score=round(100 * right / asked),
                                   pass_mark=80, passed=False))
    db.session.commit()
    # A later transfer does not move 张伟's figures out of branch A (the lecture expected him there).
    accounts.transfer_member(user("m0001"), venue("b02"), utcnow(), user("admin"), reason="调动")
    db.session.commit()
    assert isinstance(lecture_figures(lecture, None)[0], VenueFigures)
    assert_tallies_match_records()

    client.login("admin")
    page = client.get(f"/reports/lectures/{lecture.id}").get_data(as_text=True)
    row = page[page.index(f"/venues/{org['branch_a']}\">"):]
    cells = [re.sub(r"<[^>]+>", "", cell) for cell in row[row.index("<td>"):row.index("</tr>")].split("</td>")[:-1]]
    # expected, present, late, excused, absent, made up, rate, quiz taken, average quiz score
    assert [c.strip() for c in cells] == ["3", "1", "0", "0", "2", "0", "33.3%", "1", "66.7"]
    sheet = client.get(f"/reports/lectures/{lecture.id}?format=csv").get_data(as_text=True)
    assert "50.0" in sheet and "66.7" in sheet  # branch B's and branch A's average quiz scores
