"""An admin builds the organisation's roster in the browser: upload, read the preview, settle the conflict,
confirm, and see the members; venues are created and retired the same way."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ..conftest import PASSWORD
from .conftest import PHONE, assert_no_sideways_scroll, login

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_admin_previews_and_applies_a_roster(browser, live_server, desktop, org, tmp_path):
    roster = tmp_path / "党员花名册.csv"
    roster.write_bytes(("序号,姓名,性别,党员编号,所在分会场,联系电话\n"
                        "1,魏源,男,DY0001,第1分会场,13800000001\n"
                        "2,彭红,女,DY0002,第2分会场,13800000002\n"
                        "3,张伟,男,M0001,第2分会场,13800000003\n"   # m0001 transfers to 第2分会场
                        "4,魏源源,男,m0003,第2分会场,13800000004\n"  # a typo: m0003 is 王芳
                        "5,李娜,女,m0002,第1分会场,\n").encode("gb18030"))
    page = desktop
    login(page, "admin", PASSWORD)
    page.get_by_role("link", name="用户").click()
    page.get_by_role("link", name="导入花名册").click()
    page.get_by_label(re.compile("^花名册")).set_input_files(str(roster))
    page.get_by_role("button", name="预览").click()

    expect(page.get_by_role("heading", name=re.compile("党员花名册.csv"))).to_be_visible()
    new = page.locator("#new")
    expect(new).to_contain_text("魏源")
    expect(new).to_contain_text("DY0002")
    expect(page.locator("#changes")).to_contain_text("第1分会场 → 第2分会场")
    conflicts = page.locator("#conflicts")
    expect(conflicts).to_contain_text("王芳 → 魏源源")
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(tmp_path / "roster-preview.png"), full_page=True)

    page.get_by_role("button", name="确认导入").click()  # no choice made for the conflict yet
    expect(page.locator("#conflicts")).to_contain_text("请选择如何处理此行")
    page.locator("#conflicts").get_by_label("跳过此行").check()
    page.get_by_role("button", name="确认导入").click()
    expect(page.get_by_role("status").first).to_contain_text("新增 2 人")
    expect(page.locator("#initial-password code")).to_have_text(re.compile(r"\S{8,}"))

    page.get_by_role("link", name="查看党员").click()
    page.get_by_label("搜索").fill("DY000")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("table")).to_contain_text("魏源")
    expect(page.locator("table")).to_contain_text("彭红")

    phone = browser.new_context(base_url=live_server, locale="zh-CN", **PHONE).new_page()
    login(phone, "admin", PASSWORD)
    phone.goto("/admin/roster")
    phone.get_by_label(re.compile("^花名册")).set_input_files(str(FIXTURES / "roster-excel97.xls"))
    phone.get_by_role("button", name="预览").click()
    expect(phone.locator("#new, .stats").first).to_be_visible()
    assert_no_sideways_scroll(phone)
    phone.screenshot(path=str(tmp_path / "roster-preview-phone.png"), full_page=True)
    phone.context.close()
    shots = Path(__import__("os").environ.get("LECTUREHUB_SCREENSHOTS", ""))
    if shots.name:  # scripts take the README's picture from this journey
        shutil.copy(tmp_path / "roster-preview.png", shots / "roster-preview.png")


def test_admin_creates_and_retires_a_venue(desktop, org, tmp_path):
    page = desktop
    login(page, "admin", PASSWORD)
    page.goto("/venues")
    page.get_by_role("link", name="管理会场").click()
    page.get_by_role("link", name="新建会场").click()
    page.get_by_label("会场名称").fill("机关第一党支部")
    page.get_by_label("简码").fill("jg01")
    page.get_by_label("类型").select_option("branch")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("heading", name="机关第一党支部")).to_be_visible()
    page.get_by_role("link", name="编辑").click()
    expect(page.get_by_label("会场名称")).to_have_value("机关第一党支部")
    expect(page.get_by_label("类型")).to_have_value("branch")
    page.goto("/admin/venues")
    page.get_by_role("row", name=re.compile("机关第一党支部")).get_by_role("button", name=re.compile("停用")).click()
    expect(page.get_by_role("row", name=re.compile("机关第一党支部"))).to_contain_text("已停用")
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(tmp_path / "venues.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 812})
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(tmp_path / "venues-phone.png"), full_page=True)
