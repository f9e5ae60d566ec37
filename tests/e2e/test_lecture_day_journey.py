"""The lecture day in a real browser: a member scans the screen's QR code while signed out, takes longer
than two code periods to sign in, confirms, and is checked in on time."""
from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from lecturehub.attendance.models import AttendanceRecord, Method, Status
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.models import LectureVenue
from lecturehub.extensions import db

from ..conftest import PASSWORD
from .conftest import PHONE, assert_no_sideways_scroll, login

pytestmark = pytest.mark.e2e
ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
           "Mobile Safari/537.36")
SHOTS = os.environ.get("LECTUREHUB_SCREENSHOTS")  # a folder to keep screenshots in, when looking at the pages


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_a_scan_survives_a_slow_sign_in(app, browser, live_server, desktop, org, make_lecture, monkeypatch):
    lecture = make_lecture(utcnow() + timedelta(minutes=5))
    lv = db.session.scalar(sa.select(LectureVenue.id).where(LectureVenue.lecture_id == lecture.id,
                                                            LectureVenue.venue_id == org["branch_a"]))
    login(desktop, "coord01", PASSWORD)
    desktop.goto(f"/screen/{lv}")
    expect(desktop.locator(".screen-warning")).to_contain_text("127.0.0.1")  # served at loopback in the test
    shot(desktop, "screen-desktop")
    scanned = desktop.request.get(f"/screen/{lv}/state").json()["url"]

    context = browser.new_context(base_url=live_server, locale="zh-CN", user_agent=ANDROID, **PHONE)
    phone = context.new_page()
    phone.goto(scanned)  # the phone's camera opens the QR code's link; the member is signed out
    expect(phone.get_by_role("heading", name="登录")).to_be_visible()
    expect(phone.get_by_label("记住这台手机")).to_be_checked()  # a phone is remembered unless the member says no
    shot(phone, "login-phone")
    # The member types slowly: 75 seconds, more than two code periods, go by (the clock moves, nobody sleeps).
    monkeypatch.setitem(app.config, "CLOCK_OFFSET_SECONDS", 75)
    phone.get_by_label("用户名").fill("m0001")
    phone.get_by_label("密码").fill(PASSWORD)
    phone.get_by_role("button", name="登录").click()
    phone.wait_for_url(f"**/checkin/{lv}?code=*")
    expect(phone.get_by_text(re.compile("您于 .* 扫描了二维码"))).to_be_visible()
    shot(phone, "confirm-phone")
    assert_no_sideways_scroll(phone)
    phone.get_by_role("button", name="确认签到").click()
    expect(phone.get_by_role("heading", name=re.compile("已签到"))).to_be_visible()
    expect(phone.get_by_text("出席").first).to_be_visible()
    shot(phone, "result-phone")
    record = db.session.scalar(sa.select(AttendanceRecord).where(AttendanceRecord.user_id == org["member_a"]))
    assert record.status is Status.PRESENT and record.method is Method.QR and record.venue_id == org["branch_a"]

    phone.goto("/account")
    expect(phone.locator("li.session")).to_have_count(1)
    expect(phone.locator("li.session")).to_contain_text("已记住")
    shot(phone, "account-phone")
    assert_no_sideways_scroll(phone)
    context.close()
    desktop.goto("/account")
    shot(desktop, "account-desktop")
