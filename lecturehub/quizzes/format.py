"""The quiz half of the content/ format (a lecture folder's quiz.yaml, or an uploaded bank) and the rules of a
question's options and answer, shared by the importer and the web question editor so they agree.

An answer names options by letter: one or several letters, as a YAML list, separated by commas (, ， 、) or
spaces, or written together ("AC" is A and C), in either case. A true/false answer is true or false (YAML's
booleans, or the words true/false, 正确/错误, 对/错).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from flask_babel import gettext as _
from pydantic import Field, ValidationInfo, field_validator

from lecturehub.core.contentfiles import ContentError, ContentReader, FileModel, Problem, Text, WholeNumber, invalid
from lecturehub.core.errors import UserError
from lecturehub.core.forms import unstorable_character

LETTERS = "ABCDEFGH"
KINDS = ("single", "multiple", "truefalse")
QUESTION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
TRUE_WORDS = {"true", "正确", "对"}
FALSE_WORDS = {"false", "错误", "错"}
MAX_OPTION_LENGTH = 500


class AnswerError(UserError):
    """A question's options or answer break the rules; `field` is "options" or "answer"."""

    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)


def checked_options(values: list) -> list[str]:
    """The options as stored: 2 to 8 non-empty texts of at most 500 characters."""
    if not 2 <= len(values) <= len(LETTERS) or not all(
            isinstance(o, (str, int, float)) and not isinstance(o, bool) and str(o).strip()
            and not unstorable_character(str(o)) for o in values):
        raise AnswerError("options", _("Give 2 to %(max)s non-empty options.", max=len(LETTERS)))
    options = [str(o).strip() for o in values]
    if any(len(o) > MAX_OPTION_LENGTH for o in options):
        raise AnswerError("options", _("An option is longer than 500 characters."))
    return options


def answer_indexes(kind: str, raw: Any, option_count: int) -> list[int]:
    """The indexes of the right options, from an answer as written (see the module's docstring)."""
    if kind == "truefalse":
        word = str(raw).strip().lower() if isinstance(raw, (str, bool)) else None
        if word in TRUE_WORDS:
            return [0]
        if word in FALSE_WORDS:
            return [1]
        raise AnswerError("answer", _("The answer of a true/false question must be true or false."))
    parts = raw if isinstance(raw, list) else re.split(r"[\s,，、]+", raw.strip()) if isinstance(raw, str) else [None]
    letters = [letter for part in parts if isinstance(part, str) for letter in part.strip().upper()]
    valid = LETTERS[:option_count]
    if not letters or len(letters) < sum(1 for p in parts if p != "") or any(x not in valid for x in letters):
        raise AnswerError("answer", _("Name the right options by letter (A to %(last)s).", last=valid[-1]))
    indexes = sorted({valid.index(x) for x in letters})
    if kind == "single" and len(indexes) != 1:
        raise AnswerError("answer", _("A single-choice question has exactly one answer."))
    if kind == "multiple" and len(indexes) < 2:
        raise AnswerError("answer", _("A multiple-choice question has at least two answers."))
    return indexes


def answer_text(kind: str, answer: list[int]) -> str:
    """An answer as the editor shows it; answer_indexes reads it back unchanged."""
    if kind == "truefalse":
        return "true" if answer == [0] else "false"
    return ",".join(LETTERS[i] for i in answer)


@dataclass
class QuestionSpec:
    key: str
    kind: str
    stem: str
    options: list[str]
    answer: list[int]
    explanation: str
    key_point: int | None


@dataclass
class QuizSpec:
    pass_mark: int = 80
    questions: list[QuestionSpec] = field(default_factory=list)


def _field_error(exc: AnswerError):
    """The editor's words for a rule, naming the YAML field it is about."""
    return invalid(_("Field “%(name)s”: %(message)s", name=exc.field, message=exc.message))


