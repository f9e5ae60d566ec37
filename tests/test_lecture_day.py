"""The lecture day for real: the QR code on the public address, a scan that survives a slow sign-in,
remembered phones, and argon2id passwords upgraded at sign-in."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from lecturehub.accounts.models import User, UserSession
from lecturehub.attendance import codes
from lecturehub.attendance.models import AttendanceRecord, Method, Status
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.models import LectureVenue
from lecturehub.extensions import db

from .conftest import PASSWORD, Client, make_test_app

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.4 Mobile/15E148 Safari/604.1")
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"


def link_id(lecture_id: int, venue_id: int) -> int:
    return db.session.scalar(sa.select(LectureVenue.id).where(LectureVenue.lecture_id == lecture_id,
                                                              LectureVenue.venue_id == venue_id))


def record_of(lecture_id: int, user_id: int) -> AttendanceRecord | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(AttendanceRecord).where(AttendanceRecord.lecture_id == lecture_id,
                                                               AttendanceRecord.user_id == user_id))


# --- the public address -----------------------------------------------------------------------------

def screen(app, org, lecture, base_url: str = "http://localhost"):
    coordinator = Client(app)
    login_page = coordinator.get("/login", base_url=base_url).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page).group(1)
    # (over HTTPS, Flask-WTF also wants the Referer a browser sends)
    assert coordinator.post("/login", base_url=base_url, headers={"Referer": f"{base_url}/login"}, data={"csrf_token": token, "username": "coord01",
                                                               "password": PASSWORD}).status_code == 302
    lv = link_id(lecture.id, org["branch_a"])
    state = coordinator.get(f"/screen/{lv}/state", base_url=base_url).get_json()
    page = coordinator.get(f"/screen/{lv}", base_url=base_url).get_data(as_text=True)
    return state, page


def test_the_qr_code_points_at_the_public_address_whatever_the_screen_was_opened_at(app, org, open_lecture,
                                                                                     monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://lecture.example.org")
    state, page = screen(app, org, open_lecture, base_url="http://127.0.0.1:5000")
    assert state["url"].startswith("https://lecture.example.org/checkin/")
    assert "127.0.0.1" not in state["url"]
    # Opened on the projector's laptop at a loopback address: the QR is right, but the coordinator is told.
    assert 'class="screen-warning"' in page and "本页面是通过 127.0.0.1 打开的" in page

    state, page = screen(app, org, open_lecture, base_url="https://lecture.example.org")
    assert state["url"].startswith("https://lecture.example.org/checkin/")
    assert "screen-warning" not in page


def test_without_a_public_address_a_loopback_qr_code_is_flagged(app, org, open_lecture, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "")
    state, page = screen(app, org, open_lecture, base_url="http://127.0.0.1:5000")
    assert state["url"].startswith("http://127.0.0.1:5000/checkin/")
    assert "二维码指向 127.0.0.1，这是只有本机才能访问的地址，手机无法打开" in page

    state, page = screen(app, org, open_lecture, base_url="http://10.0.0.5:8000")
    assert state["url"].startswith("http://10.0.0.5:8000/checkin/")
    assert "未设置本站的公开地址（LECTUREHUB_PUBLIC_URL）" in page and "10.0.0.5" in page


def test_a_public_address_that_is_itself_loopback_is_flagged(app, org, open_lecture, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "http://localhost:5000")
    state, page = screen(app, org, open_lecture, base_url="http://localhost:5000")
    assert state["url"].startswith("http://localhost:5000/checkin/")
    assert "二维码指向 localhost，这是只有本机才能访问的地址" in page


def test_the_public_address_comes_from_the_environment(monkeypatch, tmp_path):
    from lecturehub.config import load_config

    monkeypatch.setenv("LECTUREHUB_PUBLIC_URL", " https://lecture.example.org/ ")
    monkeypatch.setenv("LECTUREHUB_SECRET_KEY", "x")
    assert load_config(tmp_path)["PUBLIC_URL"] == "https://lecture.example.org"


# --- a scan that survives sign-in -------------------------------------------------------------------

@pytest.fixture
def clock(app, monkeypatch):
    """Move the application's clock (and this test's utcnow()) forward by some seconds."""

    def move_to(seconds: float) -> None:
        monkeypatch.setitem(app.config, "CLOCK_OFFSET_SECONDS", seconds)

    return move_to


def scan_signed_out(client: Client, lecture_id: int, venue_id: int) -> str:
    """Open the venue's QR link while signed out, as a phone camera does; returns the login URL it leads to."""
    code, _ = codes.current_code(lecture_id, venue_id, utcnow())
    response = client.get(f"/checkin/{link_id(lecture_id, venue_id)}?code={code}")
    assert response.status_code == 302 and "/login?next=" in response.location
    return response.location


