"""Member numbers (编号) as typed, printed and scanned: one key for each, whatever the width or case."""
from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from lecturehub.extensions import db

from .models import (
    User,
)

# --- member numbers ----------------------------------------------------------------------------------

def normalise_member_no(text: str | None) -> str:
    """A member number as stored: full-width characters made ordinary (Ｍ００２４ → M0024) and trimmed.

    Case is kept as the organisation writes it; every lookup compares without regard to case
    (`member_key`), and the database keeps numbers unique without regard to case too.
    """
    return unicodedata.normalize("NFKC", text or "").strip()


def member_key(text: str | None) -> str:
    """The form in which member numbers are compared: normalised and lower-case."""
    return normalise_member_no(text).lower()


def find_member(text: str, active_only: bool = True) -> User | None:
    """The account with this member number, typed in any case (the desk, paper sheets, kiosks)."""
    query = sa.select(User).where(sa.func.lower(User.member_no) == member_key(text))
    if active_only:
        query = query.where(User.active.is_(True))
    return db.session.scalar(query)


def members_by_key(numbers: list[str], active_only: bool = True) -> dict[str, User]:
    """Accounts for many member numbers at once, keyed by `member_key`; one query per 500 numbers."""
    keys = sorted({member_key(n) for n in numbers if n})
    found: dict[str, User] = {}
    for start in range(0, len(keys), 500):
        query = (sa.select(User).where(sa.func.lower(User.member_no).in_(keys[start:start + 500]))
                 .options(selectinload(User.home_venue), selectinload(User.coordinated_venues)))
        if active_only:
            query = query.where(User.active.is_(True))
        found.update({member_key(u.member_no): u for u in db.session.scalars(query)})
    return found
