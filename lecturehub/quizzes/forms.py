"""The quiz form is built per lecture: one field per question."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import IntegerField, RadioField, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from .models import Question, QuestionKind
from .services import option_labels


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def field_name(question: Question) -> str:
    return f"q{question.id}"


def build_quiz_form(questions: list[Question], formdata=None) -> FlaskForm:
    """A form class with a radio group or checkbox group per question, choices valued by option index."""

    class QuizForm(FlaskForm):
        pass

    for question in questions:
        choices = [SelectChoice(str(i), label)
                   for i, label in enumerate(option_labels(question.kind.value, question.options))]
        if question.kind is QuestionKind.MULTIPLE:
            field = MultiCheckboxField(question.stem, choices=choices,
                                       validators=[InputRequired(message=_l("Choose at least one option."))])
        else:
            field = RadioField(question.stem, choices=choices,
                               validators=[InputRequired(message=_l("Choose an option."))])
        setattr(QuizForm, field_name(question), field)
    return QuizForm(formdata=formdata) if formdata is not None else QuizForm()


def responses_from(form: FlaskForm, questions: list[Question]) -> dict[int, list[int]]:
    """Chosen option indexes per question id, from a validated form."""
    result: dict[int, list[int]] = {}
    for question in questions:
        data = getattr(form, field_name(question)).data
        values = data if isinstance(data, list) else [data]
        result[question.id] = [int(v) for v in values if v is not None]
    return result


class QuestionForm(FlaskForm):
    kind = SelectField(_l("Type"), choices=[], validators=[InputRequired()])
    stem = TextAreaField(_l("Question"), validators=[DataRequired(message=_l("Enter the question.")),
                                                     Length(max=2000, message=_l("At most 2000 characters."))])
    options_text = TextAreaField(_l("Options, one per line (not for true/false)"),
                                 validators=[Optional(), Length(max=4000, message=_l("At most 4000 characters."))])
    answer = StringField(_l("Right answer: letters such as B or A,C; for true/false: true or false"),
                         validators=[DataRequired(message=_l("Enter the right answer.")),
                                     Length(max=40, message=_l("At most 40 characters."))])
    explanation = TextAreaField(_l("Explanation"), validators=[
        DataRequired(message=_l("Enter an explanation: members learn from it.")),
        Length(max=4000, message=_l("At most 4000 characters."))])
    key_point = SelectField(_l("Key point it tests (optional)"), choices=[], validators=[Optional()])


class QuizSettingsForm(FlaskForm):
    quiz_pass_mark = IntegerField(_l("Pass mark (%)"), validators=[
        InputRequired(message=_l("Enter a number.")), NumberRange(min=1, max=100, message=_l("From 1 to 100."))])


class BankImportForm(FlaskForm):
    bank = FileField(_l("Quiz file (YAML in the content/ format)"),
                     validators=[FileRequired(message=_l("Choose a file."))])


class SimpleForm(FlaskForm):
    pass
