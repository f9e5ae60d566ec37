"""Uploads kept between a preview and its confirmation (roster files), in the folder every node shares.

The confirmation names the upload by a random token, so "apply" may reach any node and never trusts
a path from the browser. Files older than a day are removed whenever a new one is kept.
"""
from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

from flask import current_app

TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
KEEP_SECONDS = 24 * 3600


def _folder(kind: str) -> Path:
    base = Path(current_app.config.get("UPLOAD_FOLDER") or Path(current_app.instance_path) / "uploads")
    folder = base / f"pending-{kind}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def keep(kind: str, data: bytes) -> str:
    """Keep `data` until it is confirmed or dropped; returns its token."""
    folder = _folder(kind)
    cutoff = time.time() - KEEP_SECONDS
    for old in folder.iterdir():
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = secrets.token_hex(16)
    (folder / token).write_bytes(data)
    return token


def read(kind: str, token: str) -> bytes | None:
    """The kept data, or None when the token is malformed or the upload has gone."""
    if not TOKEN_RE.match(token or ""):
        return None
    path = _folder(kind) / token
    return path.read_bytes() if path.exists() else None


def drop(kind: str, token: str) -> None:
    if TOKEN_RE.match(token or ""):
        (_folder(kind) / token).unlink(missing_ok=True)
