"""Chinese by default, English by browser preference or by the switch; catalogues complete."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from .conftest import PROJECT_ROOT

TRANSLATIONS = PROJECT_ROOT / "lecturehub" / "translations"
CATALOGUES = {"zh_Hans_CN": TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES",
              "en": TRANSLATIONS / "en" / "LC_MESSAGES"}


def test_chinese_is_the_default(client, org):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "登录" in page


def test_browser_language_english(client, org):
    page = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in page and "Sign in" in page


def test_browser_language_chinese_variants(client, org):
    page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert "登录" in page


def test_switch_remembers_the_choice(client, org):
    response = client.get("/lang/en?next=/login")
    assert response.status_code == 302 and response.location.endswith("/login")
    assert "Sign in" in client.get("/login").get_data(as_text=True)
    client.get("/lang/zh_CN?next=/login")
    assert "登录" in client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_switch_refuses_foreign_redirects(client, org):
    response = client.get("/lang/en?next=https://evil.example/")
    assert response.location.endswith("/")
    assert "evil" not in response.location


def extracted_messages(tmp_path: Path) -> set[str]:
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(PROJECT_ROOT / "babel.cfg"),
                    "-k", "_l", "-o", str(pot), str(PROJECT_ROOT)], check=True, capture_output=True, cwd=PROJECT_ROOT)
    with pot.open("rb") as handle:
        return {m.id for m in read_po(handle) if m.id}


def _key(value):
    """A message id or string as a dict key: plural forms (ngettext) come as lists or tuples."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _filled(string) -> bool:
    """Translated: every plural form too (an untranslated plural is a tuple of empty strings)."""
    return all(string) if isinstance(string, (list, tuple)) else bool(string)


def test_every_message_is_translated_in_both_catalogues(tmp_path):
    wanted = extracted_messages(tmp_path)
    assert len(wanted) > 100
    for name, folder in CATALOGUES.items():
        with (folder / "messages.po").open("rb") as handle:
            catalogue = read_po(handle)
        translated = {m.id for m in catalogue if m.id and _filled(m.string) and not m.fuzzy}
        missing = sorted(wanted - translated)
        assert not missing, f"{name}: untranslated {missing[:10]} (run `make translations` and fill them in)"
        problems = [(m.id, errors) for m in catalogue for errors in [list(m.check(catalogue))] if errors and m.id]
        assert not problems, problems[:5]


def test_compiled_catalogues_are_current():
    for name, folder in CATALOGUES.items():
        with (folder / "messages.po").open("rb") as handle:
            source = {_key(m.id): _key(m.string) for m in read_po(handle) if m.id and _filled(m.string)}
        with (folder / "messages.mo").open("rb") as handle:
            compiled = {_key(m.id): _key(m.string) for m in read_mo(handle) if m.id}
        assert compiled == source, f"{name}: messages.mo is stale; run `make translations`"


def _key(value):
    """Plural messages (ngettext) come back as lists from a compiled catalogue and as tuples from the source."""
    return tuple(value) if isinstance(value, (list, tuple)) else value
