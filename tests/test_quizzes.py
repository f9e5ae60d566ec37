"""Grading rules and the quiz pages."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from lecturehub.extensions import db
from lecturehub.quizzes.models import AttemptAnswer, Question, QuizAttempt, QuizSitting
from lecturehub.quizzes.services import is_correct, is_partial, score_percent

from .conftest import CSRF_RE, catch_writes


@pytest.mark.parametrize(
    ("answer", "chosen", "correct", "partial"),
    [
        ([1], [1], True, False),          # single choice, right
        ([1], [2], False, False),         # single choice, wrong
        ([0], [0], True, False),          # true/false: "true" is option 0
        ([1], [0], False, False),
        ([0, 2, 3], [3, 0, 2], True, False),   # multiple choice, order does not matter
        ([0, 2, 3], [0, 2], False, True),      # some right, none wrong: partly correct, scores nothing
        ([0, 2, 3], [0, 1, 2, 3], False, False),  # one wrong option spoils it
        ([0, 2], [], False, False),
    ],
)
def test_grading_rules(answer, chosen, correct, partial):
    assert is_correct(answer, chosen) is correct
    assert is_partial(answer, chosen) is partial


def test_score_rounds_down_so_a_pass_is_never_flattered():
    assert score_percent(16, 20) == 80
    assert score_percent(15, 19) == 78  # 78.9 does not pass an 80 mark
    assert score_percent(0, 0) == 0


def questions_by_key(lecture_id: int) -> dict[str, Question]:
    return {q.key: q for q in db.session.scalars(sa.select(Question).where(Question.lecture_id == lecture_id))}


def answers_form(questions: dict[str, Question], wrong: set[str] = frozenset(), partial: set[str] = frozenset()):
    data: dict[str, list[str]] = {}
    for key, question in questions.items():
        chosen = list(question.answer)
        if key in wrong:
            chosen = [next(i for i in range(max(len(question.options), 2)) if i not in question.answer)]
        elif key in partial:
            chosen = chosen[:1]
        data[f"q{question.id}"] = [str(i) for i in chosen]
    return data


def test_member_takes_the_seed_quiz_and_sees_score_and_explanations(client, seed_lecture):
    lecture_id = seed_lecture["lecture_id"]
    questions = questions_by_key(lecture_id)
    client.login("m0001")
    page = client.get(f"/lectures/{lecture_id}/quiz").get_data(as_text=True)
    assert "本次“四史”专题党课的主讲人是谁？" in page and "多选题" in page and "判断题" in page

    data = answers_form(questions, wrong={"q01", "q04"}, partial={"q05"})
    response = client.submit(f"/lectures/{lecture_id}/quiz", data)
    assert response.status_code == 302
    result = client.get(response.location).get_data(as_text=True)
    assert "85%" in result and "已通过" in result  # 17 of 20
    assert "17" in result and "20" in result
    assert "部分正确" in result
    assert "简报原文：“党课采取视频大会的形式" in result  # explanations quote the seed
    attempt = db.session.scalar(sa.select(QuizAttempt))
    assert (attempt.correct_count, attempt.question_count, attempt.score, attempt.passed) == (17, 20, 85, True)


def test_failing_attempt_is_marked_not_passed(client, seed_lecture):
    lecture_id = seed_lecture["lecture_id"]
    questions = questions_by_key(lecture_id)
    client.login("m0001")
    data = answers_form(questions, wrong={"q01", "q02", "q03", "q04", "q05"})
    result = client.get(client.submit(f"/lectures/{lecture_id}/quiz", data).location).get_data(as_text=True)
    assert "75%" in result and "未通过" in result


def test_unanswered_or_forged_answers_are_refused_and_nothing_is_stored(client, seed_lecture):
    lecture_id = seed_lecture["lecture_id"]
    questions = questions_by_key(lecture_id)
    client.login("m0001")
    data = answers_form(questions)
    del data[f"q{questions['q07'].id}"]
    response = client.submit(f"/lectures/{lecture_id}/quiz", data)
    assert response.status_code == 422
    assert "请回答全部题目" in response.get_data(as_text=True)

    forged = answers_form(questions)
    forged[f"q{questions['q01'].id}"] = ["9"]  # not one of the options
    assert client.submit(f"/lectures/{lecture_id}/quiz", forged).status_code == 422
    assert db.session.scalar(sa.select(sa.func.count(QuizAttempt.id))) == 0


def test_attempt_keeps_the_question_as_it_was(client, seed_lecture):
    lecture_id = seed_lecture["lecture_id"]
    questions = questions_by_key(lecture_id)
    client.login("m0001")
    location = client.submit(f"/lectures/{lecture_id}/quiz", answers_form(questions)).location

    q01 = db.session.get(Question, questions["q01"].id)
    q01.stem = "改写后的题目"
    q01.answer = [0]
    db.session.delete(db.session.get(Question, questions["q02"].id))
    db.session.commit()

    result = client.get(location).get_data(as_text=True)
    assert "本次“四史”专题党课的主讲人是谁？" in result and "改写后的题目" not in result
    assert "本次党课由谁主持？" in result
    assert "100%" in result
    assert db.session.scalar(sa.select(sa.func.count(AttemptAnswer.id)).where(AttemptAnswer.question_id.is_(None))) == 1


def test_lecture_page_shows_best_score(client, seed_lecture):
    lecture_id = seed_lecture["lecture_id"]
    client.login("m0001")
    client.submit(f"/lectures/{lecture_id}/quiz", answers_form(questions_by_key(lecture_id)))
    page = client.get(f"/lectures/{lecture_id}").get_data(as_text=True)
    assert re.search(r"最好成绩.{0,5}100%", page)


def test_true_false_question_shows_translated_choices(client, seed_lecture):
    client.login("m0001")
    client.set_cookie("lang", "en")
    page = client.get(f"/lectures/{seed_lecture['lecture_id']}/quiz").get_data(as_text=True)
    assert "True or false" in page and ">True<" in page.replace("</span>", "<")


# --- settings and sittings ----------------------------------------------------------------------

def set_quiz(admin_client, lecture_id, **values):
    data = {"quiz_pass_mark": "80", "feedback": "after_submit", "draw_count": "", "max_attempts": ""}
    data.update({k: str(v) for k, v in values.items()})
    for flag in ("shuffle_questions", "shuffle_options"):
        if data.get(flag) in ("False", "false", ""):
            data.pop(flag)
    response = admin_client.submit(f"/admin/lectures/{lecture_id}/quiz", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


@pytest.fixture
def admin_client(app, seed_lecture):
    client = app.test_client()
    client.login("admin")
    return client


def sitting_of(user_id):
    db.session.expire_all()
    return db.session.scalar(sa.select(QuizSitting).where(QuizSitting.user_id == user_id))


QUESTION_RE = re.compile(r'<fieldset class="question[^"]*" id="question-(\d+)">(.*?)</fieldset>', re.S)
PAPER_RE = re.compile(r'name="paper" value="([^"]+)"')


def shown_paper(page: str) -> list[tuple[int, list[int]]]:
    """The questions as the page shows them, in order, each with its options' original indexes in shown order."""
    return [(int(qid), [int(v) for v in re.findall(rf'name="q{qid}"[^>]*value="(\d+)"', block)])
            for qid, block in QUESTION_RE.findall(page)]


