"""The check-in answer, a page of its own (not base.html): on a phone it is accessible, has no target under 44 px
and does not scroll sideways, for a wrong code (with the retry form) and for the check-in itself."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from lecturehub.attendance import codes
from lecturehub.core.timeutil import utcnow

from ..conftest import PASSWORD
from .conftest import PHONE, assert_no_sideways_scroll, login
from .test_pages import AXE, TARGETS

pytestmark = pytest.mark.e2e


def problems_on(page) -> list[str]:
    small = page.evaluate(
        """(selector) => Array.from(document.querySelectorAll(selector))
            .filter(el => el.offsetParent !== null)
            .map(el => [el.outerHTML.slice(0, 80), el.getBoundingClientRect().height])
            .filter(([html, h]) => h < 44)""", TARGETS + ", a")
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate("async () => (await axe.run(document)).violations.map("
                               "v => `${v.id}: ${v.nodes.length}× ${v.nodes[0].target} — ${v.help}`)")
    return [f"touch targets under 44px: {small}"] * bool(small) + violations


def test_the_check_in_answer_is_accessible_on_a_phone(browser, live_server, org, make_lecture):
    assert AXE.exists(), "run `npm ci --prefix tests/e2e` (make test does) to get axe-core"
    lecture = make_lecture(utcnow() + timedelta(minutes=5))
    # CSP forbids inline scripts; axe is injected by the test only, so the test context bypasses it.
    context = browser.new_context(base_url=live_server, locale="zh-CN", bypass_csp=True, **PHONE)
    page = context.new_page()
    login(page, "m0001", PASSWORD)
    page.goto(f"/lectures/{lecture.id}")
    code, _ = codes.current_code(lecture.id, org["branch_a"], utcnow())
    page.get_by_label("签到码").fill(str((int(code) + 1) % 1000000).zfill(6))
    page.get_by_role("button", name="签到", exact=True).click()
    expect(page.get_by_role("heading", name="未签到")).to_be_visible()
    assert_no_sideways_scroll(page)
    assert problems_on(page) == []

    page.get_by_label("签到码").fill(code)
    page.get_by_role("button", name="重试").click()
    expect(page.get_by_role("heading", name=re.compile("已签到"))).to_be_visible()
    expect(page.get_by_text("第1分会场")).to_be_visible()
    assert_no_sideways_scroll(page)
    assert problems_on(page) == []
    page.get_by_role("link", name="查看党课").click()
    page.wait_for_url(f"**/lectures/{lecture.id}")
    context.close()
