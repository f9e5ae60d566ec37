"""The quiz form is built per lecture: one field per question."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from lecturehub.core.fields import MultiCheckboxField
from lecturehub.core.forms import AppForm

from .models import Question, QuestionKind
from .services import option_labels


def field_name(question: Question) -> str:
    return f"q{question.id}"


def build_quiz_form(items: list[tuple[Question, list[int]]], locked: set[int] = frozenset(),
                    draft: dict | None = None) -> AppForm:
    """A form with a radio or checkbox group per question, options in the sitting's order.

    Option values are the options' original indexes, so shuffling changes only what the member sees.
    Checked (locked) questions take no input; `draft` pre-fills answers when the page is reloaded.
    """

    class QuizForm(AppForm):
        pass

    data = {}
    for question, order in items:
        labels = option_labels(question.kind.value, question.options)
        choices = [SelectChoice(str(i), labels[i]) for i in order]
        is_locked = question.id in locked
        if question.kind is QuestionKind.MULTIPLE:
            validators = [Optional()] if is_locked else [InputRequired(message=_l("Choose at least one option."))]
            field = MultiCheckboxField(question.stem, choices=choices, validators=validators,
                                       validate_choice=not is_locked)
        else:
            validators = [Optional()] if is_locked else [InputRequired(message=_l("Choose an option."))]
            field = RadioField(question.stem, choices=choices, validators=validators, validate_choice=not is_locked)
        setattr(QuizForm, field_name(question), field)
        chosen = (draft or {}).get(str(question.id))
        if chosen:
            data[field_name(question)] = [str(i) for i in chosen] if question.kind is QuestionKind.MULTIPLE \
                else str(chosen[0])
    return QuizForm(data=data)


def responses_from(form: AppForm, items: list[tuple[Question, list[int]]], locked: set[int] = frozenset()
                   ) -> dict[int, list[int]]:
    """Chosen option indexes per question id; values that are not options of the question are dropped."""
    result: dict[int, list[int]] = {}
    for question, order in items:
        if question.id in locked:
            continue
        data = getattr(form, field_name(question)).data
        values = data if isinstance(data, list) else [data]
        result[question.id] = sorted({int(v) for v in values if isinstance(v, str) and v.isdecimal() and int(v) in order})
    return result


class QuestionForm(AppForm):
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
    # "" (none) is one of the choices; Optional() would let a blank "  " past the choice check.
    key_point = SelectField(_l("Key point it tests (optional)"), default="", choices=[])


class QuizSettingsForm(AppForm):
    quiz_pass_mark = IntegerField(_l("Pass mark (%)"), validators=[
        InputRequired(message=_l("Enter a number.")), NumberRange(min=1, max=100, message=_l("From 1 to 100."))])
    draw_count = IntegerField(_l("Questions per attempt (empty: all)"), validators=[
        Optional(), NumberRange(min=1, max=500, message=_l("From 1 to 500."))])
    shuffle_questions = BooleanField(_l("Shuffle the questions"))
    shuffle_options = BooleanField(_l("Shuffle the options"))
    feedback = SelectField(_l("Feedback"), choices=[], validators=[InputRequired()])
    max_attempts = IntegerField(_l("Attempts allowed (empty: unlimited)"), validators=[
        Optional(), NumberRange(min=1, max=100, message=_l("From 1 to 100."))])


class BankImportForm(AppForm):
    bank = FileField(_l("Quiz file (YAML in the content/ format)"),
                     validators=[FileRequired(message=_l("Choose a file."))])


class SimpleForm(AppForm):
    pass