def as_a_browser_sends(page: str, answers: dict) -> dict:
    """The answers with the page's hidden fields, as the browser posts the form."""
    match = PAPER_RE.search(page)
    return {**answers, **({"paper": match.group(1)} if match else {})}


def test_a_quiz_in_progress_survives_a_reload(client, org, seed_lecture):
    lecture_id = seed_lecture["lecture_id"]
    questions = questions_by_key(lecture_id)
    client.login("m0001")
    q01, q05 = questions["q01"], questions["q05"]
    saved = client.submit(f"/lectures/{lecture_id}/quiz", {"action": "save", f"q{q01.id}": "1",
                                                            f"q{q05.id}": ["0", "2"]})
    assert saved.status_code == 302
    page = client.get(f"/lectures/{lecture_id}/quiz").get_data(as_text=True)
    assert re.search(rf'id="q{q01.id}-1"[^>]*checked|checked[^>]*id="q{q01.id}-1"', page)
    assert re.search(rf'id="q{q05.id}-2"[^>]*checked|checked[^>]*id="q{q05.id}-2"', page)
    # The script's autosave does the same, each member into their own sitting.
    token = client.csrf_token(f"/lectures/{lecture_id}/quiz")
    assert client.post(f"/lectures/{lecture_id}/quiz/draft", data={"csrf_token": token, f"q{q01.id}": "2"}
                       ).get_json() == {"saved": True}
    assert sitting_of(org["member_a"]).draft[str(q01.id)] == [2]
    from .conftest import Client

    other = Client(client.application)
    other.login("m0002")
    token = other.csrf_token("/home")
    assert other.post(f"/lectures/{lecture_id}/quiz/draft", data={"csrf_token": token, f"q{q01.id}": "0"}
                      ).get_json() == {"saved": True}
    assert sitting_of(org["member_a"]).draft[str(q01.id)] == [2]
    assert sitting_of(org["member_a2"]).draft[str(q01.id)] == [0]


