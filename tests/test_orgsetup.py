"""An organisation sets itself up: rosters as organisations keep them, the previewed import, venues, paper
sheets, and the limits on what an uploaded spreadsheet may unpack to (issue 12; issue 17 points 1 and 4)."""
from __future__ import annotations

import io
import re
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from lecturehub.accounts import services as accounts
from lecturehub.accounts.models import Role, User
from lecturehub.attendance.models import AttendanceRecord, Method, Status
from lecturehub.audit.models import AuditEvent
from lecturehub.core.spreadsheets import TableError, read_rows
from lecturehub.core.timeutil import local_zone, to_local, utcnow
from lecturehub.courses.models import LectureVenue
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

FIXTURES = Path(__file__).parent / "fixtures"
MULTIPART = "multipart/form-data"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def member(number: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(User).where(User.member_no == number))


def audit_events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def link_id(lecture_id: int, venue_id: int) -> int:
    return db.session.scalar(sa.select(LectureVenue.id).where(LectureVenue.lecture_id == lecture_id,
                                                              LectureVenue.venue_id == venue_id))


# --- files as organisations keep them ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["roster-excel97.xls", "roster-utf8.csv", "roster-utf8-bom.csv", "roster-gbk.csv"])
def test_each_file_kind_with_the_headers_organisations_use(ctx, org, name):
    # 序号, 姓名, 性别, 党员编号, 所在分会场, 联系电话, 备注 — no 角色 column: everyone is a 党员.
    plan = accounts.plan_roster(name, fixture(name))
    assert plan.problems == []
    assert [(r.row, r.member_no, r.name, [v.code for v in r.venues], r.role) for r in plan.new] == [
        (2, "DY0001", "魏源", ["b01"], Role.MEMBER),
        (3, "DY0002", "彭红", ["b02"], Role.MEMBER),
        (4, "DY0003", "韩梅", ["b01"], Role.MEMBER),
    ]


def test_wps_style_workbook_with_a_title_row_and_other_aliases(ctx, org):
    # A title row above the header; 人员编号, 所属会场, 身份 (one left empty) as the columns are called there.
    plan = accounts.plan_roster("roster-wps-style.xlsx", fixture("roster-wps-style.xlsx"))
    assert plan.problems == []
    assert [(r.row, r.member_no, r.name, r.role) for r in plan.new] == [
        (3, "WPS001", "刘洋", Role.MEMBER), (4, "WPS002", "陈静", Role.MEMBER), (5, "WPS003", "黄磊", Role.COORDINATOR)]


def test_a_workbook_under_the_other_suffix_is_read_by_its_content(ctx, org):
    # Systems and WPS save workbooks under either suffix; the content decides.
    rows = read_rows("roster.xls", fixture("roster-wps-style.xlsx"))
    assert rows[1][:3] == ["序号", "人员编号", "姓名"]
    with pytest.raises(TableError):
        read_rows("roster.xls", "姓名,编号\n张三,1\n".encode())


@pytest.mark.parametrize("header", [["姓名", "编号", "分会场"], ["姓名", "党员编号", "所在分会场"], ["姓名", "工号", "会场"],
                                    ["姓名", "人员编号", "所在支部"], [" 姓 名 ", "编号*", "所属会场", "身份"]])
def test_header_aliases(ctx, org, header):
    text = ",".join(header) + "\n" + "张三, dy0100 ,第1分会场" + (",预备党员" if len(header) == 4 else "") + "\n"
    plan = accounts.plan_roster("r.csv", text.encode())
    assert plan.problems == [] and [(r.member_no, r.name, r.role) for r in plan.new] == [("dy0100", "张三", Role.MEMBER)]


def test_member_numbers_are_trimmed_and_compared_without_case(ctx, org):
    # m0001 exists; the file writes it " M0001 " and a second row repeats it in another case.
    plan = accounts.plan_roster("r.csv", "姓名,编号,分会场\n张伟, M0001 ,第1分会场\n张伟,m0001,第1分会场\n".encode())
    assert plan.new == [] and plan.problems == ["第3行：编号“m0001”已在第2行出现。"]
    plan = accounts.plan_roster("r.csv", "姓名,编号,分会场\n张伟, M0001 ,第1分会场\n".encode())
    assert plan.problems == [] and plan.new == [] and plan.changes == [] and plan.unchanged == 1


