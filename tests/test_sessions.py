"""Sign-ins live on the server: signing out, a password change, a reset or a disabled account end them."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from lecturehub.accounts.models import Role, User, UserSession
from lecturehub.extensions import db

from .conftest import PASSWORD, Client


def second_browser_with_the_same_cookie(client: Client) -> Client:
    """Someone who copied the session cookie (a shared computer, a stolen cookie)."""
    copy = Client(client.application)
    copy.set_cookie("session", client.get_cookie("session").value)
    return copy


def signed_in(client: Client) -> bool:
    return client.get("/home").status_code == 200


def test_sign_out_ends_the_session_even_for_a_copied_cookie(client, org):
    client.login("m0001")
    copy = second_browser_with_the_same_cookie(client)
    assert signed_in(copy)
    client.submit("/logout", token_from="/home")
    assert not signed_in(client)
    assert not signed_in(copy)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UserSession)) == 0


def test_the_cookie_names_a_random_sign_in_not_the_user(client, org):
    client.login("m0001")
    session_row = db.session.scalar(sa.select(UserSession))
    assert session_row.user_id == org["member_a"] and len(session_row.token) >= 40
    assert session_row.user_agent and session_row.address == "127.0.0.1"


def test_changing_the_password_signs_out_other_browsers_only(app, org):
    phone, desktop = Client(app), Client(app)
    phone.login("m0001")
    desktop.login("m0001")
    response = phone.submit("/account/password", {"current_password": PASSWORD, "new_password": "new-pass-456",
                                                  "confirm": "new-pass-456"})
    assert response.status_code == 302
    assert signed_in(phone)
    assert not signed_in(desktop)
    assert desktop.submit("/login", {"username": "m0001", "password": PASSWORD}).status_code == 401
    desktop.login("m0001", "new-pass-456")


def test_admin_resets_a_password_once_and_the_member_must_choose_a_new_one(app, org):
    member, admin = Client(app), Client(app)
    member.login("m0001")
    admin.login("admin")
    page = admin.submit(f"/admin/users/{org['member_a']}/password", token_from=f"/admin/users/{org['member_a']}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "一次性密码" in text
    one_time = text.split('id="new-password">')[1].split("<")[0]
    assert not signed_in(member)
    # The one-time password is never shown again.
    assert one_time not in admin.get(f"/admin/users/{org['member_a']}").get_data(as_text=True)
    member.login("m0001", one_time)
    assert member.get("/home").location.endswith("/account/password?next=/home")


def test_admin_disables_an_account_and_it_is_signed_out_everywhere(app, org):
    member, admin = Client(app), Client(app)
    member.login("m0001")
    admin.login("admin")
    response = admin.submit(f"/admin/users/{org['member_a']}/active", token_from=f"/admin/users/{org['member_a']}")
    assert response.status_code == 302
    assert "已停用" in admin.get(response.location).get_data(as_text=True)
    assert not signed_in(member)
    assert member.submit("/login", {"username": "m0001", "password": PASSWORD}).status_code == 401
    # Enabled again, the same password works: nothing but access was taken away.
    admin.submit(f"/admin/users/{org['member_a']}/active", token_from=f"/admin/users/{org['member_a']}")
    member.login("m0001")


def test_an_admin_cannot_disable_or_demote_themselves(client, org):
    client.login("admin")
    url = f"/admin/users/{org['admin']}"
    response = client.submit(f"{url}/active", token_from=url)
    assert response.status_code == 409
    assert "不能停用自己的账号" in response.get_data(as_text=True)
    response = client.submit(url, {"name": "管理员", "role": "member", "venue_ids": [org["branch_a"]]})
    assert response.status_code == 422
    assert db.session.get(User, org["admin"]).role is Role.ADMIN and db.session.get(User, org["admin"]).active


def test_admin_changes_a_role_and_venues(client, org):
    client.login("admin")
    url = f"/admin/users/{org['member_a']}"
    response = client.submit(url, {"name": "张伟", "role": "coordinator",
                                   "venue_ids": [org["branch_a"], org["branch_b"]]})
    assert response.status_code == 302
    user = db.session.get(User, org["member_a"])
    assert user.role is Role.COORDINATOR
    assert [v.code for v in user.coordinated_venues] == ["b01", "b02"]
    response = client.submit(url, {"name": "张伟", "role": "member", "venue_ids": [org["branch_a"], org["branch_b"]]})
    assert response.status_code == 422
    assert "只属于一个会场" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, org["member_a"]).role is Role.COORDINATOR


def test_a_sign_in_expires_on_the_server(app, org):
    client = Client(app)
    client.login("m0001")
    row = db.session.scalar(sa.select(UserSession))
    row.created_at = row.created_at - timedelta(days=app.config["SESSION_DAYS"] + 1)
    db.session.commit()
    assert not signed_in(client)


def test_passwords_are_hashed_with_argon2id(client, org):
    client.login("admin")
    client.submit(f"/admin/users/{org['member_a']}/password", token_from=f"/admin/users/{org['member_a']}")
    assert db.session.get(User, org["member_a"]).password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_secure_cookies_can_be_switched_on(monkeypatch, tmp_path):
    from lecturehub.config import load_config

    monkeypatch.setenv("LECTUREHUB_SECURE_COOKIES", "on")
    monkeypatch.setenv("LECTUREHUB_SECRET_KEY", "x")
    config = load_config(tmp_path)
    assert config["SESSION_COOKIE_SECURE"] and config["REMEMBER_COOKIE_SECURE"]
    assert config["SESSION_COOKIE_HTTPONLY"] and config["SESSION_COOKIE_SAMESITE"] == "Lax"
