"""Safe YAML loading that remembers where every value came from.

Errors in a config file should name the file, the line and the field, so the loader keeps a
map from each key path (e.g. ``pipeline.elements[0].model.input.shape``) to its 1-based line.

A key written twice in one mapping is refused with both lines (plain `yaml.safe_load` keeps the
last one silently, so a pasted block could undo a setting far above it); keys brought in by a merge
(`<<: *defaults`) may still be overridden, as YAML intends.

Refused before anything walks the document: a recursive alias (``a: &x [*x]``, which PyYAML builds as a
list holding itself), aliases that expand to more than `MAX_VALUES` values ("billion laughs": the
loaders, OmegaConf and the line map would each expand them) and nesting too deep for Python's stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MAX_VALUES = 100_000
"""Most values a config file may hold once its aliases are expanded (the repo's module YAML: ~200)."""


MERGE_TAG = "tag:yaml.org,2002:merge"


class UniqueKeyLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses a key written twice in one mapping, naming both lines."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            first_line: dict[Any, int] = {}
            for key_node, _ in node.value:  # before SafeLoader flattens merges into node.value
                if key_node.tag == MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    seen = first_line.get(key)
                except TypeError:  # an unhashable key: SafeLoader's own error names it
                    continue
                line = key_node.start_mark.line + 1
                if seen is not None:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}: first at line {seen}, again at line {line}",
                        key_node.start_mark)
                first_line[key] = line
        return super().construct_mapping(node, deep=deep)


def safe_load(text: str) -> Any:
    """`yaml.safe_load`, but a key written twice in one mapping is an error (`yaml.YAMLError`)."""
    return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader subclass: no Python tags


class ConfigError(ValueError):
    """A config file that cannot be used; the message names file, line and field."""

    def __init__(self, path: Path | str, message: str, *, line: int | None = None, field: str | None = None):
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path if line is None else f"{self.path}:{line}"
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{message}")


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML mapping plus the line of every key path in it."""

    path: Path
    data: dict[str, Any]
    lines: dict[str, int]

    def line_of(self, field: str) -> int | None:
        """Line of `field`, or of its nearest parent that has one."""
        while field:
            if field in self.lines:
                return self.lines[field]
            cut = max(field.rfind("."), field.rfind("["))
            field = field[:cut] if cut > 0 else ""
        return None

    def error(self, field: str, message: str) -> ConfigError:
        return ConfigError(self.path, message, line=self.line_of(field), field=field)


def load_yaml(path: Path | str) -> YamlDocument:
    """Read a YAML mapping with `yaml.safe_load` semantics; no Python object tags are honoured."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read: {exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_size(path, node)
        data = safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, f"invalid YAML: {problem}", line=mark.line + 1 if mark else None) from None
    except RecursionError:
        raise ConfigError(path, "invalid YAML: nested too deeply") from None
    if not isinstance(data, dict):
        raise ConfigError(path, f"expected a mapping at the top level, got {type(data).__name__}", line=1)
    lines: dict[str, int] = {}
    _collect_lines(node, "", lines)
    return YamlDocument(path=path, data=data, lines=lines)


def _collect_lines(node: yaml.Node | None, prefix: str, lines: dict[str, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            lines[key] = key_node.start_mark.line + 1
            _collect_lines(value_node, key, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            key = f"{prefix}[{i}]"
            lines[key] = item.start_mark.line + 1
            _collect_lines(item, key, lines)


def _check_size(path: Path, root: yaml.Node | None) -> None:
    """Refuse recursive aliases and documents whose aliases expand to more than MAX_VALUES values.

    An alias is the same node object as its anchor, so sizes are memoised per node: the check takes
    time in the size of the file, not of the expansion."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # nodes being sized: meeting one again is a cycle

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise ConfigError(path, "recursive YAML alias: a node that contains itself",
                              line=node.start_mark.line + 1)
        open_nodes.add(key)
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        total = 1 + sum(size(child) for child in children)
        open_nodes.discard(key)
        if total > MAX_VALUES:
            raise ConfigError(path, f"YAML aliases expand to more than {MAX_VALUES} values",
                              line=node.start_mark.line + 1)
        sizes[key] = total
        return total

    if root is not None:
        size(root)
