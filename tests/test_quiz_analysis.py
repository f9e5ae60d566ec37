"""Item analysis against hand-computed figures, and who sees which venues."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook

from lecturehub.accounts.models import Role
from lecturehub.courses.models import KeyPoint
from lecturehub.extensions import db
from lecturehub.quizzes import statistics
from lecturehub.quizzes.models import AttemptAnswer, Question, QuestionKind, QuizAttempt
from lecturehub.venues.models import Venue

START = datetime(2026, 3, 1, 6, 0, tzinfo=timezone.utc)


@pytest.fixture
def analysed(org, make_user, make_lecture):
    """Q1, Q2 test key point 1; Q3 key point 2; Q4 none.

    First attempts — A1 (branch A): ✔✔✔✘; A2 (A): ✔✘✔✘; B1 (branch B): ✔✘✘✘; B2 (B): ✘✘✘✘.
    B2's second attempt, all right, does not count.
    """
    lecture = make_lecture(START)
    lecture.key_points.append(KeyPoint(position=2, title="要点二", body_md=""))
    db.session.flush()
    kp1, kp2 = lecture.key_points
    db.session.query(Question).filter_by(lecture_id=lecture.id).delete()
    questions = []
    for position, kp in enumerate([kp1, kp1, kp2, None], start=1):
        question = Question(lecture_id=lecture.id, key=f"k{position}", position=position, kind=QuestionKind.SINGLE,
                            stem=f"题{position}", options=["甲", "乙"], answer=[0], explanation="解析",
                            key_point_id=kp.id if kp else None)
        db.session.add(question)
        questions.append(question)
    db.session.flush()
    a1 = make_user("a1", Role.MEMBER, venue=db.session.get(Venue, org["branch_a"]))
    a2 = make_user("a2", Role.MEMBER, venue=a1.home_venue)
    b1 = make_user("b1", Role.MEMBER, venue=db.session.get(Venue, org["branch_b"]))
    b2 = make_user("b2", Role.MEMBER, venue=b1.home_venue)
    marks = {a1: [1, 1, 1, 0], a2: [1, 0, 1, 0], b1: [1, 0, 0, 0], b2: [0, 0, 0, 0]}
    for offset, (member, answers) in enumerate(marks.items()):
        add_attempt(lecture, member, questions, answers, START + timedelta(hours=3, minutes=offset))
    add_attempt(lecture, b2, questions, [1, 1, 1, 1], START + timedelta(days=1))
    db.session.commit()
    return {"lecture": lecture.id, **org}


def add_attempt(lecture, member, questions, marks, when):
    attempt = QuizAttempt(user_id=member.id, lecture_id=lecture.id, submitted_at=when, correct_count=sum(marks),
                          question_count=4, score=25 * sum(marks), pass_mark=80, passed=sum(marks) == 4)
    for position, (question, mark) in enumerate(zip(questions, marks, strict=True), start=1):
        attempt.answers.append(AttemptAnswer(position=position, question_id=question.id,
                                             question_snapshot=question.snapshot(),
                                             chosen=[0] if mark else [1], correct=bool(mark)))
    db.session.add(attempt)


def test_item_analysis_figures(analysed):
    result = statistics.analyse(analysed["lecture"], None)
    rows = {s.question.key: s for s in result.questions}
    assert result.members == 4
    assert [(k, rows[k].overall.answered, rows[k].overall.share) for k in ("k1", "k2", "k3", "k4")] == [
        ("k1", 4, 75.0), ("k2", 4, 25.0), ("k3", 4, 50.0), ("k4", 4, 0.0)]
    a, b = analysed["branch_a"], analysed["branch_b"]
    assert (rows["k1"].by_venue[a].share, rows["k1"].by_venue[b].share) == (100.0, 50.0)
    # Upper group (27% of 4, rounded up: 2) = A1, A2; lower = B1, B2.
    assert [rows[k].discrimination for k in ("k1", "k2", "k3", "k4")] == [0.5, 0.5, 1.0, 0.0]
    assert [rows[k].flag for k in ("k1", "k2", "k3", "k4")] == [None, None, None, "hard"]
    assert [(kp.position, tally.answered, tally.share) for kp, tally in result.key_points] == [(1, 8, 50.0),
                                                                                              (2, 4, 50.0)]


def test_coordinator_sees_only_their_venue(client, analysed):
    client.login("coord01")
    page = client.get(f"/lectures/{analysed['lecture']}/quiz/analysis").get_data(as_text=True)
    assert "共2名党员参加自测" in page
    sheet = load_workbook(io.BytesIO(client.get(f"/lectures/{analysed['lecture']}/quiz/analysis?format=xlsx").data)).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[2], r[3]) for r in rows] == [("题1", 2, 1.0), ("题2", 2, 0.5), ("题3", 2, 1.0), ("题4", 2, 0.0)]
    assert [c.value for c in sheet[1]][6:] == ["第1分会场"]


def test_admin_sees_venues_side_by_side(client, analysed):
    client.login("admin")
    page = client.get(f"/lectures/{analysed['lecture']}/quiz/analysis").get_data(as_text=True)
    assert "第1分会场" in page and "第2分会场" in page and "100.0%" in page
    assert client.get(f"/lectures/{analysed['lecture']}/quiz/analysis?format=pdf").status_code == 400


def test_key_points_count_answers_and_say_so(client, analysed):
    client.login("admin")
    page = client.get(f"/lectures/{analysed['lecture']}/quiz/analysis").get_data(as_text=True)
    questions, key_points = page.split("要点正确率", 1) if "要点正确率" in page else page.split('id="kp-answers"', 1)
    assert "作答人数" in questions and "作答次数" not in questions
    # Key point 1 has two questions: 4 members give 8 answers, and the column says answers.
    assert "作答次数" in key_points and "作答人数" not in key_points and "<td>8</td>" in key_points


def test_one_rounding_rule_for_shares_and_scores(client, org, make_lecture):
    from lecturehub.core.numbers import percent

    assert (percent(5, 8), percent(2, 3), percent(1, 8), percent(0, 0)) == (62.5, 66.7, 12.5, None)
    assert statistics.Tally(answered=8, correct=5).share == 62.5
    from lecturehub.reports.services import rate

    assert rate(5, 8) == 62.5
    # A half in the last place goes up: 3 of 2000 is 0.15%, which float rounding would show as 0.1%.
    assert round(100 * 3 / 2000, 1) == 0.1 and percent(3, 2000) == 0.2 and rate(3, 2000) == 0.2


def test_question_kind_is_not_named_twice(client, seed_lecture):
    client.login("m0001")
    page = client.get(f"/lectures/{seed_lecture['lecture_id']}/quiz").get_data(as_text=True)
    assert "（多选）" in page and "（多选）（多选题）" not in page and "（多选） （多选题）" not in page
    assert "（多选题）" not in page.split("（多选）", 1)[0].rsplit("<legend>", 1)[1]


def test_a_score_of_five_of_eight_reads_62_5(client, org, make_lecture):
    from lecturehub.core.numbers import score_text

    assert (score_text(5, 8), score_text(17, 20), score_text(8, 8)) == ("62.5%", "85%", "100%")


def test_a_later_transfer_moves_nothing_in_a_held_lectures_analysis(client, analysed):
    """A1 answered at branch A, then moved to branch B: the lecture's analysis still counts A1 at branch A, for
    the admin and for both coordinators."""
    from lecturehub.accounts import services as accounts
    from lecturehub.accounts.models import User

    a1 = db.session.scalar(db.select(User).where(User.username == "a1"))
    accounts.transfer_member(a1, db.session.get(Venue, analysed["branch_b"]), START + timedelta(days=30),
                             db.session.scalar(db.select(User).where(User.username == "admin")), reason="调动")
    db.session.commit()
    assert a1.home_venue_id == analysed["branch_b"]
    result = statistics.analyse(analysed["lecture"], None)
    k1 = next(s for s in result.questions if s.question.key == "k1")
    assert (k1.by_venue[analysed["branch_a"]].answered, k1.by_venue[analysed["branch_b"]].answered) == (2, 2)
    client.login("coord01")  # branch A
    assert "共2名党员参加自测" in client.get(f"/lectures/{analysed['lecture']}/quiz/analysis").get_data(as_text=True)
    assert statistics.analyse(analysed["lecture"], [analysed["branch_b"]]).members == 2  # B1, B2: not A1
