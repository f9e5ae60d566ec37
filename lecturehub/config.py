"""Settings read from LECTUREHUB_* environment variables, typed and checked once at start-up.

Nothing secret is hard-coded: when LECTUREHUB_SECRET_KEY is unset a random key
is generated once and kept in the instance folder, so sessions survive restarts.
A value that cannot be used stops the start with the variable's name and the form it expects.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from limits import parse_many
from pydantic import AfterValidator, BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "LECTUREHUB_"


class SettingsError(ValueError):
    """A LECTUREHUB_* variable has a value that cannot be used; the message names it and the form expected."""


def _rate_limit(value: str) -> str:
    parse_many(value)  # ValueError on anything Flask-Limiter could not read
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


def _hours_targets(raw: str | dict | None) -> dict[str, float]:
    """"member=32,coordinator=40" -> {"member": 32.0, ...}; "default" applies to roles not named."""
    if isinstance(raw, dict):
        return raw
    targets = {"default": 32.0}
    for part in (raw or "").split(","):
        if part.strip():
            role, separator, value = part.partition("=")
            if not separator or not role.strip():
                raise ValueError(f"{part.strip()!r} is not role=hours")
            targets[role.strip()] = float(value)
    return targets


RateLimit = Annotated[str, AfterValidator(_rate_limit)]
Flag = Annotated[bool, Field(description="on or off (1/0, true/false, yes/no)")]


class Settings(BaseSettings):
    """Each field is LECTUREHUB_<NAME>; its description is the form shown when a value is wrong."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", env_ignore_empty=True)

    secret_key: str | None = None
    database_url: str | None = Field(None, description="a database URL such as postgresql://user@host/db")
    max_upload_mb: float = Field(50, gt=0, description="a number of megabytes greater than 0, such as 50")
    max_content_length: int | None = Field(None, gt=0, description="a whole number of bytes")
    upload_folder: str | None = None
    trusted_proxies: int = Field(0, ge=0, description="a whole number of proxies, 0 or more")
    secure_cookies: Flag = False
    timezone: Annotated[str, AfterValidator(_time_zone)] = Field(
        "Asia/Shanghai", description="a time zone name such as Asia/Shanghai")
    ratelimit_enabled: Flag = True
    ratelimit_storage_url: str = Field(
        "database://", description="database:// or a limits storage URL such as redis://host:6379/0")
    ratelimit_key_prefix: str = "lecturehub"
    bench_endpoints: Flag = False
    login_rate_limit: RateLimit = Field("10 per minute", description="a rate limit such as 10 per minute")
    login_ip_rate_limit: RateLimit = Field("200 per minute", description="a rate limit such as 200 per minute")
    login_account_rate_limit: RateLimit = Field("50 per hour", description="a rate limit such as 50 per hour")
    checkin_rate_limit: RateLimit = Field("10 per minute", description="a rate limit such as 10 per minute")
    checkin_lecture_limit: int = Field(15, gt=0, description="a whole number of wrong codes greater than 0")
    api_rate_limit: RateLimit = Field("120 per minute", description="a rate limit such as 120 per minute")
    remember_days: float = Field(180, gt=0, description="a number of days greater than 0, such as 180")
    public_url: str = Field("", description="the site's address as phones reach it, such as https://lecture.example.org")
    argon2_memory_kib: int = Field(19456, ge=8, description="a whole number of KiB, such as 19456")
    argon2_time_cost: int = Field(2, ge=1, description="a whole number of passes, 1 or more")
    argon2_parallelism: int = Field(1, ge=1, description="a whole number of lanes, 1 or more")
    session_days: float = Field(14, gt=0, description="a number of days greater than 0, such as 14")
    study_hours_targets: Annotated[dict[str, float], NoDecode, BeforeValidator(_hours_targets)] = Field(
        default_factory=lambda: {"default": 32.0}, description="role=hours pairs such as member=32,coordinator=40")
    late_earns_study_hours: Flag = True


