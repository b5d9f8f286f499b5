"""Unfinished work in the code an attempt touched: a stub left or added (`raise
NotImplementedError`, a body that is only `pass` or `...`, `todo!()`), or a TODO/FIXME added.

These are findings for the agent and the reviewer, not refusals: an empty hook method or a
TODO can be deliberate, so a person or the reviewer weighs them.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from overseer.findings import Finding, Severity
from overseer.gates.kinds import Change
from overseer.integrity.protected import is_test_file

Reader = Callable[[str], str | None]
MAX_FINDINGS = 20
_TODO = re.compile(r"(#|//|/\*|--)\s*(TODO|FIXME|XXX)\b", re.IGNORECASE)
_STUB_LINE = re.compile(
    r"\b(todo!\(|unimplemented!\(|panic!\(\s*\"not implemented|panic\(\s*\"not implemented|"
    r"throw new Error\(\s*['\"`]not implemented|UnsupportedOperationException)",
    re.IGNORECASE,
)
_CODE_SUFFIXES = (".py", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".go", ".rs", ".java", ".kt")
_SKIP_DECORATORS = {"abstractmethod", "overload", "abstractproperty"}


def find_placeholders(
    *, root: Path, before: Reader, changes: Sequence[Change], test_patterns: Sequence[str] = ()
) -> list[Finding]:
    out: list[Finding] = []
    for c in changes:
        if c.status == "D" or not c.path.endswith(_CODE_SUFFIXES) or is_test_file(c.path, test_patterns):
            continue
        try:
            text = (root / c.path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        was = before(c.old_path or c.path) or ""
        added = _added_lines(was, text)
        if c.path.endswith(".py"):
            out.extend(_python_stubs(c.path, text))
        for ln in sorted(added):
            line = text.splitlines()[ln - 1]
            if _TODO.search(line):
                out.append(_finding("todo_added", "minor", c.path, ln,
                                    f"a TODO/FIXME was added: {line.strip()}",
                                    "finish the work, or say in your final message why it is left"))
            elif not c.path.endswith(".py") and _STUB_LINE.search(line):
                out.append(_finding("placeholder", "medium", c.path, ln,
                                    f"a placeholder was added: {line.strip()}",
                                    "implement it"))
    return out[:MAX_FINDINGS]


def _python_stubs(path: str, text: str) -> list[Finding]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []  # the syntax gate reports it
    out: list[Finding] = []

    def visit(body: list[ast.stmt], in_protocol: bool) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                bases = {_name(b) for b in node.bases}
                visit(node.body, in_protocol or bool(bases & {"Protocol", "ABC"}))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if in_protocol or {_name(d) for d in node.decorator_list} & _SKIP_DECORATORS:
                    continue
                kind = _stub_kind(node)
                if kind == "raise":
                    out.append(_finding("placeholder", "medium", path, node.lineno,
                                        f"{node.name}() still raises NotImplementedError",
                                        f"implement {node.name}()"))
                elif kind == "empty":
                    out.append(_finding("placeholder", "minor", path, node.lineno,
                                        f"{node.name}() has an empty body (pass or ...)",
                                        f"implement {node.name}(), or say why it stays empty"))
                visit(node.body, in_protocol)

    visit(tree.body, False)
    return out


def _stub_kind(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]  # the docstring
    for st in body:
        if isinstance(st, ast.Raise) and st.exc is not None and "NotImplementedError" in ast.unparse(st.exc):
            return "raise"
    if body and all(isinstance(st, ast.Pass) or (isinstance(st, ast.Expr) and isinstance(
            st.value, ast.Constant) and st.value.value is Ellipsis) for st in body):
        return "empty"
    return None


def _added_lines(before: str, after: str) -> set[int]:
    """1-based numbers of the lines in `after` that are not in `before`."""
    out: set[int] = set()
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    for tag, _i1, _i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            out.update(range(j1 + 1, j2 + 1))
    return out


def _name(e: ast.expr) -> str:
    if isinstance(e, ast.Attribute):
        return e.attr
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Call):
        return _name(e.func)
    return ""


def _finding(kind: str, severity: Severity, path: str, line: int, message: str, fix: str) -> Finding:
    return Finding(source="placeholders", kind=kind, severity=severity,
                   message=message, path=path, line=line, fix=fix)