def test_the_database_keeps_numbers_unique_without_regard_to_case(ctx, org):
    db.session.add(User(username="other", name="某人", member_no="M0001", password_hash="x"))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


# --- the conflict row -------------------------------------------------------------------------------------

CONFLICT = "姓名,编号,分会场\n魏源,m0003,第1分会场\n".encode()  # m0003 is 王芳 of 第2分会场: a typo


def test_a_number_of_someone_else_is_a_conflict_never_applied_without_a_choice(ctx, org):
    plan = accounts.plan_roster("typo.csv", CONFLICT)
    [conflict] = plan.conflicts
    assert conflict.name == ("王芳", "魏源") and conflict.transfer[1].code == "b01"
    with pytest.raises(accounts.RosterError) as refused:
        accounts.apply_roster_plan(plan, by=None, effective_at=utcnow())
    assert "王芳" in refused.value.problems[0] and "魏源" in refused.value.problems[0]
    db.session.rollback()
    assert (member("m0003").name, member("m0003").home_venue.code) == ("王芳", "b02")

    accounts.apply_roster_plan(accounts.plan_roster("typo.csv", CONFLICT), by=None, effective_at=utcnow(),
                               name_choices={2: "skip"})
    db.session.commit()
    assert (member("m0003").name, member("m0003").home_venue.code) == ("王芳", "b02")
    [entry] = audit_events("roster.imported")
    assert entry.details["file"] == "typo.csv" and "跳过" in entry.details["changes"][0]


def test_update_name_applies_the_row_and_the_audit_entry_lists_each_change(ctx, org):
    plan = accounts.plan_roster("typo.csv", CONFLICT + "新人,DY9,第2分会场\n".encode())
    accounts.apply_roster_plan(plan, by=None, effective_at=utcnow(), name_choices={2: "update"})
    db.session.commit()
    assert (member("m0003").name, member("m0003").home_venue.code) == ("魏源", "b01")
    [entry] = audit_events("roster.imported")
    assert entry.details["file"] == "typo.csv" and entry.details["created"] == 1 and entry.details["updated"] == 1
    assert any("王芳 → 魏源" in line and "第2分会场 → 第1分会场" in line for line in entry.details["changes"])
    assert any("DY9" in line for line in entry.details["changes"])


# --- the roster import in the browser ------------------------------------------------------------------------

def preview(client, name: str, data: bytes):
    return client.submit("/admin/roster", {"roster": (io.BytesIO(data), name)}, content_type=MULTIPART)


def hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}"[^>]*value="([^"]*)"', page).group(1)


# Transfers take effect from tomorrow (Beijing time): a fixed date would fall before the memberships a test
# has just created once the clock passes it.
EFFECTIVE_ON = (to_local(utcnow()) + timedelta(days=1)).date()


def confirm(client, page: str, **fields):
    data = {"token": hidden(page, "token"), "digest": hidden(page, "digest"), "filename": hidden(page, "filename"),
            "effective_on": EFFECTIVE_ON.isoformat(), **fields}
    return client.submit("/admin/roster/apply", data, token_from="/admin/roster")


def test_preview_then_apply_in_the_browser(client, org):
    client.login("admin")
    before = db.session.scalar(sa.select(sa.func.count(User.id)))
    roster = ("序号,姓名,党员编号,所在分会场,身份\n1,张伟,M0001,第2分会场,\n2,魏源,m0003,第1分会场,\n"
              "3,新党员,DY0500,第1分会场,\n4,坏行,,第1分会场,\n").encode("gb18030")
    page = preview(client, "花名册.csv", roster)
    text = page.get_data(as_text=True)
    assert page.status_code == 422  # a row with a problem: shown with its row number, nothing can be applied
    assert "第5行" in text and "确认导入" not in text
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == before

    page = preview(client, "花名册.csv", roster.rsplit(b"4,", 1)[0])
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "新党员" in text and "DY0500" in text                           # new
    assert "第1分会场 → 第2分会场" in text                                   # m0001 transfers
    assert "王芳 → 魏源" in text and "更新姓名" in text                       # the conflict and its choice
    assert "李娜" in text and "不在文件中" in text                            # m0002 is missing from the file
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == before  # a preview writes nothing

    undecided = confirm(client, text)
    assert undecided.status_code == 422 and "请选择如何处理此行" in undecided.get_data(as_text=True)
    assert member("DY0500") is None

    left = member("m0002").id
    done = confirm(client, text, name_3="skip", left_ids=str(left))
    body = done.get_data(as_text=True)
    assert done.status_code == 200 and "初始密码" in body and done.headers["Cache-Control"] == "no-store"
    assert member("DY0500").must_change_password and member("DY0500").home_venue.code == "b01"
    assert member("m0001").home_venue.code == "b02"
    assert member("m0003").name == "王芳"
    assert member("m0002").active is False
    [entry] = audit_events("roster.imported")
    assert entry.details["file"] == "花名册.csv" and entry.details["left"] == 1
    midnight_in_beijing = datetime.combine(EFFECTIVE_ON, datetime.min.time(), local_zone()).astimezone(timezone.utc)
    assert entry.details["effective"].startswith(midnight_in_beijing.isoformat()[:16])

    log = client.get("/admin/audit?action=roster.imported").get_data(as_text=True)
    assert "花名册.csv" in log and "DY0500 新党员" in log and "m0002 李娜：已离开组织" in log

    users = client.get("/admin/users?q=DY0500").get_data(as_text=True)
    assert "新党员" in users
    again = confirm(client, text, name_3="skip")
    assert again.status_code == 409  # the kept upload is gone once applied


def test_confirming_a_stale_preview_is_refused(client, org):
    client.login("admin")
    page = preview(client, "r.csv", "姓名,编号,分会场\n新人,DY1,第1分会场\n".encode()).get_data(as_text=True)
    accounts.import_roster("other.csv", "姓名,编号,分会场\n新人,DY1,第2分会场\n".encode())
    response = confirm(client, page)
    assert response.status_code == 409 and "重新核对" in response.get_data(as_text=True)
    assert member("DY1").home_venue.code == "b02"


def test_new_accounts_share_one_hashed_password_and_must_change_it(ctx, org):
    plan = accounts.plan_roster("r.csv", "姓名,编号,分会场\n甲,DY1,b01\n乙,DY2,b01\n".encode())
    outcome = accounts.apply_roster_plan(plan, by=None, effective_at=utcnow())
    db.session.commit()
    first, second = member("DY1"), member("DY2")
    assert first.password_hash == second.password_hash and first.check_password(outcome.initial_password)
    assert first.must_change_password and second.must_change_password


def test_cli_dry_run_shows_the_preview_and_writes_nothing(app, org, tmp_path):
    path = tmp_path / "roster.xls"
    path.write_bytes(fixture("roster-excel97.xls"))
    before = db.session.scalar(sa.select(sa.func.count(User.id)))
    result = app.test_cli_runner().invoke(args=["members", "import", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "3 new" in result.output and "DY0001 魏源" in result.output and "nothing was written" in result.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == before
    result = app.test_cli_runner().invoke(args=["members", "import", str(path)])
    assert result.exit_code == 0 and "created 3" in result.output and "importing" in result.output


# --- numbers typed in another case -------------------------------------------------------------------------

def test_the_desk_finds_upper_case_numbers(client, org, open_lecture):
    client.login("coord01")
    lv = link_id(open_lecture.id, org["branch_a"])
    response = client.submit(f"/desk/{lv}", {"member": " M0001 "})
    assert response.status_code == 200 and "张伟" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(AttendanceRecord.status).where(AttendanceRecord.user_id == org["member_a"])) \
        is Status.PRESENT


def test_members_sign_in_with_their_number_in_any_case(client, org):
    client.login("M0001")


# --- paper sheets ----------------------------------------------------------------------------------------

def upload_sheet(client, lv: int, name: str, data: bytes):
    return client.submit(f"/roster/{lv}/sheet", {"sheet": (io.BytesIO(data), name)}, token_from=f"/roster/{lv}",
                         content_type=MULTIPART)


def test_the_printed_sheet_typed_back_as_xls(client, org, open_lecture):
    # 签到表 title row, then 序号, 编号, 姓名, 签名, 时间; a blank line; M0001 in upper case.
    client.login("coord01")
    lv = link_id(open_lecture.id, org["branch_a"])
    response = upload_sheet(client, lv, "签到表.xls", fixture("signin-sheet-printed.xls"))
    assert response.status_code == 302
    statuses = set(db.session.scalars(sa.select(AttendanceRecord.status).where(
        AttendanceRecord.user_id.in_([org["member_a"], org["member_a2"]]))))
    assert statuses == {Status.PRESENT}


def test_sheet_errors_are_at_the_top_and_the_form_keeps_its_place(client, org, open_lecture):
    client.login("coord01")
    lv = link_id(open_lecture.id, org["branch_a"])
    page = upload_sheet(client, lv, "s.csv", "编号\nm9999\n".encode()).get_data(as_text=True)
    top = page.index('role="alert"')
    assert top < page.index('class="stats"') and top < page.index("m9999")  # the summary comes first
    assert 'action="/roster/%d/sheet#sheet"' % lv in page and page.index('id="sheet"') < page.index("m9999")


def test_a_sheet_may_not_mark_another_venues_members(client, org, make_lecture):
    # Issue 17 point 1: coord01 names m0003 (第2分会场, excused by their own coordinator) on 第1分会场's sheet.
    lecture = make_lecture(utcnow() - timedelta(days=3))  # closed
    excused = AttendanceRecord(lecture_id=lecture.id, user_id=org["member_b"], venue_id=org["branch_b"],
                               status=Status.EXCUSED, method=Method.ROSTER, updated_at=utcnow())
    db.session.add(excused)
    db.session.commit()
    client.login("coord01")
    lv = link_id(lecture.id, org["branch_a"])
    response = upload_sheet(client, lv, "s.csv", "编号\nm0001\nm0003\n".encode())
    assert response.status_code == 422 and "王芳" in response.get_data(as_text=True)
    records = dict(db.session.execute(sa.select(AttendanceRecord.user_id, AttendanceRecord.status)).all())
    assert records == {org["member_b"]: Status.EXCUSED}  # nothing written, the other venue's mark stands
    assert upload_sheet(client, lv, "s.csv", "编号\nm0001\n".encode()).status_code == 302


def test_a_sheet_needs_a_published_lecture_whose_check_in_has_opened(client, org, make_lecture):
    client.login("coord01")
    draft = make_lecture(utcnow() - timedelta(days=1), published=False)
    future = make_lecture(utcnow() + timedelta(days=2))
    # A coordinator cannot see a draft at all (issue 17 point 7); a lecture not yet begun is refused with a reason.
    for lecture, status in ((draft, 404), (future, 422)):
        response = upload_sheet(client, link_id(lecture.id, org["branch_a"]), "s.csv", "编号\nm0001\n".encode())
        assert response.status_code == status
    assert db.session.scalar(sa.select(sa.func.count(AttendanceRecord.id))) == 0


# --- spreadsheets that unpack to too much (issue 17 point 4) ---------------------------------------------

BOMB = "bomb-shared-strings.xlsx"  # 514 KB; its shared strings unpack to 500 MB


def test_a_shared_strings_bomb_is_refused_before_parsing(client, org, open_lecture):
    client.login("coord01")
    lv = link_id(open_lecture.id, org["branch_a"])
    response = upload_sheet(client, lv, "bomb.xlsx", fixture(BOMB))
    assert response.status_code == 422 and "解压后数据过大" in response.get_data(as_text=True)
    client.submit("/logout", {}, token_from="/home")
    client.login("admin")
    response = preview(client, "bomb.xlsx", fixture(BOMB))
    assert response.status_code == 422 and "解压后数据过大" in response.get_data(as_text=True)


def _lying_about_its_size(data: bytes, part: str) -> bytes:
    """The same archive with `part`'s declared uncompressed size set to 1,000 bytes in both headers."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    info = archive.getinfo(part)
    patched = bytearray(data)
    local = info.header_offset
    patched[local + 22:local + 26] = (1000).to_bytes(4, "little")
    position = 0
    while (position := data.find(b"PK\x01\x02", position)) != -1:
        name_length = int.from_bytes(data[position + 28:position + 30], "little")
        if data[position + 46:position + 46 + name_length].decode() == part:
            patched[position + 24:position + 28] = (1000).to_bytes(4, "little")
        position += 4
    return bytes(patched)


def test_a_part_that_understates_its_size_is_refused(ctx):
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.append(["编号"])
    workbook.active.append(["x" * 30000])
    buffer = io.BytesIO()
    workbook.save(buffer)
    lying = _lying_about_its_size(buffer.getvalue(), "xl/worksheets/sheet1.xml")
    with pytest.raises(TableError):
        read_rows("s.xlsx", lying)


def test_an_xls_whose_cells_span_a_huge_rectangle_is_refused(ctx):
    # 5.6 KB: one cell at A1 and one at IV65536; a reader would fill 16.7 million cells (over a gigabyte).
    with pytest.raises(TableError, match="65536|50000"):
        read_rows("s.xls", fixture("sparse-extent.xls"))


def test_an_xlsx_whose_cells_span_a_huge_rectangle_is_refused(ctx):
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "编号"
    workbook.active["XFD1048576"] = "m0001"  # 17 billion cells between them
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(TableError, match="50000"):
        read_rows("s.xlsx", buffer.getvalue())


MEMORY_PROBE = """
import resource, sys
from lecturehub import create_app
from lecturehub.core.spreadsheets import TableError, read_rows
app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with app.test_request_context():
    for name in sys.argv[1:]:
        try:
            read_rows(name, open(name, "rb").read())
        except TableError:
            pass
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_refusing_the_bombs_keeps_the_worker_small():
    # A fresh process, so its peak memory is the reading alone: the bombs asked for 500 MB and over 1 GB.
    result = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(FIXTURES / BOMB),
                             str(FIXTURES / "sparse-extent.xls")], capture_output=True, text=True, timeout=120,
                            env={"LECTUREHUB_SECRET_KEY": "x", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip().splitlines()[-1]) < 60  # MB of peak growth


# --- venues in the browser -------------------------------------------------------------------------------------

def venue_form(client, url: str) -> dict:
    page = client.get(url).get_data(as_text=True)
    values = {name: value for name, value in re.findall(r'name="(name|code|position)"[^>]*value="([^"]*)"', page)}
    values["kind"] = re.search(r'<option selected value="([^"]+)"|<option value="([^"]+)" selected', page).group(1) \
        or ""
    return values


def test_venue_create_rename_retire(client, org, make_lecture):
    client.login("admin")
    response = client.submit("/admin/venues/new", {"name": "第3分会场", "code": "b03", "kind": "branch",
                                                   "position": "4"})
    assert response.status_code == 302
    venue = db.session.scalar(sa.select(Venue).where(Venue.code == "b03"))
    assert audit_events("venue.created")[0].details["name"] == "第3分会场"

    url = f"/admin/venues/{venue.id}/edit"
    form = venue_form(client, url)
    assert form == {"name": "第3分会场", "code": "b03", "position": "4", "kind": "branch"}  # round-trips
    assert client.submit(url, form).status_code == 302
    assert audit_events("venue.updated") == []  # saving untouched changes nothing

    assert client.submit(url, {**form, "name": "机关一支部"}).status_code == 302
    [entry] = audit_events("venue.updated")
    assert entry.details["changes"] == ["会场名称: 第3分会场 → 机关一支部"]
    taken = client.submit(url, {**form, "code": "B01"})
    assert taken.status_code == 422 and "b01" in taken.get_data(as_text=True).lower()

    assert client.submit(f"/admin/venues/{venue.id}/retire", {}, token_from="/admin/venues").status_code == 302
    db.session.expire_all()
    assert db.session.get(Venue, venue.id).retired
    assert "已停用" in client.get("/admin/venues").get_data(as_text=True)
    new_lecture = client.get("/admin/lectures/new").get_data(as_text=True)
    assert "机关一支部" not in new_lecture and "第1分会场" in new_lecture
    plan = accounts.plan_roster("r.csv", "姓名,编号,分会场\n甲,DY1,b03\n".encode())
    assert plan.problems == ["第2行：分会场“b03”已停用。"]
    assert "机关一支部" in client.get(f"/venues/{venue.id}").get_data(as_text=True)  # its page and history stay


def test_coordinators_get_403_on_the_admin_venue_pages_and_see_their_members(client, org):
    client.login("coord01")
    for url in ("/admin/venues", "/admin/venues/new", f"/admin/venues/{org['branch_a']}/edit",
                f"/admin/venues/{org['branch_a']}/coordinators"):
        assert client.get(url).status_code == 403, url
    assert client.submit(f"/admin/venues/{org['branch_a']}/retire", {}, token_from="/home").status_code == 403
    members = client.get(f"/venues/{org['branch_a']}").get_data(as_text=True)
    assert "张伟" in members and "李娜" in members and "王芳" not in members
    assert client.get(f"/venues/{org['branch_b']}").status_code == 403


def test_assign_coordinators_from_the_venue(client, org):
    client.login("admin")
    url = f"/admin/venues/{org['branch_a']}/coordinators"
    assert client.submit(url, {"keep_ids": str(org["coord_a"]), "add": ""}).status_code == 302
    assert audit_events("venue.coordinators_changed") == []  # untouched
    assert client.submit(url, {"keep_ids": str(org["coord_a"]), "add": "M0002"}).status_code == 302
    assert member("m0002").role is Role.COORDINATOR
    assert [v.code for v in member("m0002").coordinated_venues] == ["b01"]
    assert client.submit(url, {"keep_ids": str(org["member_a2"]), "add": ""}).status_code == 302
    coordinator = db.session.get(User, org["coord_a"])
    assert coordinator.role is Role.MEMBER and coordinator.coordinated_venues == []
    assert client.submit(url, {"add": "nobody"}).status_code == 422


# --- the "done when" ------------------------------------------------------------------------------------

def test_an_admin_builds_an_organisation_from_an_xls_entirely_in_the_browser(client, make_user):
    """From only an admin: 25 venues, 500 members from an .xls roster, a typo caught by the preview, three
    transfers."""
    make_user("admin", Role.ADMIN, name="管理员")
    client.login("admin")
    for number in range(25):
        name, code, kind = ("主会场", "main", "main") if number == 0 else (f"第{number}分会场", f"b{number:02d}",
                                                                          "branch")
        response = client.submit("/admin/venues/new", {"name": name, "code": code, "kind": kind,
                                                      "position": str(number)}, token_from="/admin/venues/new")
        assert response.status_code == 302
    page = preview(client, "全体党员.xls", fixture("organisation-500.xls")).get_data(as_text=True)
    assert "新增党员 500 人" in page
    assert confirm(client, page).status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.role == Role.MEMBER)) == 500

    # The next roster: a typo gives DY0007's number to another name; DY0001-DY0003 move to 第5分会场.
    fixed = ("姓名,党员编号,所在分会场\n党员001,DY0001,第5分会场\n党员002,DY0002,第5分会场\n党员003,DY0003,b05\n"
             "党员070,DY0007,主会场\n").encode("gb18030")
    page = preview(client, "调整.csv", fixed).get_data(as_text=True)
    assert "党员007 → 党员070" in page and page.count("组织关系转接") == 3
    assert confirm(client, page, name_5="skip").status_code == 200
    assert [member(f"DY000{n}").home_venue.name for n in (1, 2, 3)] == ["第5分会场"] * 3
    assert member("DY0007").name == "党员007"
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.active.is_(True))) == 501
