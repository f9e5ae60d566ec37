"""The offline desk in Chromium: check-ins while the network is cut are kept on the device and sent later."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from lecturehub.attendance import codes
from lecturehub.attendance.models import AttendanceRecord, Method
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.models import LectureVenue
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from ..conftest import PASSWORD
from .conftest import PHONE, assert_no_sideways_scroll, login

pytestmark = pytest.mark.e2e


def _records(lecture_id: int) -> dict[str, AttendanceRecord]:
    db.session.expire_all()
    return {r.user.member_no: r for r in db.session.scalars(
        sa.select(AttendanceRecord).where(AttendanceRecord.lecture_id == lecture_id))}


def _desk_in(page, number: str) -> None:
    page.get_by_label("编号或签到卡").fill(number)
    page.get_by_label("编号或签到卡").press("Enter")


def test_desk_keeps_check_ins_while_offline_and_sends_them_once(browser, live_server, org, make_lecture, make_user,
                                                                tmp_path):
    branch_a = db.session.get(Venue, org["branch_a"])
    for n in range(4, 8):
        make_user(f"m000{n}", venue=branch_a, name=f"党员{n}")
    lecture = make_lecture(utcnow() + timedelta(minutes=5))
    link_id = db.session.scalar(sa.select(LectureVenue.id).where(LectureVenue.lecture_id == lecture.id,
                                                                 LectureVenue.venue_id == branch_a.id))
    context = browser.new_context(base_url=live_server, locale="zh-CN", **PHONE)
    desk = context.new_page()
    login(desk, "coord01", PASSWORD)
    desk.goto(f"/desk-app/{link_id}")
    expect(desk.get_by_text(re.compile("本设备保存的名册：7 人"))).to_be_visible()  # 6 members + the coordinator
    expect(desk.locator('[data-field="network"]')).to_have_text("已联网")
    desk.wait_for_function("navigator.serviceWorker.controller !== null || caches.has('lecturehub-desk-v1')")

    context.set_offline(True)
    expect(desk.locator('[data-field="network"]')).to_have_text(re.compile("已断网"))
    for number in ("m0001", "LH-MEMBER:m0002", "m0004"):
        _desk_in(desk, number)
        desk.wait_for_timeout(150)  # distinct scan times
    expect(desk.get_by_text("待同步 3")).to_be_visible()
    expect(desk.get_by_text(re.compile("党员4（m0004）：待同步"))).to_be_visible()

    # Reloading without network: the service worker serves the desk, the queue is still on the device.
    desk.reload()
    expect(desk.get_by_text("待同步 3")).to_be_visible()

    # Meanwhile the sixth member checks in on their own phone (which has network).
    phone_context = browser.new_context(base_url=live_server, locale="zh-CN", **PHONE)
    phone = phone_context.new_page()
    login(phone, "m0007", PASSWORD)
    phone.goto(f"/lectures/{lecture.id}")
    phone.get_by_label("签到码").fill(codes.current_code(lecture.id, branch_a.id, utcnow())[0])
    phone.get_by_role("button", name="签到", exact=True).click()
    expect(phone.get_by_role("heading", name=re.compile("已签到"))).to_be_visible()
    phone_context.close()

    for number in ("m0005", "m0006", "m0007"):
        _desk_in(desk, number)
        desk.wait_for_timeout(150)
    expect(desk.get_by_text("待同步 6")).to_be_visible()
    desk.screenshot(path=str(tmp_path / "desk-offline-phone.png"), full_page=True)
    queued = desk.evaluate(f"JSON.parse(localStorage.getItem('desk-{link_id}-queue'))")
    scan_times = {q["member"].removeprefix("LH-MEMBER:"): datetime.fromisoformat(q["scanned_at"].replace("Z", "+00:00"))
                  for q in queued}
    assert len(scan_times) == 6
    assert "m0001" not in _records(lecture.id)  # nothing reached the server
    desk.wait_for_timeout(1000)

    back_online_at = utcnow()
    context.set_offline(False)
    expect(desk.get_by_text("待同步 0")).to_be_visible(timeout=15000)
    results = desk.locator('[data-field="results"] li')
    expect(results).to_have_count(6)
    expect(desk.locator('li[data-outcome="already_checked_in"]')).to_have_text(re.compile("用户m0007|党员7"))
    expect(desk.locator('li[data-outcome="already_checked_in"]')).to_contain_text("此前已签到")
    expect(desk.locator('li[data-outcome="checked_in"]')).to_have_count(5)
    assert_no_sideways_scroll(desk)
    desk.screenshot(path=str(tmp_path / "desk-synced-phone.png"), full_page=True)

    records = _records(lecture.id)
    assert set(records) == {"m0001", "m0002", "m0004", "m0005", "m0006", "m0007"}
    from_desk = {no: r for no, r in records.items() if r.method is Method.DESK}
    assert set(from_desk) == {"m0001", "m0002", "m0004", "m0005", "m0006"}
    for number, record in from_desk.items():
        # Each counts from the moment it was typed while offline, not when the network came back.
        assert abs(record.checked_in_at - scan_times[number]) < timedelta(milliseconds=1), number
        assert record.checked_in_at < back_online_at
    assert records["m0007"].method is not Method.DESK
    assert records["m0007"].checked_in_at < scan_times["m0007"]

    # The same queue sent again (say, a copy restored on the device) doubles nothing: the nonces were answered.
    desk.evaluate("([key, queue]) => localStorage.setItem(key, JSON.stringify(queue))",
                  [f"desk-{link_id}-queue", queued])
    desk.reload()
    expect(desk.get_by_text("待同步 0")).to_be_visible(timeout=15000)
    assert len(_records(lecture.id)) == 6
    context.close()
