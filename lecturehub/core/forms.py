"""The base of every form and the validators several packages share.

Every text field refuses control characters: nobody types them, a browser never sends them from a
normal field, and PostgreSQL cannot store NUL at all, so without this check such input would fail
deep in the database instead of coming back as a message beside the field.
"""
from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import NumberRange, Optional, StopValidation, ValidationError

# Integer primary keys are 32-bit on PostgreSQL; a larger id cannot name a row.
MAX_ID = 2**31 - 1
# Dates the organisation's lectures and reports can sensibly use (the report year filter uses the same).
MIN_YEAR, MAX_YEAR = 2000, 2100

LINE_BREAKS = "\t\n\r"
# The last page number a list accepts: far beyond any real list, and its offset stays a small integer
# for the database (an unbounded ?page= overflowed PostgreSQL's bigint OFFSET into a 500).
MAX_PAGE = 100_000


def page_field() -> IntegerField:
    """The hidden `page` parameter of a paginated list; pass its value to `db.paginate(page=...)`."""
    return IntegerField(default=1, validators=[Optional(), NumberRange(min=1, max=MAX_PAGE)])


def unstorable_character(text: str, allow_line_breaks: bool = False) -> bool:
    """Whether `text` has a control character (tab and line breaks allowed on request) or a lone surrogate."""
    allowed = LINE_BREAKS if allow_line_breaks else ""
    return any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in text)


class NoControlCharacters:
    """Refuse control characters; multi-line fields keep tabs and line breaks."""

    def __init__(self, allow_line_breaks: bool = False):
        self.allow_line_breaks = allow_line_breaks

    def __call__(self, form, field):
        if isinstance(field.data, str) and unstorable_character(field.data, self.allow_line_breaks):
            raise ValidationError(_l("Remove the control characters (invisible characters) from this text."))


class Finite:
    """A number field must hold a real number (not NaN or infinity) before ranges are compared."""

    def __call__(self, form, field):
        if field.data is not None and not field.data.is_finite():
            raise StopValidation(_l("Enter a number."))


class YearRange:
    """A date (or date and time) between MIN_YEAR and MAX_YEAR; beyond them UTC conversion overflows."""

    def __call__(self, form, field):
        if field.data is not None and not MIN_YEAR <= field.data.year <= MAX_YEAR:
            raise ValidationError(_l("Enter a date from 2000 to 2100."))


class AppForm(FlaskForm):
    """FlaskForm whose text fields all refuse control characters."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            if issubclass(unbound_field.field_class, StringField):
                multiline = issubclass(unbound_field.field_class, TextAreaField)
                validators = list(unbound_field.kwargs.get("validators") or [])
                options = dict(options, validators=[*validators, NoControlCharacters(multiline)])
            return unbound_field.bind(form=form, **options)
