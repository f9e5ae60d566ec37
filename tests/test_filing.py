"""Filing (报送): coordinators file their venue's record of a closed lecture, admins acknowledge or return it,
and a filed record is frozen: later changes are corrections with a reason, shown on the record and audited."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from lecturehub.attendance.models import AttendanceChange, AttendanceRecord, FilingState, Status, VenueFiling
from lecturehub.audit.models import AuditEvent
from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db

from .conftest import Client
from .test_attendance import link_id

DRAFT = "草稿（未报送）"


@pytest.fixture
def closed_lecture(make_lecture):
    """A lecture held yesterday: its check-in window has closed."""
    return make_lecture(utcnow() - timedelta(days=1))


def signed_in(app, username: str) -> Client:
    client = Client(app)
    client.login(username)
    return client


def filing_of(lecture_id: int, venue_id: int) -> VenueFiling | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(VenueFiling).where(VenueFiling.lecture_id == lecture_id,
                                                          VenueFiling.venue_id == venue_id))


def status_of(lecture_id: int, user_id: int) -> Status | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(AttendanceRecord.status).where(AttendanceRecord.lecture_id == lecture_id,
                                                                      AttendanceRecord.user_id == user_id))


def test_file_return_correct_and_file_again(app, org, closed_lecture):
    lecture_id, venue_id = closed_lecture.id, org["branch_a"]
    lv = link_id(lecture_id, venue_id)
    record_url = f"/reports/lectures/{lecture_id}/venues/{venue_id}/record"
    sheet_url = f"/reports/lectures/{lecture_id}/venues/{venue_id}/sheet"
    coordinator, admin = signed_in(app, "coord01"), signed_in(app, "admin")

    # Before filing, the record and the sheet say so; a status change needs no reason yet.
    assert DRAFT in coordinator.get(record_url).get_data(as_text=True)
    assert DRAFT in coordinator.get(sheet_url).get_data(as_text=True)
    assert DRAFT in coordinator.get(f"/reports/lectures/{lecture_id}/venues/{venue_id}").get_data(as_text=True)
    coordinator.submit(f"/roster/{lv}/status", {"member_id": org["member_a2"], "status": "late"},
                       token_from=f"/roster/{lv}")
    assert status_of(lecture_id, org["member_a2"]) is Status.LATE

    assert coordinator.submit(f"/filings/{lv}/file", token_from=f"/roster/{lv}").status_code == 302
    filing = filing_of(lecture_id, venue_id)
    assert filing.state is FilingState.FILED and filing.filed_by_id == org["coord_a"]
    record = coordinator.get(record_url).get_data(as_text=True)
    assert DRAFT not in record and "已报送" in record and "甲负责人" in record
    assert DRAFT not in coordinator.get(sheet_url).get_data(as_text=True)
    # Filing twice is refused.
    assert coordinator.submit(f"/filings/{lv}/file", token_from=f"/roster/{lv}").status_code == 409

    # The admin sees it on the lecture's filing page, linked from the lecture report, and returns it.
    assert f"/lectures/{lecture_id}/filings" in admin.get(f"/reports/lectures/{lecture_id}").get_data(as_text=True)
    overview = admin.get(f"/lectures/{lecture_id}/filings").get_data(as_text=True)
    assert "已报送" in overview and "甲负责人" in overview
    no_comment = admin.submit(f"/filings/{lv}/review", {"send_back": "1"}, token_from=f"/lectures/{lecture_id}/filings")
    assert no_comment.status_code == 409 and filing_of(lecture_id, venue_id).state is FilingState.FILED
    returned = admin.submit(f"/filings/{lv}/review", {"send_back": "1", "comment": "李娜实际迟到，请核对"},
                            token_from=f"/lectures/{lecture_id}/filings")
    assert returned.status_code == 302 and filing_of(lecture_id, venue_id).state is FilingState.RETURNED

    # The coordinator sees the return and its comment; the record is a draft again.
    roster = coordinator.get(f"/roster/{lv}").get_data(as_text=True)
    assert "已退回" in roster and "李娜实际迟到，请核对" in roster
    assert DRAFT in coordinator.get(record_url).get_data(as_text=True)

    # A correction without a reason is refused and changes nothing; with a reason it is kept as a correction.
    refused = coordinator.submit(f"/roster/{lv}/status", {"member_id": org["member_a"], "status": "present"},
                                 token_from=f"/roster/{lv}")
    assert refused.status_code == 422 and "更正理由" in refused.get_data(as_text=True)
    assert status_of(lecture_id, org["member_a"]) is None
    coordinator.submit(f"/roster/{lv}/status", {"member_id": org["member_a"], "status": "present",
                                                "reason": "到场未扫码，有签到表为证"}, token_from=f"/roster/{lv}")
    assert status_of(lecture_id, org["member_a"]) is Status.PRESENT
    correction, = db.session.scalars(sa.select(AttendanceChange).where(AttendanceChange.correction.is_(True)))
    assert (correction.old_status, correction.new_status) == (Status.ABSENT, Status.PRESENT)

    assert coordinator.submit(f"/filings/{lv}/file", token_from=f"/roster/{lv}").status_code == 302
    assert filing_of(lecture_id, venue_id).state is FilingState.FILED
    record = coordinator.get(record_url).get_data(as_text=True)
    assert DRAFT not in record
    assert "更正：张伟（m0001） 缺席 → 出席" in record and "到场未扫码，有签到表为证" in record
    assert "更正：张伟（m0001） 缺席 → 出席" in coordinator.get(
        f"/reports/lectures/{lecture_id}/venues/{venue_id}").get_data(as_text=True)

    assert admin.submit(f"/filings/{lv}/review", {"acknowledge": "1"},
                        token_from=f"/lectures/{lecture_id}/filings").status_code == 302
    assert filing_of(lecture_id, venue_id).state is FilingState.ACKNOWLEDGED
    assert "已审阅" in admin.get(f"/reports/lectures/{lecture_id}").get_data(as_text=True)

    actions = list(db.session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.action.in_(["filing.filed", "filing.returned", "filing.acknowledged", "attendance.corrected"]))
        .order_by(AuditEvent.id)))
    assert actions == ["filing.filed", "filing.returned", "attendance.corrected", "filing.filed",
                       "filing.acknowledged"]
    log = admin.get("/admin/audit?action=attendance.corrected").get_data(as_text=True)
    assert "缺席 → 出席" in log and "到场未扫码，有签到表为证" in log


def test_a_paper_sheet_after_filing_needs_a_reason(app, org, closed_lecture):
    lv = link_id(closed_lecture.id, org["branch_a"])
    coordinator = signed_in(app, "coord01")
    coordinator.submit(f"/filings/{lv}/file", token_from=f"/roster/{lv}")

    def upload(reason: str = ""):
        return coordinator.submit(f"/roster/{lv}/sheet", {"sheet": (io.BytesIO("编号\nm0002\n".encode()), "s.csv"),
                                                          "reason": reason},
                                  token_from=f"/roster/{lv}", content_type="multipart/form-data")

    refused = upload()
    assert refused.status_code == 422 and "更正理由" in refused.get_data(as_text=True)
    assert status_of(closed_lecture.id, org["member_a2"]) is None
    assert upload("纸质签到表补录").status_code == 302
    assert status_of(closed_lecture.id, org["member_a2"]) is Status.PRESENT
    record = coordinator.get(f"/reports/lectures/{closed_lecture.id}/venues/{org['branch_a']}/record")
    assert "更正：李娜（m0002） 缺席 → 出席" in record.get_data(as_text=True)


def test_who_may_file_and_review(app, org, closed_lecture):
    lecture_id = closed_lecture.id
    lv_a = link_id(lecture_id, org["branch_a"])
    member, other_coordinator = signed_in(app, "m0001"), signed_in(app, "coord02")
    assert member.submit(f"/filings/{lv_a}/file", token_from="/home").status_code == 403
    assert member.get(f"/lectures/{lecture_id}/filings").status_code == 403
    assert other_coordinator.submit(f"/filings/{lv_a}/file", token_from="/home").status_code == 403
    assert filing_of(lecture_id, org["branch_a"]) is None
    # Another venue's coordinator sees only their own venue on the filing page.
    page = other_coordinator.get(f"/lectures/{lecture_id}/filings").get_data(as_text=True)
    assert "第2分会场" in page and "第1分会场" not in page

    coordinator = signed_in(app, "coord01")
    coordinator.submit(f"/filings/{lv_a}/file", token_from=f"/roster/{lv_a}")
    # Only admins review.
    assert coordinator.submit(f"/filings/{lv_a}/review", {"acknowledge": "1"},
                              token_from="/home").status_code == 403
    assert filing_of(lecture_id, org["branch_a"]).state is FilingState.FILED


def test_nobody_files_while_check_in_is_open_and_the_record_is_a_draft(app, org, open_lecture):
    lv = link_id(open_lecture.id, org["branch_a"])
    for username in ("coord01", "admin"):
        client = signed_in(app, username)
        response = client.submit(f"/filings/{lv}/file", token_from=f"/roster/{lv}")
        assert response.status_code == 409 and "签到结束后" in response.get_data(as_text=True)
    assert filing_of(open_lecture.id, org["branch_a"]) is None
    record = signed_in(app, "coord01").get(f"/reports/lectures/{open_lecture.id}/venues/{org['branch_a']}/record")
    assert DRAFT in record.get_data(as_text=True)


def test_an_unfiled_venue_reads_as_a_draft_in_the_lecture_report(app, org, closed_lecture):
    admin = signed_in(app, "admin")
    page = admin.get(f"/reports/lectures/{closed_lecture.id}").get_data(as_text=True)
    assert page.count(DRAFT) == 3  # main venue and both branches


def test_leave_approved_after_filing_shows_as_a_correction(app, org, closed_lecture):
    from lecturehub.attendance.models import LeaveRequest

    leave = LeaveRequest(lecture_id=closed_lecture.id, user_id=org["member_a"], reason="临时出差",
                         requested_at=closed_lecture.starts_at - timedelta(days=1))
    db.session.add(leave)
    db.session.commit()
    lv = link_id(closed_lecture.id, org["branch_a"])
    coordinator = signed_in(app, "coord01")
    coordinator.submit(f"/filings/{lv}/file", token_from=f"/roster/{lv}")
    assert coordinator.submit(f"/leave/{leave.id}/decide", {"approve": "1"},
                              token_from=f"/roster/{lv}").status_code == 302
    assert status_of(closed_lecture.id, org["member_a"]) is Status.EXCUSED
    record = coordinator.get(f"/reports/lectures/{closed_lecture.id}/venues/{org['branch_a']}/record")
    assert "更正：张伟（m0001） 缺席 → 请假" in record.get_data(as_text=True)


def test_a_record_with_corrections_takes_as_many_queries_as_one_without(app, org, closed_lecture):
    from .test_reports import count_queries

    lv = link_id(closed_lecture.id, org["branch_a"])
    coordinator = signed_in(app, "coord01")
    coordinator.submit(f"/filings/{lv}/file", token_from=f"/roster/{lv}")
    urls = [f"/reports/lectures/{closed_lecture.id}/venues/{org['branch_a']}/{page}" for page in ("record", "sheet")]
    before = [count_queries(app, coordinator, url) for url in urls]
    for key in ("member_a", "member_a2", "coord_a"):
        coordinator.submit(f"/roster/{lv}/status", {"member_id": org[key], "status": "late", "reason": "补登"},
                           token_from=f"/roster/{lv}")
    assert db.session.scalar(sa.select(sa.func.count()).where(AttendanceChange.correction.is_(True))) == 3
    assert [count_queries(app, coordinator, url) for url in urls] == before
