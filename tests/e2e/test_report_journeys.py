"""Report journeys: a coordinator downloads their venue's XLSX; an admin drills down to the absent names."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from lecturehub.attendance import services
from lecturehub.attendance.models import Method
from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db

from ..conftest import PASSWORD
from .conftest import assert_no_sideways_scroll, login

pytestmark = pytest.mark.e2e


@pytest.fixture
def past_lecture(org, make_lecture):
    from lecturehub.accounts.models import User

    lecture = make_lecture(utcnow() - timedelta(days=3))
    for key in ("member_a", "coord_b"):
        user = db.session.get(User, org[key])
        services.check_in(user, lecture, user.home_venue_id, Method.DESK, now=lecture.starts_at)
    return lecture


def test_coordinator_downloads_the_venue_xlsx(desktop, org, past_lecture):
    page = desktop
    login(page, "coord01", PASSWORD)
    page.get_by_role("link", name="统计报表").click()
    page.get_by_role("link", name="测试党课").first.click()
    page.wait_for_url(f"**/reports/lectures/{past_lecture.id}")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    assert "第1分会场" in rows.first.inner_text()
    with page.expect_download() as info:
        page.get_by_role("link", name="XLSX").click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(open(download.path(), "rb").read())).active
    assert [c.value for c in sheet[2]][:6] == ["第1分会场", 3, 1, 0, 0, 2]


def test_admin_drills_down_from_the_ranking_to_the_absent(desktop, org, past_lecture):
    page = desktop
    login(page, "admin", PASSWORD)
    page.goto("/reports/overview")
    ranking = page.locator("#ranking + .export + .chart-and-table table")
    assert ranking.locator("tbody tr").first.inner_text().split("\t")[1].strip() == "第2分会场"  # 50% beats 33.3%
    assert page.locator("svg.chart").count() == 2
    page.get_by_role("link", name="第1分会场缺席人数：2").click()
    page.wait_for_url(f"**/reports/lectures/{past_lecture.id}/venues/{org['branch_a']}#absent")
    absent = page.locator("section#absent")
    expect(absent).to_be_visible()
    text = absent.inner_text()
    assert "李娜" in text and "甲负责人" in text and "张伟" not in text


def test_member_reads_their_records_on_a_phone(phone, org, past_lecture):
    page = phone
    login(page, "m0001", PASSWORD)
    page.get_by_role("link", name="统计报表").click()
    page.wait_for_url("**/reports/me")
    expect(page.get_by_text("测试党课").first).to_be_visible()
    expect(page.get_by_text("出席").first).to_be_visible()
    assert_no_sideways_scroll(page)
