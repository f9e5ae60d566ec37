"""With JavaScript switched off, a member still signs in, checks in and submits a quiz: forms do the job."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from lecturehub.attendance import codes
from lecturehub.attendance.models import AttendanceRecord
from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db
from lecturehub.quizzes.models import Question, QuizAttempt

from ..conftest import PASSWORD
from .conftest import PHONE, login

pytestmark = pytest.mark.e2e


@pytest.fixture
def no_js(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="zh-CN", java_script_enabled=False, **PHONE)
    page = context.new_page()
    yield page
    context.close()


def test_sign_in_check_in_and_quiz_without_javascript(no_js, org, seed_lecture, make_lecture):
    page = no_js
    open_lecture = make_lecture(utcnow() + timedelta(minutes=5))
    login(page, "m0001", PASSWORD)

    page.goto(f"/lectures/{open_lecture.id}")
    code, _ = codes.current_code(open_lecture.id, org["branch_a"], utcnow())
    page.get_by_label("签到码").fill(code)
    page.get_by_role("button", name="签到", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("已签到"))).to_be_visible()
    assert db.session.scalar(sa.select(AttendanceRecord.user_id).where(
        AttendanceRecord.lecture_id == open_lecture.id)) == org["member_a"]

    lecture_id = seed_lecture["lecture_id"]
    page.goto(f"/lectures/{lecture_id}/quiz")
    questions = list(db.session.scalars(sa.select(Question).where(Question.lecture_id == lecture_id)
                                        .order_by(Question.position)))
    fieldsets = page.locator("fieldset.question")
    # Save half way without a script, come back, and the answers are still there.
    for index, question in enumerate(questions[:10]):
        for option in question.answer:
            fieldsets.nth(index).locator("input").nth(option).check()
    page.get_by_role("button", name="保存，稍后继续").click()
    page.goto("/home")
    page.goto(f"/lectures/{lecture_id}/quiz")
    assert fieldsets.nth(9).locator("input").nth(questions[9].answer[0]).is_checked()
    for index, question in enumerate(questions[10:], start=10):
        for option in question.answer:
            fieldsets.nth(index).locator("input").nth(option).check()
    page.get_by_role("button", name="提交答案").click()
    page.wait_for_url(re.compile(r"/quiz/attempts/\d+$"))
    assert page.locator(".score").inner_text() == "100%"
    assert db.session.scalar(sa.select(QuizAttempt.score)) == 100


def test_make_up_reading_without_javascript(no_js, org, make_lecture):
    lecture = make_lecture(utcnow() - timedelta(days=2))
    page = no_js
    login(page, "m0001", PASSWORD)
    page.goto(f"/makeup/{lecture.id}")
    page.get_by_role("button", name="我已读完要点").click()
    assert page.locator("#end-of-key-points[data-done='yes']").count() == 1


def test_quiz_by_keyboard_alone(phone, seed_lecture):
    page = phone
    login(page, "m0002", PASSWORD)
    lecture_id = seed_lecture["lecture_id"]
    page.goto(f"/lectures/{lecture_id}/quiz")
    questions = list(db.session.scalars(sa.select(Question).where(Question.lecture_id == lecture_id)
                                        .order_by(Question.position)))
    fieldsets = page.locator("fieldset.question")
    for index, question in enumerate(questions):
        inputs = fieldsets.nth(index).locator("input")
        for option in question.answer:
            inputs.nth(option).focus()
            page.keyboard.press("Space")
    assert all(fieldsets.nth(i).locator("input:checked").count() >= 1 for i in range(len(questions)))
    page.get_by_role("button", name="提交答案").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/quiz/attempts/\d+$"))
    assert page.locator(".score").inner_text() == "100%"
