"""Admins author courses, lectures, materials and quiz banks in the browser."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from lecturehub.accounts.models import User
from lecturehub.attendance.services import open_makeup_tasks
from lecturehub.courses.models import Course, KeyPoint, Lecture, Material
from lecturehub.extensions import db
from lecturehub.quizzes.models import Question, QuestionKind, QuizAttempt

LECTURE_FORM = {
    "title": "新党课", "slug": "new-lecture", "speaker": "主讲人甲", "host": "主持人乙",
    "starts_at": "2026-12-01T14:00", "ends_at": "2026-12-01T16:00", "format": "video_conference",
    "study_hours": "2.0", "key_points_md": "导语一段。\n\n## 第一要点\n\n内容一\n\n## 第二要点\n\n内容二\n",
}


@pytest.fixture
def admin(client, org):
    client.login("admin")
    return client


@pytest.fixture
def course(org):
    course = Course(slug="c1", title="专题一", published=True)
    db.session.add(course)
    db.session.commit()
    return course


def lecture_form(org, course, **changes):
    data = dict(LECTURE_FORM, course_id=str(course.id), venue_ids=[str(org["branch_a"]), str(org["branch_b"])])
    data.update(changes)
    return data


def test_admin_creates_a_course_and_refuses_a_duplicate(admin, course):
    response = admin.submit("/admin/courses/new", {"title": "专题二", "slug": "c2", "position": "2", "published": "y"})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(Course.title).where(Course.slug == "c2")) == "专题二"
    duplicate = admin.submit("/admin/courses/new", {"title": "重复", "slug": "c1", "position": "0"})
    assert duplicate.status_code == 422 and "简称" in duplicate.get_data(as_text=True)
    bad = admin.submit("/admin/courses/new", {"title": "坏", "slug": "Bad Slug!", "position": "0"})
    assert bad.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 2


def test_admin_creates_a_draft_lecture_then_publishes_it(app, admin, org, course):
    response = admin.submit("/admin/lectures/new", lecture_form(org, course))
    assert response.status_code == 302
    lecture = db.session.scalar(sa.select(Lecture).where(Lecture.slug == "new-lecture"))
    assert not lecture.published and lecture.summary_md == "导语一段。"
    assert [(kp.position, kp.title, kp.body_md) for kp in lecture.key_points] == [(1, "第一要点", "内容一"),
                                                                               (2, "第二要点", "内容二")]
    assert lecture.starts_at.isoformat() == "2026-12-01T06:00:00+00:00"  # entered as Beijing time
    assert sorted(link.venue_id for link in lecture.venue_links) == sorted([org["branch_a"], org["branch_b"]])

    member = app.test_client()
    member.login("m0001")
    assert member.get(f"/lectures/{lecture.id}").status_code == 404

    first_point_id = lecture.key_points[0].id
    edit = admin.submit(f"/admin/lectures/{lecture.id}/edit",
                        lecture_form(org, course, published="y", key_points_md="## 第一要点（修订）\n\n新内容\n"))
    assert edit.status_code == 302
    db.session.expire_all()
    lecture = db.session.get(Lecture, lecture.id)
    assert [kp.title for kp in lecture.key_points] == ["第一要点（修订）"]
    assert lecture.key_points[0].id == first_point_id  # edited in place: quiz links to key points hold
    page = member.get(f"/lectures/{lecture.id}").get_data(as_text=True)
    assert "第一要点（修订）" in page and "新内容" in page


@pytest.mark.parametrize(("changes", "message"), [
    ({"ends_at": "2026-12-01T13:00"}, "结束时间"),
    ({"key_points_md": "## " + "长" * 201}, "第1行"),
    ({"venue_ids": []}, "会场"),
    ({"study_hours": "120"}, "99.9"),
    ({"starts_at": "tomorrow"}, ""),
])
def test_bad_lecture_input_is_refused(admin, org, course, changes, message):
    response = admin.submit("/admin/lectures/new", lecture_form(org, course, **changes))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Lecture.id))) == 0


def test_live_preview_is_sanitised_and_needs_the_csrf_token(admin):
    token = admin.csrf_token("/admin/lectures/new")
    response = admin.post("/admin/preview", data={"text": "**粗体** <script>alert(1)</script> [x](javascript:alert(1))"},
                          headers={"X-CSRFToken": token})
    html = response.get_json()["html"]
    assert "<strong>粗体</strong>" in html and "<script" not in html and 'href="javascript' not in html
    assert admin.post("/admin/preview", data={"text": "x"}).status_code == 400


# --- materials ----------------------------------------------------------------------------------

def office_file(part: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(part, "<x/>")
    return buffer.getvalue()


def xlsx_file() -> bytes:
    buffer = io.BytesIO()
    Workbook().save(buffer)
    return buffer.getvalue()


ALLOWED = {
    "讲稿.pdf": b"%PDF-1.7\n1 0 obj\n",
    "讲稿.docx": office_file("word/document.xml"),
    "课件.pptx": office_file("ppt/presentation.xml"),
    "名单.xlsx": xlsx_file(),
    "照片.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "图表.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
}


@pytest.fixture
def lecture(seed_lecture):
    return db.session.get(Lecture, seed_lecture["lecture_id"])


def upload(admin, lecture_id, name, data, title=""):
    return admin.submit(f"/admin/lectures/{lecture_id}/materials/upload", {"file": (io.BytesIO(data), name),
                                                                           "title": title},
                        token_from=f"/admin/lectures/{lecture_id}/materials", content_type="multipart/form-data")


@pytest.mark.parametrize("name", list(ALLOWED))
def test_each_allowed_type_uploads_and_downloads_under_its_name(app, admin, lecture, name):
    assert upload(admin, lecture.id, name, ALLOWED[name]).status_code == 302
    material = db.session.scalar(sa.select(Material).where(Material.original_filename == name))
    stored = Path(app.config["UPLOAD_FOLDER"]) / material.stored_name
    assert stored.read_bytes() == ALLOWED[name]
    assert name not in material.stored_name and "static" not in str(stored)

    member = app.test_client()
    member.login("m0001")
    assert f"/materials/{material.id}/download" in member.get(f"/lectures/{lecture.id}").get_data(as_text=True)
    response = member.get(f"/lectures/{lecture.id}/materials/{material.id}/download")
    assert response.status_code == 200 and response.data == ALLOWED[name]
    assert "attachment" in response.headers["Content-Disposition"]
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]


@pytest.mark.parametrize(("name", "data", "message"), [
    ("讲稿.pdf", b"MZ\x90\x00\x03\x00\x00\x00 this is an executable", "PDF"),
    ("表格.xlsx", b"PK\x03\x04 not really a workbook", "XLSX"),
    ("程序.exe", b"MZ\x90\x00", "PDF、DOCX"),
    ("空.pdf", b"", ""),
])
def test_disguised_or_unsupported_files_are_refused(admin, lecture, name, data, message):
    response = upload(admin, lecture.id, name, data)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(Material.id).where(Material.original_filename == name)) is None


def test_over_size_file_is_refused(app, admin, lecture):
    app.config["MAX_UPLOAD_BYTES"] = 1024
    try:
        response = upload(admin, lecture.id, "大文件.pdf", b"%PDF-" + b"0" * 2048)
    finally:
        app.config["MAX_UPLOAD_BYTES"] = 50 * 1024 * 1024
    assert response.status_code == 422 and "MB" in response.get_data(as_text=True)


def test_path_traversal_name_is_reduced_to_the_file_name(app, admin, lecture):
    assert upload(admin, lecture.id, "../../../etc/evil.pdf", ALLOWED["讲稿.pdf"]).status_code == 302
    material = db.session.scalar(sa.select(Material).where(Material.original_filename == "evil.pdf"))
    assert (Path(app.config["UPLOAD_FOLDER"]) / material.stored_name).exists()
    assert ".." not in material.stored_name and "/" not in material.stored_name


def test_files_of_a_draft_lecture_are_not_served_to_members(app, admin, lecture):
    upload(admin, lecture.id, "讲稿.pdf", ALLOWED["讲稿.pdf"])
    material = db.session.scalar(sa.select(Material).where(Material.original_filename == "讲稿.pdf"))
    lecture.published = False
    db.session.commit()
    member = app.test_client()
    member.login("m0001")
    assert member.get(f"/lectures/{lecture.id}/materials/{material.id}/download").status_code == 404
    anonymous = app.test_client()
    assert anonymous.get(f"/lectures/{lecture.id}/materials/{material.id}/download").status_code == 302


def test_links_and_deletion(app, admin, lecture):
    bad = admin.submit(f"/admin/lectures/{lecture.id}/materials/link", {"title": "录像", "url": "javascript:alert(1)"},
                       token_from=f"/admin/lectures/{lecture.id}/materials")
    assert bad.status_code == 422
    good = admin.submit(f"/admin/lectures/{lecture.id}/materials/link",
                        {"title": "录像", "url": "https://intranet.example/video/1"},
                        token_from=f"/admin/lectures/{lecture.id}/materials")
    assert good.status_code == 302
    upload(admin, lecture.id, "讲稿.pdf", ALLOWED["讲稿.pdf"])
    material = db.session.scalar(sa.select(Material).where(Material.original_filename == "讲稿.pdf"))
    stored = Path(app.config["UPLOAD_FOLDER"]) / material.stored_name
    response = admin.submit(f"/admin/materials/{material.id}/delete", {}, token_from=f"/admin/lectures/{lecture.id}/materials")
    assert response.status_code == 302 and not stored.exists()
    assert db.session.scalar(sa.select(Material.id).where(Material.id == material.id)) is None


# --- the question bank --------------------------------------------------------------------------

def test_bank_editing_add_edit_reorder_delete(app, admin, lecture):
    bank = f"/admin/lectures/{lecture.id}/quiz"
    before = [q.id for q in db.session.scalars(sa.select(Question).where(Question.lecture_id == lecture.id)
                                                .order_by(Question.position))]
    new = admin.submit(f"{bank}/new", {"kind": "multiple", "stem": "新题", "options_text": "甲\n乙\n丙",
                                       "answer": "A,C", "explanation": "解析", "key_point": ""})
    assert new.status_code == 302
    question = db.session.scalar(sa.select(Question).where(Question.stem == "新题"))
    assert (question.kind, question.options, question.answer, question.position) == (
        QuestionKind.MULTIPLE, ["甲", "乙", "丙"], [0, 2], len(before) + 1)
    for answer, message in (("D", "A"), ("A", "至少"), ("", "")):
        response = admin.submit(f"/admin/questions/{question.id}/edit", {
            "kind": "multiple", "stem": "新题", "options_text": "甲\n乙\n丙", "answer": answer, "explanation": "解析"})
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    admin.submit(f"/admin/questions/{question.id}/move", {"direction": "up"}, token_from=bank)
    db.session.expire_all()
    assert db.session.get(Question, question.id).position == len(before)
    assert admin.submit(f"/admin/questions/{question.id}/delete", {}, token_from=bank).status_code == 302
    assert [q.id for q in db.session.scalars(sa.select(Question).where(Question.lecture_id == lecture.id)
                                             .order_by(Question.position))] == before


def test_editing_a_question_keeps_past_attempts(app, admin, lecture):
    member = app.test_client()
    member.login("m0001")
    questions = list(db.session.scalars(sa.select(Question).where(Question.lecture_id == lecture.id)))
    data = {f"q{q.id}": [str(i) for i in q.answer] for q in questions}
    location = member.submit(f"/lectures/{lecture.id}/quiz", data).location
    q01 = next(q for q in questions if q.key == "q01")
    admin.submit(f"/admin/questions/{q01.id}/edit", {"kind": "single", "stem": "改过的题", "options_text": "甲\n乙",
                                                     "answer": "A", "explanation": "新解析"})
    page = member.get(location).get_data(as_text=True)
    assert "改过的题" not in page and "100%" in page
    assert db.session.scalar(sa.select(QuizAttempt.score)) == 100


def test_bank_export_and_import_round_trip(app, admin, lecture):
    bank = f"/admin/lectures/{lecture.id}/quiz"
    exported = admin.get(f"{bank}/export")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    text = exported.data.decode("utf-8")
    assert "本次“四史”专题党课的主讲人是谁？" in text and "pass_mark: 80" in text

    def snapshot():
        return [(q.key, q.kind, q.stem, q.options, q.answer, q.explanation, q.key_point_id)
                for q in db.session.scalars(sa.select(Question).where(Question.lecture_id == lecture.id)
                                            .order_by(Question.position))]

    before = snapshot()
    response = admin.submit(f"{bank}/import", {"bank": (io.BytesIO(exported.data), "quiz.yaml")}, token_from=bank,
                            content_type="multipart/form-data")
    assert response.status_code == 302
    db.session.expire_all()
    assert snapshot() == before

    broken = text.replace("answer: B", "answer: Z", 1)
    response = admin.submit(f"{bank}/import", {"bank": (io.BytesIO(broken.encode()), "quiz.yaml")}, token_from=bank,
                            content_type="multipart/form-data")
    assert response.status_code == 422
    line = next(n for n, content in enumerate(broken.splitlines(), start=1) if "answer: Z" in content)
    assert f"quiz.yaml:{line}" in response.get_data(as_text=True)
    db.session.expire_all()
    assert snapshot() == before


def test_key_point_link_is_exported_by_number(admin, lecture):
    text = admin.get(f"/admin/lectures/{lecture.id}/quiz/export").data.decode()
    assert "key_point: 1" in text
    assert db.session.scalar(sa.select(sa.func.count(KeyPoint.id))) == 8


# --- content bundles ----------------------------------------------------------------------------

def zip_folder(folder: Path, prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, prefix + path.relative_to(folder).as_posix())
    return buffer.getvalue()


@pytest.fixture
def bundle_dir(tmp_path):
    import shutil

    from .conftest import SEED_CONTENT

    target = tmp_path / "content"
    shutil.copytree(SEED_CONTENT, target)
    return target


def post_bundle(admin, data: bytes, name: str = "bundle.zip"):
    return admin.submit("/admin/bundle", {"bundle": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_bundle_preview_then_apply(admin, org, bundle_dir):
    response = post_bundle(admin, zip_folder(bundle_dir, "content/"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "四史学习教育专题党课" in page
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 0  # a preview writes nothing
    token = page.split('name="token" value="', 1)[1].split('"', 1)[0]
    applied = admin.submit("/admin/bundle/apply", {"token": token, "archive_past": "no"}, token_from="/admin/bundle")
    assert applied.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(Question.id))) == 20

    quiz = bundle_dir / "sishi-2020" / "2020-12-29-renshe" / "quiz.yaml"
    quiz.write_text(quiz.read_text().replace("本次党课由谁主持？", "本次党课的主持人是谁？"))
    page = post_bundle(admin, zip_folder(bundle_dir)).get_data(as_text=True)
    assert "修改1道" in page and "有修改" in page


def test_bundle_with_a_malformed_file_names_file_and_line(admin, org, bundle_dir):
    lecture = bundle_dir / "sishi-2020" / "2020-12-29-renshe" / "lecture.yaml"
    lecture.write_text(lecture.read_text().replace("study_hours: 2", "study_hours: many"))
    response = post_bundle(admin, zip_folder(bundle_dir))
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and "2020-12-29-renshe/lecture.yaml:8" in text
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 0


def test_zip_bomb_traversal_and_non_zip_are_refused(admin, org):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("content/c/course.yaml", b"\n" * (30 * 1024 * 1024))
    response = post_bundle(admin, bomb.getvalue())
    assert response.status_code == 422 and "MB" in response.get_data(as_text=True)

    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../../evil/course.yaml", "title: x\n")
    response = post_bundle(admin, evil.getvalue())
    assert response.status_code == 422 and "../../evil/course.yaml" in response.get_data(as_text=True)

    response = post_bundle(admin, b"MZ\x90 not a zip")
    assert response.status_code == 422 and "ZIP" in response.get_data(as_text=True)

    response = admin.submit("/admin/bundle/apply", {"token": "0" * 32}, token_from="/admin/bundle")
    assert response.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 0


def test_bundle_preview_asks_about_lectures_that_already_ended(admin, org, bundle_dir):
    page = post_bundle(admin, zip_folder(bundle_dir)).get_data(as_text=True)
    # org: two coordinators and three members belong to venues taking part in the 2020 lecture.
    assert "1 场新党课已经结束" in page and "5 名党员将被计为缺席并收到补学任务" in page
    token = page.split('name="token" value="', 1)[1].split('"', 1)[0]
    unanswered = admin.submit("/admin/bundle/apply", {"token": token}, token_from="/admin/bundle")
    assert unanswered.status_code == 422 and "请选择" in unanswered.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Lecture.id))) == 0
    applied = admin.submit("/admin/bundle/apply", {"token": token, "archive_past": "yes"}, token_from="/admin/bundle")
    assert applied.status_code == 302
    lecture = db.session.scalar(sa.select(Lecture))
    assert lecture.archive is True
    assert open_makeup_tasks(db.session.get(User, org["member_a"])) == []
