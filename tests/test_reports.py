"""Report figures against hand-computed values, exports re-read, and fixed query counts."""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from lecturehub.accounts.models import Membership, MembershipChange, Role, User
from lecturehub.attendance.models import AttendanceRecord, LeaveRequest, LeaveState, Method, Status
from lecturehub.core.timeutil import to_local, utcnow
from lecturehub.extensions import db
from lecturehub.quizzes.models import QuizAttempt
from lecturehub.reports import services

from .conftest import MEMBERS_SINCE

L1 = datetime(2026, 3, 1, 6, 0, tzinfo=timezone.utc)   # 14:00 Shanghai
L2 = datetime(2026, 4, 1, 6, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 7, 2, 12, 0, tzinfo=timezone.utc)  # half way through 2026


def add_record(lecture, user_id, venue_id, status, made_up=False, reason=""):
    db.session.add(AttendanceRecord(
        lecture_id=lecture.id, user_id=user_id, venue_id=venue_id, status=status, method=Method.ROSTER,
        checked_in_at=lecture.starts_at if status in (Status.PRESENT, Status.LATE) else None, reason=reason,
        made_up_at=lecture.ends_at + timedelta(days=1) if made_up else None, updated_at=lecture.starts_at))


def add_attempt(lecture, user_id, score):
    db.session.add(QuizAttempt(user_id=user_id, lecture_id=lecture.id, correct_count=score // 10, question_count=10,
                               score=score, pass_mark=80, passed=score >= 80, submitted_at=lecture.ends_at))


@pytest.fixture
def data(org, make_lecture):
    """Branch A: coord01, m0001, m0002. Branch B: coord02, m0003. Main: nobody expected.

    L1 (2 h): A — m0001 present, m0002 late, coord01 excused (病假); B — coord02 present, m0003 absent, made up.
    L2 (1.5 h): A — all three present; B — nothing recorded (both absent).
    Quiz L1: m0001 60 then 90, m0002 100.
    """
    l1 = make_lecture(L1, study_hours=Decimal("2.0"))
    l2 = make_lecture(L2, study_hours=Decimal("1.5"))
    add_record(l1, org["member_a"], org["branch_a"], Status.PRESENT)
    add_record(l1, org["member_a2"], org["branch_a"], Status.LATE)
    add_record(l1, org["coord_a"], org["branch_a"], Status.EXCUSED, reason="病假")
    db.session.add(LeaveRequest(lecture_id=l1.id, user_id=org["coord_a"], reason="病假", state=LeaveState.APPROVED))
    add_record(l1, org["coord_b"], org["branch_b"], Status.PRESENT)
    add_record(l1, org["member_b"], org["branch_b"], Status.ABSENT, made_up=True)
    for key in ("member_a", "member_a2", "coord_a"):
        add_record(l2, org[key], org["branch_a"], Status.PRESENT)
    add_attempt(l1, org["member_a"], 60)
    add_attempt(l1, org["member_a"], 90)
    add_attempt(l1, org["member_a2"], 100)
    db.session.commit()
    return {**org, "l1": l1.id, "l2": l2.id, "course": l1.course_id}


def test_lecture_report_figures(data):
    from lecturehub.courses.models import Lecture

    stats = {s.venue.code: s for s in services.lecture_report(db.session.get(Lecture, data["l1"]), None, now=NOW)}
    a, b, main = stats["b01"], stats["b02"], stats["main"]
    assert (a.expected, a.count("present"), a.count("late"), a.count("excused"), a.count("absent"), a.made_up) == \
        (3, 1, 1, 1, 0, 0)
    assert a.rate == 66.7
    assert (b.expected, b.count("present"), b.count("absent"), b.made_up, b.rate) == (2, 1, 1, 1, 50.0)
    assert (main.expected, main.rate) == (0, 0.0)
    assert [m.user.name for m in a.names("excused")] == ["甲负责人"]
    assert [(u.name, reason) for u, reason, _state in a.leave_reasons] == [("甲负责人", "病假")]
    assert (a.quiz_done, a.quiz_average) == (2, 95.0)  # best scores 90 and 100
    assert (b.quiz_done, b.quiz_average) == (0, None)


