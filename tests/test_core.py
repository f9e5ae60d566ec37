"""Health check, security headers, error pages, Markdown sanitising, time zones."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from lecturehub.core.markdown import render_markdown
from lecturehub.courses.models import Course, Lecture
from lecturehub.extensions import db


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": True}


def test_behind_a_trusted_proxy_the_client_address_and_scheme_come_from_it(database_url, tmp_path):
    from flask import request

    from tests.conftest import make_test_app

    app = make_test_app(database_url, tmp_path, TRUSTED_PROXIES=1)

    @app.get("/_seen")
    def seen():
        return f"{request.remote_addr} {request.scheme}"

    headers = {"X-Forwarded-For": "10.1.2.3", "X-Forwarded-Proto": "https"}
    assert app.test_client().get("/_seen", headers=headers).text == "10.1.2.3 https"
    direct = make_test_app(database_url, tmp_path)
    direct.add_url_rule("/_seen", view_func=seen)
    assert direct.test_client().get("/_seen", headers=headers).text == "127.0.0.1 http"


def test_security_headers(client):
    headers = client.get("/login").headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_error_pages_speak_the_ui_language(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and "页面不存在" in response.get_data(as_text=True)
    response = client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert "This page does not exist." in response.get_data(as_text=True)


def test_wrong_method_is_405_not_500(client):
    assert client.post("/healthz").status_code in (400, 405)  # CSRF may answer first
    assert client.delete("/login").status_code == 405


def test_pages_reference_no_other_host(client, seed_lecture):
    client.login("m0001")
    for url in ("/login", "/home", f"/lectures/{seed_lecture['lecture_id']}",
                f"/lectures/{seed_lecture['lecture_id']}/quiz"):
        page = client.get(url).get_data(as_text=True)
        assert "http://" not in page and "https://" not in page and "//cdn" not in page, url


class _Elements(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def dangerous_parts(html: str) -> list[str]:
    """Live script in rendered HTML: script-capable tags, event handlers, javascript:/data: URLs."""
    found = []
    for tag, attrs in _Elements(html).elements:
        if tag in {"script", "iframe", "object", "embed", "style", "form"}:
            found.append(tag)
        for name, value in attrs.items():
            if name.startswith("on"):
                found.append(name)
            if name in {"href", "src"} and (value or "").strip().lower().startswith(("javascript:", "data:", "vbscript:")):
                found.append(value)
    return found


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[data](data:text/html;base64,PHNjcmlwdD4=)",
        '<a href="#" onclick="steal()">x</a>',
        "![x](javascript:alert(1))",
        '<iframe src="https://evil.example"></iframe>',
        "<http://x.example/\" onmouseover=\"alert(1)>",
    ],
)
def test_markdown_is_sanitised(source):
    html = str(render_markdown(source))
    assert dangerous_parts(html) == [], html


def test_the_sanitiser_check_itself_sees_danger():
    assert dangerous_parts('<a href="javascript:x" onclick="y">z</a><script></script>') == [
        "javascript:x", "onclick", "script"]


def test_markdown_keeps_ordinary_formatting():
    html = str(render_markdown("## 要点\n\n**加粗** 与 [链接](https://example.org)\n\n- 一\n- 二"))
    assert "<h2>要点</h2>" in html and "<strong>加粗</strong>" in html and "<li>一</li>" in html
    assert 'href="https://example.org"' in html and 'rel="noopener noreferrer"' in html


def test_times_are_stored_in_utc_and_read_back_aware(ctx):
    shanghai = timezone(timedelta(hours=8))
    course = Course(slug="c", title="课程")
    lecture = Lecture(course=course, slug="l", title="党课", speaker="主讲",
                      starts_at=datetime(2020, 12, 29, 14, 0, tzinfo=shanghai),
                      ends_at=datetime(2020, 12, 29, 16, 0, tzinfo=shanghai))
    db.session.add(lecture)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.scalar(sa.select(Lecture))
    assert stored.starts_at == datetime(2020, 12, 29, 6, 0, tzinfo=timezone.utc)
    assert stored.starts_at.tzinfo is not None


def test_naive_datetimes_are_refused(ctx):
    course = Course(slug="c2", title="课程")
    db.session.add(Lecture(course=course, slug="l", title="党课", speaker="主讲",
                           starts_at=datetime(2020, 12, 29, 14), ends_at=datetime(2020, 12, 29, 16)))
    with pytest.raises(sa.exc.StatementError):
        db.session.commit()
    db.session.rollback()


def test_sqlite_runs_in_wal_mode(app, ctx):
    if db.engine.dialect.name != "sqlite":
        assert db.engine.dialect.name == "postgresql"
        return
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000


def test_an_xlsx_written_a_second_later_is_byte_for_byte_the_same():
    # openpyxl stamps "modified" with the clock as it saves; a record filed upward must not change by that.
    import time

    from lecturehub.core.exports import Column, Table, to_xlsx

    table = Table("报表", [Column("会场"), Column("应到", "int")], [["第1分会场", 3]])
    first = to_xlsx(table)
    time.sleep(1.1)
    assert to_xlsx(table) == first
