"""One definition of the content and quiz format: the importer, the ZIP preview and the question editor agree,
and a bad bundle is refused with every problem, its file, its line and words that name the bundle."""
from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from lecturehub.courses import bundles
from lecturehub.courses.content import ContentError, import_content
from lecturehub.courses.models import Course, Lecture
from lecturehub.extensions import db
from lecturehub.quizzes.models import Question

COURSE = "title: 测试专题\n"
LECTURE = 'title: 测试党课\nspeaker: 主讲人\nstarts_at: "2026-03-01 14:00"\nends_at: "2026-03-01 16:00"\n'
KEY_POINTS = "导语\n\n## 第一要点\n\n内容\n\n## 第二要点\n\n内容\n"
MATERIAL = "---\ntitle: 资料\nsource: 简报\n---\n正文\n"


def write_bundle(root: Path, files: dict[str, str | bytes | None]) -> Path:
    """A bundle with one course `c1` and one lecture `l1`; `files` adds, replaces or (None) removes files."""
    contents: dict[str, str | bytes | None] = {
        "c1/course.yaml": COURSE, "c1/l1/lecture.yaml": LECTURE, "c1/l1/keypoints.md": KEY_POINTS,
        "c1/l1/materials/m1.md": MATERIAL,
    }
    contents.update(files)
    for name, content in contents.items():
        if content is None:
            continue
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return root


def problems_of(root: Path) -> list[str]:
    with pytest.raises(ContentError) as excinfo:
        import_content(root)
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 0  # all or nothing
    return [str(p) for p in excinfo.value.problems]


def quiz_with(question: dict) -> str:
    return yaml.safe_dump({"questions": [{"id": "q1", "question": "题干", "explanation": "解析", **question}]},
                          allow_unicode=True)


@pytest.fixture
def admin(client, org):
    client.login("admin")
    return client


# --- the editor and the importer give the same verdicts ---------------------------------------

OPTIONS = ["甲", "乙", "丙"]
ANSWERS = [  # kind, answer as typed in the editor, as written in quiz.yaml, the right options (None: refused)
    ("single", "B", "B", [1]), ("single", "b", "b", [1]), ("single", " B ", " B ", [1]),
    ("single", "A,A", "A,A", [0]), ("single", "D", "D", None), ("single", "AB", "AB", None),
    ("single", "A,B", "A,B", None), ("single", "甲", "甲", None), ("single", "A", ["A"], [0]),
    ("multiple", "AC", "AC", [0, 2]), ("multiple", "A,C", "A,C", [0, 2]), ("multiple", "A，C", "A，C", [0, 2]),
    ("multiple", "A、C", "A、C", [0, 2]), ("multiple", "a c", "a c", [0, 2]), ("multiple", "ABC", "ABC", [0, 1, 2]),
    ("multiple", "A,C", ["A", "C"], [0, 2]), ("multiple", "A", "A", None), ("multiple", "A,Z", "A,Z", None),
    ("truefalse", "true", "true", [0]), ("truefalse", "TRUE", "TRUE", [0]), ("truefalse", "true", True, [0]),
    ("truefalse", "false", False, [1]), ("truefalse", "正确", "正确", [0]), ("truefalse", "错误", "错误", [1]),
    ("truefalse", "对", "对", [0]), ("truefalse", "错", "错", [1]), ("truefalse", "yes", "yes", None),
    ("truefalse", "t", "t", None), ("truefalse", "1", "1", None), ("truefalse", "B", "B", None),
]


@pytest.mark.parametrize(("kind", "typed", "written", "expected"), ANSWERS)
def test_editor_and_importer_accept_and_refuse_the_same_answers(admin, seed_lecture, tmp_path, kind, typed,
                                                                 written, expected):
    lecture_id = seed_lecture["lecture_id"]
    response = admin.submit(f"/admin/lectures/{lecture_id}/quiz/new", {
        "kind": kind, "stem": "编辑器新题", "options_text": "\n".join(OPTIONS), "answer": typed,
        "explanation": "解析", "key_point": ""})
    edited = db.session.scalar(sa.select(Question).where(Question.stem == "编辑器新题"))
    editor_verdict = edited.answer if response.status_code == 302 else None
    assert response.status_code in (302, 422)

    question = {"type": kind, "answer": written} | ({} if kind == "truefalse" else {"options": OPTIONS})
    root = write_bundle(tmp_path / "bundle", {"c1/l1/quiz.yaml": quiz_with(question)})
    try:
        import_content(root)
    except ContentError as exc:
        assert all("quiz.yaml" in str(p) and "answer" in p.message for p in exc.problems), exc.problems
        importer_verdict = None
    else:
        lecture = db.session.scalar(sa.select(Lecture).where(Lecture.slug == "l1"))
        importer_verdict = db.session.scalar(sa.select(Question.answer).where(Question.lecture_id == lecture.id))

    assert editor_verdict == importer_verdict == expected


