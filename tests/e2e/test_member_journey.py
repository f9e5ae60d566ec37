"""A member on a phone: signs in, opens the lecture, reads the key points, takes the quiz, sees the result."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from lecturehub.extensions import db
from lecturehub.quizzes.models import Question

from ..conftest import PASSWORD
from .conftest import assert_no_sideways_scroll, login

pytestmark = pytest.mark.e2e


def test_member_studies_the_seed_lecture_on_a_phone(phone, seed_lecture, tmp_path):
    page = phone
    login(page, "m0001", PASSWORD)
    assert_no_sideways_scroll(page)

    page.locator("a[href^='/lectures/']", has_text="学习习近平总书记关于人社工作的重要论述").first.click()
    page.wait_for_url(re.compile(r"/lectures/\d+$"))
    expect(page.get_by_role("heading", name="要点")).to_be_visible()
    expect(page.get_by_text("赵永峰").first).to_be_visible()
    key_points = page.locator("ol.keypoints > li")
    assert key_points.count() == 8
    key_points.last.scroll_into_view_if_needed()
    assert "一盘棋" in key_points.last.inner_text()
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(tmp_path / "lecture.png"), full_page=True)

    page.get_by_role("link", name="自测题").first.click()
    page.wait_for_url(re.compile(r"/quiz$"))
    questions = {q.key: q for q in db.session.scalars(sa.select(Question).order_by(Question.position))}
    fieldsets = page.locator("fieldset.question")
    assert fieldsets.count() == len(questions)
    for index, question in enumerate(questions.values()):
        fieldset = fieldsets.nth(index)
        chosen = question.answer if question.key != "q03" else [0]  # one deliberate mistake
        for option_index in chosen:
            fieldset.locator("input").nth(option_index).check()
    assert_no_sideways_scroll(page)
    page.get_by_role("button", name="提交答案").click()
    page.wait_for_url(re.compile(r"/quiz/attempts/\d+$"))

    assert page.locator(".score").inner_text() == "95%"
    expect(page.get_by_text("已通过").first).to_be_visible()
    assert page.get_by_text("回答错误").count() == 1
    expect(page.get_by_text("简报原文：“党课采取视频大会的形式")).to_be_visible()
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(tmp_path / "result.png"), full_page=True)


def test_unanswered_quiz_shows_which_questions_are_missing(phone, seed_lecture):
    page = phone
    login(page, "m0002", PASSWORD)
    page.goto(f"/lectures/{seed_lecture['lecture_id']}/quiz")
    page.locator("fieldset.question").first.locator("input").first.check()
    page.get_by_role("button", name="提交答案").click()
    assert page.get_by_role("alert").inner_text().startswith("请回答全部题目")
    assert page.locator("fieldset.question.has-error").count() == 19
    # The one answer given survives the round trip.
    assert page.locator("fieldset.question").first.locator("input").first.is_checked()


def test_coordinator_sees_own_venue_and_admin_sees_all(desktop, seed_lecture):
    page = desktop
    login(page, "coord01", PASSWORD)
    page.get_by_role("link", name="会场", exact=True).click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    assert "第1分会场" in rows.first.inner_text()
    page.get_by_role("link", name="第1分会场").click()
    expect(page.get_by_text("张伟")).to_be_visible()
    assert page.get_by_text("王芳").count() == 0
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login")

    login(page, "admin", PASSWORD)
    page.get_by_role("link", name="会场", exact=True).click()
    expect(page.locator("tbody tr")).to_have_count(3)
    page.get_by_role("link", name="用户", exact=True).click()
    expect(page.get_by_text("共6个账号")).to_be_visible()


def test_language_switch_on_a_phone(phone, seed_lecture):
    page = phone
    page.goto("/login")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    login_en = page.get_by_label("User name")
    login_en.fill("m0001")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/home")
    expect(page.get_by_role("link", name="Courses")).to_be_visible()


def test_answers_are_saved_as_given_and_the_same_paper_follows_to_another_device(phone, desktop, seed_lecture):
    """Opening the quiz stores nothing; the script's autosave stores the paper shown with the answer given."""
    from lecturehub.quizzes.models import QuizSitting

    url = f"/lectures/{seed_lecture['lecture_id']}/quiz"
    login(phone, "m0001", PASSWORD)
    phone.goto(url)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(QuizSitting)) == 0
    first = phone.locator("fieldset.question").first
    with phone.expect_response(lambda r: r.url.endswith(f"{url}/draft") and r.request.method == "POST") as saved:
        first.locator("input").nth(2).check()
    assert saved.value.ok
    phone.reload()
    expect(phone.locator("fieldset.question").first.locator("input").nth(2)).to_be_checked()

    login(desktop, "m0001", PASSWORD)
    desktop.goto(url)
    expect(desktop.locator("fieldset.question").first.locator("input").nth(2)).to_be_checked()
    assert desktop.locator("fieldset.question legend").all_inner_texts() == \
        phone.locator("fieldset.question legend").all_inner_texts()
