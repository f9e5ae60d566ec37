"""Panels that packages built on courses add to the lecture page (attendance's check-in, quizzes' self-check).

Courses knows nothing of who came nor of quizzes, so it cannot fetch those panels itself. Each package
hands over a function `(user, lecture) -> LecturePanel | None`, registered in create_app, which is where a
reader finds every panel the page shows. The view calls them; templates run no queries of their own.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, current_app

# Where on the page a panel goes: "status" under the lecture's details, "study" after the key points.
SLOTS = ("status", "study")


@dataclass
class LecturePanel:
    template: str  # rendered with this panel's `context` as `panel`, and the page's `lecture`
    context: dict = field(default_factory=dict)
    nav_label: str | None = None  # a button in the page's section bar, leading to nav_url
    nav_url: str | None = None


PanelProvider = Callable[[object, object], "LecturePanel | None"]


def register_lecture_panel(app: Flask, slot: str, provider: PanelProvider) -> None:
    """Show `provider`'s panel on every lecture page, in `slot` (one of SLOTS)."""
    if slot not in SLOTS:
        raise ValueError(f"unknown lecture page slot {slot!r}")
    app.extensions.setdefault("lecture_panels", {name: [] for name in SLOTS})[slot].append(provider)


def lecture_panels(user, lecture) -> dict[str, list[LecturePanel]]:
    """The panels the registered packages show `user` on `lecture`'s page, by slot."""
    providers = current_app.extensions.get("lecture_panels", {})
    panels = {}
    for slot in SLOTS:
        made = (provider(user, lecture) for provider in providers.get(slot, []))
        panels[slot] = [panel for panel in made if panel is not None]
    return panels
