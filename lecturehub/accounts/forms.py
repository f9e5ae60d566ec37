from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateTimeLocalField, PasswordField, SelectField, StringField
from wtforms import BooleanField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional

from lecturehub.core.fields import MultiCheckboxField
from lecturehub.core.forms import AppForm, YearRange, page_field


class LoginForm(AppForm):
    username = StringField(_l("User name"), validators=[
        DataRequired(message=_l("Enter your user name.")),
        Length(max=64, message=_l("A user name has at most 64 characters.")),
    ])
    password = PasswordField(_l("Password"), validators=[
        DataRequired(message=_l("Enter your password.")),
        Length(max=128, message=_l("A password has at most 128 characters.")),
    ])
    remember = BooleanField(_l("Remember this phone"))


class ChangePasswordForm(AppForm):
    current_password = PasswordField(_l("Current password"), validators=[
        DataRequired(message=_l("Enter your current password.")), Length(max=128)])
    new_password = PasswordField(_l("New password"), validators=[
        DataRequired(message=_l("Enter a new password.")),
        Length(max=128, message=_l("A password has at most 128 characters.")),
    ])
    confirm = PasswordField(_l("Repeat the new password"), validators=[
        DataRequired(message=_l("Repeat the new password.")),
        EqualTo("new_password", message=_l("The two passwords differ.")),
    ])


class UserFilterForm(AppForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    q = StringField(_l("Search"), validators=[Optional(), Length(max=64)])
    # No Optional(): it would let a blank "  " past the choice check. "" is one of the choices.
    role = SelectField(_l("Role"), default="", choices=[])
    venue = SelectField(_l("Venue"), default="", choices=[])
    page = page_field()  # not a visible field


class AccountForm(AppForm):
    name = StringField(_l("Name"), validators=[DataRequired(message=_l("Enter a name.")),
                                               Length(max=80, message=_l("At most 80 characters."))])
    role = SelectField(_l("Role"), choices=[], validators=[InputRequired(message=_l("Choose a role."))])
    venue_ids = MultiCheckboxField(_l("Venues (a member's own venue; the venues a coordinator runs)"), coerce=int,
                                   choices=[])
    # Used only when the member's own venue changes (组织关系转接): lectures before it keep the old venue.
    effective_at = DateTimeLocalField(_l("A venue change takes effect from (Beijing time)"), format="%Y-%m-%dT%H:%M",
                                      validators=[Optional(), YearRange()])
    transfer_reason = StringField(_l("Reason for the venue change"), validators=[
        Optional(), Length(max=500, message=_l("At most 500 characters."))])


class ConfirmForm(AppForm):
    """A button that changes something: only the CSRF token travels."""
