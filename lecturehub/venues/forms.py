from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp

from lecturehub.core.forms import AppForm

from .models import VenueKind


class VenueForm(AppForm):
    name = StringField(_l("Venue name"), validators=[DataRequired(message=_l("Enter a name.")),
                                               Length(max=120, message=_l("At most 120 characters."))])
    code = StringField(_l("Short code"), validators=[
        DataRequired(message=_l("Enter a short code.")),
        Length(max=32, message=_l("At most 32 characters.")),
        Regexp(r"^[A-Za-z0-9_.-]+$", message=_l("Use letters, digits, '.', '_' and '-' only.")),
    ], description=_l("Used in rosters, content files and exports, e.g. b01."))
    kind = SelectField(_l("Kind"), choices=[], validators=[InputRequired(message=_l("Choose a kind."))])
    position = IntegerField(_l("Order"), validators=[
        InputRequired(message=_l("Enter a number.")),
        NumberRange(min=0, max=100000, message=_l("Enter a number from 0 to 100000."))],
        description=_l("Venues are listed by this number, smallest first."))

    def kind_value(self) -> VenueKind:
        return VenueKind(self.kind.data)
