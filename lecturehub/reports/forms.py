from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, IntegerField, SelectChoice, SelectField
from wtforms.validators import NumberRange, Optional, ValidationError

from lecturehub.core.forms import AppForm, YearRange


class OverviewFilterForm(AppForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    # "" (all courses) is one of the choices; Optional() would let a blank "  " past the choice check.
    course = SelectField(_l("Course"), default="", choices=[])
    start = DateField(_l("Start date"), validators=[Optional(), YearRange()])
    end = DateField(_l("End date"), validators=[Optional(), YearRange()])
    # Its choices depend on the other filters, so they are set after validation; the view checks the id.
    lecture = SelectField(_l("Lecture for the ranking"), choices=[], validators=[Optional()], validate_choice=False)
    # The rate hides venues whose members were absent without leave behind venues with many on leave,
    # so the ranking can be read by absences too.
    rank_by = SelectField(_l("Rank venues by"), default="rate",
                          choices=[SelectChoice("rate", _l("Attendance rate, highest first")),
                                   SelectChoice("absent", _l("Absences, fewest first"))])

    def validate_end(self, field):
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError(_l("The end date is before the start date."))


class YearForm(AppForm):
    class Meta:
        csrf = False

    year = IntegerField(_l("Year"), validators=[Optional(), NumberRange(min=2000, max=2100,
                                                                       message=_l("A year from 2000 to 2100."))])
