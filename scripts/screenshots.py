"""Take the README's screenshots from a running demo site (`make run` in another shell).

    .venv/bin/python scripts/screenshots.py [http://127.0.0.1:5000] [password]

Uses Debian's chromium, like the browser tests.
"""
from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]


def main() -> None:
    base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5000"
    password = sys.argv[2] if len(sys.argv) > 2 else (ROOT / "instance" / "demo_password").read_text().strip()
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        shots = [
            # Ids as a fresh `flask demo` makes them: lecture 1 is the seed lecture, lecture 2 the one open now,
            # whose venue links are 26 (主会场) to 50.
            ("member-phone", "m0021", {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2,
                                       "is_mobile": True, "has_touch": True}, ["/courses/1", "/lectures/1", "/lectures/2"]),
            ("quiz-phone", "m0002", {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2,
                                     "is_mobile": True, "has_touch": True}, ["/lectures/1/quiz"]),
            ("coordinator-desktop", "coord01", {"viewport": {"width": 1280, "height": 800}},
             ["/venues/2", "/roster/2", "/reports/lectures/1/venues/2"]),
            ("venue-screen", "coord01", {"viewport": {"width": 1600, "height": 900}}, ["/screen/27"]),
            ("admin-desktop", "admin", {"viewport": {"width": 1280, "height": 800}}, ["/home", "/venues", "/live/2", "/reports/overview?lecture=1", "/admin/audit"]),
        ]
        for name, username, options, paths in shots:
            context = browser.new_context(base_url=base, locale="zh-CN", **options)
            page = context.new_page()
            page.goto("/login")
            page.get_by_label("用户名").fill(username)
            page.get_by_label("密码").fill(password)
            page.get_by_role("button", name="登录").click()
            page.wait_for_url("**/home")
            for index, path in enumerate(paths):
                page.goto(path)
                page.screenshot(path=str(OUT / f"{name}-{index + 1}.png"))
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