def test_draw_count_and_shuffled_options_still_grade_by_content(client, admin_client, org, seed_lecture):
    lecture_id = seed_lecture["lecture_id"]
    set_quiz(admin_client, lecture_id, draw_count=5, shuffle_questions="y", shuffle_options="y")
    client.login("m0001")
    page = client.get(f"/lectures/{lecture_id}/quiz").get_data(as_text=True)
    shown = shown_paper(page)
    assert len(shown) == 5
    questions = {q.id: q for q in questions_by_key(lecture_id).values()}
    data = {f"q{qid}": [str(i) for i in questions[qid].answer] for qid, _order in shown}
    result = client.get(client.submit(f"/lectures/{lecture_id}/quiz", as_a_browser_sends(page, data)).location
                        ).get_data(as_text=True)
    assert "100%" in result and "5" in result
    attempt = db.session.scalar(sa.select(QuizAttempt))
    assert [answer.question_id for answer in attempt.answers] == [qid for qid, _order in shown]
    assert sitting_of(org["member_a"]) is None  # the sitting closes with the attempt


def test_immediate_feedback_locks_the_checked_answer(client, admin_client, org, seed_lecture):
    lecture_id = seed_lecture["lecture_id"]
    set_quiz(admin_client, lecture_id, feedback="immediate")
    questions = questions_by_key(lecture_id)
    q01 = questions["q01"]
    client.login("m0001")
    page = client.get(f"/lectures/{lecture_id}/quiz").get_data(as_text=True)
    assert f'value="check:{q01.id}"' in page
    empty = client.submit(f"/lectures/{lecture_id}/quiz", {"action": f"check:{q01.id}"})
    assert empty.status_code == 422
    checked = client.submit(f"/lectures/{lecture_id}/quiz", {"action": f"check:{q01.id}", f"q{q01.id}": "0"})
    assert checked.status_code == 302
    page = client.get(f"/lectures/{lecture_id}/quiz").get_data(as_text=True)
    block = page.split(f'id="question-{q01.id}"', 1)[1].split("</fieldset>", 1)[0]
    assert "回答错误" in block and "简报原文" in block and "disabled" in block
    # Changing a checked answer afterwards changes nothing.
    data = answers_form(questions)
    location = client.submit(f"/lectures/{lecture_id}/quiz", data).location
    assert "95%" in client.get(location).get_data(as_text=True)


def test_attempts_are_limited(client, admin_client, org, seed_lecture):
    lecture_id = seed_lecture["lecture_id"]
    set_quiz(admin_client, lecture_id, max_attempts=1)
    questions = questions_by_key(lecture_id)
    client.login("m0001")
    assert "剩余作答次数：1" in client.get(f"/lectures/{lecture_id}/quiz").get_data(as_text=True)
    client.submit(f"/lectures/{lecture_id}/quiz", answers_form(questions))
    page = client.get(f"/lectures/{lecture_id}/quiz")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "1次作答机会已用完" in text and "<fieldset" not in text
    token = client.csrf_token("/home")
    again = client.post(f"/lectures/{lecture_id}/quiz", data=dict(answers_form(questions), csrf_token=token))
    assert again.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count(QuizAttempt.id))) == 1


