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
    ranking = page.locator("#ranking ~ .chart-and-table table").first
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


def add_members(org, venue_key: str, count: int, prefix: str = "s") -> None:
    """`count` more members of a venue since long before the test's lectures (sharing one password hash:
    hashing each would take seconds)."""
    from lecturehub.accounts.models import Membership, MembershipChange, Role, User

    from ..conftest import MEMBERS_SINCE

    password_hash = db.session.get(User, org["member_a"]).password_hash
    members = [User(username=f"{prefix}{n:03d}", name=f"党员{prefix}{n:03d}", member_no=f"{prefix.upper()}{n:03d}",
                    role=Role.MEMBER, home_venue_id=org[venue_key], password_hash=password_hash)
               for n in range(count)]
    db.session.add_all(members)
    db.session.add_all([Membership(user=member, venue_id=org[venue_key], starts_at=MEMBERS_SINCE,
                                   began_how=MembershipChange.JOINED) for member in members])
    db.session.commit()


def printed_pages(page, url: str):
    from pypdf import PdfReader

    page.goto(url)
    return PdfReader(io.BytesIO(page.pdf(format="A4", prefer_css_page_size=True))).pages


def text_of(pdf_page) -> str:
    # The PDF's text has spaces between Chinese and Latin runs ("党员 s021"); compare without them.
    return pdf_page.extract_text().replace(" ", "")


def test_sign_in_sheet_of_25_prints_on_one_a4_page(desktop, org, past_lecture):
    add_members(org, "branch_a", 22)  # with m0001, m0002 and coord01: 25
    login(desktop, "coord01", PASSWORD)
    url = f"/reports/lectures/{past_lecture.id}/venues/{org['branch_a']}/sheet"
    pages = printed_pages(desktop, url)
    assert len(pages) == 1
    text = text_of(pages[0])
    assert "党员s021" in text and "负责人签字" in text and "1/1" in text
    add_members(org, "branch_a", 15, prefix="t")
    pages = printed_pages(desktop, url)  # 40 members: two pages, numbered, the header row on each
    assert len(pages) == 2
    assert "1/2" in text_of(pages[0]) and "2/2" in text_of(pages[1])
    assert "签名" in text_of(pages[1]) and "负责人签字" in text_of(pages[1])


def test_branch_record_prints_on_one_a4_page_with_course_and_hours(desktop, org, past_lecture):
    login(desktop, "coord01", PASSWORD)
    pages = printed_pages(desktop, f"/reports/lectures/{past_lecture.id}/venues/{org['branch_a']}/record")
    assert len(pages) == 1
    text = text_of(pages[0])
    assert "专题" in text and "学时" in text and "补学完成" in text and "1/1" in text
