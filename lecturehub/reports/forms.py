from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField
from wtforms.validators import NumberRange, Optional


class OverviewFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    course = SelectField(_l("Course"), choices=[], validators=[Optional()])
    start = DateField(_l("Start date"), validators=[Optional()])
    end = DateField(_l("End date"), validators=[Optional()])
    # Its choices depend on the other filters, so they are set after validation; the view checks the id.
    lecture = SelectField(_l("Lecture for the ranking"), choices=[], validators=[Optional()], validate_choice=False)


class YearForm(FlaskForm):
    class Meta:
        csrf = False

    year = IntegerField(_l("Year"), validators=[Optional(), NumberRange(min=2000, max=2100,
                                                                       message=_l("A year from 2000 to 2100."))])