def test_bad_settings_are_refused(admin_client, seed_lecture):
    url = f"/admin/lectures/{seed_lecture['lecture_id']}/quiz"
    for values in ({"quiz_pass_mark": "0"}, {"quiz_pass_mark": "80", "draw_count": "-1"},
                   {"quiz_pass_mark": "80", "feedback": "never"}, {"quiz_pass_mark": "80", "max_attempts": "abc"}):
        data = {"feedback": "after_submit", **values}
        assert admin_client.submit(url, data).status_code == 422, values


# --- showing the quiz writes nothing, and the paper stays the same until it is submitted ------------------

def sitting_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(QuizSitting))


def show_quiz(client, lecture_id) -> str:
    """The quiz page as the member sees it; opening it must send no INSERT, UPDATE or DELETE at all."""
    before = sitting_count()
    with catch_writes(client.application) as writes:
        response = client.get(f"/lectures/{lecture_id}/quiz")
    assert response.status_code == 200
    assert writes == [], writes
    assert sitting_count() == before
    return response.get_data(as_text=True)


def member_client(app, username="m0001"):
    other = app.test_client()
    other.login(username)
    return other


@pytest.fixture
def shuffled(admin_client, seed_lecture):
    """The seed quiz drawing 8 of its 20 questions, questions and options shuffled."""
    set_quiz(admin_client, seed_lecture["lecture_id"], draw_count=8, shuffle_questions="y", shuffle_options="y")
    return seed_lecture["lecture_id"]


def test_showing_the_quiz_writes_nothing_and_shows_the_same_paper_everywhere(client, app, shuffled):
    client.login("m0001")
    first = shown_paper(show_quiz(client, shuffled))
    assert len(first) == 8
    assert shown_paper(show_quiz(client, shuffled)) == first  # a reload
    assert shown_paper(show_quiz(member_client(app), shuffled)) == first  # the member's phone
    # Another member gets a paper of their own.
    assert shown_paper(show_quiz(member_client(app, "m0002"), shuffled)) != first
    assert sitting_count() == 0


@pytest.mark.parametrize("action", ["autosave", "save", "check", "submit"])
def test_the_first_answer_stores_exactly_the_paper_shown(client, app, admin_client, org, shuffled, action):
    set_quiz(admin_client, shuffled, draw_count=8, shuffle_questions="y", shuffle_options="y", feedback="immediate")
    client.login("m0001")
    page = show_quiz(client, shuffled)
    shown = shown_paper(page)
    questions = {q.id: q for q in questions_by_key(shuffled).values()}
    first_id = shown[0][0]
    answers = {f"q{qid}": [str(i) for i in questions[qid].answer] for qid, _order in shown}
    url = f"/lectures/{shuffled}/quiz"
    token = CSRF_RE.search(page).group(1)
    if action == "autosave":
        response = client.post(f"{url}/draft", data=as_a_browser_sends(page, {"csrf_token": token, **answers}))
        assert response.get_json() == {"saved": True}
    else:
        data = {"action": f"check:{first_id}" if action == "check" else action, **answers}
        response = client.post(url, data=as_a_browser_sends(page, {"csrf_token": token, **data}))
        assert response.status_code == 302
    if action == "submit":
        attempt = db.session.scalar(sa.select(QuizAttempt))
        assert [answer.question_id for answer in attempt.answers] == [qid for qid, _order in shown]
        assert (attempt.correct_count, attempt.score, attempt.passed) == (8, 100, True)
        return
    sitting = sitting_of(org["member_a"])
    assert [(item["q"], item["o"]) for item in sitting.plan] == shown
    assert sitting.draft[str(first_id)] == sorted(questions[first_id].answer)
    # From now on the stored paper is shown, still the same, with the answers given.
    page = show_quiz(client, shuffled)
    assert shown_paper(page) == shown
    checked = re.findall(rf'<input [^>]*\bchecked\b[^>]*name="q{first_id}"[^>]*value="(\d+)"', page)
    assert sorted(int(v) for v in checked) == sorted(questions[first_id].answer)


