"""The audit log: what is recorded, the admins' view and filters, and that nothing can edit it."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from lecturehub.audit.models import AuditEvent
from lecturehub.extensions import db

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
