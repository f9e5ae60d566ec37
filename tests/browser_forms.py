"""What a browser would send back for a form on a page, read with the standard library's HTML parser.

Lets the round-trip tests press "save" on an edit form without touching it, the way a person does:
every field as the page filled it in, checked boxes only, each select's selected option (or its first,
as a browser falls back to when none is marked selected).
"""
from __future__ import annotations

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self, action: str):
        super().__init__(convert_charrefs=True)
        self.action = action
        self.inside = False
        self.fields: list[list[str]] = []
        self._select: dict | None = None
        self._option: dict | None = None
        self._textarea: list | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action", "") == self.action or (self.action == "" and "action" not in a)
            return
        if not self.inside or "disabled" in a:
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("submit", "button", "reset", "file", "image") or not a.get("name"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append([a["name"], a.get("value", "on" if kind in ("checkbox", "radio") else "")])
        elif tag == "select" and a.get("name"):
            self._select = {"name": a["name"], "first": None, "selected": None}
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value"), "text": "", "selected": "selected" in a}
        elif tag == "textarea" and a.get("name"):
            self._textarea = [a["name"], ""]

    def handle_data(self, data):
        if self._option is not None:
            self._option["text"] += data
        elif self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "option" and self._option is not None:
            value = self._option["value"] if self._option["value"] is not None else self._option["text"]
            if self._select["first"] is None:
                self._select["first"] = value
            if self._option["selected"]:
                self._select["selected"] = value
            self._option = None
        elif tag == "select" and self._select is not None:
            chosen = self._select["selected"] if self._select["selected"] is not None else self._select["first"]
            if chosen is not None:
                self.fields.append([self._select["name"], chosen])
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, text = self._textarea
            # HTML drops one newline right after <textarea>; browsers send line breaks as CRLF.
            text = text.replace("\r\n", "\n")
            text = text[1:] if text.startswith("\n") else text
            self.fields.append([name, text.replace("\n", "\r\n")])
            self._textarea = None


def form_as_sent(page: str, action: str = "") -> list[tuple[str, str]]:
    """The (name, value) pairs a browser posts for the form with this `action` ("" for one without)."""
    reader = _FormReader(action)
    reader.feed(page)
    return [(name, value) for name, value in reader.fields]


def selected_options(page: str, action: str = "") -> dict[str, str]:
    """Each field's single value, as a dict (multi-valued fields keep their last value)."""
    return dict(form_as_sent(page, action))
