"""What an edit changed, in words: the one helper every edit form's save goes through.

A package describes its object as labelled values, `{key: (label, value)}`, with the labels its form
shows and the words its pages use (形式 → 现场, not `in_person`), once before and once after the save.
`field_changes` compares the two; `record_changes` writes one audit entry listing every changed field,
old → new, and writes nothing when nothing changed. The audit package stays ignorant of lectures,
courses or accounts: it only ever sees labels and shown values.

Usage (a venue form, say)::

    before = describe(venue)          # {"name": (_l("Name"), venue.name), "kind": (_l("Kind"), kind_name(...))}
    ... apply the form ...
    record_changes("venue.saved", f"venue:{venue.id}", before, describe(venue))
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from lecturehub.core.timeutil import to_local

from .services import record

# Longer texts (Markdown bodies) are shown shortened: the log names the change, the page holds the text.
SHOWN_TEXT_LIMIT = 60
DATETIME_FORMAT = "%Y-%m-%d %H:%M"

Described = Mapping[str, tuple[Any, Any]]


def shown(value: Any) -> str:
    """A value as a reader sees it: 是/否, local times, lists joined, nothing as —."""
    if value is None or value == "" or (isinstance(value, (list, tuple, set)) and not value):
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, datetime):
        return to_local(value).strftime(DATETIME_FORMAT)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, (list, tuple)):
        return "、".join(shown(item) for item in value)
    return str(value)


def _shortened(text: str) -> str:
    """One line of at most SHOWN_TEXT_LIMIT characters: a Markdown body is named, not copied, in the log."""
    text = " ".join(text.split()) if "\n" in text else text
    return text if len(text) <= SHOWN_TEXT_LIMIT else text[:SHOWN_TEXT_LIMIT - 1] + "…"


def _new_shown(old: Any, new: Any, new_text: str) -> str:
    # 开始时间：2020-12-29 14:30 → 15:00 — the date is not repeated when only the time moved.
    if isinstance(old, datetime) and isinstance(new, datetime) and old.tzinfo and new.tzinfo:
        if to_local(old).date() == to_local(new).date():
            return to_local(new).strftime("%H:%M")
    return new_text


def field_changes(before: Described, after: Described) -> list[dict[str, str]]:
    """The fields whose shown value differs, in the order of `after`: [{"field", "old", "new"}, ...]."""
    changes = []
    for key, (label, new) in after.items():
        old = before.get(key, (label, None))[1]
        old_text, new_text = shown(old), shown(new)
        if old_text == new_text:
            continue
        old_short, new_short = _shortened(old_text), _shortened(_new_shown(old, new, new_text))
        if old_short == new_short:
            new_short = _("(edited)")  # differs only after the shown part, or only in its line breaks
        changes.append({"field": str(label), "old": old_short, "new": new_short})
    return changes


def record_changes(action: str, target: str, before: Described, after: Described, actor=None,
                   **details) -> list[dict[str, str]]:
    """Audit an edit with every changed field, old → new; an edit that changed nothing is not logged."""
    changes = field_changes(before, after)
    if changes:
        record(action, target, actor=actor, changes=changes, **details)
    return changes


# A roster import lists thousands of rows; the log page shows the first ones and says how many more there are.
MAX_LINES_SHOWN = 20


def changes_text(changes: Iterable[Mapping[str, str] | str]) -> list[str]:
    """Each change as one line of the audit log: “形式：现场 → 视频会议”. Entries written as finished lines
    (a roster import's “第 3 行：…”) are shown as they are."""
    changes = list(changes)
    lines = [c if isinstance(c, str) else
             _("%(field)s: %(old)s → %(new)s", field=c.get("field", ""), old=c.get("old", ""), new=c.get("new", ""))
             for c in changes[:MAX_LINES_SHOWN]]
    if len(changes) > MAX_LINES_SHOWN:
        lines.append(_("… and %(n)s more", n=len(changes) - MAX_LINES_SHOWN))
    return lines
