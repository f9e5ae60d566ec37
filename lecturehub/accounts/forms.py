from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional

from lecturehub.core.fields import MultiCheckboxField


class LoginForm(FlaskForm):
    username = StringField(_l("User name"), validators=[
        DataRequired(message=_l("Enter your user name.")),
        Length(max=64, message=_l("A user name has at most 64 characters.")),
    ])
    password = PasswordField(_l("Password"), validators=[
        DataRequired(message=_l("Enter your password.")),
        Length(max=128, message=_l("A password has at most 128 characters.")),
    ])


class ChangePasswordForm(FlaskForm):
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


class UserFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    q = StringField(_l("Search"), validators=[Optional(), Length(max=64)])
    role = SelectField(_l("Role"), validators=[Optional()], choices=[])
    venue = SelectField(_l("Venue"), validators=[Optional()], choices=[])


class AccountForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(message=_l("Enter a name.")),
                                               Length(max=80, message=_l("At most 80 characters."))])
    role = SelectField(_l("Role"), choices=[], validators=[InputRequired(message=_l("Choose a role."))])
    venue_ids = MultiCheckboxField(_l("Venues (a member's own venue; the venues a coordinator runs)"), coerce=int,
                                   choices=[])


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token travels."""
