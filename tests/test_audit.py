"""The audit log: what is recorded, the admins' view and filters, and that nothing can edit it."""
from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from lecturehub.accounts.models import User
from lecturehub.audit.models import AuditEvent
from lecturehub.courses.models import Lecture
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from .conftest import PASSWORD, Client, make_test_app
from .test_attendance import link_id


def events(action: str | None = None) -> list[AuditEvent]:
    query = sa.select(AuditEvent).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.session.scalars(query))


def test_sign_ins_and_failed_sign_ins_are_recorded_with_who_and_where(client, org):
    client.submit("/login", {"username": "m0001", "password": "wrong-password1"})
    client.login("m0001")
    client.submit("/logout", token_from="/home")
    failed, = events("auth.sign_in_failed")
    assert failed.target == "user:m0001" and failed.actor_id is None and failed.address == "127.0.0.1"
    signed_in, = events("auth.sign_in")
    assert signed_in.actor_id == org["member_a"] and "张伟" in signed_in.actor_name and signed_in.at is not None
    assert [e.action for e in events()] == ["auth.sign_in_failed", "auth.sign_in", "auth.sign_out"]


def test_status_overrides_and_leave_decisions_are_recorded(app, org, open_lecture):
    coordinator = Client(app)
    coordinator.login("coord01")
    lv = link_id(open_lecture.id, org["branch_a"])
    coordinator.submit(f"/roster/{lv}/status", {"member_id": org["member_a2"], "status": "absent", "reason": "未到"},
                       token_from=f"/roster/{lv}")
    override, = events("attendance.status_set")
    assert override.actor_id == org["coord_a"] and override.target == f"lecture:{open_lecture.id}"
    assert override.details == {"member": "m0002", "status": "absent", "reason": "未到"}


def test_a_refused_change_leaves_no_audit_entry(app, org, open_lecture):
    coordinator = Client(app)
    coordinator.login("coord01")
    lv_a = link_id(open_lecture.id, org["branch_a"])
    response = coordinator.submit(f"/roster/{lv_a}/status", {"member_id": org["member_b"], "status": "absent"},
                                  token_from=f"/roster/{lv_a}")
    assert response.status_code in (403, 404, 422)
    assert events("attendance.status_set") == []


def test_content_changes_imports_role_changes_and_exports_are_recorded(app, org, seed_lecture):
    assert events("content.imported")[0].details["lectures"] == 1  # the seed import by the fixture
    admin = Client(app)
    admin.login("admin")
    lecture_id = seed_lecture["lecture_id"]
    admin.submit(f"/lectures/{lecture_id}/checkin-settings", {"checkin_opens_minutes": "45",
                                                               "checkin_grace_minutes": "5",
                                                               "checkin_closes_minutes": "15"})
    settings_saved, = events("attendance.settings_saved")
    assert [(c["old"], c["new"]) for c in settings_saved.details["changes"]] == [("30", "45"), ("10", "5"),
                                                                                ("0", "15")]
    admin.submit(f"/admin/users/{org['member_a']}", {"name": "张伟", "role": "coordinator",
                                                     "venue_ids": [org["branch_a"]]})
    role_change, = events("user.role_changed")
    assert role_change.details["changes"] == [{"field": "角色", "old": "党员", "new": "分会场负责人"}]
    assert role_change.actor_id == org["admin"]
    assert admin.get(f"/reports/lectures/{lecture_id}?format=xlsx").status_code == 200
    export, = events("export.report")
    assert export.target == f"/reports/lectures/{lecture_id}?format=xlsx" and export.details["file"].endswith(".xlsx")
    assert admin.get(f"/admin/lectures/{lecture_id}/quiz/export").status_code == 200
    assert events("export.quiz_bank")[0].target == f"lecture:{lecture_id}"


def test_admins_read_and_filter_the_log(app, org):
    Client(app).submit("/login", {"username": "m0003", "password": "wrong-password1"})
    admin = Client(app)
    admin.login("admin")
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert "登录失败" in page and "user:m0003" in page and "管理员 (admin)" in page
    only_failed = admin.get("/admin/audit?action=auth.sign_in_failed").get_data(as_text=True)
    assert "user:m0003" in only_failed and "管理员 (admin)" not in only_failed
    by_who = admin.get("/admin/audit?who=admin").get_data(as_text=True)
    assert "管理员 (admin)" in by_who and "user:m0003" not in by_who
    assert "没有匹配的记录" in admin.get("/admin/audit?start=2001-01-01&end=2001-01-02").get_data(as_text=True)
    bad = admin.get("/admin/audit?start=2020-02-30")
    assert bad.status_code == 400 and "日期" in bad.get_data(as_text=True)
    reversed_dates = admin.get("/admin/audit?start=2024-05-02&end=2024-05-01")
    assert reversed_dates.status_code == 400 and "结束日期早于开始日期" in reversed_dates.get_data(as_text=True)


