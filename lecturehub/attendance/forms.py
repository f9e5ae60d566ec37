from __future__ import annotations

from flask import g
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import HiddenField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from lecturehub.core.forms import MAX_ID, AppForm

from .models import Status

CODE_VALIDATORS = [
    DataRequired(message=_l("Enter the 6-digit code shown on the venue screen.")),
    Regexp(r"^\s*\d{6}\s*$", message=_l("The check-in code has 6 digits.")),
]


def checked_post_form(form_class: type[AppForm]) -> AppForm:
    """`form_class()` bound to the request, without its own CSRF field when the app-wide CSRFProtect has already
    checked this POST's token (flask_wtf then sets g.csrf_valid, and the field's check would only pass on that
    mark). The field also signed a new token on every check-in for a form no page shows (a wrong code's
    answer shows a new one)."""
    return form_class(meta={"csrf": False}) if g.get("csrf_valid") else form_class()


class CodeForm(AppForm):
    code = StringField(_l("Check-in code"), validators=CODE_VALIDATORS)


class ConfirmCheckinForm(AppForm):
    # A label of its own, though hidden: without one WTForms translates a default ("Code") when the form is
    # made, and Flask-WTF reads WTForms' catalogue from disk for that on every request (a tenth of a QR check-in).
    code = HiddenField(_l("Check-in code"), validators=CODE_VALIDATORS)


class DeskForm(AppForm):
    member = StringField(_l("Member number or card"), validators=[
        DataRequired(message=_l("Type or scan a member number.")),
        Length(max=64, message=_l("A member number has at most 64 characters.")),
    ])


class StatusForm(AppForm):
    member_id = IntegerField(validators=[InputRequired(), NumberRange(min=1, max=MAX_ID)])
    status = SelectField(_l("Status"), choices=[], validators=[InputRequired()])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=500, message=_l("At most 500 characters."))])


class SheetForm(AppForm):
    sheet = FileField(_l("Sign-in sheet (.xlsx, .xls or .csv)"), validators=[
        FileRequired(message=_l("Choose a file.")),
        FileAllowed(["xlsx", "xls", "csv"], message=_l("Upload an .xlsx, .xls or .csv file.")),
    ])
    reason = StringField(_l("Reason for the correction (needed once the record has been filed)"),
                         validators=[Optional(), Length(max=400, message=_l("At most 400 characters."))])


class LeaveForm(AppForm):
    reason = TextAreaField(_l("Reason for leave"), validators=[
        DataRequired(message=_l("Give a reason.")),
        Length(max=500, message=_l("At most 500 characters.")),
    ])


class DecideLeaveForm(AppForm):
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500, message=_l("At most 500 characters."))])
    approve = SubmitField(_l("Approve"))
    refuse = SubmitField(_l("Refuse"))


class ReadForm(AppForm):
    pass


class CheckinSettingsForm(AppForm):
    checkin_opens_minutes = IntegerField(_l("Check-in opens (minutes before the start)"), validators=[
        InputRequired(message=_l("Enter a number of minutes.")),
        NumberRange(min=0, max=1440, message=_l("From 0 to 1440 minutes."))])
    checkin_grace_minutes = IntegerField(_l("On time until (minutes after the start)"), validators=[
        InputRequired(message=_l("Enter a number of minutes.")),
        NumberRange(min=0, max=1440, message=_l("From 0 to 1440 minutes."))])
    checkin_closes_minutes = IntegerField(_l("Check-in closes (minutes after the end)"), validators=[
        InputRequired(message=_l("Enter a number of minutes.")),
        NumberRange(min=0, max=1440, message=_l("From 0 to 1440 minutes."))])


STATUS_CHOICES = [Status.PRESENT, Status.LATE, Status.EXCUSED, Status.ABSENT]


class FileRecordForm(AppForm):
    """The coordinator's 报送 button: only the CSRF token travels."""


class ReviewForm(AppForm):
    comment = TextAreaField(_l("Comment (needed to return the record)"), validators=[
        Optional(), Length(max=1000, message=_l("At most 1000 characters."))])
    acknowledge = SubmitField(_l("Acknowledge"))
    send_back = SubmitField(_l("Return for correction"))
