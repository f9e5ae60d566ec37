from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
)
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


class RosterUploadForm(AppForm):
    roster = FileField(_l("Roster (.xlsx, .xls or .csv)"), validators=[
        FileRequired(message=_l("Choose a roster file.")),
        FileAllowed(["xlsx", "xls", "csv"], message=_l("Upload an .xlsx, .xls or .csv file.")),
    ])


class RosterApplyForm(AppForm):
    """Confirms a previewed roster. The view adds one choice per conflict row (see `with_conflicts`)."""

    token = HiddenField(validators=[DataRequired(), Length(max=32)])
    digest = HiddenField(validators=[DataRequired(), Length(max=64)])
    filename = HiddenField(validators=[DataRequired(), Length(max=200)])
    effective_on = DateField(_l("Transfers and leavers take effect on (Beijing time)"),
                             validators=[InputRequired(message=_l("Enter a date.")), YearRange()])
    left_ids = MultiCheckboxField(_l("Members not in the file who have left"), coerce=int, choices=[],
                                  validate_choice=True)

    @classmethod
    def with_conflicts(cls, rows: list[int]):
        """A form class with a required "update"/"skip" choice for each conflict row."""

        class Form(cls):
            pass

        for row in rows:
            setattr(Form, f"name_{row}", RadioField(
                choices=[SelectChoice("update", _l("Update the name")), SelectChoice("skip", _l("Skip this row"))],
                validators=[InputRequired(message=_l("Choose what to do with this row."))]))
        return Form

    def name_choices(self, rows: list[int]) -> dict[int, str]:
        return {row: self[f"name_{row}"].data for row in rows}


class VenueCoordinatorsForm(AppForm):
    keep_ids = MultiCheckboxField(_l("Coordinators (untick to remove)"), coerce=int, choices=[])
    add = StringField(_l("Add a coordinator (member number or user name)"),
                      validators=[Optional(), Length(max=64, message=_l("At most 64 characters."))])
