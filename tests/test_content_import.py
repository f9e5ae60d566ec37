"""The content/ importer: the seed loads, re-imports update in place, bad bundles change nothing."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from lecturehub.accounts.models import User
from lecturehub.attendance.services import open_makeup_tasks
from lecturehub.courses.content import ContentError, import_content
from lecturehub.courses.models import Course, KeyPoint, Lecture, LectureFormat, LectureVenue, Material
from lecturehub.extensions import db
from lecturehub.quizzes.models import Question, QuestionKind

from .conftest import SEED_CONTENT

SEED_LECTURE_DIR = "sishi-2020/2020-12-29-renshe"


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def table_counts() -> dict[str, int]:
    return {m.__name__: count(m) for m in (Course, Lecture, KeyPoint, Material, Question, LectureVenue)}


@pytest.fixture
def bundle(tmp_path) -> Path:
    """A writable copy of the seed content."""
    target = tmp_path / "content"
    shutil.copytree(SEED_CONTENT, target)
    return target


def test_seed_content_matches_the_newsletter(org):
    import_content(SEED_CONTENT)
    lecture = db.session.scalar(sa.select(Lecture))
    assert lecture.course.title == "四史学习教育专题党课"
    assert lecture.title == "学习习近平总书记关于人社工作的重要论述，奋力开创新时代上海人社发展新篇章"
    assert (lecture.speaker, lecture.host) == ("赵永峰", "纪维萱")
    assert lecture.format is LectureFormat.VIDEO_CONFERENCE
    # 14:00 in Shanghai is 06:00 UTC, stored without ambiguity.
    assert lecture.starts_at.isoformat() == "2020-12-29T06:00:00+00:00"
    assert len(lecture.key_points) == 8
    assert [m.title for m in lecture.materials] == ["“十三五”期间全国新增高技能人才超 1000 万人",
                                                    "2021 年度“国聘行动”正式启动"]
    # Every venue that exists takes part (the org fixture has 3).
    assert count(LectureVenue) == 3
    questions = list(db.session.scalars(sa.select(Question).order_by(Question.position)))
    assert len(questions) >= 15
    assert {q.kind for q in questions} == set(QuestionKind)
    assert all(q.explanation.strip() for q in questions)


def test_seed_quiz_facts_are_quoted_from_the_seed():
    """Every explanation quotes the newsletter; the quoted words must be found in it (ignoring layout)."""
    import re

    import yaml

    seed_text = (SEED_CONTENT / "sishi-2020" / "source-newsletter.txt").read_text()
    quiz = yaml.safe_load((SEED_CONTENT / SEED_LECTURE_DIR / "quiz.yaml").read_text())

    def normalise(text: str) -> str:
        return re.sub(r"[\s“”‘’'\"]", "", text)

    seed = normalise(seed_text)
    for question in quiz["questions"]:
        quoted = question["explanation"].split("原文：", 1)[1]
        assert normalise(quoted).strip("。") in seed or all(
            normalise(part) in seed for part in re.split(r"[，。、；]", quoted) if normalise(part)
        ), question["id"]


def test_import_twice_updates_in_place(org, bundle):
    import_content(bundle)
    before = table_counts()
    lecture_id = db.session.scalar(sa.select(Lecture.id))
    question_ids = set(db.session.scalars(sa.select(Question.id)))

    lecture_yaml = bundle / SEED_LECTURE_DIR / "lecture.yaml"
    lecture_yaml.write_text(lecture_yaml.read_text().replace("speaker: 赵永峰", "speaker: 赵永峰同志"))
    summary = import_content(bundle)

    db.session.expire_all()
    assert table_counts() == before
    assert summary.created == 0 and summary.updated == 1
    assert db.session.get(Lecture, lecture_id).speaker == "赵永峰同志"
    assert set(db.session.scalars(sa.select(Question.id))) == question_ids


def test_removed_question_is_deleted_on_reimport(org, bundle):
    import_content(bundle)
    quiz = bundle / SEED_LECTURE_DIR / "quiz.yaml"
    text = quiz.read_text()
    start = text.index("  - id: q20")
    quiz.write_text(text[:start])
    import_content(bundle)
    assert count(Question) == 19
    assert db.session.scalar(sa.select(Question).where(Question.key == "q20")) is None


@pytest.mark.parametrize(
    ("file", "old", "new", "line_marker", "message"),
    [
        ("quiz.yaml", "    answer: B\n    explanation: 简报原文：“市人力", "    answer: Z\n    explanation: 简报原文：“市人力",
         "answer: Z", "answer"),
        ("quiz.yaml", "  - id: q02\n    type: single", "  - id: q02\n    type: essay", "type: essay", "type"),
        ("quiz.yaml", "pass_mark: 80", "pass_mark: [80", "pass_mark: [80", "YAML"),  # the unclosed bracket's line
        ("lecture.yaml", "speaker: 赵永峰\n", "", "title:", "speaker"),
        ("lecture.yaml", 'ends_at: "2020-12-29 16:00"', 'ends_at: "2020-12-29 12:00"', "ends_at:", "结束时间"),
        ("lecture.yaml", "venues: all", "venues: [main, nowhere]", "venues:", "nowhere"),
        ("lecture.yaml", 'starts_at: "2020-12-29 14:00"', 'starts_at: "29/12/2020"', "starts_at:", "starts_at"),
        ("lecture.yaml", "study_hours: 2", "study_hours: lots", "study_hours:", "study_hours"),
    ],
)
def test_malformed_file_is_refused_with_file_and_line_and_nothing_written(org, bundle, file, old, new, line_marker,
                                                                          message):
    path = bundle / SEED_LECTURE_DIR / file
    text = path.read_text()
    assert old in text
    broken = text.replace(old, new, 1)
    path.write_text(broken)
    line = next(n for n, content in enumerate(broken.splitlines(), start=1) if line_marker in content)

    with pytest.raises(ContentError) as excinfo:
        import_content(bundle)

    problems = excinfo.value.problems
    assert any(p.file == f"{SEED_LECTURE_DIR}/{file}" and p.line == line and message in p.message
               for p in problems), [str(p) for p in problems]
    assert all(n == 0 for n in table_counts().values())


def test_failed_reimport_leaves_the_previous_import_untouched(org, bundle):
    import_content(bundle)
    before = table_counts()
    lecture = bundle / SEED_LECTURE_DIR / "lecture.yaml"
    lecture.write_text(lecture.read_text().replace("title: 学习", "title: 新标题") + "colour: red\n")
    with pytest.raises(ContentError) as excinfo:
        import_content(bundle)
    assert "colour" in str(excinfo.value)
    db.session.expire_all()
    assert table_counts() == before
    assert db.session.scalar(sa.select(Lecture.title)).startswith("学习")


def test_over_long_title_and_bad_utf8_are_refused(org, bundle):
    lecture = bundle / SEED_LECTURE_DIR / "lecture.yaml"
    lecture.write_text(lecture.read_text().replace("title: 学习", "title: " + "长" * 400, 1))
    (bundle / SEED_LECTURE_DIR / "keypoints.md").write_bytes(b"## ok\n\xff\xfe broken\n")
    with pytest.raises(ContentError) as excinfo:
        import_content(bundle)
    messages = [str(p) for p in excinfo.value.problems]
    assert any("lecture.yaml:2" in m and "300" in m for m in messages), messages
    assert any("keypoints.md:2" in m and "UTF-8" in m for m in messages), messages
    assert count(Course) == 0


def test_cli_import_reports_counts_and_errors(app, org, bundle):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["content", "import", str(bundle), "--no-archive"])
    assert result.exit_code == 0, result.output
    assert "1 lecture(s)" in result.output and "20 question(s)" in result.output

    quiz = bundle / SEED_LECTURE_DIR / "quiz.yaml"
    quiz.write_text(quiz.read_text().replace("answer: [A, B, C]\n    explanation: 简报原文：“要全面", "answer: A\n    explanation: 简报原文：“要全面"))
    result = runner.invoke(args=["content", "import", str(bundle)])
    assert result.exit_code != 0
    assert f"{SEED_LECTURE_DIR}/quiz.yaml:" in result.output
    assert "nothing was imported" in result.output


def test_cli_asks_before_importing_a_lecture_that_already_ended(app, org, bundle):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["content", "import", str(bundle)])
    assert result.exit_code != 0
    # org: two coordinators and three members belong to venues taking part in the 2020 lecture.
    assert "5 member(s) would count as absent" in result.output and "--archive" in result.output
    assert count(Lecture) == 0
    result = runner.invoke(args=["content", "import", str(bundle), "--archive"])
    assert result.exit_code == 0, result.output
    lecture = db.session.scalar(sa.select(Lecture))
    assert lecture.archive is True
    assert open_makeup_tasks(db.session.get(User, org["member_a"])) == []
    # Importing again asks nothing: the lecture exists, and keeps its archive status.
    result = runner.invoke(args=["content", "import", str(bundle)])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.scalar(sa.select(Lecture)).archive is True


def test_lecture_yaml_can_say_archive(app, org, bundle):
    lecture_yaml = bundle / SEED_LECTURE_DIR / "lecture.yaml"
    lecture_yaml.write_text(lecture_yaml.read_text() + "archive: true\n")
    result = app.test_cli_runner().invoke(args=["content", "import", str(bundle)])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(sa.select(Lecture)).archive is True
    lecture_yaml.write_text(lecture_yaml.read_text().replace("archive: true", "archive: sometimes"))
    with pytest.raises(ContentError) as excinfo:
        import_content(bundle)
    assert any("lecture.yaml" in str(p) and "archive" in str(p) for p in excinfo.value.problems)
