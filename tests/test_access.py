"""Every route x every role, checked on the server.

The table must name every endpoint the app serves: adding a route without an
entry here fails `test_every_route_is_in_the_table`.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from lecturehub.attendance.models import LeaveRequest
from lecturehub.courses.models import Lecture, LectureVenue, Material, MaterialKind
from lecturehub.courses.services import add_material
from lecturehub.courses.uploads import store_upload
from lecturehub.extensions import db
from lecturehub.quizzes.models import Question
from lecturehub.quizzes.services import submit_attempt

from .conftest import catch_writes

ROLES = ("anonymous", "member_a", "coord_a", "coord_b", "admin")
LOGINS = {"member_a": "m0001", "coord_a": "coord01", "coord_b": "coord02", "admin": "admin"}
R = 302  # anonymous visitors are sent to the login page; signed-in visitors to their home page

# endpoint: (method, url template, {role: expected status})
TABLE = {
    "core.index": ("GET", "/", dict(anonymous=R, member_a=R, coord_a=R, coord_b=R, admin=R)),
    "core.healthz": ("GET", "/healthz", dict(anonymous=200, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "core.set_language": ("GET", "/lang/en", dict(anonymous=R, member_a=R, coord_a=R, coord_b=R, admin=R)),
    "core.static": ("GET", "/static/core/style.css",
                    dict(anonymous=200, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "accounts.login": ("GET", "/login", dict(anonymous=200, member_a=R, coord_a=R, coord_b=R, admin=R)),
    "accounts.change_password": ("GET", "/account/password",
                                 dict(anonymous=R, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "organisation.home": ("GET", "/home", dict(anonymous=R, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "accounts.account": ("GET", "/account", dict(anonymous=R, member_a=200, coord_a=200, coord_b=200, admin=200)),
    # Only one's own sign-ins can be ended; a handle that names none of them is 404 for everyone.
    "accounts.end_session": ("POST", "/account/sessions/0123456789abcdef01234567/end",
                             dict(anonymous=R, member_a=404, coord_a=404, coord_b=404, admin=404)),
    "accounts.user_list": ("GET", "/admin/users", dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "accounts.user_detail": ("GET", "/admin/users/{member_a}",
                             dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "accounts.roster_import": ("GET", "/admin/roster",
                               dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    # Allowed users get past the access check to the kept upload, which is missing (409: upload again).
    "accounts.roster_apply": ("POST", "/admin/roster/apply",
                              dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=409)),
    "accounts.venue_coordinators": ("GET", "/admin/venues/{branch_a}/coordinators",
                                    dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "venue_admin.venue_admin_list": ("GET", "/admin/venues",
                                     dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "venue_admin.edit_venue": ("GET", "/admin/venues/{branch_a}/edit",
                               dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "audit.audit_log": ("GET", "/admin/audit", dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "organisation.venue_list": ("GET", "/venues", dict(anonymous=R, member_a=403, coord_a=200, coord_b=200, admin=200)),
    "organisation.venue_detail": ("GET", "/venues/{branch_a}",
                            dict(anonymous=R, member_a=403, coord_a=200, coord_b=403, admin=200)),
    "memberships.venue_members": ("GET", "/venues/{branch_a}/members",
                                  dict(anonymous=R, member_a=403, coord_a=200, coord_b=403, admin=200)),
    "courses.course_list": ("GET", "/courses", dict(anonymous=R, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "courses.course_detail": ("GET", "/courses/{course}",
                              dict(anonymous=R, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "courses.lecture_detail": ("GET", "/lectures/{lecture}",
                               dict(anonymous=R, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "courses.material_detail": ("GET", "/lectures/{lecture}/materials/{material}",
                                dict(anonymous=R, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "quizzes.take": ("GET", "/lectures/{lecture}/quiz",
                     dict(anonymous=R, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "quizzes.attempt_detail": ("GET", "/quiz/attempts/{attempt}",
                               dict(anonymous=R, member_a=200, coord_a=403, coord_b=403, admin=200)),
    "attendance.static": ("GET", "/static/attendance/poll.js",
                          dict(anonymous=200, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "attendance.checkin_confirm": ("GET", "/checkin/{lv_a}?code=123456",
                                   dict(anonymous=R, member_a=200, coord_a=200, coord_b=200, admin=200)),
    # The seed lecture's window closed in 2020: every signed-in check-in is refused with 409.
    "attendance.checkin_scan": ("POST", "/checkin/{lv_a}",
                                dict(anonymous=R, member_a=409, coord_a=409, coord_b=409, admin=409)),
    "attendance.checkin_code": ("POST", "/lectures/{lecture}/checkin",
                                dict(anonymous=R, member_a=409, coord_a=409, coord_b=409, admin=409)),
    "attendance.screen": ("GET", "/screen/{lv_a}", dict(anonymous=R, member_a=403, coord_a=200, coord_b=403, admin=200)),
    "attendance.screen_state": ("GET", "/screen/{lv_a}/state",
                                dict(anonymous=R, member_a=403, coord_a=200, coord_b=403, admin=200)),
    "attendance.desk": ("GET", "/desk/{lv_a}", dict(anonymous=R, member_a=403, coord_a=200, coord_b=403, admin=200)),
    "attendance.roster": ("GET", "/roster/{lv_a}", dict(anonymous=R, member_a=403, coord_a=200, coord_b=403, admin=200)),
    "attendance.roster_state": ("GET", "/roster/{lv_a}/state",
                                dict(anonymous=R, member_a=403, coord_a=200, coord_b=403, admin=200)),
    # Allowed users get past the access check to the form check (422: nothing chosen).
    "attendance.roster_set_status": ("POST", "/roster/{lv_a}/status",
                                     dict(anonymous=R, member_a=403, coord_a=422, coord_b=403, admin=422)),
    "attendance.roster_sheet": ("POST", "/roster/{lv_a}/sheet",
                                dict(anonymous=R, member_a=403, coord_a=422, coord_b=403, admin=422)),
    "attendance.request_leave": ("GET", "/lectures/{lecture}/leave",
                                 dict(anonymous=R, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "attendance.decide_leave": ("POST", "/leave/{leave}/decide",
                                dict(anonymous=R, member_a=403, coord_a=400, coord_b=403, admin=400)),
    "attendance.makeup": ("GET", "/makeup/{lecture}", dict(anonymous=R, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "attendance.key_points_read": ("POST", "/lectures/{lecture}/read",
                                   dict(anonymous=R, member_a=R, coord_a=R, coord_b=R, admin=R)),
    # Coordinators watch their own venues live (the lecture takes part at both branches).
    "attendance.live": ("GET", "/live/{lecture}", dict(anonymous=R, member_a=403, coord_a=200, coord_b=200, admin=200)),
    "attendance.live_state": ("GET", "/live/{lecture}/state",
                              dict(anonymous=R, member_a=403, coord_a=200, coord_b=200, admin=200)),
    "attendance.member_card": ("GET", "/me/card", dict(anonymous=R, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "attendance.checkin_settings": ("GET", "/lectures/{lecture}/checkin-settings",
                                    dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "reports.index": ("GET", "/reports/", dict(anonymous=R, member_a=R, coord_a=200, coord_b=200, admin=R)),
    "reports.lecture": ("GET", "/reports/lectures/{lecture}",
                        dict(anonymous=R, member_a=403, coord_a=200, coord_b=200, admin=200)),
    "reports.lecture_venue": ("GET", "/reports/lectures/{lecture}/venues/{branch_a}",
                              dict(anonymous=R, member_a=403, coord_a=200, coord_b=403, admin=200)),
    "reports.branch_record": ("GET", "/reports/lectures/{lecture}/venues/{branch_a}/record",
                              dict(anonymous=R, member_a=403, coord_a=200, coord_b=403, admin=200)),
    "reports.signin_sheet": ("GET", "/reports/lectures/{lecture}/venues/{branch_a}/sheet",
                             dict(anonymous=R, member_a=403, coord_a=200, coord_b=403, admin=200)),
    "reports.course_venue": ("GET", "/reports/courses/{course}/venues/{branch_a}",
                             dict(anonymous=R, member_a=403, coord_a=200, coord_b=403, admin=200)),
    "reports.overview": ("GET", "/reports/overview", dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "reports.hours": ("GET", "/reports/hours", dict(anonymous=R, member_a=403, coord_a=200, coord_b=200, admin=200)),
    "reports.hours_venue": ("GET", "/reports/hours/venues/{branch_a}",
                            dict(anonymous=R, member_a=403, coord_a=200, coord_b=403, admin=200)),
    "reports.me": ("GET", "/reports/me", dict(anonymous=R, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "courses.static": ("GET", "/static/courses/preview.js",
                       dict(anonymous=200, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "courses.material_download": ("GET", "/lectures/{lecture}/materials/{file_material}/download",
                                  dict(anonymous=R, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "authoring.content": ("GET", "/admin/content", dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "authoring.edit_course": ("GET", "/admin/courses/{course}/edit",
                              dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "authoring.edit_lecture": ("GET", "/admin/lectures/{lecture}/edit",
                               dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "authoring.preview": ("POST", "/admin/preview", dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "authoring.materials": ("GET", "/admin/lectures/{lecture}/materials",
                            dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "authoring.upload_material": ("POST", "/admin/lectures/{lecture}/materials/upload",
                                  dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=422)),
    "authoring.add_link": ("POST", "/admin/lectures/{lecture}/materials/link",
                           dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=422)),
    "quiz_bank.bank": ("GET", "/admin/lectures/{lecture}/quiz",
                       dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "quiz_bank.edit_question": ("GET", "/admin/questions/{question}/edit",
                                dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "quiz_bank.move_question": ("POST", "/admin/questions/{question}/move",
                                dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=400)),
    "quiz_bank.export_bank": ("GET", "/admin/lectures/{lecture}/quiz/export",
                              dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "quiz_bank.import_bank": ("POST", "/admin/lectures/{lecture}/quiz/import",
                              dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=422)),
    "authoring.bundle": ("GET", "/admin/bundle", dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "authoring.apply_bundle": ("POST", "/admin/bundle/apply",
                               dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=400)),
    "quizzes.static": ("GET", "/static/quizzes/quiz.js",
                       dict(anonymous=200, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "quizzes.analysis": ("GET", "/lectures/{lecture}/quiz/analysis",
                         dict(anonymous=R, member_a=403, coord_a=200, coord_b=200, admin=200)),
    # The kiosk API answers in JSON: 401 without a credential, never a redirect. A form post is not JSON (400).
    "api_v1.openapi_document": ("GET", "/api/v1/openapi.json",
                                dict(anonymous=200, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "api_v1.caller": ("GET", "/api/v1/caller", dict(anonymous=401, member_a=403, coord_a=200, coord_b=200, admin=200)),
    "api_v1.lectures": ("GET", "/api/v1/venues/{branch_a}/lectures",
                        dict(anonymous=401, member_a=403, coord_a=200, coord_b=403, admin=200)),
    "api_v1.roster": ("GET", "/api/v1/venues/{branch_a}/lectures/{lecture}/roster",
                      dict(anonymous=401, member_a=403, coord_a=200, coord_b=403, admin=200)),
    "api_v1.screen": ("GET", "/api/v1/venues/{branch_a}/lectures/{lecture}/screen",
                      dict(anonymous=401, member_a=403, coord_a=200, coord_b=403, admin=200)),
    "api_v1.check_in": ("POST", "/api/v1/venues/{branch_a}/lectures/{lecture}/checkins",
                        dict(anonymous=401, member_a=403, coord_a=400, coord_b=403, admin=400)),
    "api_v1.check_in_batch": ("POST", "/api/v1/venues/{branch_a}/lectures/{lecture}/checkins/batch",
                              dict(anonymous=401, member_a=403, coord_a=400, coord_b=403, admin=400)),
    "kiosk.static": ("GET", "/static/kiosk/desk.js", dict(anonymous=200, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "kiosk.manifest": ("GET", "/desk-app/manifest.webmanifest",
                       dict(anonymous=200, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "kiosk.service_worker": ("GET", "/desk-app/sw.js", dict(anonymous=200, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "kiosk.desk_index": ("GET", "/desk-app/", dict(anonymous=R, member_a=403, coord_a=200, coord_b=200, admin=200)),
    "kiosk.desk_app": ("GET", "/desk-app/{lv_a}", dict(anonymous=R, member_a=403, coord_a=200, coord_b=403, admin=200)),
    "kiosk.devices": ("GET", "/venues/{branch_a}/devices",
                      dict(anonymous=R, member_a=403, coord_a=200, coord_b=403, admin=200)),
    "kiosk.revoke_device": ("POST", "/venues/{branch_a}/devices/999999/revoke",
                            dict(anonymous=R, member_a=403, coord_a=404, coord_b=403, admin=404)),
    "filing.lecture_filings": ("GET", "/lectures/{lecture}/filings",
                               dict(anonymous=R, member_a=403, coord_a=200, coord_b=200, admin=200)),
    # An admin gets past the access check to the form check (422: neither acknowledge nor return chosen).
    "filing.review": ("POST", "/filings/{lv_a}/review",
                      dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=422)),
    # These change data, so they come last. The seed lecture's check-in closed in 2020, so it can be filed.
    "filing.file_record": ("POST", "/filings/{lv_a}/file",
                           dict(anonymous=R, member_a=403, coord_a=R, coord_b=403, admin=R)),
    "authoring.delete_material": ("POST", "/admin/materials/{file_material}/delete",
                                  dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=R)),
    # Whoever may take the quiz autosaves into their own sitting (stored by the first save).
    "quizzes.save_draft": ("POST", "/lectures/{lecture}/quiz/draft",
                           dict(anonymous=R, member_a=200, coord_a=200, coord_b=200, admin=200)),
    "quiz_bank.delete_question": ("POST", "/admin/questions/{question}/delete",
                                  dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=R)),
    "accounts.reset_password": ("POST", "/admin/users/{member_b}/password",
                                dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=200)),
    "accounts.set_active": ("POST", "/admin/users/{member_b}/active",
                            dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=R)),
    "venue_admin.retire_venue": ("POST", "/admin/venues/{branch_b}/retire",
                                 dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=R)),
    "venue_admin.restore_venue": ("POST", "/admin/venues/{branch_b}/restore",
                                  dict(anonymous=R, member_a=403, coord_a=403, coord_b=403, admin=R)),
    # Last, because they end the session they are checked with.
    "accounts.sign_out_everywhere": ("POST", "/account/sign-out-everywhere",
                                     dict(anonymous=R, member_a=R, coord_a=R, coord_b=R, admin=R)),
    "accounts.logout": ("POST", "/logout", dict(anonymous=R, member_a=R, coord_a=R, coord_b=R, admin=R)),
}


def test_every_route_is_in_the_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints == set(TABLE), f"missing: {endpoints - set(TABLE)}, stale: {set(TABLE) - endpoints}"


@pytest.fixture
def ids(seed_lecture, org):
    lecture = db.session.get(Lecture, seed_lecture["lecture_id"])
    material = db.session.scalar(sa.select(Material).where(Material.lecture_id == lecture.id).limit(1))
    questions = list(db.session.scalars(sa.select(Question).where(Question.lecture_id == lecture.id)))
    attempt = submit_attempt(org["member_a"], lecture, questions, {})
    lv_a = db.session.scalar(sa.select(LectureVenue.id).where(LectureVenue.lecture_id == lecture.id,
                                                              LectureVenue.venue_id == org["branch_a"]))
    leave = LeaveRequest(lecture_id=lecture.id, user_id=org["member_a"], reason="出差")
    db.session.add(leave)
    db.session.commit()
    file_material = add_material(lecture, title="讲稿", kind=MaterialKind.FILE,
                                 stored=store_upload("讲稿.pdf", b"%PDF-1.4\n%test\n"))
    return {**org, "lecture": lecture.id, "course": lecture.course_id, "material": material.id, "attempt": attempt.id,
            "lv_a": lv_a, "leave": leave.id, "question": questions[0].id, "file_material": file_material.id}


@pytest.mark.parametrize("role", ROLES)
def test_route_role_table(app, ids, role):
    client = app.test_client()
    if role != "anonymous":
        client.login(LOGINS[role])
    failures = []
    for endpoint, (method, template, expected) in TABLE.items():
        url = template.format(**ids)
        if method == "GET":
            status = client.get(url).status_code
        else:
            # The last rows sign the user out; their token then comes from the sign-in page.
            signed_in = role != "anonymous" and client.get("/home").status_code == 200
            status = client.post(url, data={"csrf_token": client.csrf_token("/home" if signed_in else "/login")}
                                 ).status_code
        if status != expected[role]:
            failures.append(f"{endpoint} {url}: expected {expected[role]}, got {status}")
    assert not failures, failures


def test_unknown_ids_are_404(app, ids):
    client = app.test_client()
    client.login("admin")
    for url in ("/venues/999999", "/courses/999999", "/lectures/999999", "/lectures/999999/quiz",
                "/quiz/attempts/999999", f"/lectures/{ids['lecture']}/materials/999999", "/lang/fr"):
        assert client.get(url).status_code == 404, url


def test_material_of_another_lecture_is_404(app, ids):
    client = app.test_client()
    client.login("m0001")
    assert client.get(f"/lectures/999/materials/{ids['material']}").status_code == 404


def test_draft_lecture_is_hidden_from_members_but_not_admins(app, ids):
    lecture = db.session.get(Lecture, ids["lecture"])
    lecture.published = False
    db.session.commit()
    member = app.test_client()
    member.login("m0001")
    assert member.get(f"/lectures/{ids['lecture']}").status_code == 404
    assert member.get(f"/lectures/{ids['lecture']}/quiz").status_code == 404
    assert lecture.title not in member.get("/courses").get_data(as_text=True)
    admin = app.test_client()
    admin.login("admin")
    page = admin.get(f"/lectures/{ids['lecture']}").get_data(as_text=True)
    assert "草稿" in page


def test_coordinator_sees_only_their_venue_in_lists(app, ids):
    client = app.test_client()
    client.login("coord01")
    page = client.get("/venues").get_data(as_text=True)
    assert "第1分会场" in page and "第2分会场" not in page
    venue_page = client.get(f"/venues/{ids['branch_a']}").get_data(as_text=True)
    assert "张伟" in venue_page and "王芳" not in venue_page


EXPORTS = {
    "/reports/lectures/{lecture}": dict(member_a=403, coord_a=200, coord_b=200, admin=200),
    "/reports/lectures/{lecture}/venues/{branch_a}": dict(member_a=403, coord_a=200, coord_b=403, admin=200),
    "/reports/courses/{course}/venues/{branch_a}": dict(member_a=403, coord_a=200, coord_b=403, admin=200),
    "/reports/overview?table=ranking": dict(member_a=403, coord_a=403, coord_b=403, admin=200),
    "/reports/overview?table=trend": dict(member_a=403, coord_a=403, coord_b=403, admin=200),
    "/reports/overview?table=matrix": dict(member_a=403, coord_a=403, coord_b=403, admin=200),
    "/reports/hours": dict(member_a=403, coord_a=200, coord_b=200, admin=200),
    "/reports/hours/venues/{branch_a}": dict(member_a=403, coord_a=200, coord_b=403, admin=200),
    "/reports/me": dict(member_a=200, coord_a=200, coord_b=200, admin=200),
    "/reports/me?table=quizzes": dict(member_a=200, coord_a=200, coord_b=200, admin=200),
    "/lectures/{lecture}/quiz/analysis": dict(member_a=403, coord_a=200, coord_b=200, admin=200),
}


@pytest.mark.parametrize("role", ["member_a", "coord_a", "coord_b", "admin"])
def test_every_export_checks_the_role_and_the_venue(app, ids, role):
    client = app.test_client()
    client.login(LOGINS[role])
    failures = []
    for template, expected in EXPORTS.items():
        for fmt in ("xlsx", "csv"):
            url = template.format(**ids)
            url += ("&" if "?" in url else "?") + f"format={fmt}"
            response = client.get(url)
            if response.status_code != expected[role]:
                failures.append(f"{url}: expected {expected[role]}, got {response.status_code}")
            elif response.status_code == 200:
                assert "attachment" in response.headers["Content-Disposition"], url
    assert not failures, failures


def test_coordinator_b_sees_only_their_venue_in_the_lecture_report(app, ids):
    client = app.test_client()
    client.login("coord02")
    page = client.get(f"/reports/lectures/{ids['lecture']}").get_data(as_text=True)
    assert "第2分会场" in page and "第1分会场" not in page
    csv_text = client.get(f"/reports/lectures/{ids['lecture']}?format=csv").get_data(as_text=True)
    assert "第2分会场" in csv_text and "第1分会场" not in csv_text


# Tables a page that only reads may still write to, on purpose; anything else written by a GET is a bug.
WRITTEN_BY_READS = {
    # The server-side sign-in's "last used" time, refreshed at most hourly in its own short transaction.
    "user_session",
    # Rate-limit counters (database:// storage) count reads as well, in their own connection.
    "rate_limit_counter",
}
# A download of members' data is recorded in the audit log: who took which data away, and when.
WRITTEN_BY_DOWNLOADS = WRITTEN_BY_READS | {"audit_event"}


@pytest.mark.parametrize("role", ["admin", "coord_a", "member_a"])
def test_reading_a_page_writes_nothing(app, ids, role):
    client = app.test_client()
    client.login(LOGINS[role])
    urls = [template.format(**ids) for method, template, expected in TABLE.values()
            if method == "GET" and expected[role] == 200]
    urls += [template.format(**ids) + ("&" if "?" in template else "?") + f"format={fmt}"
             for template, expected in EXPORTS.items() if expected[role] == 200 for fmt in ("csv", "xlsx")]
    failures = []
    for url in urls:
        with catch_writes(app) as writes:
            response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        download = "attachment" in response.headers.get("Content-Disposition", "")
        wrong = sorted(writes.tables() - (WRITTEN_BY_DOWNLOADS if download else WRITTEN_BY_READS))
        if wrong:
            failures.append(f"{url} wrote to {wrong}: {[s for t, s in writes if t in wrong]}")
    assert not failures, failures
