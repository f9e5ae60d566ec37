from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    DecimalField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from lecturehub.core.fields import MultiCheckboxField
from lecturehub.core.forms import AppForm, Finite, YearRange

SLUG_VALIDATORS = [
    DataRequired(message=_l("Enter a short name for the address.")),
    Length(max=80, message=_l("At most 80 characters.")),
    Regexp(r"^[a-z0-9][a-z0-9_-]*$", message=_l("Use lower-case letters, digits, - and _ only.")),
]


class CourseForm(AppForm):
    title = StringField(_l("Title"), validators=[DataRequired(message=_l("Enter a title.")),
                                                 Length(max=200, message=_l("At most 200 characters."))])
    slug = StringField(_l("Short name (used in addresses and the content folder)"), validators=SLUG_VALIDATORS)
    description_md = TextAreaField(_l("Description (Markdown)"),
                                   validators=[Optional(), Length(max=20000, message=_l("At most 20000 characters."))])
    position = IntegerField(_l("Order"), default=0, validators=[
        InputRequired(message=_l("Enter a number.")), NumberRange(min=0, max=100000)])
    published = BooleanField(_l("Published (members can see it)"), default=True)


class LectureForm(AppForm):
    course_id = SelectField(_l("Course"), coerce=int, choices=[],
                            validators=[InputRequired(message=_l("Choose a course."))])
    title = StringField(_l("Title"), validators=[DataRequired(message=_l("Enter a title.")),
                                                 Length(max=300, message=_l("At most 300 characters."))])
    slug = StringField(_l("Short name (used in addresses and the content folder)"), validators=SLUG_VALIDATORS)
    speaker = StringField(_l("Speaker"), validators=[DataRequired(message=_l("Enter the speaker.")),
                                                     Length(max=120, message=_l("At most 120 characters."))])
    host = StringField(_l("Host"), validators=[Optional(), Length(max=120, message=_l("At most 120 characters."))])
    starts_at = DateTimeLocalField(_l("Starts (Beijing time)"), format="%Y-%m-%dT%H:%M",
                                   validators=[InputRequired(message=_l("Enter a date and time.")), YearRange()])
    ends_at = DateTimeLocalField(_l("Ends (Beijing time)"), format="%Y-%m-%dT%H:%M",
                                 validators=[InputRequired(message=_l("Enter a date and time.")), YearRange()])
    format = SelectField(_l("Format"), choices=[], validators=[InputRequired()])
    study_hours = DecimalField(_l("Study hours"), places=1, default=1, validators=[
        InputRequired(message=_l("Enter the study hours.")), Finite(),
        NumberRange(min=0, max=99.9, message=_l("From 0 to 99.9."))])
    venue_ids = MultiCheckboxField(_l("Venues taking part"), coerce=int, choices=[],
                                   validators=[DataRequired(message=_l("Choose at least one venue."))])
    key_points_md = TextAreaField(_l("Summary and key points (Markdown; each “## ” heading starts a key point)"),
                                  validators=[Optional(), Length(max=100000, message=_l("At most 100000 characters."))])
    published = BooleanField(_l("Published (members can see it)"))
    archive = BooleanField(_l("Archive lecture (content only: no attendance, make-up or study hours)"))


class MaterialUploadForm(AppForm):
    file = FileField(_l("File (PDF, DOCX, PPTX, XLSX, JPG or PNG)"),
                     validators=[FileRequired(message=_l("Choose a file."))])
    title = StringField(_l("Title (optional; the file name otherwise)"),
                        validators=[Optional(), Length(max=300, message=_l("At most 300 characters."))])


class MaterialLinkForm(AppForm):
    title = StringField(_l("Title"), validators=[DataRequired(message=_l("Enter a title.")),
                                                 Length(max=300, message=_l("At most 300 characters."))])
    url = URLField(_l("Address (for example a recording)"), validators=[
        DataRequired(message=_l("Enter the address.")), Length(max=1000, message=_l("At most 1000 characters.")),
        Regexp(r"^https?://\S+$", message=_l("The address must start with http:// or https://."))])


class DeleteForm(AppForm):
    pass


class BundleUploadForm(AppForm):
    bundle = FileField(_l("Content bundle (ZIP of the content/ format)"),
                       validators=[FileRequired(message=_l("Choose a file."))])


class BundleApplyForm(AppForm):
    token = StringField(validators=[DataRequired(), Length(max=64)])
    # Asked only when the bundle has new lectures that already ended and whose lecture.yaml leaves it open.
    archive_past = RadioField(_l("Lectures that already ended"), choices=[
        SelectChoice("yes", _l("Archive lectures: content only, no attendance")),
        SelectChoice("no", _l("Ordinary lectures: members who did not attend count as absent and get make-up tasks"))],
        validators=[Optional()])
