"""Every page a member, a coordinator and an admin reach: axe-core finds no violation, nothing scrolls
sideways at 375 px, touch targets are at least 44 px, each page weighs under 100 KB and loads nothing
from another host.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa

from lecturehub.accounts.models import User
from lecturehub.attendance import filing
from lecturehub.attendance import services as attendance
from lecturehub.attendance.models import LeaveRequest, Method
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.models import LectureVenue, Material, MaterialKind
from lecturehub.courses.services import add_material
from lecturehub.courses.uploads import store_upload
from lecturehub.extensions import db
from lecturehub.quizzes.models import Question
from lecturehub.quizzes.services import submit_attempt
from lecturehub.venues.models import Venue

from ..conftest import PASSWORD
from .conftest import login

pytestmark = pytest.mark.e2e

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
MAX_PAGE_BYTES = 100 * 1024
TARGETS = ("button, select, .button, .main-nav a, .lang a, .option, "
           "input:not([type=hidden]):not([type=radio]):not([type=checkbox])")


def import_second_course(tmp_path, starts_at) -> int:
    """The seed course copied under another name and date and imported as an admin would: a second course."""
    import shutil

    from lecturehub.courses.content import import_content
    from lecturehub.courses.models import Lecture

    from ..conftest import SEED_CONTENT

    root = tmp_path / "content"
    course = root / "second-2026"
    shutil.copytree(SEED_CONTENT / "sishi-2020", course)
    (course / "course.yaml").write_text("title: 第二个专题：党史学习教育\nposition: 2\npublished: true\n",
                                        encoding="utf-8")
    lecture_dir = next(p for p in course.iterdir() if p.is_dir())
    local = starts_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    text = (lecture_dir / "lecture.yaml").read_text(encoding="utf-8")
    text = text.replace('"2020-12-29 14:00"', f'"{local:%Y-%m-%d %H:%M}"')
    text = text.replace('"2020-12-29 16:00"', f'"{(local + timedelta(hours=2)):%Y-%m-%d %H:%M}"')
    (lecture_dir / "lecture.yaml").write_text(text, encoding="utf-8")
    import_content(root)
    return db.session.scalar(sa.select(Lecture.id).join(Lecture.course).where(Lecture.slug == lecture_dir.name,
                                                                              Lecture.course.has(slug="second-2026")))


@pytest.fixture
def site(org, seed_lecture, make_lecture, tmp_path):
    """A lived-in organisation: a closed seed lecture with history, an open one, a future one, and a second course
    imported whose lecture (last week) has check-ins, leave and quiz attempts at the coordinator's venue."""
    from lecturehub.courses.models import Lecture

    seed = db.session.get(Lecture, seed_lecture["lecture_id"])
    open_lecture = make_lecture(utcnow() + timedelta(minutes=5))
    future = make_lecture(utcnow() + timedelta(days=5))
    member = db.session.get(User, org["member_a"])
    attendance.check_in(db.session.get(User, org["member_a2"]), open_lecture, org["branch_a"], Method.QR)
    attendance.set_status(seed, db.session.get(User, org["member_a2"]), org["branch_a"], attendance.Status.EXCUSED,
                          "病假", by=db.session.get(User, org["coord_a"]))
    db.session.add(LeaveRequest(lecture_id=future.id, user_id=org["member_a2"], reason="出差"))
    questions = list(db.session.scalars(sa.select(Question).where(Question.lecture_id == seed.id)))
    attempt = submit_attempt(member.id, seed, questions, {q.id: q.answer for q in questions[:12]})
    add_material(seed, title="讲稿", kind=MaterialKind.FILE, stored=store_upload("讲稿.pdf", b"%PDF-1.4\n"))
    # 第1分会场 has filed the seed lecture's record (the admin's filing page then shows its review form).
    filing.file_record(seed, db.session.get(Venue, org["branch_a"]), db.session.get(User, org["coord_a"]))
    db.session.commit()
    article = db.session.scalar(sa.select(Material.id).where(Material.lecture_id == seed.id,
                                                             Material.kind == MaterialKind.ARTICLE))

    def lv(lecture_id, venue_key):
        return db.session.scalar(sa.select(LectureVenue.id).where(LectureVenue.lecture_id == lecture_id,
                                                                  LectureVenue.venue_id == org[venue_key]))

    second = db.session.get(Lecture, import_second_course(tmp_path, utcnow() - timedelta(days=7)))
    for key in ("member_a", "coord_a"):
        attendance.check_in(db.session.get(User, org[key]), second, org["branch_a"], Method.QR,
                            now=second.starts_at)
    attendance.set_status(second, db.session.get(User, org["member_a2"]), org["branch_a"], attendance.Status.EXCUSED,
                          "出差", by=db.session.get(User, org["coord_a"]))
    second_questions = list(db.session.scalars(sa.select(Question).where(Question.lecture_id == second.id)))
    for key, right in (("member_a", 15), ("member_a2", 9)):
        submit_attempt(org[key], second, second_questions, {q.id: q.answer for q in second_questions[:right]})
    db.session.commit()
    branch_a_second = f"/reports/lectures/{second.id}/venues/{org['branch_a']}"

    first_question = questions[0].id
    return {
        "m0001": ["/home", "/courses", f"/courses/{seed.course_id}", f"/lectures/{seed.id}",
                  f"/lectures/{open_lecture.id}", f"/lectures/{seed.id}/materials/{article}",
                  f"/lectures/{seed.id}/quiz", f"/quiz/attempts/{attempt.id}", "/reports/me", "/me/card",
                  f"/makeup/{seed.id}", "/account/password", f"/lectures/{future.id}/leave",
                  f"/checkin/{lv(open_lecture.id, 'branch_a')}?code=123456", "/account"],
        "coord01": ["/home", "/venues", f"/venues/{org['branch_a']}", f"/venues/{org['branch_a']}/members", f"/screen/{lv(open_lecture.id, 'branch_a')}",
                    f"/desk/{lv(open_lecture.id, 'branch_a')}", f"/roster/{lv(open_lecture.id, 'branch_a')}",
                    f"/roster/{lv(future.id, 'branch_a')}", "/reports/", f"/reports/lectures/{seed.id}",
                    f"/reports/lectures/{seed.id}/venues/{org['branch_a']}",
                    f"/reports/lectures/{seed.id}/venues/{org['branch_a']}/record",
                    f"/reports/lectures/{seed.id}/venues/{org['branch_a']}/sheet",
                    f"/reports/courses/{seed.course_id}/venues/{org['branch_a']}", "/reports/hours",
                    f"/reports/hours/venues/{org['branch_a']}", f"/lectures/{seed.id}/quiz/analysis",
                    f"/live/{open_lecture.id}", f"/courses/{second.course_id}", f"/lectures/{second.id}",
                    f"/reports/lectures/{second.id}", branch_a_second, f"{branch_a_second}/record",
                    f"{branch_a_second}/sheet", f"/reports/courses/{second.course_id}/venues/{org['branch_a']}",
                    f"/reports/courses/{open_lecture.course_id}/venues/{org['branch_a']}",
                    f"/roster/{lv(second.id, 'branch_a')}", f"/lectures/{second.id}/quiz/analysis",
                    f"/lectures/{second.id}/leave", "/reports/me", f"/lectures/{seed.id}/filings",
                    f"/venues/{org['branch_a']}/devices", "/desk-app/", f"/desk-app/{lv(open_lecture.id, 'branch_a')}"],

        "admin": ["/home", "/admin/users", f"/admin/users/{org['coord_a']}", "/admin/audit", "/admin/content", "/admin/courses/new",
                  f"/admin/courses/{seed.course_id}/edit", "/admin/lectures/new", f"/admin/lectures/{seed.id}/edit",
                  f"/admin/lectures/{seed.id}/materials", f"/admin/lectures/{seed.id}/quiz",
                  f"/admin/questions/{first_question}/edit", f"/admin/lectures/{seed.id}/quiz/new", "/admin/bundle",
                  f"/live/{open_lecture.id}", f"/lectures/{seed.id}/checkin-settings", "/reports/overview",
                  f"/reports/overview?course={second.course_id}&lecture={second.id}&rank_by=absent",
                  f"/reports/lectures/{second.id}", f"/lectures/{second.id}/quiz/analysis", "/reports/hours",
                  "/admin/roster", "/admin/venues", "/admin/venues/new",
                  f"/admin/venues/{org['branch_a']}/edit", f"/admin/venues/{org['branch_a']}/coordinators",
                  f"/lectures/{seed.id}/filings", f"/reports/lectures/{seed.id}", "/no-such-page"],
        None: ["/login"],
    }


