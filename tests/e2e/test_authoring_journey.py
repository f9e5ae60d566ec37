"""An admin publishes a new lecture with a PDF and a five-question quiz; a member takes it on a phone."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ..conftest import PASSWORD
from .conftest import assert_no_sideways_scroll, login

pytestmark = pytest.mark.e2e

QUESTIONS = [
    ("single", "第一题：党课的主讲人是谁？", "甲\n乙\n丙", "B"),
    ("multiple", "第二题：哪些是要点？", "要点一\n要点二\n无关", "A,B"),
    ("truefalse", "第三题：本次党课采用视频会议。", "", "true"),
    ("single", "第四题：学时是多少？", "1\n2\n3", "B"),
    ("truefalse", "第五题：党员可以不参加补学。", "", "false"),
]


def test_admin_publishes_a_lecture_and_a_member_takes_its_quiz(browser, live_server, desktop, org, tmp_path):
    from lecturehub.courses.models import Course
    from lecturehub.extensions import db

    db.session.add(Course(slug="c-e2e", title="专题学习（测试）", published=True))
    db.session.commit()

    page = desktop
    login(page, "admin", PASSWORD)
    page.get_by_role("link", name="内容管理").click()
    page.get_by_role("link", name="新建党课").click()
    page.get_by_label("标题", exact=True).fill("新党课：浏览器发布")
    page.get_by_label(re.compile("^简称")).fill("browser-lecture")
    page.get_by_label(re.compile("^主讲")).fill("主讲人甲")
    page.get_by_label(re.compile("^开始时间")).fill("2026-12-01T14:00")
    page.get_by_label(re.compile("^结束时间")).fill("2026-12-01T16:00")
    editor = page.get_by_label(re.compile("^摘要与要点"))
    editor.fill("导语。\n\n## 要点一\n\n**第一**条内容\n\n## 要点二\n\n第二条内容\n")
    expect(page.locator("#key-points-preview strong")).to_have_text("第一", timeout=5000)  # live preview
    page.get_by_label(re.compile("^发布")).check()
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(r"/lectures/\d+$"))
    lecture_url = page.url

    page.goto(lecture_url.replace("/lectures/", "/admin/lectures/") + "/materials")
    pdf = tmp_path / "讲稿.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%e2e\n")
    page.get_by_label(re.compile("^文件")).set_input_files(str(pdf))
    page.get_by_role("button", name="上传").click()
    expect(page.get_by_role("status").first).to_contain_text("讲稿.pdf")

    for kind, stem, options, answer in QUESTIONS:
        page.goto(lecture_url.replace("/lectures/", "/admin/lectures/") + "/quiz/new")
        page.get_by_label("题型").select_option(kind)
        page.get_by_label("题目", exact=True).fill(stem)
        if options:
            page.get_by_label(re.compile("^选项")).fill(options)
        page.get_by_label(re.compile("^正确答案")).fill(answer)
        page.get_by_label("解析").fill(f"{stem}的解析")
        page.get_by_role("button", name="保存").click()
        page.wait_for_url(re.compile(r"/quiz$"))
    assert page.locator("ol.bank > li").count() == 5

    context = browser.new_context(base_url=live_server, locale="zh-CN", viewport={"width": 375, "height": 812},
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    phone = context.new_page()
    login(phone, "m0001", PASSWORD)
    phone.locator("a[href^='/lectures/']", has_text="新党课：浏览器发布").first.click()
    expect(phone.get_by_role("heading", name="要点一")).to_be_visible()
    with phone.expect_download() as info:
        phone.get_by_role("link", name=re.compile("讲稿.pdf")).click()
    assert info.value.suggested_filename == "讲稿.pdf"
    phone.get_by_role("link", name="自测题").first.click()
    fieldsets = phone.locator("fieldset.question")
    assert fieldsets.count() == 5
    answers = [[1], [0, 1], [0], [2], [1]]  # the fourth is wrong on purpose
    for index, chosen in enumerate(answers):
        for option in chosen:
            fieldsets.nth(index).locator("input").nth(option).check()
    assert_no_sideways_scroll(phone)
    phone.get_by_role("button", name="提交答案").click()
    phone.wait_for_url(re.compile(r"/quiz/attempts/\d+$"))
    assert phone.locator(".score").inner_text() == "80%"
    expect(phone.get_by_text("已通过").first).to_be_visible()
    expect(phone.get_by_text("第四题：学时是多少？的解析")).to_be_visible()
    context.close()
