from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from lecturehub.core.forms import AppForm, YearRange, page_field


class AuditFilterForm(AppForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    action = SelectField(_l("Action"), choices=[], validators=[Optional()])
    who = StringField(_l("Who"), validators=[Optional(), Length(max=64)])
    target = StringField(_l("Object"), validators=[Optional(), Length(max=64)])
    start = DateField(_l("Start date"), validators=[Optional(), YearRange()])
    end = DateField(_l("End date"), validators=[Optional(), YearRange()])
    page = page_field()  # not a visible field

    def validate_end(self, field):
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError(_l("The end date is before the start date."))
