"""YAML loading that remembers line numbers, so content errors can name the line."""
from __future__ import annotations

import yaml


class LinedDict(dict):
    """A mapping read from YAML; `line` is where it starts, `value_lines` where each value is."""

    line: int = 0
    value_lines: dict

    def line_of(self, key) -> int:
        return self.value_lines.get(key, self.line)


class LinedList(list):
    """A sequence read from YAML; `line` is where it starts, `item_lines` where each item is."""

    line: int = 0
    item_lines: list

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


class _LineLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        # An alias re-uses a node without copying it in the text: nested aliases ("billion laughs") make a few
        # hundred bytes expand into exponentially many values. Content files have no use for them.
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LinedDict:
    mapping = LinedDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.value_lines = {}
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            mapping.value_lines[loader.construct_object(key_node)] = value_node.start_mark.line + 1
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LinedList:
    sequence = LinedList(loader.construct_sequence(node, deep=True))
    sequence.line = node.start_mark.line + 1
    sequence.item_lines = [item.start_mark.line + 1 for item in node.value]
    return sequence


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


class YamlSyntaxError(ValueError):
    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def _error_mark(exc: yaml.MarkedYAMLError):
    """Where the author's mistake is: an unclosed quote or bracket, or a "-item" without its space, is noticed
    only lines later (problem_mark), but the token it broke starts at the context mark."""
    context = exc.context or ""
    if exc.context_mark and context.startswith(("while scanning", "while parsing a flow")):
        return exc.context_mark
    return exc.problem_mark or exc.context_mark


def load_yaml(text: str, line_offset: int = 0):
    """Parse YAML text; mappings come back as LinedDict, sequences as LinedList. Raises YamlSyntaxError with the
    line. Aliases are refused."""
    try:
        # Safe: _LineLoader derives from yaml.SafeLoader (no Python objects); it adds line numbers, refuses aliases.
        data = yaml.load(text, Loader=_LineLoader)  # nosec B506
    except yaml.MarkedYAMLError as exc:
        mark = _error_mark(exc)
        line = mark.line + 1 + line_offset if mark else None
        raise YamlSyntaxError(line, str(exc.problem or exc.context or exc)) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(None, str(exc)) from exc
    except (ValueError, OverflowError, TypeError) as exc:  # e.g. a timestamp like 2020-02-30 10:00
        raise YamlSyntaxError(None, str(exc)) from exc
    except RecursionError as exc:  # thousands of nested brackets
        raise YamlSyntaxError(None, "nested too deeply") from exc
    if line_offset:
        _shift_lines(data, line_offset)
    return data


def _shift_lines(value, offset: int) -> None:
    if isinstance(value, LinedDict):
        value.line += offset
        value.value_lines = {k: v + offset for k, v in value.value_lines.items()}
        for item in value.values():
            _shift_lines(item, offset)
    elif isinstance(value, LinedList):
        value.line += offset
        value.item_lines = [line + offset for line in value.item_lines]
        for item in value:
            _shift_lines(item, offset)