def test_the_paper_shown_is_stored_even_when_the_settings_change_before_the_first_answer(
        client, admin_client, org, shuffled):
    client.login("m0001")
    page = show_quiz(client, shuffled)
    shown = shown_paper(page)
    set_quiz(admin_client, shuffled, draw_count=3)  # a fresh draw would now give another paper
    questions = {q.id: q for q in questions_by_key(shuffled).values()}
    answers = {f"q{qid}": [str(i) for i in questions[qid].answer] for qid, _order in shown}
    token = CSRF_RE.search(page).group(1)
    response = client.post(f"/lectures/{shuffled}/quiz", data=as_a_browser_sends(page, {"csrf_token": token, **answers}))
    assert response.status_code == 302
    attempt = db.session.scalar(sa.select(QuizAttempt))
    assert [answer.question_id for answer in attempt.answers] == [qid for qid, _order in shown]
    assert attempt.score == 100


def test_a_paper_cannot_be_forged_or_carried_to_another_member(client, app, org, shuffled):
    client.login("m0001")
    page = show_quiz(client, shuffled)
    other = member_client(app, "m0002")
    others_page = show_quiz(other, shuffled)
    token = CSRF_RE.search(others_page).group(1)
    stolen = PAPER_RE.search(page).group(1)
    for paper in (stolen, stolen[:-3] + "abc"):
        db.session.execute(sa.delete(QuizSitting))
        db.session.commit()
        assert other.post(f"/lectures/{shuffled}/quiz/draft", data={"csrf_token": token, "paper": paper}
                          ).get_json() == {"saved": True}
        plan = sitting_of(org["member_a2"]).plan
        assert [(item["q"], item["o"]) for item in plan] == shown_paper(others_page)


def test_a_new_attempt_draws_a_new_paper(client, shuffled):
    client.login("m0001")
    page = show_quiz(client, shuffled)
    first = shown_paper(page)
    questions = {q.id: q for q in questions_by_key(shuffled).values()}
    answers = {f"q{qid}": [str(i) for i in questions[qid].answer] for qid, _order in first}
    assert client.submit(f"/lectures/{shuffled}/quiz", as_a_browser_sends(page, answers)).status_code == 302
    second = shown_paper(show_quiz(client, shuffled))
    assert len(second) == 8 and second != first
    assert shown_paper(show_quiz(client, shuffled)) == second  # and it too stays put


def test_grading_is_unchanged_when_the_options_are_shuffled(client, shuffled, admin_client):
    set_quiz(admin_client, shuffled, shuffle_options="y")
    questions = questions_by_key(shuffled)
    client.login("m0001")
    page = show_quiz(client, shuffled)
    assert any(order != sorted(order) for _qid, order in shown_paper(page))
    data = answers_form(questions, wrong={"q01", "q04"}, partial={"q05"})
    location = client.submit(f"/lectures/{shuffled}/quiz", as_a_browser_sends(page, data)).location
    assert "85%" in client.get(location).get_data(as_text=True)  # 17 of 20, as without shuffling


def delete_question(question_id: int) -> None:
    db.session.delete(db.session.get(Question, question_id))
    db.session.commit()


def test_a_deleted_question_leaves_the_unsaved_paper_without_a_write(client, shuffled):
    client.login("m0001")
    shown = shown_paper(show_quiz(client, shuffled))
    gone = shown[2][0]
    delete_question(gone)
    after = shown_paper(show_quiz(client, shuffled))
    assert gone not in [qid for qid, _order in after]
    # The rest of the paper stays as it was; one more question is drawn to keep the count.
    assert [item for item in after if item[0] in {qid for qid, _order in shown}] == \
        [item for item in shown if item[0] != gone]
    assert len(after) == 8


def test_a_deleted_question_leaves_the_saved_paper_without_a_write(client, org, shuffled):
    client.login("m0001")
    page = show_quiz(client, shuffled)
    shown = shown_paper(page)
    assert client.submit(f"/lectures/{shuffled}/quiz", as_a_browser_sends(page, {"action": "save"})).status_code == 302
    gone = shown[2][0]
    delete_question(gone)
    after = shown_paper(show_quiz(client, shuffled))
    assert after == [item for item in shown if item[0] != gone]
    assert len(sitting_of(org["member_a"]).plan) == 8  # not trimmed by the GET
    assert client.submit(f"/lectures/{shuffled}/quiz", {"action": "save"}).status_code == 302
    assert [(item["q"], item["o"]) for item in sitting_of(org["member_a"]).plan] == after  # trimmed by the POST