def check_page(page, path: str, problems: list[str]) -> None:
    sizes: dict[str, int] = {}
    hosts: set[str] = set()

    def on_response(response):
        hosts.add(urlparse(response.url).netloc)
        try:
            sizes[response.url] = len(response.body())
        except Exception:  # redirects have no body
            sizes[response.url] = 0

    page.on("response", on_response)
    page.goto(path)
    page.wait_for_load_state("networkidle")
    page.remove_listener("response", on_response)
    own_host = urlparse(page.url).netloc
    if hosts - {own_host}:
        problems.append(f"{path}: requests to other hosts {hosts - {own_host}}")
    total = sum(sizes.values())
    if total > MAX_PAGE_BYTES:
        problems.append(f"{path}: {total} bytes transferred")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    if overflow > 0:
        problems.append(f"{path}: scrolls sideways by {overflow}px at {page.viewport_size['width']}px")
    small = page.evaluate(
        """(selector) => Array.from(document.querySelectorAll(selector))
            .filter(el => el.offsetParent !== null && !el.closest('.screen, .print-page .sign'))
            .map(el => [el.outerHTML.slice(0, 80), el.getBoundingClientRect().height])
            .filter(([html, h]) => h < 44)""", TARGETS)
    if small:
        problems.append(f"{path}: touch targets under 44px: {small[:3]}")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document)).violations.map("
                           "v => `${v.id}: ${v.nodes.length}× ${v.nodes[0].target} — ${v.help}`)")
    if result:
        problems.append(f"{path}: axe: {result}")


@pytest.mark.parametrize("login_name", ["m0001", "coord01", "admin", None])
def test_every_page_is_accessible_light_and_fits_a_phone(browser, live_server, site, login_name):
    assert AXE.exists(), "run `npm ci --prefix tests/e2e` (make test does) to get axe-core"
    # CSP forbids inline scripts; axe is injected by the test only, so the test context bypasses it.
    context = browser.new_context(base_url=live_server, locale="zh-CN", viewport={"width": 375, "height": 812},
                                  device_scale_factor=2, is_mobile=True, has_touch=True, bypass_csp=True)
    page = context.new_page()
    if login_name:
        login(page, login_name, PASSWORD)
    problems: list[str] = []
    for path in site[login_name]:
        check_page(page, path, problems)
    context.close()
    assert not problems, "\n".join(problems)