def sign_in_at(client: Client, login_url: str, username: str) -> str:
    response = client.post(login_url, data={"csrf_token": client.csrf_token(login_url), "username": username,
                                            "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return response.location


def test_a_scan_survives_a_slow_sign_in_and_counts_at_the_scan_time(app, client, org, open_lecture, clock):
    # The lecture starts in 5 minutes and is on time until 15 minutes from now: scan one minute before that.
    clock(14 * 60)
    scanned_at = utcnow()
    login_url = scan_signed_out(client, open_lecture.id, org["branch_a"])
    clock(14 * 60 + 9 * 60)  # nine minutes of typing: eighteen code periods later, and arrivals now count as late
    target = sign_in_at(client, login_url, "m0001")
    confirm = client.get(target)
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "您于" in page and "扫描了二维码" in page
    assert 'name="code" type="text"' not in page  # nothing to type: the scan counts
    lv = link_id(open_lecture.id, org["branch_a"])
    result = client.submit(f"/checkin/{lv}", {}, token_from=target)
    assert result.status_code == 200 and "已签到" in result.get_data(as_text=True)
    record = record_of(open_lecture.id, org["member_a"])
    assert record.status is Status.PRESENT and record.method is Method.QR and record.venue_id == org["branch_a"]
    assert abs(record.checked_in_at - scanned_at) < timedelta(seconds=5)


def test_a_scan_survives_a_forced_password_change(app, client, org, open_lecture, clock):
    member = db.session.get(User, org["member_a"])
    member.must_change_password = True
    db.session.commit()
    login_url = scan_signed_out(client, open_lecture.id, org["branch_a"])
    clock(3 * 60)
    target = sign_in_at(client, login_url, "m0001")
    change = client.get(target)
    assert change.status_code == 302 and "/account/password?next=" in change.location
    done = client.submit(change.location, {"current_password": PASSWORD, "new_password": "fresh-pass-99",
                                           "confirm": "fresh-pass-99"})
    assert done.status_code == 302 and f"/checkin/{link_id(open_lecture.id, org['branch_a'])}" in done.location
    result = client.submit(f"/checkin/{link_id(open_lecture.id, org['branch_a'])}", {}, token_from=done.location)
    assert result.status_code == 200 and "已签到" in result.get_data(as_text=True)
    assert record_of(open_lecture.id, org["member_a"]).status is Status.PRESENT


def test_a_scan_expires_after_ten_minutes(app, client, org, open_lecture, clock):
    login_url = scan_signed_out(client, open_lecture.id, org["branch_a"])
    clock(10 * 60 + 1)
    target = sign_in_at(client, login_url, "m0001")
    lv = link_id(open_lecture.id, org["branch_a"])
    result = client.submit(f"/checkin/{lv}", {}, token_from=target)
    assert result.status_code == 422 and "您扫描二维码已超过 10 分钟" in result.get_data(as_text=True)
    assert record_of(open_lecture.id, org["member_a"]) is None


def test_a_scan_is_used_once_even_from_a_copied_cookie(app, client, org, open_lecture, clock):
    login_url = scan_signed_out(client, open_lecture.id, org["branch_a"])
    copy = Client(app)  # someone given a copy of the cookie that holds the scan
    copy.set_cookie("session", client.get_cookie("session").value)
    clock(2 * 60)
    lv = link_id(open_lecture.id, org["branch_a"])
    target = sign_in_at(client, login_url, "m0001")
    assert client.submit(f"/checkin/{lv}", {}, token_from=target).status_code == 200
    target = sign_in_at(copy, login_url, "m0002")
    reused = copy.submit(f"/checkin/{lv}", {}, token_from=target)
    assert reused.status_code == 422 and "这次扫码已用于签到" in reused.get_data(as_text=True)
    assert record_of(open_lecture.id, org["member_a2"]) is None
    assert record_of(open_lecture.id, org["member_a"]) is not None


def test_a_scan_does_not_travel_to_another_browser(app, client, org, open_lecture, clock):
    scan_signed_out(client, open_lecture.id, org["branch_a"])
    lv = link_id(open_lecture.id, org["branch_a"])
    old_code, _ = codes.current_code(open_lecture.id, org["branch_a"], utcnow())
    clock(2 * 60)
    other = Client(app)  # the link forwarded to another phone, opened after its code expired
    other.login("m0001")
    page = other.get(f"/checkin/{lv}?code={old_code}").get_data(as_text=True)
    assert "扫描了二维码" not in page
    result = other.submit(f"/checkin/{lv}", {"code": old_code}, token_from=f"/checkin/{lv}?code={old_code}")
    assert result.status_code == 422 and "签到码" in result.get_data(as_text=True)
    assert record_of(open_lecture.id, org["member_a"]) is None


def test_a_scan_counts_only_for_the_venue_scanned(app, client, org, open_lecture, clock):
    login_url = scan_signed_out(client, open_lecture.id, org["branch_a"])
    old_code, _ = codes.current_code(open_lecture.id, org["branch_a"], utcnow())
    clock(2 * 60)
    target = sign_in_at(client, login_url, "m0001")
    elsewhere = link_id(open_lecture.id, org["branch_b"])
    result = client.submit(f"/checkin/{elsewhere}", {"code": old_code}, token_from=target)
    assert result.status_code == 422 and record_of(open_lecture.id, org["member_a"]) is None
    # The scan of the member's own venue is still there to confirm.
    here = client.submit(f"/checkin/{link_id(open_lecture.id, org['branch_a'])}", {}, token_from=target)
    assert here.status_code == 200
    assert record_of(open_lecture.id, org["member_a"]).venue_id == org["branch_a"]


def test_a_link_opened_after_its_code_expired_gives_no_scan(app, client, org, open_lecture, clock):
    code, _ = codes.current_code(open_lecture.id, org["branch_a"], utcnow())
    clock(2 * 60)
    lv = link_id(open_lecture.id, org["branch_a"])
    login_url = client.get(f"/checkin/{lv}?code={code}").location
    target = sign_in_at(client, login_url, "m0001")
    result = client.submit(f"/checkin/{lv}", {"code": code}, token_from=target)
    assert result.status_code == 422 and record_of(open_lecture.id, org["member_a"]) is None


# --- remember this phone, across two app nodes ------------------------------------------------------

@pytest.fixture
def second_node(database_url, tmp_path):
    """Another app instance on the same database, as a second node behind the load balancer."""
    return make_test_app(database_url, tmp_path)


def sign_in(client: Client, username: str, remember: bool, agent: str, password: str = PASSWORD):
    client.environ_base["HTTP_USER_AGENT"] = agent
    data = {"username": username, "password": password}
    if remember:
        data["remember"] = "y"
    response = client.submit("/login", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return response


def signed_in(client: Client) -> bool:
    return client.get("/home").status_code == 200


def remember_box(client: Client, agent: str) -> str:
    client.environ_base["HTTP_USER_AGENT"] = agent
    page = client.get("/login").get_data(as_text=True)
    assert "记住这台手机" in page
    return re.search(r'<input[^>]*id="remember"[^>]*>', page).group(0)


def test_the_sign_in_form_offers_to_remember_phones(client, org):
    assert "checked" in remember_box(client, IPHONE)  # ticked by default on a phone
    assert "checked" not in remember_box(client, DESKTOP)  # not on a computer that may be shared


def test_a_remembered_phone_outlasts_an_ordinary_sign_in(app, org):
    phone, desktop = Client(app), Client(app)
    response = sign_in(phone, "m0001", remember=True, agent=IPHONE)
    assert "Expires=" in response.headers["Set-Cookie"]  # the cookie outlives the browser session
    sign_in(desktop, "m0001", remember=False, agent=DESKTOP)
    rows = {row.remembered: row for row in db.session.scalars(sa.select(UserSession))}
    assert rows[True].device == "iPhone · iOS · Mobile Safari"
    for row in rows.values():  # a month later
        row.created_at -= timedelta(days=30)
        row.last_used_at = row.created_at
    db.session.commit()
    assert signed_in(phone) and not signed_in(desktop)
    db.session.expire_all()
    phone_row = db.session.get(UserSession, rows[True].token)
    assert utcnow() - phone_row.last_used_at < timedelta(minutes=1)  # the return visit is its last use
    phone_row.created_at -= timedelta(days=app.config["REMEMBER_DAYS"])
    db.session.commit()
    assert not signed_in(phone)


def test_remembered_sign_ins_are_listed_and_ended_one_by_one_across_nodes(app, second_node, org):
    phone, tablet, desktop = Client(app), Client(app), Client(second_node)
    sign_in(phone, "m0001", remember=True, agent=IPHONE)
    sign_in(tablet, "m0001", remember=True, agent=IPHONE.replace("iPhone; CPU iPhone OS", "iPad; CPU OS"))
    sign_in(desktop, "m0001", remember=False, agent=DESKTOP)
    page = desktop.get("/account").get_data(as_text=True)
    assert page.count('<li class="session') == 3 and "iPhone · iOS · Mobile Safari" in page and "iPad" in page
    assert "当前浏览器" in page and page.count("已记住") == 2
    phone_row = db.session.scalar(sa.select(UserSession).where(UserSession.device.like("iPhone%")))
    assert phone_row.token not in page  # the page names sign-ins by handle, never by their token
    # On the second node, the member ends the phone's sign-in; the first node no longer accepts the phone.
    response = desktop.submit(f"/account/sessions/{phone_row.handle}/end", token_from="/account")
    assert response.status_code == 302 and response.location.endswith("/account")
    assert not signed_in(phone) and signed_in(tablet) and signed_in(desktop)
    # A handle that is not one of the member's own sign-ins is refused and changes nothing.
    other = Client(second_node)
    sign_in(other, "m0002", remember=True, agent=IPHONE)
    foreign = db.session.scalar(sa.select(UserSession).where(UserSession.user_id == org["member_a2"]))
    assert desktop.submit(f"/account/sessions/{foreign.handle}/end", token_from="/account").status_code == 404
    assert signed_in(other)
    # Sign out everywhere from the first node ends them all, on both nodes.
    response = tablet.submit("/account/sign-out-everywhere", token_from="/account")
    assert response.status_code == 302 and response.location.endswith("/login")
    assert not signed_in(tablet) and not signed_in(desktop) and signed_in(other)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UserSession).where(
        UserSession.user_id == org["member_a"])) == 0


def test_a_password_change_ends_remembered_phones_on_other_nodes(app, second_node, org):
    phone, desktop = Client(app), Client(second_node)
    sign_in(phone, "m0001", remember=True, agent=IPHONE)
    sign_in(desktop, "m0001", remember=False, agent=DESKTOP)
    response = desktop.submit("/account/password", {"current_password": PASSWORD, "new_password": "new-pass-456",
                                                    "confirm": "new-pass-456"})
    assert response.status_code == 302
    assert not signed_in(phone) and signed_in(desktop)


@pytest.mark.parametrize("action", ["password", "active"])
def test_a_reset_or_disabling_ends_remembered_phones(app, second_node, org, action):
    phone, admin = Client(app), Client(second_node)
    sign_in(phone, "m0001", remember=True, agent=IPHONE)
    admin.login("admin")
    url = f"/admin/users/{org['member_a']}"
    assert admin.submit(f"{url}/{action}", token_from=url).status_code in (200, 302)
    assert not signed_in(phone)


# --- password hashing ---------------------------------------------------------------------------------

def test_a_scrypt_hash_is_upgraded_to_argon2id_at_the_next_sign_in(client, org):
    member = db.session.get(User, org["member_a"])
    member.password_hash = generate_password_hash(PASSWORD, method="scrypt")
    db.session.commit()
    assert client.submit("/login", {"username": "m0001", "password": "wrong-pass-1"}).status_code == 401
    db.session.expire_all()
    assert db.session.get(User, org["member_a"]).password_hash.startswith("scrypt:")  # unknown password: kept
    client.login("m0001")
    db.session.expire_all()
    upgraded = db.session.get(User, org["member_a"]).password_hash
    assert upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    client.submit("/logout", token_from="/home")
    client.login("m0001")  # the new hash works
    db.session.expire_all()
    assert db.session.get(User, org["member_a"]).password_hash == upgraded  # and is not rehashed again


def test_argon2_cost_is_configurable_and_weaker_hashes_are_upgraded(app, client, org, monkeypatch):
    monkeypatch.setitem(app.config, "ARGON2_TIME_COST", 3)
    monkeypatch.setitem(app.config, "ARGON2_MEMORY_KIB", 12288)
    client.login("m0001")
    db.session.expire_all()
    assert db.session.get(User, org["member_a"]).password_hash.startswith("$argon2id$v=19$m=12288,t=3,p=1$")


def test_a_phone_back_after_weeks_checks_in_with_its_first_request(app, org, open_lecture):
    """The first request in an hour also refreshes the sign-in's last use, in its own transaction; the
    check-in it carries must still be written (on SQLite, two writers in one request could collide)."""
    phone = Client(app)
    sign_in(phone, "m0001", remember=True, agent=IPHONE)
    token = phone.csrf_token(f"/lectures/{open_lecture.id}")
    row = db.session.scalar(sa.select(UserSession))
    row.created_at = row.last_used_at = utcnow() - timedelta(days=30)
    db.session.commit()
    code, _ = codes.current_code(open_lecture.id, org["branch_a"], utcnow())
    response = phone.post(f"/lectures/{open_lecture.id}/checkin", data={"csrf_token": token, "code": code})
    assert response.status_code == 200 and "已签到" in response.get_data(as_text=True)
    db.session.expire_all()
    assert utcnow() - db.session.get(UserSession, row.token).last_used_at < timedelta(minutes=1)
    assert record_of(open_lecture.id, org["member_a"]).status is Status.PRESENT