def test_a_saved_paper_whose_questions_are_all_gone_is_replaced_on_the_next_answer(client, org, admin_client,
                                                                                     seed_lecture):
    lecture_id = seed_lecture["lecture_id"]
    set_quiz(admin_client, lecture_id, draw_count=1)
    client.login("m0001")
    page = show_quiz(client, lecture_id)
    assert client.submit(f"/lectures/{lecture_id}/quiz", as_a_browser_sends(page, {"action": "save"})
                         ).status_code == 302
    [(gone, _order)] = shown_paper(page)
    delete_question(gone)
    page = show_quiz(client, lecture_id)  # shows a new draw, and still writes nothing
    [(drawn, order)] = shown_paper(page)
    assert drawn != gone and sitting_of(org["member_a"]).plan[0]["q"] == gone
    assert client.submit(f"/lectures/{lecture_id}/quiz", as_a_browser_sends(page, {"action": "save"})
                         ).status_code == 302
    assert sitting_of(org["member_a"]).plan == [{"q": drawn, "o": order}]


def test_no_attempts_left_the_autosave_is_refused(client, admin_client, seed_lecture):
    lecture_id = seed_lecture["lecture_id"]
    set_quiz(admin_client, lecture_id, max_attempts=1)
    client.login("m0001")
    client.submit(f"/lectures/{lecture_id}/quiz", answers_form(questions_by_key(lecture_id)))
    show_quiz(client, lecture_id)
    token = client.csrf_token("/home")
    response = client.post(f"/lectures/{lecture_id}/quiz/draft", data={"csrf_token": token})
    assert response.status_code == 409 and response.get_json() == {"saved": False}
    assert sitting_count() == 0


def test_a_lecture_hidden_from_the_member_refuses_the_autosave(client, seed_lecture):
    from lecturehub.courses.models import Lecture

    lecture_id = seed_lecture["lecture_id"]
    db.session.get(Lecture, lecture_id).published = False
    db.session.commit()
    client.login("m0001")
    token = client.csrf_token("/home")
    assert client.post(f"/lectures/{lecture_id}/quiz/draft", data={"csrf_token": token}).status_code == 404
    assert sitting_count() == 0


def test_two_first_answers_at_once_land_in_one_sitting(client, org, shuffled):
    """The member's phone stores the sitting between this request's look and its insert: no error, one sitting."""
    client.login("m0001")
    page = show_quiz(client, shuffled)
    shown = shown_paper(page)
    (first, _o1), (second, _o2) = shown[:2]
    engine = db.engine
    raced = []

    def phone_stores_it_first(conn, cursor, statement, parameters, context, executemany):
        if not raced and re.match(r"\s*INSERT INTO quiz_sitting\b", statement, re.I):
            raced.append(True)
            with engine.begin() as phone:
                phone.execute(sa.insert(QuizSitting).values(
                    user_id=org["member_a"], lecture_id=shuffled, plan=[{"q": q, "o": o} for q, o in shown],
                    draft={str(second): [0]}, locked=[]))

    token = CSRF_RE.search(page).group(1)
    sa.event.listen(engine, "before_cursor_execute", phone_stores_it_first)
    try:
        response = client.post(f"/lectures/{shuffled}/quiz/draft",
                               data=as_a_browser_sends(page, {"csrf_token": token, f"q{first}": "1"}))
    finally:
        sa.event.remove(engine, "before_cursor_execute", phone_stores_it_first)
    assert raced and response.get_json() == {"saved": True}
    assert sitting_count() == 1
    sitting = sitting_of(org["member_a"])
    assert [(item["q"], item["o"]) for item in sitting.plan] == shown
    # The autosave sends the whole form, so its answers (none to the second question) are the latest.
    assert sitting.draft[str(first)] == [1] and sitting.draft[str(second)] == []
