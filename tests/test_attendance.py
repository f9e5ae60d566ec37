"""Attendance rules and pages: window edges, codes, check-in, roster, sheets, leave, absence, make-up."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from lecturehub.accounts.models import User
from lecturehub.attendance import codes, services
from lecturehub.attendance.models import (
    AttendanceChange,
    AttendanceRecord,
    KeyPointsRead,
    LeaveRequest,
    LeaveState,
    Method,
    Status,
)
from lecturehub.attendance.services import Phase
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.models import Lecture, LectureVenue
from lecturehub.extensions import db
from lecturehub.quizzes.models import Question

START = datetime(2026, 3, 1, 6, 0, tzinfo=timezone.utc)  # 14:00 in Shanghai


def user(org, key) -> User:
    return db.session.get(User, org[key])


def record_of(lecture_id: int, user_id: int) -> AttendanceRecord | None:
    return db.session.scalar(sa.select(AttendanceRecord).where(AttendanceRecord.lecture_id == lecture_id,
                                                               AttendanceRecord.user_id == user_id))


def link_id(lecture_id: int, venue_id: int) -> int:
    return db.session.scalar(sa.select(LectureVenue.id).where(LectureVenue.lecture_id == lecture_id,
                                                              LectureVenue.venue_id == venue_id))


# --- rules ----------------------------------------------------------------------------------------

def test_window_edges_with_default_settings(make_lecture):
    window = services.window_of(make_lecture(START))
    assert window.phase(START - timedelta(minutes=30, seconds=1)) is Phase.NOT_OPEN
    assert window.phase(START - timedelta(minutes=30)) is Phase.ON_TIME
    assert window.phase(START + timedelta(minutes=10)) is Phase.ON_TIME
    assert window.phase(START + timedelta(minutes=10, seconds=1)) is Phase.LATE
    assert window.phase(START + timedelta(minutes=120)) is Phase.LATE
    assert window.phase(START + timedelta(minutes=120, seconds=1)) is Phase.CLOSED


def test_window_settings_are_per_lecture(make_lecture):
    lecture = make_lecture(START, checkin_opens_minutes=60, checkin_grace_minutes=0, checkin_closes_minutes=15)
    window = services.window_of(lecture)
    assert window.phase(START - timedelta(minutes=59)) is Phase.ON_TIME
    assert window.phase(START + timedelta(seconds=1)) is Phase.LATE
    assert window.phase(START + timedelta(minutes=134)) is Phase.LATE
    assert window.phase(START + timedelta(minutes=136)) is Phase.CLOSED


def test_codes_rotate_and_the_previous_one_stays_valid(app, ctx):
    now = datetime(2026, 3, 1, 6, 0, 15, tzinfo=timezone.utc)
    code, left = codes.current_code(1, 2, now)
    assert len(code) == 6 and code.isdigit() and left == 15
    assert codes.code_is_valid(1, 2, code, now)
    assert codes.code_is_valid(1, 2, code, now + timedelta(seconds=30))  # one period later: still accepted
    assert not codes.code_is_valid(1, 2, code, now + timedelta(seconds=60))  # two periods later: expired
    assert codes.current_code(1, 2, now + timedelta(seconds=30))[0] != code
    assert codes.current_code(1, 3, now)[0] != code  # each venue has its own codes
    assert not codes.code_is_valid(1, 2, "000000" if code != "000000" else "111111", now)


def test_check_in_on_time_late_and_twice(org, make_lecture):
    lecture = make_lecture(START)
    member, other = user(org, "member_a"), user(org, "member_a2")
    first = services.check_in(member, lecture, org["branch_a"], Method.QR, now=START + timedelta(minutes=10))
    assert first.created and first.record.status is Status.PRESENT and not first.other_venue
    again = services.check_in(member, lecture, org["branch_a"], Method.CODE, now=START + timedelta(minutes=50))
    assert not again.created and again.record.status is Status.PRESENT
    assert again.record.checked_in_at == START + timedelta(minutes=10)
    late = services.check_in(other, lecture, org["main"], Method.CODE, now=START + timedelta(minutes=11))
    assert late.record.status is Status.LATE and late.other_venue and late.record.venue_id == org["main"]
    assert db.session.scalar(sa.select(sa.func.count(AttendanceRecord.id))) == 2


def test_check_in_outside_the_window_is_refused(org, make_lecture):
    lecture = make_lecture(START)
    member = user(org, "member_a")
    with pytest.raises(services.CheckinError) as early:
        services.check_in(member, lecture, org["branch_a"], Method.QR, now=START - timedelta(minutes=31))
    assert early.value.reason == "not_open"
    with pytest.raises(services.CheckinError) as late:
        services.check_in(member, lecture, org["branch_a"], Method.QR, now=START + timedelta(hours=3))
    assert late.value.reason == "closed"
    assert record_of(lecture.id, member.id) is None


def test_arrival_overrides_an_excused_mark(org, make_lecture):
    lecture = make_lecture(START)
    member, coordinator = user(org, "member_a"), user(org, "coord_a")
    services.set_status(lecture, member, org["branch_a"], Status.EXCUSED, "病假", by=coordinator,
                        now=START - timedelta(hours=1))
    result = services.check_in(member, lecture, org["branch_a"], Method.QR, now=START + timedelta(minutes=20))
    assert result.created and result.record.status is Status.LATE


def test_absence_is_implied_once_the_window_closes(org, make_lecture):
    lecture = make_lecture(START)
    venue = db.session.get(type(user(org, "member_a").home_venue), org["branch_a"])
    during = services.venue_roster(lecture, venue, now=START)
    assert {row.status for row in during.rows} == {None}
    after = services.venue_roster(lecture, venue, now=START + timedelta(hours=3))
    # coord01 lives at branch A too: three expected, all absent.
    assert after.expected == 3 and after.count(Status.ABSENT) == 3


def test_code_check_in_finds_the_venue_by_its_code(org, make_lecture):
    lecture = make_lecture(START)
    now = START - timedelta(minutes=5)
    code, _left = codes.current_code(lecture.id, org["branch_b"], now)
    assert services.venue_for_code(lecture, code, now) == org["branch_b"]
    with pytest.raises(services.CheckinError):
        services.check_in_with_code(user(org, "member_a"), lecture, org["branch_a"], code, Method.QR, now)


# --- member pages ---------------------------------------------------------------------------------

def test_member_checks_in_with_the_typed_code(client, org, open_lecture):
    client.login("m0001")
    page = client.get(f"/lectures/{open_lecture.id}").get_data(as_text=True)
    assert 'inputmode="numeric"' in page
    code, _ = codes.current_code(open_lecture.id, org["branch_a"], utcnow())
    response = client.submit(f"/lectures/{open_lecture.id}/checkin", {"code": code}, token_from=f"/lectures/{open_lecture.id}")
    assert response.status_code == 200
    assert "已签到" in response.get_data(as_text=True)
    record = record_of(open_lecture.id, org["member_a"])
    assert record.status is Status.PRESENT and record.method is Method.CODE and record.venue_id == org["branch_a"]

    again = client.submit(f"/lectures/{open_lecture.id}/checkin", {"code": code}, token_from="/home")
    assert again.status_code == 200 and "您此前已签到，本次未作更改" in again.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(AttendanceRecord.id))) == 1
    # Scanning the screen's QR code again leads straight to "already checked in", not to a second form.
    rescan = client.get(f"/checkin/{link_id(open_lecture.id, org['branch_a'])}?code={code}").get_data(as_text=True)
    assert "您此前已签到，本次未作更改" in rescan and 'name="code"' not in rescan


def test_roster_offers_no_status_for_members_without_one(client, org, open_lecture):
    client.login("coord01")
    page = client.get(f"/roster/{link_id(open_lecture.id, org['branch_a'])}").get_data(as_text=True)
    select = page.split(f'id="status-{org["member_a"]}"')[1].split("</select>")[0]
    assert '<option value="" selected disabled>请选择状态</option>' in select
    assert 'value="present" selected' not in select


def test_wrong_or_malformed_code_gets_a_clear_message(client, org, open_lecture):
    client.login("m0001")
    code, _ = codes.current_code(open_lecture.id, org["branch_a"], utcnow())
    wrong = str((int(code) + 1) % 1000000).zfill(6)
    response = client.submit(f"/lectures/{open_lecture.id}/checkin", {"code": wrong}, token_from="/home")
    assert response.status_code == 422 and "签到码" in response.get_data(as_text=True)
    response = client.submit(f"/lectures/{open_lecture.id}/checkin", {"code": "12ab"}, token_from="/home")
    assert response.status_code == 422 and "6" in response.get_data(as_text=True)
    assert record_of(open_lecture.id, org["member_a"]) is None


def test_scan_leads_through_login_and_back_to_the_confirmation(client, org, open_lecture):
    lv = link_id(open_lecture.id, org["main"])
    code, _ = codes.current_code(open_lecture.id, org["main"], utcnow())
    response = client.get(f"/checkin/{lv}?code={code}")
    assert response.status_code == 302 and "/login?next=" in response.location
    token = client.csrf_token()
    login = client.post(response.location, data={"csrf_token": token, "username": "m0001",
                                                 "password": "test-pass-123"})
    assert login.location.endswith(f"/checkin/{lv}?code={code}")
    confirm = client.get(login.location).get_data(as_text=True)
    assert "主会场" in confirm and code in confirm
    result = client.submit(f"/checkin/{lv}", {"code": code}, token_from=f"/checkin/{lv}?code={code}")
    assert result.status_code == 200
    record = record_of(open_lecture.id, org["member_a"])
    assert record.venue_id == org["main"] and record.method is Method.QR  # not the home venue: recorded as such
    assert "此处不是您的所属会场" in result.get_data(as_text=True)


def test_not_yet_open_lecture_says_so(client, org, make_lecture):
    lecture = make_lecture(utcnow() + timedelta(hours=5))
    client.login("m0001")
    response = client.submit(f"/lectures/{lecture.id}/checkin", {"code": "123456"}, token_from="/home")
    assert response.status_code == 409 and "尚未开始签到" in response.get_data(as_text=True)


def test_failed_codes_are_rate_limited(rate_limited_app, org, open_lecture):
    app = rate_limited_app(CHECKIN_RATE_LIMIT="5 per minute")
    client = app.test_client()
    client.login("m0001")
    token = client.csrf_token("/home")
    statuses = [client.post(f"/lectures/{open_lecture.id}/checkin", data={"csrf_token": token, "code": "000001"}
                            ).status_code for _ in range(6)]
    assert statuses[:5] == [422] * 5 and statuses[5] == 429


# --- coordinator pages ----------------------------------------------------------------------------

def test_venue_screen_state_shows_the_current_code_and_counts(client, org, open_lecture):
    lv = link_id(open_lecture.id, org["branch_a"])
    services.check_in(user(org, "member_a"), open_lecture, org["branch_a"], Method.QR)
    client.login("coord01")
    state = client.get(f"/screen/{lv}/state").get_json()
    assert codes.code_is_valid(open_lecture.id, org["branch_a"], state["code"], utcnow())
    assert (state["arrived"], state["expected"]) == (1, 3)
    assert state["qr_svg"].startswith("<svg") and f"/checkin/{lv}?code=" in state["url"]
    page = client.get(f"/screen/{lv}").get_data(as_text=True)
    assert "poll.js" in page and "测试党课" in page


def test_desk_checks_in_by_number_and_by_card(client, org, open_lecture):
    lv = link_id(open_lecture.id, org["branch_a"])
    client.login("coord01")
    response = client.submit(f"/desk/{lv}", {"member": "m0001"})
    assert response.status_code == 200 and "张伟" in response.get_data(as_text=True)
    response = client.submit(f"/desk/{lv}", {"member": "LH-MEMBER:m0003"})  # from the member's card QR
    assert response.status_code == 200
    assert record_of(open_lecture.id, org["member_b"]).venue_id == org["branch_a"]
    assert client.submit(f"/desk/{lv}", {"member": "nobody"}).status_code == 422
    change = db.session.scalar(sa.select(AttendanceChange).where(AttendanceChange.user_id == org["member_a"]))
    assert change.changed_by_id == org["coord_a"] and change.method is Method.DESK


def test_coordinator_marks_excused_and_the_change_is_kept(client, org, open_lecture):
    lv = link_id(open_lecture.id, org["branch_a"])
    client.login("coord01")
    response = client.submit(f"/roster/{lv}/status", {"member_id": org["member_a2"], "status": "excused",
                                                       "reason": "病假"}, token_from=f"/roster/{lv}")
    assert response.status_code == 302
    page = client.get(f"/roster/{lv}").get_data(as_text=True)
    assert "病假" in page and "请假" in page
    record = record_of(open_lecture.id, org["member_a2"])
    assert record.status is Status.EXCUSED and record.reason == "病假"
    change = db.session.scalar(sa.select(AttendanceChange))
    assert (change.changed_by_id, change.old_status, change.new_status) == (org["coord_a"], None, Status.EXCUSED)


def test_coordinator_cannot_mark_another_venues_member(client, org, open_lecture):
    lv_a = link_id(open_lecture.id, org["branch_a"])
    lv_b = link_id(open_lecture.id, org["branch_b"])
    client.login("coord01")
    assert client.submit(f"/roster/{lv_a}/status", {"member_id": org["member_b"], "status": "absent"},
                         token_from=f"/roster/{lv_a}").status_code == 404
    assert client.submit(f"/roster/{lv_b}/status", {"member_id": org["member_b"], "status": "absent"},
                         token_from=f"/roster/{lv_a}").status_code == 403
    assert client.submit(f"/roster/{lv_a}/status", {"member_id": org["member_a"], "status": "asleep"},
                         token_from=f"/roster/{lv_a}").status_code == 422
    assert db.session.scalar(sa.select(sa.func.count(AttendanceRecord.id))) == 0


def sheet_xlsx(numbers: list) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["编号"])
    for number in numbers:
        sheet.append([number])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_paper_sheet_is_entered_all_or_nothing(client, org, open_lecture):
    lv = link_id(open_lecture.id, org["branch_a"])
    client.login("coord01")
    bad = client.submit(f"/roster/{lv}/sheet", {"sheet": (io.BytesIO(sheet_xlsx(["m0001", "m9999", "m0001"])),
                                                          "sheet.xlsx")},
                        token_from=f"/roster/{lv}", content_type="multipart/form-data")
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "第3行" in text and "m9999" in text and "第4行" in text
    assert db.session.scalar(sa.select(sa.func.count(AttendanceRecord.id))) == 0

    good = client.submit(f"/roster/{lv}/sheet", {"sheet": (io.BytesIO(sheet_xlsx(["m0001", "m0002"])), "sheet.xlsx")},
                         token_from=f"/roster/{lv}", content_type="multipart/form-data")
    assert good.status_code == 302
    assert {record_of(open_lecture.id, org[k]).status for k in ("member_a", "member_a2")} == {Status.PRESENT}

    disguised = client.submit(f"/roster/{lv}/sheet", {"sheet": (io.BytesIO(b"MZ\x90\x00"), "sheet.xlsx")},
                              token_from=f"/roster/{lv}", content_type="multipart/form-data")
    assert disguised.status_code == 422 and "Excel" in disguised.get_data(as_text=True)


def test_leave_request_and_decision(client, org, make_lecture):
    lecture = make_lecture(utcnow() + timedelta(days=2))
    member = client
    member.login("m0001")
    assert member.submit(f"/lectures/{lecture.id}/leave", {"reason": ""}).status_code == 422
    assert member.submit(f"/lectures/{lecture.id}/leave", {"reason": "因公出差"}).status_code == 302
    assert member.submit(f"/lectures/{lecture.id}/leave", {"reason": "再次"}).status_code == 409
    leave = db.session.scalar(sa.select(LeaveRequest))
    assert leave.state is LeaveState.PENDING

    from .conftest import Client

    other = Client(member.application)
    other.login("coord02")
    assert other.submit(f"/leave/{leave.id}/decide", {"approve": "1"}, token_from="/home").status_code == 403

    coordinator = Client(member.application)
    coordinator.login("coord01")
    lv = link_id(lecture.id, org["branch_a"])
    assert "因公出差" in coordinator.get(f"/roster/{lv}").get_data(as_text=True)
    response = coordinator.submit(f"/leave/{leave.id}/decide", {"approve": "1", "note": "同意"}, token_from="/home")
    assert response.status_code == 302
    db.session.expire_all()
    assert record_of(lecture.id, org["member_a"]).status is Status.EXCUSED
    assert db.session.get(LeaveRequest, leave.id).decided_by_id == org["coord_a"]
    assert coordinator.submit(f"/leave/{leave.id}/decide", {"refuse": "1"}, token_from="/home").status_code == 409


def test_leave_after_the_start_is_refused(org, make_lecture):
    lecture = make_lecture(START)
    with pytest.raises(services.LeaveError):
        services.request_leave(user(org, "member_a"), lecture, "迟了", now=START + timedelta(minutes=1))


# --- make-up study --------------------------------------------------------------------------------

def test_make_up_needs_reading_and_a_passed_quiz(client, org, make_lecture):
    lecture = make_lecture(utcnow() - timedelta(days=1))  # window closed: m0001 is absent
    client.login("m0001")
    home = client.get("/home").get_data(as_text=True)
    assert "测试党课" in home and f"/makeup/{lecture.id}" in home

    question = db.session.scalar(sa.select(Question).where(Question.lecture_id == lecture.id))
    client.submit(f"/lectures/{lecture.id}/quiz", {f"q{question.id}": "0"})
    assert record_of(lecture.id, org["member_a"]) is None  # quiz passed, key points not read yet

    response = client.submit(f"/lectures/{lecture.id}/read", {}, token_from=f"/makeup/{lecture.id}")
    assert response.status_code == 302
    record = record_of(lecture.id, org["member_a"])
    assert record.status is Status.ABSENT and record.made_up_at is not None
    assert f"/makeup/{lecture.id}" not in client.get("/home").get_data(as_text=True)


def test_make_up_completes_when_the_quiz_is_passed_last(client, org, make_lecture):
    lecture = make_lecture(utcnow() - timedelta(days=1))
    services.set_status(lecture, user(org, "member_a"), org["branch_a"], Status.EXCUSED, "病假",
                        by=user(org, "coord_a"))
    client.login("m0001")
    client.submit(f"/lectures/{lecture.id}/read", {}, token_from=f"/makeup/{lecture.id}")
    assert db.session.scalar(sa.select(KeyPointsRead.id)) is not None
    assert record_of(lecture.id, org["member_a"]).made_up_at is None
    question = db.session.scalar(sa.select(Question).where(Question.lecture_id == lecture.id))
    client.submit(f"/lectures/{lecture.id}/quiz", {f"q{question.id}": "1"})  # wrong: not passed
    db.session.expire_all()
    assert record_of(lecture.id, org["member_a"]).made_up_at is None
    client.submit(f"/lectures/{lecture.id}/quiz", {f"q{question.id}": "0"})
    db.session.expire_all()
    record = record_of(lecture.id, org["member_a"])
    assert record.status is Status.EXCUSED and record.made_up_at is not None


def test_present_members_have_no_make_up(org, make_lecture):
    lecture = make_lecture(START)
    member = user(org, "member_a")
    services.check_in(member, lecture, org["branch_a"], Method.QR, now=START)
    assert services.needs_makeup(member, lecture, now=START + timedelta(days=1)) is None
    assert services.open_makeup_tasks(member, now=START + timedelta(days=1)) == []


# --- admin ----------------------------------------------------------------------------------------

def test_live_view_counts_every_venue(client, org, open_lecture):
    services.check_in(user(org, "member_a"), open_lecture, org["branch_a"], Method.QR)
    services.check_in(user(org, "member_b"), open_lecture, org["branch_b"], Method.QR)
    client.login("admin")
    state = client.get(f"/live/{open_lecture.id}/state").get_json()
    rows = {row["name"]: row for row in state["venues"]}
    assert rows["第1分会场"]["arrived"] == 1 and rows["第1分会场"]["expected"] == 3
    assert rows["第2分会场"]["arrived"] == 1 and rows["第2分会场"]["expected"] == 2
    assert (state["arrived"], state["expected"]) == (2, 5) and state["rate"] == 40.0


def test_admin_edits_the_window(client, org, open_lecture):
    client.login("admin")
    url = f"/lectures/{open_lecture.id}/checkin-settings"
    assert client.submit(url, {"checkin_opens_minutes": "-5", "checkin_grace_minutes": "10",
                               "checkin_closes_minutes": "0"}).status_code == 422
    assert client.submit(url, {"checkin_opens_minutes": "45", "checkin_grace_minutes": "5",
                               "checkin_closes_minutes": "15"}).status_code == 302
    db.session.expire_all()
    lecture = db.session.get(Lecture, open_lecture.id)
    assert (lecture.checkin_opens_minutes, lecture.checkin_grace_minutes, lecture.checkin_closes_minutes) == (45, 5, 15)


def test_demo_lecture_is_open_now_with_history(app, ctx):
    result = app.test_cli_runner().invoke(args=["demo", "--password", "demo-pass-2020"])
    assert result.exit_code == 0, result.output
    live = db.session.scalar(sa.select(Lecture).where(Lecture.slug == "demo-live"))
    assert services.window_of(live).phase(utcnow()) is Phase.ON_TIME
    seed = db.session.scalar(sa.select(Lecture).where(Lecture.slug == "2020-12-29-renshe"))
    statuses = dict(db.session.execute(sa.select(AttendanceRecord.status, sa.func.count(AttendanceRecord.id))
                                       .where(AttendanceRecord.lecture_id == seed.id)
                                       .group_by(AttendanceRecord.status)).all())
    assert set(statuses) == {Status.PRESENT, Status.LATE, Status.EXCUSED, Status.ABSENT}
    made_up = db.session.scalar(sa.select(sa.func.count(AttendanceRecord.id)).where(
        AttendanceRecord.lecture_id == seed.id, AttendanceRecord.made_up_at.is_not(None)))
    assert made_up > 0
    again = app.test_cli_runner().invoke(args=["demo", "--password", "demo-pass-2020"])
    assert again.exit_code == 0
    assert db.session.scalar(sa.select(sa.func.count(AttendanceRecord.id)).where(
        AttendanceRecord.lecture_id == seed.id)) == sum(statuses.values())


def test_home_page_leads_to_an_open_check_in(client, org, open_lecture, make_lecture):
    make_lecture(utcnow() + timedelta(days=3))  # not open yet: not offered
    client.login("m0001")
    home = client.get("/home").get_data(as_text=True)
    assert home.count("去签到") == 1 and f'href="/lectures/{open_lecture.id}"' in home


def test_live_view_counts_own_members_and_visitors_apart(app, client, org, open_lecture):
    services.check_in(user(org, "member_a"), open_lecture, org["branch_a"], Method.QR)
    # m0003 belongs to 第2分会场 but checks in at 第1分会场: a visitor there, and arrived for 第2分会场.
    services.check_in(user(org, "member_b"), open_lecture, org["branch_a"], Method.QR)
    client.login("admin")
    rows = {row["name"]: row for row in client.get(f"/live/{open_lecture.id}/state").get_json()["venues"]}
    assert (rows["第1分会场"]["arrived"], rows["第1分会场"]["visitors"], rows["第1分会场"]["not_yet"]) == (1, 1, 2)
    assert (rows["第2分会场"]["arrived"], rows["第2分会场"]["visitors"], rows["第2分会场"]["rate"]) == (1, 0, 50.0)
    page = client.get(f"/live/{open_lecture.id}").get_data(as_text=True)
    assert "外会场来此" in page and "本会场已到" in page
    lv_a = link_id(open_lecture.id, org["branch_a"])
    assert f'href="/roster/{lv_a}"' in page
    coordinator = app.test_client()
    coordinator.login("coord01")
    state = coordinator.get(f"/live/{open_lecture.id}/state").get_json()
    assert [row["name"] for row in state["venues"]] == ["第1分会场"]  # only their own venue
    roster = coordinator.get(f"/roster/{lv_a}/state").get_json()
    assert roster["members"][str(org["member_a"])]["label"] == "出席"
    assert roster["members"][str(org["member_a2"])]["status"] == "none"


def test_home_pages_lead_to_the_door_and_the_live_view(app, client, org, open_lecture):
    db.session.add(LeaveRequest(lecture_id=open_lecture.id, user_id=org["member_a2"], reason="出差"))
    db.session.commit()
    lv_a = link_id(open_lecture.id, org["branch_a"])
    client.login("coord01")
    home = client.get("/home").get_data(as_text=True)
    door = home.split('id="door-heading"', 1)[1]
    for href in (f"/screen/{lv_a}", f"/desk/{lv_a}", f"/roster/{lv_a}", f"/live/{open_lecture.id}"):
        assert f'href="{href}"' in door, href
    assert f"/roster/{link_id(open_lecture.id, org['branch_b'])}" not in home  # not their venue
    leaves = home.split('id="leaves-heading"', 1)[1]
    assert "1条请假申请待您审批" in leaves and "李娜" in leaves and "出差" in leaves
    admin = app.test_client()
    admin.login("admin")
    assert f'href="/live/{open_lecture.id}"' in admin.get("/home").get_data(as_text=True)


def test_roster_confirms_a_change_in_the_members_row(client, org, open_lecture):
    lv = link_id(open_lecture.id, org["branch_a"])
    client.login("coord01")
    response = client.submit(f"/roster/{lv}/status", {"member_id": org["member_a2"], "status": "excused",
                                                      "reason": "病假"}, token_from=f"/roster/{lv}")
    assert response.status_code == 302 and response.location.endswith(f"#member-{org['member_a2']}")
    page = client.get(response.location).get_data(as_text=True)
    row = page.split(f'id="member-{org["member_a2"]}"', 1)[1].split("</tr>", 1)[0]
    assert "已将李娜标记为请假。" in row
