"""Sign-in, sign-out, passwords, the users CLI and roster import."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from lecturehub.accounts.models import Role, User
from lecturehub.extensions import db

from .conftest import PASSWORD


def users_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(User.id)))


def test_login_and_logout(client, org):
    response = client.submit("/login", {"username": "m0001", "password": PASSWORD})
    assert response.status_code == 302 and response.location.endswith("/home")
    home = client.get("/home").get_data(as_text=True)
    assert "张伟" in home and "退出" in home

    response = client.submit("/logout", token_from="/home")
    assert response.status_code == 302
    assert client.get("/home").status_code == 302  # back to the login page


@pytest.mark.parametrize(("username", "password"), [("m0001", "wrong-password1"), ("nobody", PASSWORD)])
def test_wrong_credentials_get_one_clear_message(client, org, username, password):
    response = client.submit("/login", {"username": username, "password": password})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/home").status_code == 302


def test_login_without_csrf_token_is_refused(client, org):
    response = client.post("/login", data={"username": "m0001", "password": PASSWORD})
    assert response.status_code == 400
    assert "请刷新页面" in response.get_data(as_text=True)
    assert client.get("/home").status_code == 302


def test_over_long_and_empty_fields_are_refused(client, org):
    response = client.submit("/login", {"username": "x" * 500, "password": PASSWORD})
    assert response.status_code == 422
    assert "64" in response.get_data(as_text=True)
    response = client.submit("/login", {"username": "", "password": ""})
    assert response.status_code == 422
    assert "请输入用户名" in response.get_data(as_text=True)


def test_disabled_account_cannot_sign_in(client, org):
    user = db.session.get(User, org["member_a"])
    user.active = False
    db.session.commit()
    assert client.submit("/login", {"username": "m0001", "password": PASSWORD}).status_code == 401


def test_next_redirect_accepts_only_local_paths(client, org):
    token = client.csrf_token()
    ok = client.post("/login?next=/courses", data={"csrf_token": token, "username": "m0001", "password": PASSWORD})
    assert ok.location.endswith("/courses")
    client.submit("/logout", token_from="/home")
    token = client.csrf_token()
    evil = client.post("/login?next=//evil.example/x", data={"csrf_token": token, "username": "m0001",
                                                              "password": PASSWORD})
    assert evil.location.endswith("/home")


def test_login_page_sends_the_visitor_back_after_sign_in(client, org):
    response = client.get("/lectures/1")
    assert response.status_code == 302 and "/login?next=" in response.location


def test_session_cookie_is_httponly_and_lax(client, org):
    response = client.submit("/login", {"username": "m0001", "password": PASSWORD})
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_is_rate_limited_per_account(rate_limited_app, org):
    app = rate_limited_app(LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    statuses = [client.submit("/login", {"username": "m0002", "password": "wrong-password1"}).status_code
                for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert "请稍候" in client.submit("/login", {"username": "m0002", "password": PASSWORD}).get_data(as_text=True)


def test_login_is_rate_limited_per_address_across_accounts(rate_limited_app, org):
    app = rate_limited_app(LOGIN_IP_RATE_LIMIT="4 per minute", LOGIN_RATE_LIMIT="100 per minute")
    guesser = app.test_client()
    statuses = [guesser.submit("/login", {"username": name, "password": "wrong-password1"}).status_code
                for name in ("m0001", "m0002", "m0003", "coord01", "coord02")]
    assert statuses == [401, 401, 401, 401, 429]
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.9"  # another address is not held back
    assert elsewhere.submit("/login", {"username": "m0001", "password": PASSWORD}).status_code == 302


def test_forced_password_change_for_new_accounts(client, org):
    user = db.session.get(User, org["member_b"])
    user.must_change_password = True
    db.session.commit()
    client.login("m0003")
    response = client.get("/courses")
    assert response.status_code == 302 and response.location.endswith("/account/password?next=/courses")

    weak = client.submit("/account/password", {"current_password": PASSWORD, "new_password": "12345678",
                                               "confirm": "12345678"})
    assert weak.status_code == 422 and "字母" in weak.get_data(as_text=True)
    done = client.submit("/account/password", {"current_password": PASSWORD, "new_password": "fresh-pass-99",
                                               "confirm": "fresh-pass-99"})
    assert done.status_code == 302
    assert client.get("/courses").status_code == 200
    db.session.expire_all()
    assert db.session.get(User, org["member_b"]).check_password("fresh-pass-99")


def test_users_create_cli(app, org):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "coord09", "--name", "钱负责人", "--role", "coordinator",
                                 "--venue", "b01", "--venue", "第2分会场", "--password", "good-pass-1"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.username == "coord09"))
    assert user.role is Role.COORDINATOR
    assert [v.code for v in user.coordinated_venues] == ["b01", "b02"]
    assert user.check_password("good-pass-1")

    before = users_count()
    for args in (["users", "create", "coord09", "--name", "重复", "--password", "good-pass-1"],
                 ["users", "create", "x1", "--name", "无会场", "--role", "coordinator", "--password", "good-pass-1"],
                 ["users", "create", "x2", "--name", "弱密码", "--password", "short"],
                 ["users", "create", "x3", "--name", "未知", "--venue", "nowhere", "--password", "good-pass-1"]):
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and "Error" in result.output, args
    assert users_count() == before


def roster_xlsx(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_members_import_xlsx_and_reimport_updates(app, org, tmp_path):
    path = tmp_path / "roster.xlsx"
    path.write_bytes(roster_xlsx([
        ["姓名", "编号", "分会场", "角色"],
        ["赵一", "DY1001", "第1分会场", "党员"],
        ["钱二", "DY1002", "b02", ""],
        ["孙三", "DY1003", "第1分会场、第2分会场", "分会场负责人"],
    ]))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["members", "import", str(path), "--password", "first-pass-1"])
    assert result.exit_code == 0, result.output
    assert "created 3" in result.output
    coordinator = db.session.scalar(sa.select(User).where(User.member_no == "DY1003"))
    assert coordinator.role is Role.COORDINATOR and len(coordinator.coordinated_venues) == 2
    assert coordinator.must_change_password and coordinator.check_password("first-pass-1")

    path.write_bytes(roster_xlsx([["姓名", "编号", "分会场", "角色"], ["赵一一", "DY1001", "b02", "党员"]]))
    refused = runner.invoke(args=["members", "import", str(path)])
    assert refused.exit_code != 0 and "赵一一" in refused.output  # another name on a known number is a conflict
    result = runner.invoke(args=["members", "import", str(path), "--names", "update"])
    assert "created 0, updated 1" in result.output
    db.session.expire_all()
    member = db.session.scalar(sa.select(User).where(User.member_no == "DY1001"))
    assert member.name == "赵一一" and member.home_venue.code == "b02"


def test_members_import_csv_gb18030(app, org, tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes("姓名,编号,分会场,角色\n周四,DY2001,第2分会场,党员\n".encode("gb18030"))
    result = app.test_cli_runner().invoke(args=["members", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(sa.select(User.name).where(User.member_no == "DY2001")) == "周四"


def test_malformed_roster_lists_row_numbers_and_imports_nothing(app, org, tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text(
        "姓名,编号,分会场,角色\n"
        "好人,DY3001,b01,党员\n"
        ",DY3002,b01,党员\n"            # row 3: no name
        "重号,DY3001,b01,党员\n"         # row 4: duplicate number
        "错会场,DY3004,火星分会场,党员\n"  # row 5: unknown venue
        "错角色,DY3005,b01,书记\n",       # row 6: unknown role
        encoding="utf-8-sig",
    )
    before = users_count()
    result = app.test_cli_runner().invoke(args=["members", "import", str(path)])
    assert result.exit_code != 0
    for expected in ("第3行", "第4行", "第5行", "第6行", "火星分会场", "书记"):
        assert expected in result.output, (expected, result.output)
    assert users_count() == before


def test_roster_with_wrong_header_or_type_is_refused(app, org, tmp_path):
    runner = app.test_cli_runner()
    bad_header = tmp_path / "roster.csv"
    bad_header.write_text("name_only\n张三\n")
    assert "第1行" in runner.invoke(args=["members", "import", str(bad_header)]).output
    not_xlsx = tmp_path / "roster.xlsx"
    not_xlsx.write_bytes(b"MZ\x90\x00 not a workbook")
    result = runner.invoke(args=["members", "import", str(not_xlsx)])
    assert result.exit_code != 0 and ".xlsx" in result.output
