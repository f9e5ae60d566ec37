"""The quiz form is built per lecture: one field per question."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectMultipleField
from wtforms.validators import InputRequired
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