def read_settings() -> Settings:
    """The settings from the environment; raises SettingsError naming every variable that is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False):
            name = str(error["loc"][0]) if error["loc"] else ""
            field = Settings.model_fields.get(name)
            expected = field.description if field and field.description else ""
            variable = ENV_PREFIX + name.upper()
            lines.append(f"{variable}={os.environ.get(variable, '')!r} cannot be used: expected {expected}"
                         f" ({error['msg']})" if expected else f"{variable}: {error['msg']}")
        raise SettingsError("\n".join(lines)) from None


def _instance_secret_key(instance_path: Path) -> str:
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_hex(32)
    # O_EXCL so two workers starting together cannot write different keys.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load_config(instance_path: Path) -> dict:
    """Build the Flask config mapping from the environment."""
    settings = read_settings()
    instance_path.mkdir(parents=True, exist_ok=True)
    upload_bytes = int(settings.max_upload_mb * 1024 * 1024)
    database_url = settings.database_url or f"sqlite:///{instance_path / 'lecturehub.sqlite3'}"
    # Plain postgresql:// URLs would pick psycopg2; this project ships psycopg 3.
    if database_url.startswith("postgresql://") or database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
    config = {
        "SECRET_KEY": settings.secret_key or _instance_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "MAX_UPLOAD_BYTES": upload_bytes,
        # Room for the form around the largest allowed file.
        "MAX_CONTENT_LENGTH": settings.max_content_length or upload_bytes + 10 * 1024 * 1024,
        "UPLOAD_FOLDER": settings.upload_folder,
        # Proxies in front of the app (nginx: 1) whose X-Forwarded-For/-Proto are trusted; 0 trusts none.
        # Without it, behind a proxy every client has the proxy's address (one shared sign-in limit) and
        # the venue screen's QR code links use http:// even when the site is served over HTTPS.
        "TRUSTED_PROXIES": settings.trusted_proxies,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": settings.secure_cookies,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": settings.secure_cookies,
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "LECTUREHUB_TIMEZONE": settings.timezone,
        "RATELIMIT_ENABLED": settings.ratelimit_enabled,
        # database:// is the application's own database (lecturehub/core/ratelimit.py): one set of counters for
        # every worker and node, with no extra server. memory:// would give each worker process its own counters.
        "RATELIMIT_STORAGE_URI": settings.ratelimit_storage_url,
        "RATELIMIT_HEADERS_ENABLED": True,
        # Nodes that share a Redis share their limits only under the same prefix.
        "RATELIMIT_KEY_PREFIX": settings.ratelimit_key_prefix,
        "BENCH_ENDPOINTS": settings.bench_endpoints,
        # Per account and address: a third party elsewhere cannot use up the owner's attempts.
        "LOGIN_RATE_LIMIT": settings.login_rate_limit,
        # Failed sign-ins per account from all addresses together: the slower ceiling against guessing
        # spread over many addresses (it can lock the owner out, but only after this many failures).
        "LOGIN_ACCOUNT_RATE_LIMIT": settings.login_account_rate_limit,
        # Per address the limit is wider: a venue's members may all sign in through one NAT address.
        "LOGIN_IP_RATE_LIMIT": settings.login_ip_rate_limit,
        # Failed check-in attempts per member: a 6-digit code valid for 60 s cannot be guessed at this rate.
        "CHECKIN_RATE_LIMIT": settings.checkin_rate_limit,
        # Wrong codes per member and lecture, over the whole check-in window: then only the desk can help.
        "CHECKIN_LECTURE_LIMIT": settings.checkin_lecture_limit,
        # Calls per device token (or signed-in desk) to /api; a batch of queued scans is one call.
        "API_RATE_LIMIT": settings.api_rate_limit,
        # A sign-in ends on the server after this many days, whatever the browser keeps.
        "SESSION_DAYS": settings.session_days,
        # A sign-in with 记住这台手机 ticked: long enough that a monthly lecture needs no password.
        "REMEMBER_DAYS": settings.remember_days,
        # The address phones reach the site at (https://lecture.example.org), for QR codes and links sent out.
        # Unset, links use the address the page was opened at, which is wrong for a screen opened at localhost.
        "PUBLIC_URL": settings.public_url.strip().rstrip("/"),
        # argon2id; the defaults are OWASP's recommendation (19 MiB, 2 passes, 1 lane).
        "ARGON2_MEMORY_KIB": settings.argon2_memory_kib,
        "ARGON2_TIME_COST": settings.argon2_time_cost,
        "ARGON2_PARALLELISM": settings.argon2_parallelism,
        "STUDY_HOURS_TARGETS": settings.study_hours_targets,
        "LATE_EARNS_STUDY_HOURS": settings.late_earns_study_hours,
    }
    return config
