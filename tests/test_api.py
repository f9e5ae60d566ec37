"""The kiosk API: device tokens, access, JSON errors, idempotent check-ins with scan times, the roster."""
from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa

from lecturehub.accounts.models import User
from lecturehub.api import services as api
from lecturehub.attendance import services as attendance
from lecturehub.attendance.models import AttendanceRecord, CheckinScan, DeviceToken, Method, Status
from lecturehub.audit.models import AuditEvent
from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db
from lecturehub.venues.models import Venue


@pytest.fixture
def token_for(org):
    """A device token for a venue (by fixture key), created by that venue's coordinator."""

    def factory(venue_key: str = "branch_a", name: str = "第1分会场 门口平板") -> str:
        venue = db.session.get(Venue, org[venue_key])
        coordinator = db.session.get(User, org["coord_a" if venue_key == "branch_a" else "coord_b"])
        _device, token = api.create_device_token(venue, name, by=coordinator)
        db.session.commit()
        return token

    return factory


def bearer(token: str, language: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    if language:
        headers["Accept-Language"] = language
    return headers


def scan(member: str, at, nonce: str) -> dict:
    return {"member": member, "scanned_at": at.isoformat(), "nonce": nonce}


def records(lecture_id: int) -> list[AttendanceRecord]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AttendanceRecord).where(AttendanceRecord.lecture_id == lecture_id)
                                   .order_by(AttendanceRecord.id)))


def checkins_url(org, lecture, venue_key="branch_a", batch=False) -> str:
    return f"/api/v1/venues/{org[venue_key]}/lectures/{lecture.id}/checkins" + ("/batch" if batch else "")


# --- tokens -----------------------------------------------------------------------------------------

