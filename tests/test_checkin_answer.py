"""The answer to a member's check-in (typed code and QR confirm): what it shows, what it costs, what it refuses."""
from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from lecturehub.accounts.models import User
from lecturehub.attendance import codes, services
from lecturehub.attendance.models import Method
from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db

from .test_attendance import link_id, record_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The busiest request of a lecture day: the member's sign-in, the lecture, the wrong-code counters, the venues
# (with their names) or the scanned link (with its venue), and the INSERT.
CHECKIN_STATEMENTS = 5


def test_the_answer_shows_the_status_time_and_venue_and_leads_back(client, org, open_lecture):
    client.login("m0001")
    code, _ = codes.current_code(open_lecture.id, org["branch_a"], utcnow())
    response = client.submit(f"/lectures/{open_lecture.id}/checkin", {"code": code},
                             token_from=f"/lectures/{open_lecture.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    record = record_of(open_lecture.id, org["member_a"])
    shown_time = record.checked_in_at.astimezone(SHANGHAI).strftime("%H:%M:%S")
    assert '<html lang="zh-CN">' in page and 'name="viewport"' in page
    assert "<h1>✔ 已签到</h1>" in page
    assert re.search(rf"出席</span>\s*· {shown_time} · 第1分会场</p>", page)
    assert f'href="/lectures/{open_lecture.id}"' in page and 'href="/home"' in page
    assert "LectureHub" in page  # the site's name heads the page
    assert f'<p class="meta">{open_lecture.title}</p>' in page  # which lecture the member checked in to


def test_checking_in_again_at_another_venue_shows_where_the_member_checked_in(client, org, open_lecture):
    services.check_in(db.session.get(User, org["member_a"]), open_lecture, org["branch_b"], Method.QR)
    client.login("m0001")
    code, _ = codes.current_code(open_lecture.id, org["main"], utcnow())
    page = client.submit(f"/lectures/{open_lecture.id}/checkin", {"code": code},
                         token_from=f"/lectures/{open_lecture.id}").get_data(as_text=True)
    assert "您此前已签到，本次未作更改" in page
    assert "第2分会场" in page and "主会场" not in page


def _statements_of(app, send) -> tuple[object, int]:
    statements = []

    def note(*_args):
        statements.append(1)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        response = send()
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    return response, len(statements)


def test_a_check_in_takes_at_most_five_statements(rate_limited_app, org, open_lecture):
    app = rate_limited_app()
    typed, scanned = app.test_client(), app.test_client()
    typed.login("m0001")
    scanned.login("m0002")
    code, _ = codes.current_code(open_lecture.id, org["branch_a"], utcnow())
    token = typed.csrf_token(f"/lectures/{open_lecture.id}")
    response, count = _statements_of(app, lambda: typed.post(f"/lectures/{open_lecture.id}/checkin",
                                                             data={"csrf_token": token, "code": code}))
    assert "<h1>✔" in response.get_data(as_text=True) and count <= CHECKIN_STATEMENTS

    link = f"/checkin/{link_id(open_lecture.id, org['branch_a'])}"
    token = scanned.csrf_token(f"/lectures/{open_lecture.id}")  # not the scanned link: it would keep a scan proof
    response, count = _statements_of(app, lambda: scanned.post(link, data={"csrf_token": token, "code": code}))
    assert "<h1>✔" in response.get_data(as_text=True) and count <= CHECKIN_STATEMENTS


def test_a_check_in_without_the_members_form_token_is_refused(app, client, org, open_lecture):
    client.login("m0001")
    code, _ = codes.current_code(open_lecture.id, org["branch_a"], utcnow())
    elsewhere = app.test_client().csrf_token("/login")  # a token from another browser's session
    link = f"/checkin/{link_id(open_lecture.id, org['branch_a'])}"
    for path in (f"/lectures/{open_lecture.id}/checkin", link):
        assert client.post(path, data={"code": code}).status_code == 400
        assert client.post(path, data={"code": code, "csrf_token": elsewhere}).status_code == 400
    assert record_of(open_lecture.id, org["member_a"]) is None