def test_the_editor_shows_a_stored_answer_that_saves_back_unchanged(admin, seed_lecture):
    questions = list(db.session.scalars(sa.select(Question).where(Question.lecture_id == seed_lecture["lecture_id"])))
    for question in questions:
        page = admin.get(f"/admin/questions/{question.id}/edit").get_data(as_text=True)
        shown = page.split('name="answer"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
        response = admin.submit(f"/admin/questions/{question.id}/edit", {
            "kind": question.kind.value, "stem": question.stem, "options_text": "\n".join(question.options),
            "answer": shown, "explanation": question.explanation, "key_point": str(question.key_point_id or "")})
        assert response.status_code == 302, (question.key, shown)
        db.session.expire_all()
        assert db.session.get(Question, question.id).answer == question.answer


# --- the importer tells the truth --------------------------------------------------------------

def test_a_lecture_folder_without_lecture_yaml_is_refused(org, tmp_path):
    problems = problems_of(write_bundle(tmp_path, {"c1/l1/lecture.yaml": None}))
    assert problems == ["c1/l1: 此党课文件夹缺少 lecture.yaml：每个党课文件夹都须有一个。"]
    # and the folder's other files are still checked, so every problem shows at once
    problems = problems_of(write_bundle(tmp_path, {"c1/l1/lecture.yaml": None, "c1/l1/keypoints.md": b"\xff\n",
                                                   "c1/l1/quiz.yaml": "pass_mark: 0\n"}))
    assert [p.split(":")[0] for p in problems] == ["c1/l1", "c1/l1/keypoints.md", "c1/l1/quiz.yaml"], problems


def test_a_gbk_keypoints_file_is_refused_as_not_utf8_and_the_quiz_is_not_blamed(org, tmp_path):
    quiz = quiz_with({"type": "truefalse", "answer": True, "key_point": 2})
    problems = problems_of(write_bundle(tmp_path, {"c1/l1/keypoints.md": KEY_POINTS.encode("gbk"),
                                                   "c1/l1/quiz.yaml": quiz}))
    assert len(problems) == 1, problems
    assert problems[0].startswith("c1/l1/keypoints.md:1:") and "UTF-8" in problems[0] and "GBK" in problems[0]


def test_a_missing_keypoints_file_is_refused_with_its_own_message(org, tmp_path):
    quiz = quiz_with({"type": "truefalse", "answer": True, "key_point": 1})
    problems = problems_of(write_bundle(tmp_path, {"c1/l1/keypoints.md": None, "c1/l1/quiz.yaml": quiz}))
    assert len(problems) == 1, problems
    assert problems[0].startswith("c1/l1/keypoints.md:") and "缺少" in problems[0]


@pytest.mark.parametrize(("broken_option", "line", "words"), [
    ("-乙", 8, "“-”后面要有空格，字段名后面要有冒号"), ("- [乙", 8, "以 [ 开始的列表没有用 ] 闭合"),
    ("- '乙", 8, "引号或括号没有闭合"), ("- 乙: 丙: 丁", 8, "含有“: ”的文字请加引号"),
])
def test_a_yaml_error_inside_an_options_list_is_reported_on_its_line(org, tmp_path, broken_option, line, words):
    quiz = ("questions:\n  - id: q1\n    type: single\n    question: 题干\n    options:\n"
            f"      - 甲\n      - 乙\n      {broken_option}\n      - 丙\n    answer: A\n    explanation: 解析\n")
    problems = problems_of(write_bundle(tmp_path, {"c1/l1/quiz.yaml": quiz}))
    assert problems[0].startswith(f"c1/l1/quiz.yaml:{line}: YAML 语法错误："), problems
    assert problems[0].split("：", 1)[1] == words, problems  # PyYAML's words, said in the UI language


def test_every_problem_of_a_bundle_is_reported_at_once_with_file_and_line(org, tmp_path):
    files = {
        "c1/course.yaml": COURSE + "colour: red\n",
        "c1/l1/lecture.yaml": LECTURE.replace("speaker: 主讲人\n", "") + "study_hours: lots\n",
        "c1/l1/materials/m1.md": "---\ntitle: 资料\nurl: ftp://x\n---\n",
        "c1/l1/quiz.yaml": quiz_with({"type": "single", "options": ["甲", "乙"], "answer": "C"}),
        "c1/l2/keypoints.md": KEY_POINTS,
    }
    problems = problems_of(write_bundle(tmp_path, files))
    expected = ["c1/course.yaml:2: ", "c1/l1/lecture.yaml:1: ", "c1/l1/lecture.yaml:4: ", "c1/l1/materials/m1.md:3: ",
                "c1/l1/quiz.yaml:", "c1/l2: "]
    for start in expected:
        assert any(p.startswith(start) for p in problems), (start, problems)
    assert len(problems) == len(expected), problems


def post_bundle(admin, data: bytes, name: str):
    return admin.submit("/admin/bundle", {"bundle": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def zip_of(root: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()


def test_zip_bundle_errors_name_the_bundle_never_a_server_path_nor_the_quiz_bank(admin, tmp_path):
    response = post_bundle(admin, zip_of(write_bundle(tmp_path / "b", {"c1/l1/lecture.yaml": None})), "四史.zip")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "未从内容包“四史.zip”导入任何内容" in page and "c1/l1:" in page
    assert "未导入任何题目" not in page

    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("readme.txt", "no course here")
    response = post_bundle(admin, empty.getvalue(), "../../etc/空包.zip")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "空包.zip: " in page and "course.yaml" in page
    assert "/tmp" not in page and "lecturehub-bundle" not in page and "etc/" not in page


def test_the_preview_shows_what_the_quiz_would_change(admin, tmp_path):
    quiz = quiz_with({"type": "single", "options": ["甲", "乙"], "answer": "A"})
    response = post_bundle(admin, zip_of(write_bundle(tmp_path / "b", {"c1/l1/quiz.yaml": quiz})), "b.zip")
    assert response.status_code == 200 and "新增1道" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Question.id))) == 0


# --- YAML alias bombs and forgotten uploads (issue 17, point 11) ----------------------------------

def alias_bomb(depth: int = 40) -> str:
    """Each level refers to the one before nine times: 9**40 values if the aliases were expanded."""
    lines = ['a0: &a0 ["x"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, depth + 1)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("file", ["c1/l1/lecture.yaml", "c1/l1/quiz.yaml", "c1/l1/materials/m1.md"])
def test_a_yaml_alias_bomb_is_refused(org, tmp_path, file):
    bomb = alias_bomb()
    if file.endswith(".md"):
        content = "---\ntitle: 资料\n" + bomb + "---\n正文\n"
        line = 4  # the first alias, after the two --- lines' first and the title
    elif file.endswith("lecture.yaml"):
        content, line = LECTURE + bomb, 6
    else:
        content, line = bomb, 2
    problems = problems_of(write_bundle(tmp_path, {file: content}))
    assert any(p.startswith(f"{file}:{line}: ") and "不允许使用别名" in p for p in problems), problems


def test_previewed_bundles_never_applied_are_removed_after_a_day(app, admin, tmp_path):
    folder = Path(app.config["UPLOAD_FOLDER"]) / "pending-bundles"
    folder.mkdir(parents=True, exist_ok=True)
    stale, recent = folder / f"{'a' * 32}.zip", folder / f"{'b' * 32}.zip"
    for path in (stale, recent):
        path.write_bytes(b"PK")
    day_ago = time.time() - 25 * 3600
    os.utime(stale, (day_ago, day_ago))

    response = post_bundle(admin, zip_of(write_bundle(tmp_path / "b", {})), "b.zip")
    assert response.status_code == 200
    assert not stale.exists() and recent.exists()
    token = response.get_data(as_text=True).split('name="token" value="', 1)[1].split('"', 1)[0]
    assert bundles.kept_path(token).exists() and bundles.kept_name(token) == "b.zip"


def test_a_gbk_quiz_bank_upload_is_refused_as_not_utf8(admin, seed_lecture):
    before = db.session.scalar(sa.select(sa.func.count(Question.id)))
    bank = quiz_with({"type": "truefalse", "answer": "正确"}).encode("gbk")
    response = admin.submit(f"/admin/lectures/{seed_lecture['lecture_id']}/quiz/import",
                            {"bank": (io.BytesIO(bank), "题库.yaml")}, content_type="multipart/form-data")
    assert response.status_code == 422 and "可能以 GBK 编码保存" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Question.id))) == before
