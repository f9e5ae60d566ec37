"""Attendance journeys in a real browser: screen + phone check-in, roster marks, make-up study."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from lecturehub.attendance.models import AttendanceRecord, Status
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.models import LectureVenue
from lecturehub.extensions import db

from ..conftest import PASSWORD
from .conftest import PHONE, assert_no_sideways_scroll, login

pytestmark = pytest.mark.e2e


def lecture_venue(lecture_id: int, venue_id: int) -> int:
    return db.session.scalar(sa.select(LectureVenue.id).where(LectureVenue.lecture_id == lecture_id,
                                                              LectureVenue.venue_id == venue_id))


def test_member_checks_in_with_the_code_on_the_venue_screen(browser, live_server, desktop, org, make_lecture):
    lecture = make_lecture(utcnow() + timedelta(minutes=5))
    lv = lecture_venue(lecture.id, org["branch_a"])

    screen = desktop
    login(screen, "coord01", PASSWORD)
    screen.goto(f"/screen/{lv}")
    count = screen.locator(".screen-count")
    assert re.sub(r"\s", "", count.inner_text()) == "0/3"
    code = screen.locator(".screen-code").inner_text().strip()
    assert re.fullmatch(r"\d{6}", code)
    assert screen.locator(".screen-qr svg").count() == 1

    context = browser.new_context(base_url=live_server, locale="zh-CN", **PHONE)
    phone = context.new_page()
    login(phone, "m0001", PASSWORD)
    phone.goto(f"/lectures/{lecture.id}")
    code_field = phone.get_by_label("签到码")
    assert code_field.get_attribute("inputmode") == "numeric"
    code_field.fill(code)
    phone.get_by_role("button", name="签到", exact=True).click()
    expect(phone.get_by_role("heading", name=re.compile("已签到"))).to_be_visible()
    expect(phone.get_by_text("出席").first).to_be_visible()
    assert_no_sideways_scroll(phone)
    context.close()

    # The screen refreshes by itself.
    expect(count).to_have_text(re.compile(r"^\s*1\s*/\s*3\s*$"), timeout=10000)


def test_coordinator_marks_a_member_excused(desktop, org, make_lecture):
    lecture = make_lecture(utcnow() + timedelta(minutes=5))
    lv = lecture_venue(lecture.id, org["branch_a"])
    page = desktop
    login(page, "coord01", PASSWORD)
    page.goto(f"/roster/{lv}")
    row = page.locator("tr", has_text="李娜")
    assert "未签到" in row.inner_text()
    row.get_by_label(re.compile("的签到状态|状态")).select_option("excused")
    row.get_by_label(re.compile("原因")).fill("病假")
    row.get_by_role("button", name="保存").click()
    page.wait_for_url(f"**/roster/{lv}?saved=*")
    # The confirmation is in the member's row, where the coordinator was looking.
    row = page.locator("tbody tr", has_text="李娜").first
    assert row.get_by_role("status").inner_text() == "已将李娜标记为请假。"
    assert "请假" in row.inner_text() and "病假" in row.inner_text()
    changes = page.locator("table").last
    assert "甲负责人" in changes.inner_text()
    record = db.session.scalar(sa.select(AttendanceRecord).where(AttendanceRecord.user_id == org["member_a2"]))
    assert record.status is Status.EXCUSED


def test_member_completes_a_make_up_task(phone, org, make_lecture):
    lecture = make_lecture(utcnow() - timedelta(days=2))
    page = phone
    login(page, "m0001", PASSWORD)
    task = page.locator(".makeup-tasks a", has_text="测试党课")
    task.click()
    page.wait_for_url(f"**/makeup/{lecture.id}")
    # Scrolling to the end of the key points records the reading (read.js); the page then reloads.
    page.mouse.wheel(0, 10000)
    page.wait_for_selector("#end-of-key-points[data-done='yes']", timeout=10000)

    page.get_by_role("link", name="开始自测").click()
    page.wait_for_url(f"**/lectures/{lecture.id}/quiz")
    page.get_by_label("正确", exact=True).check()
    page.get_by_role("button", name="提交答案").click()
    page.wait_for_url(re.compile(r"/quiz/attempts/\d+$"))
    page.goto("/home")
    assert page.locator(".makeup-tasks").count() == 0
    page.goto(f"/lectures/{lecture.id}")
    expect(page.get_by_text("补学完成").first).to_be_visible()


def test_roster_on_a_phone_fits_and_follows_check_ins(browser, live_server, org, make_lecture):
    from lecturehub.accounts.models import User
    from lecturehub.attendance import services
    from lecturehub.attendance.models import Method

    lecture = make_lecture(utcnow() + timedelta(minutes=5))
    lv = lecture_venue(lecture.id, org["branch_a"])
    services.check_in(db.session.get(User, org["member_a"]), lecture, org["branch_a"], Method.QR)
    services.set_status(lecture, db.session.get(User, org["coord_a"]), org["branch_a"], Status.EXCUSED, "出差",
                        by=db.session.get(User, org["coord_a"]))
    db.session.commit()  # the services only flush; the live server reads on its own connections
    context = browser.new_context(base_url=live_server, locale="zh-CN", **PHONE)
    page = context.new_page()
    login(page, "coord01", PASSWORD)
    page.goto(f"/roster/{lv}")
    assert_no_sideways_scroll(page)
    # No control is cut off or reaches past the screen's edge, and no status badge breaks inside its word.
    overflowing = page.evaluate("""() => Array.from(document.querySelectorAll(
            'table.roster select, table.roster input, table.roster button, table.roster .status'))
        .filter(el => { const r = el.getBoundingClientRect();
                        return r.left < 0 || r.right > document.documentElement.clientWidth
                               || el.scrollWidth > el.clientWidth + 1; })
        .map(el => el.outerHTML.slice(0, 80))""")
    assert overflowing == []
    badge_lines = page.evaluate("""() => Array.from(document.querySelectorAll('table.roster .status'))
        .map(el => Math.round(el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight)))""")
    assert badge_lines and max(badge_lines) == 1, badge_lines
    # m0002 checks in on their phone while the roster is open: their row changes by itself.
    row = page.locator("tbody tr", has_text="李娜")
    expect(row.locator(".status")).to_have_text("未签到")
    services.check_in(db.session.get(User, org["member_a2"]), lecture, org["branch_a"], Method.QR)
    db.session.commit()
    expect(row.locator(".status")).to_have_text("出席", timeout=12000)
    expect(page.locator('[data-count="present"]')).to_have_text("2")
    page.screenshot(path="/tmp/roster-phone.png", full_page=True)
    context.close()
