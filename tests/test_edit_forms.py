"""Edit forms round-trip: they show every current value, saving untouched changes nothing and logs nothing,
and a real change is audited once, field by field, in words (the shared diff helper in audit/changes.py)."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from lecturehub.audit.changes import field_changes, record_changes
from lecturehub.audit.models import AuditEvent
from lecturehub.courses.models import Course, Lecture, LectureFormat
from lecturehub.extensions import db
from lecturehub.quizzes.models import Question

from .browser_forms import form_as_sent, selected_options


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def save_untouched(client, url: str, action: str = ""):
    """Open the edit page and press save, as a person who changed nothing."""
    page = client.get(url).get_data(as_text=True)
    return client.post(url if not action else action, data=MultiDict(form_as_sent(page, action)))


def lecture_state(lecture_id: int) -> tuple:
    db.session.expire_all()
    lecture = db.session.get(Lecture, lecture_id)
    return (lecture.course_id, lecture.title, lecture.slug, lecture.speaker, lecture.host, lecture.starts_at,
            lecture.ends_at, lecture.format, lecture.study_hours, lecture.summary_md, lecture.published,
            sorted(link.venue_id for link in lecture.venue_links),
            [(kp.id, kp.position, kp.title, kp.body_md) for kp in lecture.key_points],
            lecture.checkin_opens_minutes, lecture.checkin_grace_minutes, lecture.checkin_closes_minutes)


@pytest.fixture
def admin(client, org):
    client.login("admin")
    return client


# --- the diff helper ---------------------------------------------------------------------------------

def test_unchanged_values_give_no_change(app):
    with app.test_request_context():
        described = {"title": ("标题", "四史"), "published": ("已发布", True), "hours": ("学时", Decimal("2.0"))}
        assert field_changes(described, dict(described)) == []
        assert field_changes({"hours": ("学时", Decimal("2.0"))}, {"hours": ("学时", Decimal("2"))}) == []


def test_changes_read_in_words_with_local_times(app):
    start = datetime(2020, 12, 29, 6, 30, tzinfo=timezone.utc)  # 14:30 in Beijing
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        changes = field_changes(
            {"format": ("形式", "现场"), "starts_at": ("开始时间", start), "published": ("已发布", False),
             "venues": ("会场", ["主会场"]), "host": ("主持", "")},
            {"format": ("形式", "视频会议"), "starts_at": ("开始时间", start.replace(hour=7, minute=0)),
             "published": ("已发布", True), "venues": ("会场", ["主会场", "第1分会场"]), "host": ("主持", "王")})
    assert changes == [
        {"field": "形式", "old": "现场", "new": "视频会议"},
        {"field": "开始时间", "old": "2020-12-29 14:30", "new": "15:00"},
        {"field": "已发布", "old": "否", "new": "是"},
        {"field": "会场", "old": "主会场", "new": "主会场、第1分会场"},
        {"field": "主持", "old": "—", "new": "王"},
    ]


def test_a_move_to_another_day_keeps_the_date_and_long_texts_are_shortened(app):
    start = datetime(2020, 12, 29, 6, 30, tzinfo=timezone.utc)
    with app.test_request_context():
        moved, = field_changes({"s": ("开始", start)}, {"s": ("开始", start.replace(day=30))})
        text, = field_changes({"t": ("要点", "甲" * 100)}, {"t": ("要点", "甲" * 99 + "乙")})
    assert moved["new"] == "2020-12-30 14:30"
    assert len(text["old"]) == 60 and text["old"].endswith("…") and text["new"] == "（已修改）"


def test_record_changes_writes_one_entry_only_when_something_changed(app, org):
    with app.test_request_context():
        assert record_changes("content.course_saved", "course:1", {"t": ("标题", "a")}, {"t": ("标题", "a")}) == []
        record_changes("content.course_saved", "course:1", {"t": ("标题", "a")}, {"t": ("标题", "b")})
        db.session.commit()
    entry, = events("content.course_saved")
    assert entry.details == {"changes": [{"field": "标题", "old": "a", "new": "b"}]}


# --- each edit form, through the pages ---------------------------------------------------------------

def test_the_lecture_form_shows_beijing_time_and_the_format_and_an_untouched_save_changes_nothing(
        admin, seed_lecture):
    lecture_id = seed_lecture["lecture_id"]
    url = f"/admin/lectures/{lecture_id}/edit"
    before = lecture_state(lecture_id)
    shown = selected_options(admin.get(url).get_data(as_text=True))
    assert shown["starts_at"] == "2020-12-29T14:00" and shown["format"] == "video_conference"
    assert save_untouched(admin, url).status_code == 302
    assert save_untouched(admin, url).status_code == 302  # a second save moves nothing either
    assert lecture_state(lecture_id) == before
    assert events("content.lecture_saved") == []


def test_a_lecture_change_is_audited_field_by_field_in_words(admin, seed_lecture):
    lecture_id = seed_lecture["lecture_id"]
    url = f"/admin/lectures/{lecture_id}/edit"
    fields = MultiDict(form_as_sent(admin.get(url).get_data(as_text=True)))
    fields["starts_at"], fields["format"] = "2020-12-29T15:00", "in_person"
    assert admin.post(url, data=fields).status_code == 302
    lecture = db.session.get(Lecture, lecture_id)
    assert lecture.format is LectureFormat.IN_PERSON
    assert lecture.starts_at == datetime(2020, 12, 29, 7, 0, tzinfo=timezone.utc)
    entry, = events("content.lecture_saved")
    assert entry.details["changes"] == [
        {"field": "开始时间（北京时间）", "old": "2020-12-29 14:00", "new": "15:00"},
        {"field": "形式", "old": "视频会议", "new": "现场"},
    ]
    log = admin.get("/admin/audit").get_data(as_text=True)
    assert "形式：视频会议 → 现场" in log and "开始时间（北京时间）：2020-12-29 14:00 → 15:00" in log


def test_the_course_form_round_trips(admin, seed_lecture):
    course_id = seed_lecture["course_id"]
    url = f"/admin/courses/{course_id}/edit"
    before = db.session.get(Course, course_id)
    state = (before.title, before.slug, before.description_md, before.position, before.published)
    assert save_untouched(admin, url).status_code == 302
    db.session.expire_all()
    after = db.session.get(Course, course_id)
    assert (after.title, after.slug, after.description_md, after.position, after.published) == state
    assert events("content.course_saved") == []
    fields = MultiDict(form_as_sent(admin.get(url).get_data(as_text=True)))
    del fields["published"]
    admin.post(url, data=fields)
    entry, = events("content.course_saved")
    assert entry.details["changes"] == [{"field": "已发布", "old": "是", "new": "否"}]


def test_the_checkin_settings_form_round_trips(admin, seed_lecture):
    lecture_id = seed_lecture["lecture_id"]
    url = f"/lectures/{lecture_id}/checkin-settings"
    before = lecture_state(lecture_id)
    assert save_untouched(admin, url).status_code == 302
    assert lecture_state(lecture_id) == before and events("attendance.settings_saved") == []


def test_the_question_form_round_trips(admin, seed_lecture):
    lecture_id = seed_lecture["lecture_id"]
    questions = list(db.session.scalars(sa.select(Question).where(Question.lecture_id == lecture_id)
                                        .order_by(Question.position)))
    with_key_point = next(q for q in questions if q.key_point_id)
    for question in (questions[0], with_key_point):
        url = f"/admin/questions/{question.id}/edit"
        state = (question.kind, question.stem, question.options, question.answer, question.explanation,
                 question.key_point_id)
        assert save_untouched(admin, url).status_code == 302
        db.session.expire_all()
        again = db.session.get(Question, question.id)
        assert (again.kind, again.stem, again.options, again.answer, again.explanation, again.key_point_id) == state
    assert events("content.question_saved") == []


def test_the_account_form_round_trips_and_a_no_op_is_not_logged(admin, org):
    for key in ("member_a", "coord_a", "admin"):
        url = f"/admin/users/{org[key]}"
        assert save_untouched(admin, url).status_code == 302
    assert events("user.updated") == [] and events("user.role_changed") == []
    fields = MultiDict(form_as_sent(admin.get(f"/admin/users/{org['member_a']}").get_data(as_text=True)))
    fields["name"] = "张伟伟"
    admin.post(f"/admin/users/{org['member_a']}", data=fields)
    entry, = events("user.updated")
    assert entry.details["changes"] == [{"field": "姓名", "old": "张伟", "new": "张伟伟"}]


def test_the_quiz_settings_form_round_trips(admin, seed_lecture):
    lecture_id = seed_lecture["lecture_id"]
    url = f"/admin/lectures/{lecture_id}/quiz"
    assert save_untouched(admin, url).status_code == 302
    assert events("content.quiz_settings_saved") == []
    fields = MultiDict(form_as_sent(admin.get(url).get_data(as_text=True)))
    fields["feedback"] = "immediate"
    admin.post(url, data=fields)
    entry, = events("content.quiz_settings_saved")
    assert entry.details["changes"] == [{"field": "反馈方式", "old": "交卷后显示", "new": "每题作答后立即显示"}]


def test_a_change_of_line_breaks_alone_is_still_a_change(app):
    with app.test_request_context():
        change, = field_changes({"d": ("简介", "第一段\n第二段")}, {"d": ("简介", "第一段\n\n第二段")})
    assert change == {"field": "简介", "old": "第一段 第二段", "new": "（已修改）"}
