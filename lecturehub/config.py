"""Settings read from LECTUREHUB_* environment variables.

Nothing secret is hard-coded: when LECTUREHUB_SECRET_KEY is unset a random key
is generated once and kept in the instance folder, so sessions survive restarts.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

ENV_PREFIX = "LECTUREHUB_"


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV_PREFIX + name, default)


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


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


def _hours_targets(raw: str | None) -> dict[str, float]:
    """"member=32,coordinator=40" -> {"member": 32.0, ...}; "default" applies to roles not named."""
    targets = {"default": 32.0}
    for part in (raw or "").split(","):
        if "=" in part:
            role, value = part.split("=", 1)
            targets[role.strip()] = float(value)
    return targets


def load_config(instance_path: Path) -> dict:
    """Build the Flask config mapping from the environment."""
    instance_path.mkdir(parents=True, exist_ok=True)
    upload_bytes = int(float(_env("MAX_UPLOAD_MB", "50")) * 1024 * 1024)
    database_url = _env("DATABASE_URL") or f"sqlite:///{instance_path / 'lecturehub.sqlite3'}"
    # Plain postgresql:// URLs would pick psycopg2; this project ships psycopg 3.
    if database_url.startswith("postgresql://") or database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
    config = {
        "SECRET_KEY": _env("SECRET_KEY") or _instance_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "MAX_UPLOAD_BYTES": upload_bytes,
        # Room for the form around the largest allowed file.
        "MAX_CONTENT_LENGTH": int(_env("MAX_CONTENT_LENGTH", str(upload_bytes + 10 * 1024 * 1024))),
        "UPLOAD_FOLDER": _env("UPLOAD_FOLDER"),
        # Proxies in front of the app (nginx: 1) whose X-Forwarded-For/-Proto are trusted; 0 trusts none.
        # Without it, behind a proxy every client has the proxy's address (one shared sign-in limit) and
        # the venue screen's QR code links use http:// even when the site is served over HTTPS.
        "TRUSTED_PROXIES": int(_env("TRUSTED_PROXIES", "0")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _env_bool("SECURE_COOKIES", False),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _env_bool("SECURE_COOKIES", False),
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "LECTUREHUB_TIMEZONE": _env("TIMEZONE", "Asia/Shanghai"),
        "RATELIMIT_ENABLED": _env_bool("RATELIMIT_ENABLED", True),
        # The application's own database (lecturehub/core/ratelimit.py): one set of counters for every worker
        # and node, with no extra server. memory:// would give each worker process its own counters.
        "RATELIMIT_STORAGE_URI": _env("RATELIMIT_STORAGE_URL", "database://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Nodes that share a Redis share their limits only under the same prefix.
        "RATELIMIT_KEY_PREFIX": _env("RATELIMIT_KEY_PREFIX", "lecturehub"),
        "BENCH_ENDPOINTS": _env_bool("BENCH_ENDPOINTS", False),
        # Per account and address: a third party elsewhere cannot use up the owner's attempts.
        "LOGIN_RATE_LIMIT": _env("LOGIN_RATE_LIMIT", "10 per minute"),
        # Failed sign-ins per account from all addresses together: the slower ceiling against guessing
        # spread over many addresses (it can lock the owner out, but only after this many failures).
        "LOGIN_ACCOUNT_RATE_LIMIT": _env("LOGIN_ACCOUNT_RATE_LIMIT", "50 per hour"),
        # Per address the limit is wider: a venue's members may all sign in through one NAT address.
        "LOGIN_IP_RATE_LIMIT": _env("LOGIN_IP_RATE_LIMIT", "200 per minute"),
        # Failed check-in attempts per member: a 6-digit code valid for 60 s cannot be guessed at this rate.
        "CHECKIN_RATE_LIMIT": _env("CHECKIN_RATE_LIMIT", "10 per minute"),
        # Wrong codes per member and lecture, over the whole check-in window: then only the desk can help.
        "CHECKIN_LECTURE_LIMIT": int(_env("CHECKIN_LECTURE_LIMIT", "15")),
        # Calls per device token (or signed-in desk) to /api; a batch of queued scans is one call.
        "API_RATE_LIMIT": _env("API_RATE_LIMIT", "120 per minute"),
        # A sign-in ends on the server after this many days, whatever the browser keeps.
        "SESSION_DAYS": float(_env("SESSION_DAYS", "14")),
        # A sign-in with 记住这台手机 ticked: long enough that a monthly lecture needs no password.
        "REMEMBER_DAYS": float(_env("REMEMBER_DAYS", "180")),
        # The address phones reach the site at (https://lecture.example.org), for QR codes and links sent out.
        # Unset, links use the address the page was opened at, which is wrong for a screen opened at localhost.
        "PUBLIC_URL": (_env("PUBLIC_URL") or "").strip().rstrip("/"),
        # argon2id; the defaults are OWASP's recommendation (19 MiB, 2 passes, 1 lane).
        "ARGON2_MEMORY_KIB": int(_env("ARGON2_MEMORY_KIB", "19456")),
        "ARGON2_TIME_COST": int(_env("ARGON2_TIME_COST", "2")),
        "ARGON2_PARALLELISM": int(_env("ARGON2_PARALLELISM", "1")),
        "STUDY_HOURS_TARGETS": _hours_targets(_env("STUDY_HOURS_TARGETS")),
        "LATE_EARNS_STUDY_HOURS": _env_bool("LATE_EARNS_STUDY_HOURS", True),
    }
    return config