@pytest.mark.parametrize("statement", ["UPDATE audit_event SET actor_name = 'someone else'",
                                       "DELETE FROM audit_event"])
def test_the_database_refuses_to_edit_the_log(client, org, statement):
    client.login("m0001")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with db.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert [e.actor_name for e in events("auth.sign_in")] == ["张伟 (m0001)"]


def test_the_address_behind_a_proxy_is_trusted_only_when_configured(database_url, tmp_path, org):
    for proxies, expected in ((0, "127.0.0.1"), (1, "10.1.2.3")):
        app = make_test_app(database_url, tmp_path, TRUSTED_PROXIES=proxies)
        client = Client(app)
        client.submit("/login", {"username": "m0001", "password": PASSWORD},
                      headers={"X-Forwarded-For": "10.1.2.3"})
        with app.app_context():
            assert events("auth.sign_in")[-1].address == expected


def test_the_log_pages_keep_the_filter(client, org):
    from lecturehub.audit.services import record

    for n in range(55):
        record("auth.sign_in_failed", f"user:x{n}")
    db.session.commit()
    client.login("admin")
    page = client.get("/admin/audit?action=auth.sign_in_failed").get_data(as_text=True)
    assert "第1页，共2页" in page
    assert 'href="/admin/audit?page=2&amp;action=auth.sign_in_failed"' in page
    second = client.get("/admin/audit?page=2&action=auth.sign_in_failed").get_data(as_text=True)
    assert "第2页，共2页" in second and "user:x0<" in second and "登录</td>" not in second


# Entries as the previous release wrote them: codes and True/False in their details.
LEGACY_ENTRIES = [
    ("attendance.status_set", {"member": "m0021", "status": "excused", "reason": "出差"}),
    ("attendance.desk_check_in", {"member": "m0022", "status": "late"}),
    ("content.lecture_saved", {"title": "四史学习教育专题党课", "published": False}),
    ("user.role_changed", {"role": "coordinator → coordinator", "venues": "b01 → b01"}),
    ("content.quiz_settings_saved", {"pass_mark": 80, "draw": None, "attempts": None, "feedback": "after_submit"}),
]
RAW_CODES = re.compile(r"\b(present|late|excused|absent|member|coordinator|admin|after_submit|immediate|in_person|"
                       r"video_conference|online|True|False|None)\b")


def detail_texts(page: str) -> list[str]:
    return [html.unescape(text) for text in re.findall(r'<span class="detail[^"]*">(.*?)</span>', page)]


def test_the_audit_log_of_the_demo_reads_in_words(app, ctx):
    from lecturehub.audit.services import record

    assert app.test_cli_runner().invoke(args=["demo", "--password", "demo-pass-2020"]).exit_code == 0
    for action, details in LEGACY_ENTRIES:
        record(action, "legacy", **details)
    db.session.commit()
    lecture = db.session.scalar(sa.select(Lecture).order_by(Lecture.starts_at))
    coordinator = Client(app)
    coordinator.login("coord01", "demo-pass-2020")
    lv = link_id(lecture.id, db.session.scalar(sa.select(Venue.id).where(Venue.name == "第1分会场")))
    member = db.session.scalar(sa.select(User).where(User.username == "m0023"))
    coordinator.submit(f"/roster/{lv}/status", {"member_id": member.id, "status": "excused", "reason": "病假"},
                       token_from=f"/roster/{lv}")
    admin = Client(app)
    admin.login("admin", "demo-pass-2020")
    admin.submit(f"/admin/lectures/{lecture.id}/quiz", {"quiz_pass_mark": "80", "feedback": "immediate",
                                                         "shuffle_questions": "y"})
    pages, texts = 1, []
    while True:
        page = admin.get(f"/admin/audit?page={pages}").get_data(as_text=True)
        texts += detail_texts(page)
        if f"page={pages + 1}" not in page:
            break
        pages += 1
    assert len(texts) > 10
    raw = [text for text in texts if RAW_CODES.search(text.split("：", 1)[-1])]
    assert not raw, raw
    for words in ("状态：请假", "状态：迟到", "已发布：否", "角色：分会场负责人 → 分会场负责人", "反馈方式：交卷后显示",
                  "每次抽题数：—", "反馈方式：交卷后显示 → "):
        assert any(text.startswith(words) for text in texts), words
