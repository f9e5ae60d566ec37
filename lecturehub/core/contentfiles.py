"""Reading the files of a content bundle: text and YAML checked, validated by pydantic models, every problem
named by its file (relative to the bundle, never a server path) and line, in the UI language.

The format itself is defined by the models of the packages that own it: courses (course, lecture, material)
and quizzes (quiz). This module is the machinery they share.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from flask_babel import gettext as _
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError

from .forms import MAX_YEAR, MIN_YEAR, unstorable_character
from .timeutil import parse_local
from .yamlfile import LinedDict, LinedList, YamlSyntaxError, load_yaml

MAX_FILE_BYTES = 2 * 1024 * 1024


@dataclass
class Problem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class ContentError(Exception):
    """Raised with every problem found; nothing has been written."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def invalid(message: str) -> PydanticCustomError:
    """A validation error whose message (already translated) is shown as it is."""
    return PydanticCustomError("content", "{message}", {"message": str(message)})


class FileModel(BaseModel):
    """One YAML file (or front matter): unknown fields are refused, so a typo is not silently ignored."""

    model_config = ConfigDict(extra="forbid")


def _text_check(max_length: int, required: bool, default: str | None) -> Callable[[Any, ValidationInfo], Any]:
    def check(value: Any, info: ValidationInfo):
        name = info.field_name
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise invalid(_("Missing required field “%(name)s”.", name=name))
            return default
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise invalid(_("Field “%(name)s” must be text.", name=name))
        value = str(value).strip()
        if unstorable_character(value, allow_line_breaks=True):
            raise invalid(_("Field “%(name)s” contains control characters (invisible characters).", name=name))
        if len(value) > max_length:
            raise invalid(_("Field “%(name)s” is longer than %(max)s characters.", name=name, max=max_length))
        return value
    return check


def Text(max_length: int = 300, *, required: bool = True, default: str | None = ""):  # noqa: N802 (a type)
    """Text (numbers are taken as their text), stripped, without control characters, at most `max_length`."""
    return Annotated[str | None if default is None else str,
                     BeforeValidator(_text_check(max_length, required, default))]


def WholeNumber(low: int, high: int):  # noqa: N802 (a type)
    def check(value: Any, info: ValidationInfo):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise invalid(_("Field “%(name)s” must be a whole number from %(low)s to %(high)s.",
                            name=info.field_name, low=low, high=high))
        return value
    return Annotated[int, BeforeValidator(check)]


def _flag(value: Any, info: ValidationInfo):
    if not isinstance(value, bool):
        raise invalid(_("Field “%(name)s” must be true or false.", name=info.field_name))
    return value


Flag = Annotated[bool, BeforeValidator(_flag)]


def _moment(value: Any, info: ValidationInfo):
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
        if not MIN_YEAR <= moment.year <= MAX_YEAR:
            raise ValueError(moment.year)
        return parse_local(moment)
    except ValueError:
        raise invalid(_("Field “%(name)s” must be a date and time like 2020-12-29 14:00.",
                        name=info.field_name)) from None


Moment = Annotated[datetime, BeforeValidator(_moment)]
"""A Beijing-time date and time, stored as UTC."""


def _error_line(data: Any, loc: tuple) -> int | None:
    """The line of the value the error is about, or of the nearest enclosing value that has one."""
    line = getattr(data, "line", None)
    current = data
    for part in loc:
        if isinstance(current, LinedDict) and part in current:
            line, current = current.line_of(part), current[part]
        elif isinstance(current, LinedList) and isinstance(part, int) and 0 <= part < len(current):
            line, current = current.line_of(part), current[part]
        else:
            break
    return line


def _error_message(error: dict) -> str:
    names = [part for part in error["loc"] if isinstance(part, str)]
    name = names[-1] if names else ""
    kind = error["type"]
    if kind == "content":
        return error["msg"]
    if kind == "missing":
        return _("Missing required field “%(name)s”.", name=name)
    if kind == "extra_forbidden":
        return _("Unknown field “%(name)s”.", name=name)
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return _("Expected a mapping of field names to values.")
    if kind == "list_type":
        return _("Field “%(name)s” must be a list.", name=name)
    return _("Field “%(name)s” has a value that cannot be used.", name=name)


def _yaml_problem(detail: str) -> str:
    """PyYAML's words for the usual mistakes, said in the UI language; others are shown as PyYAML says them."""
    known = [
        ("could not find expected ':'", _("a “-” needs a space after it, and a field name a colon")),
        ("expected ',' or ']'", _("a [ list is not closed with ]")),
        ("expected ',' or '}'", _("a { mapping is not closed with }")),
        ("found unexpected end of stream", _("a quotation mark or bracket is not closed")),
        ("mapping values are not allowed here", _("put text that contains “: ” in quotation marks")),
        ("expected <block end>", _("the indentation does not line up with the lines above")),
        ("found character '\\t'", _("indent with spaces, not tabs")),
        ("aliases", _("aliases (*name) are not allowed")),
        ("found undefined alias", _("aliases (*name) are not allowed")),
    ]
    return next((words for start, words in known if detail.startswith(start)), detail)


class ContentReader:
    """Collects problems while reading one bundle; files are named relative to the bundle root."""

    def __init__(self, base: Path, name: str | None = None):
        self.base = base
        self.name = name or base.name
        self.problems: list[Problem] = []

    def rel(self, path: Path) -> str:
        try:
            relative = path.relative_to(self.base).as_posix()
        except ValueError:
            return path.name
        return self.name if relative == "." else relative

    def problem(self, path: Path, line: int | None, message: str) -> None:
        self.problems.append(Problem(self.rel(path), line, message))

    def read_text(self, path: Path) -> str | None:
        if path.stat().st_size > MAX_FILE_BYTES:
            self.problem(path, None, _("File is larger than %(size)s MB.", size=MAX_FILE_BYTES // (1024 * 1024)))
            return None
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            line = path.read_bytes()[: exc.start].count(b"\n") + 1
            self.problem(path, line, _("File is not valid UTF-8 text (perhaps saved as GBK): save it as UTF-8."))
            return None
        for number, line_text in enumerate(text.split("\n"), start=1):
            if unstorable_character(line_text, allow_line_breaks=True):
                self.problem(path, number, _("The line contains control characters (invisible characters)."))
                return None
        return text

    def read_yaml(self, path: Path, line_offset: int = 0, text: str | None = None) -> LinedDict | None:
        if text is None:
            text = self.read_text(path)
            if text is None:
                return None
        try:
            data = load_yaml(text, line_offset)
        except YamlSyntaxError as exc:
            self.problem(path, exc.line, _("YAML syntax error: %(detail)s", detail=_yaml_problem(exc.message)))
            return None
        if not isinstance(data, LinedDict):
            self.problem(path, 1 + line_offset, _("Expected a mapping of field names to values."))
            return None
        return data

    def validate(self, path: Path, model: type[FileModel], data: LinedDict, **context):
        """The model read from `data`, or None after recording each of its problems with its line."""
        try:
            return model.model_validate(data, context=context)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                self.problem(path, _error_line(data, error["loc"]), _error_message(error))
            return None

    def read_model(self, path: Path, model: type[FileModel], *, line_offset: int = 0, text: str | None = None,
                   **context):
        data = self.read_yaml(path, line_offset, text)
        return None if data is None else self.validate(path, model, data, **context)