def test_overview_ranking_and_trend(data):
    overview = services.organisation_overview(None, None, None, now=NOW)
    assert [lec.id for lec in overview.lectures] == [data["l1"], data["l2"]]
    cell = overview.cells[(data["l2"], data["branch_b"])]
    assert (cell["expected"], cell["arrived"], cell["absent"], cell["rate"]) == (2, 0, 2, 0.0)  # implied absence
    ranking = services.ranking(overview, data["l1"])
    assert [(v.code, c["rate"]) for v, c in ranking] == [("b01", 66.7), ("b02", 50.0), ("main", 0.0)]
    # L1: 3 arrived of 5 expected; L2: 3 of 5.
    assert [value for _lec, value in overview.trend] == [60.0, 60.0]
    only_march = services.organisation_overview(None, L1.date(), L1.date() + timedelta(days=5), now=NOW)
    assert [lec.id for lec in only_march.lectures] == [data["l1"]]
    # On the day of L2 its check-in is still open: the trend shows only L1, the matrix both.
    during_l2 = services.organisation_overview(None, None, None, now=L2 + timedelta(minutes=30))
    assert [lec.id for lec, _value in during_l2.trend] == [data["l1"]]
    assert [lec.id for lec in during_l2.lectures] == [data["l1"], data["l2"]]


def test_my_records_link_every_year_with_lectures(client, data, make_lecture):
    make_lecture(datetime(2020, 12, 29, 6, 0, tzinfo=timezone.utc))
    client.login("m0001")
    page = client.get("/reports/me?year=2026").get_data(as_text=True)
    assert 'href="/reports/me?year=2020"' in page and 'aria-current="page">2026<' in page
    assert "测试党课" in client.get("/reports/me?year=2020").get_data(as_text=True)


