"""Test facts of a Python test file (pytest or unittest), read from its syntax tree."""

from __future__ import annotations

import ast

from overseer.integrity.facts import Marker, MarkerKind, TestFacts

_SKIP = {"skip", "skipif", "skipIf", "skipUnless", "skipTest", "SkipTest", "importorskip",
         "__unittest_skip__"}
_XFAIL = {"xfail", "expectedFailure"}
# Names that swallow a failed assertion when caught.
_SWALLOWS = {"AssertionError", "Exception", "BaseException"}
_ASSERT_CALLS = {"fail", "raises", "warns", "deprecated_call"}


def facts(path: str, text: str) -> TestFacts | None:
    """None when the file does not parse."""
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError):
        return None
    out = TestFacts()
    lines = text.splitlines()
    _tests(tree.body, "", out)
    seen: set[int] = set()
    for node in ast.walk(tree):
        kind = _marker_kind(node)
        if kind is None:
            continue
        line = getattr(node, "lineno", 0)
        if line in seen:
            continue
        seen.add(line)
        out.markers.append(Marker(kind, line, _norm(lines[line - 1] if 0 < line <= len(lines) else "")))
    return out


def _tests(body: list[ast.stmt], prefix: str, out: TestFacts) -> None:
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            tid = prefix + node.name
            out.tests[tid] = node.lineno
            found: list[str] = []
            _assertions(node.body, found, out)
            out.assertions[tid] = found
        elif isinstance(node, ast.ClassDef) and (node.name.startswith("Test") or _is_testcase(node)):
            _tests(node.body, f"{prefix}{node.name}.", out)


def _is_testcase(node: ast.ClassDef) -> bool:
    return any(_dotted(b).endswith("TestCase") for b in node.bases)


def _assertions(body: list[ast.stmt], found: list[str], out: TestFacts) -> None:
    """Collect the assertions that can still run; stop at a statement that ends the block."""
    for st in body:
        if isinstance(st, ast.Assert):
            found.append(ast.unparse(st))
            if _always_true(st.test):
                out.trivial.append((st.lineno, ast.unparse(st)))
        elif isinstance(st, ast.Expr) and isinstance(st.value, ast.Call) and _is_assert_call(st.value):
            found.append(ast.unparse(st.value))
            if _trivial_call(st.value):
                out.trivial.append((st.lineno, ast.unparse(st.value)))
        elif isinstance(st, ast.If):
            constant = _constant(st.test)
            if constant is None or constant:
                _assertions(st.body, found, out)
            if constant is None or not constant:
                _assertions(st.orelse, found, out)
        elif isinstance(st, (ast.With, ast.AsyncWith)):
            for item in st.items:
                if isinstance(item.context_expr, ast.Call) and _is_assert_call(item.context_expr):
                    found.append(ast.unparse(item.context_expr))
            _assertions(st.body, found, out)
        elif isinstance(st, (ast.For, ast.AsyncFor, ast.While)):
            _assertions(st.body, found, out)
            _assertions(st.orelse, found, out)
        elif isinstance(st, ast.Try):
            if not any(_swallows(h) for h in st.handlers):
                _assertions(st.body, found, out)
            for h in st.handlers:
                _assertions(h.body, found, out)
            _assertions(st.orelse, found, out)
            _assertions(st.finalbody, found, out)
        if isinstance(st, (ast.Return, ast.Raise, ast.Continue, ast.Break)):
            if isinstance(st, ast.Raise) and st.exc is not None and "AssertionError" in _dotted(
                    st.exc.func if isinstance(st.exc, ast.Call) else st.exc):
                found.append(ast.unparse(st))
            return  # what follows in this block can never run


def _swallows(h: ast.ExceptHandler) -> bool:
    if any(isinstance(n, ast.Raise) for n in ast.walk(ast.Module(body=h.body, type_ignores=[]))):
        return False
    if h.type is None:
        return True
    names = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
    return any(_dotted(n).rsplit(".", 1)[-1] in _SWALLOWS for n in names)


def _is_assert_call(call: ast.Call) -> bool:
    last = _dotted(call.func).rsplit(".", 1)[-1]
    return last.startswith("assert") or last in _ASSERT_CALLS


def _trivial_call(call: ast.Call) -> bool:
    name = _dotted(call.func).rsplit(".", 1)[-1]
    args = call.args
    if name in ("assertTrue", "assert_") and args:
        return _constant(args[0]) is True
    if name == "assertFalse" and args:
        return _constant(args[0]) is False
    if name in ("assertIsNotNone",) and args:
        return isinstance(args[0], ast.Constant) and args[0].value is not None
    if name.startswith(("assertEqual", "assertIs", "assertAlmostEqual")) and len(args) >= 2:
        return ast.unparse(args[0]) == ast.unparse(args[1])
    return False


def _always_true(test: ast.expr) -> bool:
    if _constant(test) is True:
        return True
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Eq, ast.Is)):
        return ast.unparse(test.left) == ast.unparse(test.comparators[0])
    return False


def _constant(e: ast.expr) -> bool | None:
    """The truth of a constant expression, None when it is not constant."""
    if isinstance(e, ast.Constant):
        return bool(e.value)
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not):
        inner = _constant(e.operand)
        return None if inner is None else not inner
    return None


def _marker_kind(node: ast.AST) -> MarkerKind | None:
    name = None
    if isinstance(node, ast.Attribute):
        name = node.attr
    elif isinstance(node, ast.Name):
        name = node.id
    if name in _SKIP:
        return "skip"
    if name in _XFAIL:
        return "xfail"
    return None


def _dotted(e: ast.expr) -> str:
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Attribute):
        return f"{_dotted(e.value)}.{e.attr}"
    if isinstance(e, ast.Call):
        return _dotted(e.func)
    return ""


def _norm(line: str) -> str:
    return " ".join(line.split())
