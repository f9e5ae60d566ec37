"""In a real browser: every edit form, saved untouched, keeps every field and the lecture page as they were;
and a venue's printed record reads 草稿（未报送） until its coordinator files it."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from ..conftest import PASSWORD
from .conftest import login

pytestmark = pytest.mark.e2e

# Every control of the form that holds the page's Save button, as the browser holds it.
FORM_STATE_JS = """button => Array.from(button.form.elements)
    .filter(e => e.name && e.name !== 'csrf_token' && e.type !== 'submit')
    .map(e => [e.name, e.type, (e.type === 'checkbox' || e.type === 'radio') ? (e.value + ':' + e.checked)
                               : e.type === 'select-multiple' ? Array.from(e.selectedOptions).map(o => o.value).join(',')
                               : e.value])"""


def form_state(page) -> list:
    return page.get_by_role("button", name="保存", exact=True).last.evaluate(FORM_STATE_JS)


def test_every_edit_form_saved_untouched_changes_nothing(desktop, org, seed_lecture):
    from lecturehub.audit.models import AuditEvent
    from lecturehub.extensions import db
    from lecturehub.quizzes.models import Question

    lecture_id, course_id = seed_lecture["lecture_id"], seed_lecture["course_id"]
    question_ids = list(db.session.scalars(sa.select(Question.id).where(Question.lecture_id == lecture_id)
                                           .where(Question.key_point_id.is_not(None)).limit(2)))
    forms = [f"/admin/lectures/{lecture_id}/edit", f"/admin/courses/{course_id}/edit",
             f"/lectures/{lecture_id}/checkin-settings",
             *[f"/admin/questions/{question_id}/edit" for question_id in question_ids],
             f"/admin/users/{org['member_a']}", f"/admin/users/{org['coord_a']}", f"/admin/users/{org['admin']}"]
    page = desktop
    login(page, "admin", PASSWORD)

    page.goto(f"/lectures/{lecture_id}")
    lecture_page = page.locator("main").inner_text()
    page.goto(forms[0])
    # The lecture's times in the zone the labels name, and its format pre-selected.
    expect(page.get_by_label(re.compile("^开始时间"))).to_have_value("2020-12-29T14:00")
    expect(page.get_by_label(re.compile("^结束时间"))).to_have_value("2020-12-29T16:00")
    expect(page.get_by_label("形式")).to_have_value("video_conference")

    for url in forms:
        page.goto(url)
        before = form_state(page)
        assert before, url
        page.get_by_role("button", name="保存", exact=True).last.click()
        page.wait_for_load_state()
        assert page.locator(".flash-error, .error").count() == 0, f"{url}: {page.locator('main').inner_text()[:300]}"
        page.goto(url)
        assert form_state(page) == before, url

    page.goto(f"/lectures/{lecture_id}")
    assert page.locator("main").inner_text() == lecture_page
    edits = list(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.in_(
        ["content.lecture_saved", "content.course_saved", "attendance.settings_saved", "content.question_saved",
         "user.updated", "user.role_changed"]))))
    assert edits == []


def test_the_printed_record_says_draft_until_it_is_filed(desktop, org, make_lecture):
    from lecturehub.core.timeutil import utcnow

    lecture = make_lecture(utcnow() - timedelta(days=1))
    record_url = f"/reports/lectures/{lecture.id}/venues/{org['branch_a']}/record"
    page = desktop
    login(page, "coord01", PASSWORD)
    page.goto(record_url)
    page.emulate_media(media="print")
    expect(page.locator(".draft-mark")).to_have_text("草稿（未报送）")
    expect(page.locator(".draft-mark")).to_be_visible()  # on paper too, where navigation and buttons are hidden
    assert page.pdf(format="A4").startswith(b"%PDF")
    page.emulate_media(media="screen")

    page.goto(f"/lectures/{lecture.id}/filings")
    page.get_by_role("button", name="报送记录").click()
    expect(page.get_by_role("status").first).to_contain_text("已报送")
    page.goto(record_url)
    page.emulate_media(media="print")
    expect(page.locator(".draft-mark")).to_have_count(0)
    expect(page.locator(".filing-mark")).to_contain_text("已报送")