class QuestionFile(FileModel):
    id: Text(40)
    type: str
    question: Text(2000)
    options: list | None = Field(default=None, validate_default=True)
    answer: Any
    explanation: Text(4000)
    key_point: Any = None

    @field_validator("id")
    @classmethod
    def _key(cls, key: str) -> str:
        if not QUESTION_ID_RE.match(key):
            raise invalid(_("A question id may use letters, digits, - and _ only."))
        return key

    @field_validator("type", mode="before")
    @classmethod
    def _kind(cls, kind: Any) -> str:
        if kind not in KINDS:
            raise invalid(_("Field “type” must be single, multiple or truefalse."))
        return kind

    @field_validator("options", mode="before")
    @classmethod
    def _options(cls, options: Any, info: ValidationInfo) -> list[str] | None:
        kind = info.data.get("type")
        if kind is None or (kind == "truefalse" and options is None):
            return None
        if kind == "truefalse":
            raise invalid(_("A true/false question takes no options."))
        if not isinstance(options, list):
            raise _field_error(AnswerError("options", _("Give 2 to %(max)s non-empty options.", max=len(LETTERS))))
        try:
            return checked_options(options)
        except AnswerError as exc:
            raise _field_error(exc) from None

    @field_validator("answer", mode="before")
    @classmethod
    def _answer(cls, answer: Any, info: ValidationInfo) -> list[int]:
        kind, options = info.data.get("type"), info.data.get("options")
        if kind is None or (kind != "truefalse" and not options):
            return []  # the type or the options are wrong, and reported already
        try:
            return answer_indexes(kind, answer, len(options or []))
        except AnswerError as exc:
            raise _field_error(exc) from None

    @field_validator("key_point")
    @classmethod
    def _key_point(cls, key_point: Any, info: ValidationInfo) -> int | None:
        count = (info.context or {}).get("key_point_count")
        if key_point is None or count is None:  # unknown when keypoints.md could not be read (reported there)
            return key_point if isinstance(key_point, int) else None
        if isinstance(key_point, bool) or not isinstance(key_point, int) or not 1 <= key_point <= count:
            raise invalid(_("Field “key_point” must be the number of a key point (1 to %(max)s).", max=count))
        return key_point


class QuizFile(FileModel):
    pass_mark: WholeNumber(1, 100) = 80
    questions: list[QuestionFile] = []


def read_quiz(reader: ContentReader, path: Path, key_point_count: int | None, text: str | None = None
              ) -> QuizSpec | None:
    """The quiz in `path` (or `text`), or None after recording its problems on the reader."""
    data = reader.read_yaml(path, text=text)
    quiz = None if data is None else reader.validate(path, QuizFile, data, key_point_count=key_point_count)
    if quiz is None:
        return None
    seen: set[str] = set()
    for number, question in enumerate(quiz.questions):
        if question.id in seen:
            reader.problem(path, data["questions"][number].line_of("id"),
                           _("Question id “%(key)s” is used twice.", key=question.id))
        seen.add(question.id)
    if len(seen) < len(quiz.questions):
        return None
    return QuizSpec(quiz.pass_mark, [
        QuestionSpec(q.id, q.type, q.question, q.options or [], q.answer, q.explanation, q.key_point)
        for q in quiz.questions])


def read_quiz_text(name: str, text: str, key_point_count: int) -> QuizSpec:
    """Parse an uploaded bank in the content/ YAML format; raises ContentError naming lines."""
    reader = ContentReader(base=Path("."))
    quiz = read_quiz(reader, Path(name), key_point_count, text=text)
    if reader.problems or quiz is None:
        raise ContentError(reader.problems or [Problem(name, None, _("The quiz could not be read."))])
    return quiz


def quiz_yaml(pass_mark: int, questions, key_point_positions: dict[int, int]) -> str:
    """A lecture's bank in the content/ YAML format, for download and re-import."""
    items = []
    for question in questions:
        item = {"id": question.key, "type": question.kind.value}
        if question.key_point_id in key_point_positions:
            item["key_point"] = key_point_positions[question.key_point_id]
        item["question"] = question.stem
        if question.kind.value == "truefalse":
            item["answer"] = question.answer == [0]
        else:
            item["options"] = list(question.options)
            letters = [LETTERS[i] for i in question.answer]
            item["answer"] = letters[0] if question.kind.value == "single" else letters
        item["explanation"] = question.explanation
        items.append(item)
    return yaml.safe_dump({"pass_mark": pass_mark, "questions": items}, allow_unicode=True, sort_keys=False,
                          width=1000)
