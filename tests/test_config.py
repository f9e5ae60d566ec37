"""Settings from LECTUREHUB_* variables: a wrong value names the variable and the form it expects."""
from __future__ import annotations

import pytest

from lecturehub.config import SettingsError, load_config


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("SESSION_DAYS", "two weeks", "a number of days greater than 0"),
    ("SESSION_DAYS", "0", "a number of days greater than 0"),
    ("TRUSTED_PROXIES", "one", "a whole number of proxies"),
    ("MAX_UPLOAD_MB", "-5", "a number of megabytes"),
    ("SECURE_COOKIES", "maybe", "on or off"),
    ("LOGIN_RATE_LIMIT", "ten a minute", "a rate limit such as"),
    ("TIMEZONE", "Asia/Beijing", "a time zone name"),
    ("STUDY_HOURS_TARGETS", "member:32", "role=hours pairs"),
    ("STUDY_HOURS_TARGETS", "member=lots", "role=hours pairs"),
])
def test_a_wrong_value_names_the_variable_and_the_expected_form(monkeypatch, tmp_path, name, value, expected):
    monkeypatch.setenv(f"LECTUREHUB_{name}", value)
    with pytest.raises(SettingsError) as excinfo:
        load_config(tmp_path)
    message = str(excinfo.value)
    assert message.startswith(f"LECTUREHUB_{name}={value!r} cannot be used: expected {expected}"), message


def test_every_wrong_variable_is_named_at_once(monkeypatch, tmp_path):
    monkeypatch.setenv("LECTUREHUB_SESSION_DAYS", "x")
    monkeypatch.setenv("LECTUREHUB_TRUSTED_PROXIES", "y")
    with pytest.raises(SettingsError) as excinfo:
        load_config(tmp_path)
    assert "LECTUREHUB_SESSION_DAYS" in str(excinfo.value) and "LECTUREHUB_TRUSTED_PROXIES" in str(excinfo.value)


def test_good_values_are_read_typed(monkeypatch, tmp_path):
    for name, value in {"SESSION_DAYS": "7.5", "TRUSTED_PROXIES": "1", "SECURE_COOKIES": "yes",
                        "LATE_EARNS_STUDY_HOURS": "off", "STUDY_HOURS_TARGETS": "member=30, coordinator=40",
                        "CHECKIN_RATE_LIMIT": "5 per minute", "MAX_UPLOAD_MB": "2", "MAX_CONTENT_LENGTH": "",
                        "DATABASE_URL": "postgresql://u@h/db"}.items():
        monkeypatch.setenv(f"LECTUREHUB_{name}", value)
    config = load_config(tmp_path)
    assert config["SESSION_DAYS"] == 7.5 and config["TRUSTED_PROXIES"] == 1
    assert config["SESSION_COOKIE_SECURE"] is True and config["LATE_EARNS_STUDY_HOURS"] is False
    assert config["STUDY_HOURS_TARGETS"] == {"default": 32.0, "member": 30.0, "coordinator": 40.0}
    assert config["CHECKIN_RATE_LIMIT"] == "5 per minute"
    assert config["MAX_UPLOAD_BYTES"] == 2 * 1024 * 1024
    assert config["MAX_CONTENT_LENGTH"] == 12 * 1024 * 1024  # empty means unset: room for the form around a file
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def test_unset_variables_give_the_documented_defaults(monkeypatch, tmp_path):
    import os

    for variable in [v for v in os.environ if v.startswith("LECTUREHUB_") and not v.startswith("LECTUREHUB_TEST")]:
        monkeypatch.delenv(variable)
    config = load_config(tmp_path)
    assert (config["SESSION_DAYS"], config["TRUSTED_PROXIES"], config["LOGIN_RATE_LIMIT"]) == (14, 0, "10 per minute")
    assert config["SESSION_COOKIE_SECURE"] is False and config["RATELIMIT_ENABLED"] is True
    assert config["STUDY_HOURS_TARGETS"] == {"default": 32.0}
    assert config["SECRET_KEY"] == (tmp_path / "secret_key").read_text()