def test_csv_names_its_charset_once(client, data):
    client.login("admin")
    response = client.get(f"/reports/lectures/{data['l1']}?format=csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"


def test_course_matrix(data):
    from lecturehub.courses.models import Course
    from lecturehub.venues.models import Venue

    matrix = services.course_matrix(db.session.get(Course, data["course"]), db.session.get(Venue, data["branch_a"]),
                                    now=NOW)
    rows = {member.username: ([c.key for c in cells], totals) for member, cells, totals in matrix.rows}
    assert rows["m0001"] == (["present", "present"], {"present": 2, "made_up": 0})
    assert rows["m0002"][0] == ["late", "present"]
    assert rows["coord01"][1] == {"excused": 1, "present": 1, "made_up": 0}


def test_study_hours(app, data):
    by_venue = services.hours_by_member([data["branch_a"], data["branch_b"]], 2026, now=NOW)
    hours = {row.user.username: (row.hours, row.on_track) for rows in by_venue.values() for row in rows}
    # Half the year has passed: on track means at least 16 of the 32 hours.
    assert hours == {"m0001": (Decimal("3.5"), False), "m0002": (Decimal("3.5"), False),
                     "coord01": (Decimal("1.5"), False), "coord02": (Decimal("2.0"), False),
                     "m0003": (Decimal("2.0"), False)}
    app.config["LATE_EARNS_STUDY_HOURS"] = False
    try:
        by_venue = services.hours_by_member([data["branch_a"]], 2026, now=NOW)
        assert {r.user.username: r.hours for r in by_venue[data["branch_a"]]}["m0002"] == Decimal("1.5")
    finally:
        app.config["LATE_EARNS_STUDY_HOURS"] = True
    app.config["STUDY_HOURS_TARGETS"] = {"default": 32, "member": 6}
    try:
        rows = services.hours_by_member([data["branch_a"]], 2026, now=NOW)[data["branch_a"]]
        assert {r.user.username: r.on_track for r in rows} == {"coord01": False, "m0001": True, "m0002": True}
    finally:
        app.config["STUDY_HOURS_TARGETS"] = {"default": 32}


def test_member_ledger(data):
    member = db.session.get(User, data["member_b"])
    lines = services.member_ledger(member, 2026, now=NOW)
    assert [(line.status, line.made_up, line.hours) for line in lines] == [
        (Status.ABSENT, True, Decimal("2.0")), (Status.ABSENT, False, Decimal("0"))]


def test_lecture_report_xlsx(client, data):
    client.login("coord01")
    response = client.get(f"/reports/lectures/{data['l1']}?format=xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert [c.value for c in sheet[1]][:8] == ["会场", "应到", "出席", "迟到", "请假", "缺席", "补学完成", "出勤率"]
    assert sheet.freeze_panes == "A2"
    row = [c.value for c in sheet[2]]
    assert row[:7] == ["第1分会场", 3, 1, 1, 1, 0, 0]
    assert abs(row[7] - 0.667) < 1e-9 and sheet.cell(2, 8).number_format == "0.0%"
    assert sheet.max_row == 2  # coord01 sees only their venue
    assert sheet.column_dimensions["A"].width >= 10


def test_names_export_has_real_dates_and_csv_has_bom(client, data):
    client.login("admin")
    xlsx = client.get(f"/reports/lectures/{data['l1']}/venues/{data['branch_b']}?format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    rows = {r[1]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    made_up = rows["王芳"][3]
    assert isinstance(made_up, datetime) and made_up == datetime(2026, 3, 2, 16, 0)  # Shanghai wall-clock
    csv = client.get(f"/reports/lectures/{data['l1']}/venues/{data['branch_b']}?format=csv")
    assert csv.data.startswith(b"\xef\xbb\xbf")
    text = csv.data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("编号,姓名,状态") and "王芳" in text


def test_bad_export_format_is_400(client, data):
    client.login("admin")
    assert client.get(f"/reports/lectures/{data['l1']}?format=pdf").status_code == 400
    assert client.get("/reports/overview?format=xlsx&table=secrets").status_code == 400
    assert client.get("/reports/hours?year=abc").status_code == 400
    assert client.get("/reports/overview?start=2026-13-45").status_code == 422


def test_drill_down_page_names_the_absent(client, data):
    client.login("admin")
    page = client.get(f"/reports/overview?lecture={data['l2']}").get_data(as_text=True)
    assert f"/reports/lectures/{data['l2']}/venues/{data['branch_b']}#absent" in page
    names = client.get(f"/reports/lectures/{data['l2']}/venues/{data['branch_b']}").get_data(as_text=True)
    section = names.split('id="absent"', 1)[1].split("</section>", 1)[0]
    assert "王芳" in section and "乙负责人" in section


def test_printable_record_and_sheet(client, data):
    client.login("coord01")
    record = client.get(f"/reports/lectures/{data['l1']}/venues/{data['branch_a']}/record").get_data(as_text=True)
    for text in ("第1分会场", "主讲人", "测试党课", "甲负责人", "病假", "@page" if False else "签名"):
        assert text in record, text
    sheet = client.get(f"/reports/lectures/{data['l1']}/venues/{data['branch_a']}/sheet").get_data(as_text=True)
    assert sheet.count('class="sign"') == 3


# --- a fixed number of queries, whatever the size ------------------------------------------------

def grow(org, make_lecture, factor: int) -> None:
    """Add members to both branches and lectures with records, `factor` times a small base."""
    password_hash = db.session.get(User, org["member_a"]).password_hash
    users = [User(username=f"g{factor}_{n}", name=f"党员{n}", member_no=f"g{factor}_{n}", role=Role.MEMBER,
                  home_venue_id=org["branch_a"] if n % 2 else org["branch_b"], password_hash=password_hash)
             for n in range(4 * factor)]
    db.session.add_all(users)
    db.session.add_all([Membership(user=user, venue_id=user.home_venue_id, starts_at=MEMBERS_SINCE,
                                   began_how=MembershipChange.JOINED) for user in users])
    db.session.commit()
    for index in range(factor):
        lecture = make_lecture(L1 + timedelta(days=7 * (index + 10), hours=factor))
        for n, user in enumerate(users):
            if n % 3:
                add_record(lecture, user.id, user.home_venue_id, Status.PRESENT if n % 3 == 1 else Status.LATE)
            if n % 4 == 0:
                add_attempt(lecture, user.id, 80)
    db.session.commit()


REPORT_URLS = [
    ("admin", "/reports/lectures/{l1}"),
    ("admin", "/reports/lectures/{l1}/venues/{branch_a}"),
    ("admin", "/reports/lectures/{l1}/venues/{branch_a}/record"),
    ("admin", "/reports/lectures/{l1}/venues/{branch_a}/sheet"),
    ("admin", "/reports/courses/{course}/venues/{branch_a}"),
    ("admin", "/reports/overview"),
    ("admin", "/reports/hours?year=2026"),
    ("admin", "/reports/hours/venues/{branch_a}?year=2026"),
    ("coord01", "/reports/lectures/{l1}?format=xlsx"),
    ("m0001", "/reports/me?year=2026"),
]


def count_queries(app, client, url: str) -> int:
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = client.get(url)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 200, url
    return len(statements)


def test_report_pages_use_a_fixed_number_of_queries(app, data, org, make_lecture):
    clients = {}
    for login, _url in REPORT_URLS:
        if login not in clients:
            clients[login] = app.test_client()
            clients[login].login(login)

    def measure():
        return {url: count_queries(app, clients[login], url.format(**data)) for login, url in REPORT_URLS}

    grow(org, make_lecture, 2)
    small = measure()
    grow(org, make_lecture, 20)  # ten times more members and lectures
    large = measure()
    assert large == small
    assert max(small.values()) <= 15, small


def test_member_exports_only_their_own_quiz_results(client, data):
    client.login("m0001")
    sheet = load_workbook(io.BytesIO(client.get("/reports/me?year=2026&format=xlsx&table=quizzes").data)).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [("测试党课", 2, 90, "是")]
    assert client.get("/reports/me?format=csv&table=other").status_code == 400


# --- reading the overview and the matrices without being misled ----------------------------------

def selected_option(page: str, name: str) -> str:
    """The value the browser shows as chosen in the select `name` (the first option when none is marked)."""
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S).group(1)
    chosen = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', select)
    if chosen:
        return chosen.group(1) or chosen.group(2)
    return re.search(r'<option[^>]*value="([^"]*)"', select).group(1)


@pytest.fixture
def future_lecture(data, make_lecture):
    """A lecture a week ahead, so the newest lecture is not the one that can be ranked."""
    from lecturehub.core.timeutil import utcnow

    return make_lecture(utcnow().replace(microsecond=0) + timedelta(days=7))


def test_overview_selector_shows_the_lecture_it_ranks(client, data, future_lecture):
    client.login("admin")
    page = client.get("/reports/overview").get_data(as_text=True)
    # The newest lecture is a week ahead; the page ranks the last finished one and the selector says so.
    assert selected_option(page, "lecture") == str(data["l2"])
    assert selected_option(page, "rank_by") == "rate"
    # Pressing the button untouched submits what the selector shows: the same lecture is ranked again.
    again = client.get(f"/reports/overview?course=&start=&end=&lecture={data['l2']}&rank_by=rate")
    assert selected_option(again.get_data(as_text=True), "lecture") == str(data["l2"])
    # Choosing the lecture not yet held says so instead of ranking every venue at 0%.
    ahead = client.get(f"/reports/overview?lecture={future_lecture.id}").get_data(as_text=True)
    assert selected_option(ahead, "lecture") == str(future_lecture.id)
    assert "尚未举行" in ahead.split('id="ranking"', 1)[1]
    # A lecture id from outside the filters falls back to the ranked lecture, and the selector shows that.
    other = client.get("/reports/overview?lecture=999999").get_data(as_text=True)
    assert selected_option(other, "lecture") == str(data["l2"])


def test_overview_matrix_labels_lectures_and_shows_one_not_yet_held(client, data, future_lecture):
    client.login("admin")
    page = client.get("/reports/overview").get_data(as_text=True)
    matrix = page.split("各会场历次出勤率", 1)[1]
    head = matrix.split("</thead>", 1)[0]
    assert "2026-03-01<br>测试党课" in head and "2026-04-01<br>测试党课" in head
    row = matrix.split("第2分会场", 1)[1].split("</tr>", 1)[0]
    # L1 50%, L2 0% (both absent), the lecture a week ahead: not yet held, not 0%.
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert ">50.0%<" in cells[0] and ">0.0%<" in cells[1]
    assert "未举行" in cells[2] and "%" not in cells[2]
    sheet = load_workbook(io.BytesIO(client.get("/reports/overview?format=xlsx&table=matrix").data)).active
    assert [c.value for c in sheet[1]][1:] == ["2026-03-01 测试党课", "2026-04-01 测试党课",
                                              to_local(future_lecture.starts_at).strftime("%Y-%m-%d") + " 测试党课"]
    by_venue = {r[0]: r[1:] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert by_venue["第2分会场"] == (0.5, 0.0, "未举行")


def test_ranking_reads_by_rate_or_by_absences(client, data):
    """L1: 第1分会场 66.7% with 0 absent (one on leave), 第2分会场 50% with 1 absent, 主会场 expects nobody."""
    client.login("admin")
    by_rate = client.get(f"/reports/overview?lecture={data['l1']}&rank_by=rate").get_data(as_text=True)
    assert "出勤率 = 已签到（出席或迟到）÷ 应到人数" in by_rate and "请假" in by_rate.split('id="rate-means"', 1)[1]
    rows = by_rate.split('id="ranking"', 1)[1].split("</tbody>", 1)[0]
    assert rows.index("第1分会场") < rows.index("第2分会场")
    overview = services.organisation_overview(None, None, None, now=NOW)
    by_absent = services.ranking(overview, data["l1"], by="absent")
    # Equal absences fall back to the rate: 第1分会场 (0 absent, 66.7%) before 主会场 (0 absent, nobody expected).
    assert [(v.code, c["absent"], c["excused"]) for v, c in by_absent] == [
        ("b01", 0, 1), ("main", 0, 0), ("b02", 1, 0)]
    page = client.get(f"/reports/overview?lecture={data['l1']}&rank_by=absent").get_data(as_text=True)
    assert selected_option(page, "rank_by") == "absent"
    sheet = load_workbook(io.BytesIO(client.get(
        f"/reports/overview?lecture={data['l1']}&rank_by=absent&format=xlsx&table=ranking").data)).active
    assert [c.value for c in sheet[1]] == ["名次", "会场", "应到", "已签到", "请假", "缺席", "出勤率"]
    assert [r[1] for r in sheet.iter_rows(min_row=2, values_only=True)] == ["第1分会场", "主会场", "第2分会场"]


def test_course_matrix_columns_keep_the_year_and_a_lecture_not_yet_held(client, data, future_lecture,
                                                                         make_lecture):
    make_lecture(datetime(2020, 12, 29, 6, 0, tzinfo=timezone.utc))
    client.login("coord01")
    page = client.get(f"/reports/courses/{data['course']}/venues/{data['branch_a']}").get_data(as_text=True)
    head = page.split("</thead>", 1)[0]
    assert "2020-12-29<br>测试党课" in head and "2026-03-01<br>测试党课" in head
    row = page.split("张伟", 1)[1].split("</tr>", 1)[0]
    assert row.count("未举行") == 1 and "未签到" not in row
    sheet = load_workbook(io.BytesIO(client.get(
        f"/reports/courses/{data['course']}/venues/{data['branch_a']}?format=xlsx").data)).active
    assert [c.value for c in sheet[1]][2] == "2020-12-29 测试党课"
    rows = {r[1]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["张伟"][2:6] == ("缺席", "出席", "出席", "未举行")


def test_english_counts_take_the_singular(app, client, data):
    client.login("m0002")  # one attempt at L1's quiz
    page = client.get("/reports/me?year=2026", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "1 attempt, best 100%" in page and "1 attempts" not in page
    other = app.test_client()
    other.login("m0001")
    page = other.get("/reports/me?year=2026", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "2 attempts, best 90%" in page


def test_branch_record_names_course_hours_make_up_and_both_dates(client, data, make_lecture):
    client.login("coord02")
    record = client.get(f"/reports/lectures/{data['l1']}/venues/{data['branch_b']}/record").get_data(as_text=True)
    assert "专题" in record and "学时" in record and ">2<" in record.replace(".0<", "<")
    made_up = record.split("补学完成", 1)[1].split("</tr>", 1)[0]
    assert "王芳（2026-03-02 16:00）" in made_up  # L1 ended 16:00 Shanghai; made up a day later
    # 22:30 to 00:30 Shanghai time: the record shows both dates.
    late = make_lecture(datetime(2026, 5, 1, 14, 30, tzinfo=timezone.utc))
    record = client.get(f"/reports/lectures/{late.id}/venues/{data['branch_b']}/record").get_data(as_text=True)
    assert "2026-05-01 22:30 – 2026-05-02 00:30" in record
    sheet = client.get(f"/reports/lectures/{late.id}/venues/{data['branch_b']}/sheet").get_data(as_text=True)
    assert "2026-05-01 22:30 – 2026-05-02 00:30" in sheet and "分会场负责人签字" in sheet


EXPORTS = [
    ("coord01", "/reports/lectures/{l1}?format=xlsx", "出勤情况 · 2026-03-01 测试党课", "landscape"),
    ("coord01", "/reports/lectures/{l1}/venues/{branch_a}?format=xlsx", "党员 · 第1分会场 · 2026-03-01 测试党课", None),
    ("coord01", "/reports/courses/{course}/venues/{branch_a}?format=xlsx", "出勤明细 · 第1分会场 · 专题", None),
    ("admin", "/reports/overview?format=xlsx&table=matrix", "各会场历次出勤率", None),
    ("admin", "/reports/overview?format=xlsx&table=ranking&lecture={l1}", "排名 · 2026-03-01 测试党课", None),
    ("admin", "/reports/hours?format=xlsx&year=2026", "学时 · 2026", None),
    ("coord01", "/reports/hours/venues/{branch_a}?format=xlsx&year=2026", "学时 · 第1分会场 · 2026", None),
    ("m0001", "/reports/me?format=xlsx&year=2026", None, None),
]


def test_xlsx_exports_print_well(app, data):
    """Read back what Excel, WPS or LibreOffice use when printing: A4, fitted to the page width, landscape when wide,
    the header row on every page, the report named in the page header, numbered pages."""
    clients = {}
    for login, url, heading, orientation in EXPORTS:
        if login not in clients:
            clients[login] = app.test_client()
            clients[login].login(login)
        response = clients[login].get(url.format(**data))
        assert response.status_code == 200, url
        sheet = load_workbook(io.BytesIO(response.data)).active
        setup = sheet.page_setup
        # 9: A4; one page wide (an absent fitToWidth means 1 in the file format, ECMA-376), as many pages down as needed
        assert (setup.paperSize, setup.fitToWidth or 1, setup.fitToHeight) == (9, 1, 0), url
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, url
        assert sheet.print_title_rows == "$1:$1", url
        assert sheet.oddFooter.center.text == "&P / &N", url
        if heading:
            assert sheet.oddHeader.center.text == heading, url
        if orientation:
            assert setup.orientation == orientation, url
        assert all(cell.alignment.wrap_text for cell in sheet[1]), url
    narrow = load_workbook(io.BytesIO(clients["coord01"].get(
        f"/reports/hours/venues/{data['branch_a']}?format=xlsx&year=2026").data)).active
    assert narrow.page_setup.orientation == "portrait"


def test_full_lecture_titles_in_xlsx_headers_and_csv_note(client, data, make_lecture):
    long_title = "学习贯彻习近平总书记关于人力资源和社会保障工作重要论述，推动人社事业高质量发展"
    lecture = make_lecture(datetime(2026, 5, 1, 6, 0, tzinfo=timezone.utc))
    lecture.title = long_title
    db.session.commit()
    client.login("coord01")
    sheet = load_workbook(io.BytesIO(client.get(
        f"/reports/courses/{data['course']}/venues/{data['branch_a']}?format=xlsx").data)).active
    assert f"2026-05-01 {long_title}" in [c.value for c in sheet[1]]
    page = client.get(f"/reports/lectures/{data['l1']}").get_data(as_text=True)
    assert "Excel、WPS 表格、LibreOffice Calc 和 Numbers 可直接打开" in page


def test_lecture_report_of_a_lecture_not_yet_held_shows_no_rates(client, data, future_lecture):
    client.login("admin")
    page = client.get(f"/reports/lectures/{future_lecture.id}").get_data(as_text=True)
    assert "这次党课尚未举行" in page
    table = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert "0.0%" not in page and table.count("未举行") == 3


def test_an_unchanged_report_downloads_byte_for_byte_the_same(monkeypatch):
    """openpyxl and zipfile stamp the clock into an XLSX; a filed record must not change with the download time."""
    import time

    from lecturehub.reports.tables import Column, Table, to_xlsx

    table = Table("出勤", [Column("姓名"), Column("签到时间", "datetime")],
                  [["张伟", datetime(2020, 12, 29, 6, 58, tzinfo=timezone.utc)]])
    monkeypatch.setattr(time, "time", lambda: 1_600_000_000.0)
    first = to_xlsx(table)
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    second = to_xlsx(table)
    assert first == second
    sheet = load_workbook(io.BytesIO(second)).active
    assert [c.value for c in sheet[2]][0] == "张伟"


def test_best_scores_round_by_the_one_rule(client, org, make_lecture):
    """5 right of 8 reads 62.5% on the member's page and in the venue's drill-down, as every other share does."""
    from lecturehub.quizzes.models import QuizAttempt

    lecture = make_lecture(utcnow() - timedelta(days=1))
    member = db.session.scalar(sa.select(User).where(User.username == "m0001"))
    db.session.add(QuizAttempt(lecture_id=lecture.id, user_id=member.id, correct_count=5, question_count=8, score=62,
                               pass_mark=80, passed=False, submitted_at=utcnow()))
    db.session.commit()
    assert services.member_quiz_results(member)[0][2] == 62.5
    stats = services.lecture_report(lecture, [org["branch_a"]])[0]
    assert stats.quiz_average == 62.5


def test_a_large_venue_reads_its_course_matrix_a_page_of_members_at_a_time_and_downloads_it_whole(client, data):
    # 60 more members at branch A, since before the lectures: 63 in all, member numbers x001 … x060 after m0002.
    db.session.execute(sa.insert(User), [
        {"username": f"x{n:03d}", "name": f"新党员{n:03d}", "member_no": f"x{n:03d}", "role": Role.MEMBER,
         "home_venue_id": data["branch_a"], "active": True, "password_hash": "-", "must_change_password": False,
         "created_at": MEMBERS_SINCE} for n in range(1, 61)])
    db.session.execute(sa.insert(Membership), [
        {"user_id": user_id, "venue_id": data["branch_a"], "starts_at": MEMBERS_SINCE,
         "began_how": MembershipChange.JOINED, "reason": ""}
        for user_id in db.session.scalars(sa.select(User.id).where(User.username.like("x%")))])
    db.session.commit()
    client.login("coord01")
    url = f"/reports/courses/{data['course']}/venues/{data['branch_a']}"
    first = client.get(url).get_data(as_text=True)
    assert first.count('<th scope="row">') == services.MATRIX_PAGE_SIZE == 50
    assert "第 1–50 名，共 63 名" in first and f'href="{url}?page=2"' in first
    assert "张伟" in first and "新党员060" not in first  # in member-number order: m0001 before x001
    second = client.get(f"{url}?page=2").get_data(as_text=True)
    assert second.count('<th scope="row">') == 13 and "新党员060" in second and "张伟" not in second
    assert f'href="{url}?page=1"' in second
    # The download has every member, whatever page was on screen.
    sheet = load_workbook(io.BytesIO(client.get(f"{url}?format=xlsx&page=2").data)).active
    assert sheet.max_row == 1 + 63
    assert client.get(f"{url}?page=0").status_code == 400
    assert client.get(f"{url}?page=99999999999").status_code == 400
