"""A parsed plan file that remembers where every key and value came from.

ruamel.yaml's round-trip loader keeps a line/column for each mapping key, mapping value and
sequence item; `Source` turns a path into the data (`("tasks", 2, "depends_on", 0)`) into a
`Diagnostic` pointing at that spot, so every check can report in the user's coordinates.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from overseer.errors import Diagnostic

Path_ = tuple[str | int, ...]

_MISSING = object()


def closest(word: object, candidates: Iterable[str]) -> str | None:
    """The candidate `word` was most likely a typo of, if any is close enough."""
    if not isinstance(word, str):
        return None
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def suggest(word: object, candidates: Iterable[str]) -> str:
    """`; did you mean 'x'?` when a candidate is close to `word`, else an empty string."""
    match = closest(word, candidates)
    return f"; did you mean '{match}'?" if match else ""


def number(value: object) -> str:
    """A bound from a schema as a user would write it: `0`, not `0.0`."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def show(value: object) -> str:
    """A value as the user wrote it in YAML, short enough for a one-line message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"'{text}'"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return str(value)


@dataclass
class Source:
    file: str
    root: Any
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def node(self, path: Path_) -> Any:
        """The data at `path`, or `_MISSING`."""
        node = self.root
        for step in path:
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError):
                return _MISSING
        return node

    def get(self, path: Path_, default: Any = None) -> Any:
        found = self.node(path)
        return default if found is _MISSING else found

    def position(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """1-based line and column of the value at `path` (or of its key, with `key=True`).

        A null value has no position of its own worth showing (ruamel reports where the next
        token starts), so it points at its key. Anything unlocatable falls back to its parent.
        """
        if not path:
            lc = getattr(self.root, "lc", None)
            return (lc.line + 1, lc.col + 1) if lc is not None and lc.line is not None else (1, 1)
        parent, last = self.node(path[:-1]), path[-1]
        try:
            if isinstance(parent, CommentedMap):
                if key or parent.get(last) is None:
                    line, col = parent.lc.key(last)
                else:
                    line, col = parent.lc.value(last)
                return line + 1, col + 1
            if isinstance(parent, CommentedSeq) and isinstance(last, int):
                line, col = parent.lc.item(last)
                return line + 1, col + 1
        except (KeyError, IndexError, TypeError, AttributeError):
            pass  # e.g. a key that arrived through a `<<:` merge has no position of its own
        return self.position(path[:-1], key=True)

    def error(self, path: Path_, message: str, *, key: bool = False) -> None:
        line, col = self.position(path, key=key)
        self.diagnostics.append(Diagnostic(self.file, line, col, message))


def parse(text: str, file: str) -> tuple[Source, list[Diagnostic]]:
    """Parse YAML text. Syntax errors stop parsing (YAML cannot resume after one), so they come
    back alone; duplicate keys are reported too, but parsing goes on so later checks still run."""
    try:
        dupes = _duplicate_keys(YAML(typ="rt").compose(text), file)
        yaml = YAML(typ="rt")
        yaml.allow_duplicate_keys = True
        root = yaml.load(text)
    except MarkedYAMLError as exc:
        return Source(file, None), [_syntax_error(exc, file)]
    except YAMLError as exc:
        return Source(file, None), [Diagnostic(file, 1, 1, f"invalid yaml: {exc}")]
    except RecursionError:
        return Source(file, None), [Diagnostic(file, 1, 1, "invalid yaml: nested too deeply")]
    return Source(file, root), dupes


def _syntax_error(exc: MarkedYAMLError, file: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = str(exc.problem or exc.context or "syntax error")
    message = f"invalid yaml: {problem}"
    if exc.context and exc.context_mark is not None and exc.problem:
        message += f" ({exc.context} started on line {exc.context_mark.line + 1})"
    if "mapping values are not allowed" in problem:
        message += "; check the indentation, or quote a value that contains ': '"
    elif "'\\t'" in problem:
        message += "; indent with spaces, not tabs"
    return Diagnostic(file, line, col, message)


def _duplicate_keys(node: Node | None, file: str) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    seen_nodes: set[int] = set()  # aliases share nodes; a recursive alias must not loop forever
    todo: list[Node] = [node] if node is not None else []
    while todo:
        current = todo.pop()
        if id(current) in seen_nodes:
            continue
        seen_nodes.add(id(current))
        if isinstance(current, MappingNode):
            first: dict[Any, int] = {}
            for k, v in current.value:
                todo.append(v)
                if k.tag == "tag:yaml.org,2002:merge" or not isinstance(k.value, str):
                    continue
                if k.value in first:
                    out.append(
                        Diagnostic(
                            file,
                            k.start_mark.line + 1,
                            k.start_mark.column + 1,
                            f"duplicate key '{k.value}'; it is already set on line {first[k.value]}",
                        )
                    )
                else:
                    first[k.value] = k.start_mark.line + 1
        elif isinstance(current, SequenceNode):
            todo.extend(current.value)
    return out


def plain(value: Any, _stack: tuple[int, ...] = ()) -> Any:
    """ruamel's round-trip types as builtins, so strict validation sees exactly str/int/bool.

    ruamel subclasses scalars (e.g. `HexInt`, `LiteralScalarString`) and its anchored booleans
    are ints, which would slip past or trip type checks in surprising ways.
    """
    if isinstance(value, Mapping):
        if id(value) in _stack:
            return None
        inner = (*_stack, id(value))
        return {_plain_key(k): plain(v, inner) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if id(value) in _stack:
            return None
        inner = (*_stack, id(value))
        return [plain(v, inner) for v in value]
    return _plain_scalar(value)


def _plain_key(key: Any) -> Any:
    # A complex key (`? [a, b]`) would become an unhashable list; no plan key is complex, so
    # its text is enough to report it as unknown.
    return _plain_scalar(key) if isinstance(key, str | int | float) else str(key)


def _plain_scalar(value: Any) -> Any:
    if type(value).__name__ == "ScalarBoolean":
        return bool(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value
