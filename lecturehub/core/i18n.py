"""Languages: Chinese first, English second; the choice is kept in a cookie.

Babel resolves zh_CN to zh_Hans_CN, so the Chinese catalogue lives in translations/zh_Hans_CN.
"""
from __future__ import annotations

from functools import cache

from babel import Locale
from flask import has_request_context, request

LANGUAGES = {"zh_CN": "中文", "en": "English"}
DEFAULT_LOCALE = "zh_CN"
LANGUAGE_COOKIE = "lang"


def select_locale() -> str:
    """The language the visitor chose with the switch, else the browser's best match, else Chinese."""
    if not has_request_context():  # CLI commands speak the default language
        return DEFAULT_LOCALE
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT_LOCALE)


@cache
def _parsed(identifier: str) -> Locale:
    return Locale.parse(identifier)


def babel_locale() -> Locale:
    """`select_locale` as a parsed Locale, for Flask-Babel. Parsing "zh_CN" scans Babel's whole locale list
    (about 0.1 ms), and Flask-Babel would do it on every request; there are only two answers, so keep them."""
    return _parsed(select_locale())
