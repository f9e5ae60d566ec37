"""YAML loading that remembers line numbers, so content errors can name the line."""
from __future__ import annotations

import yaml


class LinedDict(dict):
    """A mapping read from YAML; `line` is where it starts, `value_lines` where each value is."""

    line: int = 0
    value_lines: dict

    def line_of(self, key) -> int:
        return self.value_lines.get(key, self.line)


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LinedDict:
    mapping = LinedDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.value_lines = {}
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            mapping.value_lines[loader.construct_object(key_node)] = value_node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class YamlSyntaxError(ValueError):
    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def load_yaml(text: str, line_offset: int = 0):
    """Parse YAML text; mappings come back as LinedDict. Raises YamlSyntaxError with the line."""
    try:
        # Safe: _LineLoader derives from yaml.SafeLoader (no Python objects); it only adds line numbers.
        data = yaml.load(text, Loader=_LineLoader)  # nosec B506
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + line_offset if mark else None
        raise YamlSyntaxError(line, str(exc.problem or exc.context or exc)) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(None, str(exc)) from exc
    except (ValueError, OverflowError, TypeError) as exc:  # e.g. a timestamp like 2020-02-30 10:00
        raise YamlSyntaxError(None, str(exc)) from exc
    except RecursionError as exc:  # thousands of nested brackets
        raise YamlSyntaxError(None, "nested too deeply") from exc
    if line_offset and isinstance(data, LinedDict):
        _shift_lines(data, line_offset)
    return data


def _shift_lines(value, offset: int) -> None:
    if isinstance(value, LinedDict):
        value.line += offset
        value.value_lines = {k: v + offset for k, v in value.value_lines.items()}
        for item in value.values():
            _shift_lines(item, offset)
    elif isinstance(value, list):
        for item in value:
            _shift_lines(item, offset)