def test_token_is_stored_only_as_its_hash_and_shown_once(client, org, ctx):
    client.login("coord01")
    page = client.submit(f"/venues/{org['branch_a']}/devices", {"name": "第1分会场 门口平板"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    token = text.split('data-token>')[1].split("<")[0]
    assert token.startswith("lhd_") and len(token) > 40
    assert page.headers["Cache-Control"] == "no-store"
    device = db.session.scalar(sa.select(DeviceToken))
    assert device.name == "第1分会场 门口平板" and device.venue_id == org["branch_a"]
    assert device.token_hash == api.hash_token(token) and token not in device.token_hash
    # Shown once: the list afterwards names the device but never shows the token again.
    listing = client.get(f"/venues/{org['branch_a']}/devices").get_data(as_text=True)
    assert "第1分会场 门口平板" in listing and token not in listing
    assert client.get("/api/v1/caller", headers=bearer(token)).get_json() == {
        "kind": "device", "name": "第1分会场 门口平板", "venue_ids": [org["branch_a"]]}


def test_last_use_is_shown_and_revoking_stops_the_token(client, org, ctx, token_for):
    token = token_for()
    client.login("coord01")
    assert "从未" in client.get(f"/venues/{org['branch_a']}/devices").get_data(as_text=True)
    assert client.get("/api/v1/caller", headers=bearer(token)).status_code == 200
    db.session.expire_all()
    device = db.session.scalar(sa.select(DeviceToken))
    assert device.last_used_at is not None and utcnow() - device.last_used_at < timedelta(minutes=1)
    assert "从未" not in client.get(f"/venues/{org['branch_a']}/devices").get_data(as_text=True)

    response = client.submit(f"/venues/{org['branch_a']}/devices/{device.id}/revoke",
                             token_from=f"/venues/{org['branch_a']}/devices")
    assert response.status_code == 302
    answer = client.get("/api/v1/caller", headers=bearer(token))
    assert answer.status_code == 401 and answer.get_json()["code"] == "token_revoked"
    assert {e.action for e in db.session.scalars(sa.select(AuditEvent))} >= {"device.created", "device.revoked"}


def test_another_venues_coordinator_cannot_see_or_revoke_tokens(client, org, ctx, token_for):
    token_for()
    device = db.session.scalar(sa.select(DeviceToken))
    client.login("coord02")
    assert client.get(f"/venues/{org['branch_a']}/devices").status_code == 403
    page = f"/venues/{org['branch_b']}/devices"
    assert client.submit(f"/venues/{org['branch_a']}/devices/{device.id}/revoke", token_from=page).status_code == 403
    assert client.submit(f"/venues/{org['branch_b']}/devices/{device.id}/revoke", token_from=page).status_code == 404
    member = client.application.test_client()
    member.login("m0001")
    assert member.get(f"/venues/{org['branch_a']}/devices").status_code == 403
    db.session.expire_all()
    assert db.session.get(DeviceToken, device.id).revoked_at is None


def test_a_device_name_is_required(client, org, ctx):
    client.login("coord01")
    response = client.submit(f"/venues/{org['branch_a']}/devices", {"name": "  "})
    assert response.status_code == 422 and db.session.scalar(sa.select(DeviceToken)) is None


# --- access and JSON errors -------------------------------------------------------------------------

def test_no_token_invalid_token_and_revoked_token_get_json_401(client, org, open_lecture, token_for):
    url = f"/api/v1/venues/{org['branch_a']}/lectures/{open_lecture.id}/roster"
    none = client.get(url)
    assert none.status_code == 401 and none.is_json and none.get_json()["code"] == "unauthenticated"
    assert none.headers["WWW-Authenticate"].startswith("Bearer")
    assert "设备令牌" in none.get_json()["message"] or "令牌" in none.get_json()["message"]
    wrong = client.get(url, headers=bearer("lhd_not-a-token"))
    assert wrong.status_code == 401 and wrong.get_json()["code"] == "invalid_token"
    basic = client.get(url, headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401 and basic.get_json()["code"] == "invalid_token"
    token = token_for()
    device = db.session.scalar(sa.select(DeviceToken))
    api.revoke_device_token(device, by=db.session.get(User, org["coord_a"]))
    db.session.commit()
    revoked = client.post(checkins_url(org, open_lecture), json=scan("m0001", utcnow(), "nonce-revoked-1"),
                          headers=bearer(token))
    assert revoked.status_code == 401 and revoked.get_json()["code"] == "token_revoked"
    assert records(open_lecture.id) == []


def test_a_token_works_only_for_its_venue(client, org, open_lecture, token_for):
    token_a = token_for("branch_a")
    for path in ("/lectures", f"/lectures/{open_lecture.id}/roster", f"/lectures/{open_lecture.id}/screen"):
        response = client.get(f"/api/v1/venues/{org['branch_b']}{path}", headers=bearer(token_a))
        assert response.status_code == 403 and response.get_json()["code"] == "wrong_venue", path
    # Even for a member of its own venue: the check-in would be at venue B, which this token does not serve.
    response = client.post(checkins_url(org, open_lecture, "branch_b"), json=scan("m0001", utcnow(), "nonce-other-1"),
                           headers=bearer(token_a))
    assert response.status_code == 403 and response.get_json()["code"] == "wrong_venue"
    batch = client.post(checkins_url(org, open_lecture, "branch_b", batch=True),
                        json={"scans": [scan("m0003", utcnow(), "nonce-other-2")]}, headers=bearer(token_a))
    assert batch.status_code == 403
    assert records(open_lecture.id) == []


def test_unknown_venue_and_lecture_not_at_the_venue_are_json_404(client, org, make_lecture, token_for):
    token = token_for()
    elsewhere = make_lecture(utcnow() + timedelta(minutes=5), venues=("branch_b",))
    missing = client.get("/api/v1/venues/999999/lectures", headers=bearer(token))
    assert missing.status_code == 404 and missing.get_json()["code"] == "venue_not_found"
    not_here = client.get(f"/api/v1/venues/{org['branch_a']}/lectures/{elsewhere.id}/roster", headers=bearer(token))
    assert not_here.status_code == 404 and not_here.get_json()["code"] == "lecture_not_found"
    nothing = client.get("/api/v1/no/such/thing", headers=bearer(token))
    assert nothing.status_code == 404 and nothing.is_json


def test_signed_in_coordinator_uses_own_venue_with_csrf_header_only(client, org, open_lecture):
    client.login("coord01")
    other = client.get(f"/api/v1/venues/{org['branch_b']}/lectures/{open_lecture.id}/roster")
    assert other.status_code == 403 and other.get_json()["code"] == "forbidden"
    body = scan("m0001", utcnow(), "nonce-session-1")
    no_csrf = client.post(checkins_url(org, open_lecture), json=body)
    assert no_csrf.status_code == 400 and no_csrf.get_json()["code"] == "csrf_failed"
    assert records(open_lecture.id) == []
    desk_page = client.get(f"/desk-app/{_link_id(open_lecture, org['branch_a'])}").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', desk_page).group(1)
    ok = client.post(checkins_url(org, open_lecture), json=body, headers={"X-CSRFToken": token})
    assert ok.status_code == 201, ok.get_json()
    [record] = records(open_lecture.id)
    assert record.method is Method.DESK and record.device_id is None


def test_members_get_json_403_and_no_redirect(client, org, open_lecture):
    client.login("m0001")
    response = client.get(f"/api/v1/venues/{org['branch_a']}/lectures/{open_lecture.id}/roster")
    assert response.status_code == 403 and response.is_json and "Location" not in response.headers


def test_errors_speak_the_requests_language(client, org, token_for):
    zh = client.get("/api/v1/caller", headers=bearer("lhd_x"))
    en = client.get("/api/v1/caller", headers=bearer("lhd_x", "en"))
    assert zh.get_json()["code"] == en.get_json()["code"] == "invalid_token"
    assert en.get_json()["message"] == "This device token is not valid."
    assert zh.get_json()["message"] == "此设备令牌无效。"


def test_invalid_bodies_are_json_400_and_422(client, org, open_lecture, token_for):
    token = token_for()
    url = checkins_url(org, open_lecture)
    broken = client.post(url, data="{not json", headers={**bearer(token), "Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.get_json()["code"] == "invalid_json"
    for body in ({}, {"member": "m0001", "scanned_at": "yesterday", "nonce": "n-123456"},
                 {"member": "m0001", "scanned_at": "2026-01-01T10:00:00", "nonce": "n-123456"},  # no UTC offset
                 {"member": "m0001", "scanned_at": utcnow().isoformat(), "nonce": "short"},
                 {"member": "", "scanned_at": utcnow().isoformat(), "nonce": "n-1234567"}):
        response = client.post(url, json=body, headers=bearer(token))
        assert response.status_code == 422 and response.get_json()["code"] == "invalid_request", body
        assert response.get_json()["details"]
    assert records(open_lecture.id) == []


def test_rate_limited_per_token(rate_limited_app, org, open_lecture, token_for):
    app = rate_limited_app(API_RATE_LIMIT="3 per minute")
    token_a, token_b = token_for(), token_for(name="第二台")
    client = app.test_client()
    for _ in range(3):
        assert client.get("/api/v1/caller", headers=bearer(token_a)).status_code == 200
    limited = client.get("/api/v1/caller", headers=bearer(token_a))
    assert limited.status_code == 429 and limited.get_json()["code"] == "rate_limited"
    assert "Retry-After" in limited.headers
    assert client.get("/api/v1/caller", headers=bearer(token_b)).status_code == 200


# --- check-ins ----------------------------------------------------------------------------------------

def _link_id(lecture, venue_id: int) -> int:
    return next(link.id for link in lecture.venue_links if link.venue_id == venue_id)


def test_check_in_records_device_and_scan_time(client, org, open_lecture, token_for):
    token = token_for()
    at = utcnow() - timedelta(seconds=40)
    response = client.post(checkins_url(org, open_lecture), json=scan("LH-MEMBER:m0001", at, "nonce-card-1"),
                           headers=bearer(token, "en"))
    assert response.status_code == 201
    body = response.get_json()
    assert body["outcome"] == "checked_in" and body["status"] == "present" and body["member_no"] == "m0001"
    assert body["message"] == "张伟 checked in: Present" and body["replayed"] is False
    [record] = records(open_lecture.id)
    device = db.session.scalar(sa.select(DeviceToken))
    assert record.device_id == device.id and record.method is Method.DEVICE
    assert abs(record.checked_in_at - at) < timedelta(milliseconds=1)
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "attendance.device_check_in"))

    again = client.post(checkins_url(org, open_lecture), json=scan("m0001", utcnow(), "nonce-card-2"),
                        headers=bearer(token))
    assert again.status_code == 200 and again.get_json()["outcome"] == "already_checked_in"
    assert len(records(open_lecture.id)) == 1


def test_same_nonce_twice_is_one_check_in_and_the_same_answer(client, org, open_lecture, token_for):
    token = token_for()
    body = scan("m0002", utcnow(), "nonce-twice-1")
    first = client.post(checkins_url(org, open_lecture), json=body, headers=bearer(token))
    # Even with another member in the body: the nonce names the scan, and the scan was answered.
    second = client.post(checkins_url(org, open_lecture), json={**body, "member": "m0001"}, headers=bearer(token))
    assert first.status_code == second.status_code == 201
    assert {**first.get_json(), "replayed": True} == second.get_json()
    assert [r.user.member_no for r in records(open_lecture.id)] == ["m0002"]
    assert db.session.scalar(sa.select(sa.func.count(CheckinScan.id))) == 1


def test_member_checked_in_elsewhere_is_a_conflict_not_a_second_record(client, org, open_lecture, token_for):
    attendance.check_in(db.session.get(User, org["member_a"]), open_lecture, org["branch_b"], Method.CODE)
    token = token_for()
    response = client.post(checkins_url(org, open_lecture), json=scan("m0001", utcnow(), "nonce-elsewhere"),
                           headers=bearer(token))
    assert response.status_code == 409
    body = response.get_json()
    assert body["outcome"] == "checked_in_elsewhere" and body["checked_in_venue_id"] == org["branch_b"]
    [record] = records(open_lecture.id)
    assert record.venue_id == org["branch_b"] and record.device_id is None


def test_refusals_are_per_scan_answers(client, org, open_lecture, make_lecture, token_for):
    token = token_for()
    url = checkins_url(org, open_lecture)
    unknown = client.post(url, json=scan("m9999", utcnow(), "nonce-unknown"), headers=bearer(token)).get_json()
    assert (unknown["outcome"], unknown["code"]) == ("refused", "unknown_member")
    future = client.post(url, json=scan("m0001", utcnow() + timedelta(minutes=10), "nonce-future"),
                         headers=bearer(token))
    assert future.status_code == 409 and future.get_json()["code"] == "scanned_in_future"
    early = client.post(url, json=scan("m0001", utcnow() - timedelta(hours=2), "nonce-too-early"),
                        headers=bearer(token)).get_json()
    assert early["code"] == "not_open"
    old = make_lecture(utcnow() - timedelta(days=2))
    late_send = client.post(checkins_url(org, old), json=scan("m0001", old.starts_at, "nonce-days-later"),
                            headers=bearer(token)).get_json()
    assert late_send["code"] == "too_late_to_send"
    assert records(open_lecture.id) == [] and records(old.id) == []


def test_queued_scans_count_on_time_or_late_by_their_scan_time(client, org, make_lecture, make_user, token_for):
    # The lecture started 40 minutes ago: on time until +10, check-in open since -30.
    lecture = make_lecture(utcnow() - timedelta(minutes=40))
    for n in range(4, 8):
        make_user(f"m000{n}", venue=db.session.get(Venue, org["branch_a"]))
    start = lecture.starts_at
    token = token_for()
    scans = [scan("m0001", start - timedelta(minutes=20), "queued-0001"),   # on time
             scan("m0002", start + timedelta(minutes=10), "queued-0002"),   # the last on-time second
             scan("m0004", start + timedelta(minutes=10, seconds=1), "queued-0004"),  # late
             scan("m0005", start + timedelta(minutes=25), "queued-0005"),   # late
             scan("m0006", start - timedelta(minutes=31), "queued-0006"),   # before check-in opened
             scan("m0003", start - timedelta(minutes=5), "queued-0003")]    # a member of venue B visiting
    response = client.post(checkins_url(org, lecture, batch=True), json={"scans": scans}, headers=bearer(token))
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [(r["nonce"], r["outcome"], r["status"] or r["code"]) for r in results] == [
        ("queued-0001", "checked_in", "present"), ("queued-0002", "checked_in", "present"),
        ("queued-0004", "checked_in", "late"), ("queued-0005", "checked_in", "late"),
        ("queued-0006", "refused", "not_open"), ("queued-0003", "checked_in", "present")]
    by_member = {r.user.member_no: r for r in records(lecture.id)}
    assert set(by_member) == {"m0001", "m0002", "m0004", "m0005", "m0003"}
    assert by_member["m0004"].status is Status.LATE and by_member["m0002"].status is Status.PRESENT
    assert abs(by_member["m0005"].checked_in_at - (start + timedelta(minutes=25))) < timedelta(milliseconds=1)
    assert by_member["m0003"].venue_id == org["branch_a"]
    # The same batch sent again (the device never got the answer): same answers, nothing doubled.
    again = client.post(checkins_url(org, lecture, batch=True), json={"scans": scans}, headers=bearer(token))
    assert [{**r, "replayed": False} for r in again.get_json()["results"]] == results
    assert all(r["replayed"] for r in again.get_json()["results"])
    assert len(records(lecture.id)) == 5


def test_scan_inside_the_window_counts_even_after_it_closed(client, org, make_lecture, token_for):
    lecture = make_lecture(utcnow() - timedelta(hours=3), minutes=120)  # closed an hour ago
    token = token_for()
    response = client.post(checkins_url(org, lecture), json=scan("m0001", lecture.starts_at, "nonce-after-close"),
                           headers=bearer(token))
    assert response.status_code == 201 and response.get_json()["status"] == "present"


def test_same_nonce_sent_concurrently_is_one_record(app, live_server, org, open_lecture, token_for):
    token = token_for()
    url = live_server + checkins_url(org, open_lecture)
    body = scan("m0001", utcnow(), "nonce-concurrent-1")
    barrier = threading.Barrier(6)
    answers = []

    def send():
        barrier.wait()
        response = requests.post(url, json=body, headers=bearer(token), timeout=60)
        answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 6
    assert {status for status, _ in answers} == {201}
    assert sorted(body["replayed"] for _, body in answers) == [False] + [True] * 5
    assert len({repr({**b, "replayed": None}) for _, b in answers}) == 1
    assert len(records(open_lecture.id)) == 1
    assert db.session.scalar(sa.select(sa.func.count(CheckinScan.id))) == 1


def test_different_nonces_for_one_member_concurrently_are_one_record(app, live_server, org, open_lecture, token_for):
    token = token_for()
    url = live_server + checkins_url(org, open_lecture)
    barrier = threading.Barrier(5)
    outcomes = []

    def send(n: int):
        barrier.wait()
        response = requests.post(url, json=scan("m0002", utcnow(), f"nonce-many-{n}"), headers=bearer(token),
                                 timeout=60)
        outcomes.append(response.json()["outcome"])

    threads = [threading.Thread(target=send, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already_checked_in"] * 4 + ["checked_in"]
    assert len(records(open_lecture.id)) == 1


# --- reading ------------------------------------------------------------------------------------------

def test_roster_snapshot_and_changes_since_a_version(client, org, open_lecture, token_for):
    token = token_for()
    url = f"/api/v1/venues/{org['branch_a']}/lectures/{open_lecture.id}/roster"
    full = client.get(url, headers=bearer(token)).get_json()
    assert full["complete"] is True
    assert {m["member_no"]: m["status"] for m in full["members"]} == {"coord01": None, "m0001": None, "m0002": None}
    unchanged = client.get(f"{url}?since={full['version'] + 61_000_000}", headers=bearer(token)).get_json()
    assert unchanged["complete"] is False and unchanged["members"] == []
    client.post(checkins_url(org, open_lecture), json=scan("m0002", utcnow(), "nonce-roster-1"), headers=bearer(token))
    changed = client.get(f"{url}?since={full['version']}", headers=bearer(token)).get_json()
    assert [(m["member_no"], m["status"]) for m in changed["members"]] == [("m0002", "present")]
    assert changed["version"] > full["version"]
    bad = client.get(f"{url}?since=yesterday", headers=bearer(token))
    assert bad.status_code == 422 and bad.get_json()["code"] == "invalid_request"


def test_lectures_and_screen_state(client, org, open_lecture, make_lecture, token_for):
    make_lecture(utcnow() - timedelta(days=3))  # long over: not listed
    token = token_for()
    lectures = client.get(f"/api/v1/venues/{org['branch_a']}/lectures", headers=bearer(token)).get_json()
    assert [(lec["id"], lec["phase"]) for lec in lectures["lectures"]] == [(open_lecture.id, "on_time")]
    client.post(checkins_url(org, open_lecture), json=scan("m0001", utcnow(), "nonce-screen-1"), headers=bearer(token))
    state = client.get(f"/api/v1/venues/{org['branch_a']}/lectures/{open_lecture.id}/screen",
                       headers=bearer(token)).get_json()
    assert (state["arrived"], state["expected"], state["phase"]) == (1, 3, "on_time")  # coord01 is expected too
    assert state["code"] and len(state["code"]) == 6


# --- the offline desk's pages -------------------------------------------------------------------------

def test_offline_desk_is_an_installable_app_served_by_lecturehub(client, org, open_lecture):
    client.login("coord01")
    link_id = _link_id(open_lecture, org["branch_a"])
    assert f"/desk-app/{link_id}" in client.get(f"/lectures/{open_lecture.id}").get_data(as_text=True)
    page = client.get(f"/desk-app/{link_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'rel="manifest"' in html and "待同步 0" in html
    manifest = client.get("/desk-app/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    data = manifest.get_json()
    assert data["display"] == "standalone" and data["start_url"] == "/desk-app/"
    for icon in data["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
    worker = client.get("/desk-app/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    script = client.get("/static/kiosk/desk.js").get_data(as_text=True)
    for text in (html, worker.get_data(as_text=True), script):
        assert "http://" not in text.replace("http://localhost", "") and "https://" not in text  # nothing from outside
    assert client.get("/desk-app/").status_code == 200


def test_offline_desk_only_for_the_venues_coordinators(client, org, open_lecture):
    link_id = _link_id(open_lecture, org["branch_a"])
    client.login("coord02")
    assert client.get(f"/desk-app/{link_id}").status_code == 403
    member = client.application.test_client()
    member.login("m0001")
    assert member.get(f"/desk-app/{link_id}").status_code == 403


def test_venue_page_links_to_its_device_tokens(client, org):
    client.login("coord01")
    assert f"/venues/{org['branch_a']}/devices" in client.get(f"/venues/{org['branch_a']}").get_data(as_text=True)


@pytest.mark.backend("sqlite")  # test_faults covers the database side on both; this is the API's answer
def test_a_database_that_cannot_write_answers_503_json_and_keeps_nothing(app, org, open_lecture, token_for, tmp_path):
    from .conftest import make_test_app

    token = token_for()
    path = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    read_only = make_test_app(f"sqlite:///file:{path}?mode=ro&uri=true", tmp_path)
    response = read_only.test_client().post(checkins_url(org, open_lecture), json=scan("m0001", utcnow(), "nonce-ro-1"),
                                            headers=bearer(token))
    assert response.status_code == 503 and response.is_json
    assert response.get_json()["code"] == "unavailable" and response.headers["Retry-After"]
    assert records(open_lecture.id) == []
    with read_only.app_context():
        db.engine.dispose()


def test_a_member_scanned_twice_in_one_batch_counts_by_the_earlier_scan(client, org, make_lecture, token_for):
    lecture = make_lecture(utcnow() - timedelta(minutes=20))  # on time until 10 minutes ago
    token = token_for()
    later, earlier = lecture.starts_at + timedelta(minutes=15), lecture.starts_at + timedelta(minutes=1)
    response = client.post(checkins_url(org, lecture, batch=True), headers=bearer(token), json={"scans": [
        scan("LH-MEMBER:m0001", later, "twice-later"), scan("m0001", earlier, "twice-earlier")]})
    results = response.get_json()["results"]
    assert [(r["nonce"], r["outcome"]) for r in results] == [("twice-later", "already_checked_in"),
                                                           ("twice-earlier", "checked_in")]
    [record] = records(lecture.id)
    assert record.status is Status.PRESENT and abs(record.checked_in_at - earlier) < timedelta(milliseconds=1)


def test_a_queued_scan_does_not_change_a_record_the_venue_has_filed(client, org, make_lecture, token_for):
    """Issue 11 and 16 together: after filing, a late queue is refused instead of silently changing the record."""
    from lecturehub.attendance.models import FilingState, VenueFiling

    lecture = make_lecture(utcnow() - timedelta(hours=3))  # check-in closed within the last hours
    db.session.add(VenueFiling(lecture_id=lecture.id, venue_id=org["branch_a"], state=FilingState.FILED,
                               filed_at=utcnow()))
    db.session.commit()
    answer = client.post(checkins_url(org, lecture), json=scan("m0001", lecture.starts_at, "nonce-after-filing"),
                         headers=bearer(token_for())).get_json()
    assert (answer["outcome"], answer["code"]) == ("refused", "filed")
    assert records(lecture.id) == []
