"""Test facts of JS/TS, Go, Rust and Java test files, read line by line (no parser).

Good enough to compare two versions of one file: which tests exist, which skip/only markers
appear, and which assertion lines each test has. A test's body runs from its header to the
next test header (JS) or to the brace that closes it (Go, Rust, Java).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from overseer.integrity.facts import Marker, MarkerKind, TestFacts

_JS = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx")
_JS_TEST = re.compile(r"""^\s*(?:it|test)(?:\.(?:skip|only|todo|failing))?\s*\(\s*(['"`])(.+?)\1""")
_JS_MARKERS: list[tuple[re.Pattern[str], MarkerKind]] = [
    (re.compile(r"\b(?:it|test|describe|suite)\.(?:skip|todo)\s*\(|\bx(?:it|test|describe)\s*\("
                r"|[{,]\s*(?:skip|todo)\s*:\s*(?!false\b)|\bt\.(?:skip|todo)\s*\("), "skip"),
    (re.compile(r"\b(?:it|test|describe|suite)\.only\s*\(|\bf(?:it|describe)\s*\(|[{,]\s*only\s*:\s*true"), "only"),
    (re.compile(r"\b(?:it|test)\.failing\s*\("), "xfail"),
]
_JS_ASSERT = re.compile(r"\bexpect\s*\(|\bassert\b|\.should\b")
_JS_TRIVIAL = re.compile(r"expect\s*\(\s*(true|1|(['\"]).*?\2)\s*\)\s*\.\s*(?:toBe|toEqual|toStrictEqual)\s*\(\s*\1\s*\)"
                         r"|assert(?:\.ok)?\s*\(\s*true\s*\)|assert\.(?:equal|strictEqual|deepEqual)\s*\(\s*(\w+|\d+)\s*,\s*\3\s*\)")

_GO_TEST = re.compile(r"^func\s+(Test\w*)\s*\(\s*\w+\s+\*testing\.T\s*\)")
_GO_MARKERS: list[tuple[re.Pattern[str], MarkerKind]] = [(re.compile(r"\bt\.Skip(?:f|Now)?\s*\("), "skip")]
_GO_ASSERT = re.compile(r"\bt\.(?:Error|Errorf|Fatal|Fatalf|Fail|FailNow)\b|\b(?:assert|require)\.|\bif\b.*(?:!=|==)")
_GO_TRIVIAL = re.compile(r"\bif\s+false\s*\{")

_RS_TEST_ATTR = re.compile(r"^\s*#\[(?:tokio::)?test\b")
_RS_FN = re.compile(r"^\s*(?:pub\s+)?(?:async\s+)?fn\s+(\w+)")
_RS_MARKERS: list[tuple[re.Pattern[str], MarkerKind]] = [(re.compile(r"#\[ignore\b"), "skip")]
_RS_ASSERT = re.compile(r"\b(?:assert|assert_eq|assert_ne|debug_assert\w*|panic)!\s*\(")
_RS_TRIVIAL = re.compile(r"\bassert!\s*\(\s*true\s*\)|\bassert_eq!\s*\(\s*(\w+)\s*,\s*\1\s*\)")

_JAVA_TEST_ATTR = re.compile(r"^\s*@(?:Test|ParameterizedTest|RepeatedTest)\b")
_JAVA_METHOD = re.compile(r"^\s*(?:public\s+|protected\s+|private\s+)?(?:static\s+)?void\s+(\w+)\s*\(")
_JAVA_MARKERS: list[tuple[re.Pattern[str], MarkerKind]] = [
    (re.compile(r"@(?:Disabled|Ignore)\b|\bAssum(?:e|ptions)\.assume\w*\s*\("), "skip")]
_JAVA_ASSERT = re.compile(r"\bassert\w*\s*\(|\bfail\s*\(|\bassertThat\s*\(")
_JAVA_TRIVIAL = re.compile(r"\bassertTrue\s*\(\s*true\s*\)|\bassertEquals\s*\(\s*(\w+)\s*,\s*\1\s*\)")


def facts(path: str, text: str) -> TestFacts | None:
    lines = [_strip_comment(line) for line in text.splitlines()]
    if path.endswith(_JS):
        return _js(lines)
    if path.endswith("_test.go"):
        return _braced(lines, _GO_MARKERS, _GO_ASSERT, _GO_TRIVIAL,
                       lambda i: m.group(1) if (m := _GO_TEST.match(lines[i])) else None)
    if path.endswith(".rs"):
        return _braced(lines, _RS_MARKERS, _RS_ASSERT, _RS_TRIVIAL, _after_attr(lines, _RS_TEST_ATTR, _RS_FN))
    if path.endswith(".java"):
        return _braced(lines, _JAVA_MARKERS, _JAVA_ASSERT, _JAVA_TRIVIAL,
                       _after_attr(lines, _JAVA_TEST_ATTR, _JAVA_METHOD))
    return None


def _strip_comment(line: str) -> str:
    line = re.sub(r"/\*.*?\*/", "", line)
    # A `//` that starts a comment (not one inside a URL string such as "http://x").
    m = re.search(r"(^|[^:'\"])//", line)
    return line[: m.start() + len(m.group(1))] if m else line


def _norm(line: str) -> str:
    return " ".join(line.split())


def _markers(out: TestFacts, lines: list[str], patterns: list[tuple[re.Pattern[str], MarkerKind]]) -> None:
    for i, line in enumerate(lines, 1):
        for rx, kind in patterns:
            if rx.search(line):
                out.markers.append(Marker(kind, i, _norm(line)))
                break


def _js(lines: list[str]) -> TestFacts:
    out = TestFacts()
    _markers(out, lines, _JS_MARKERS)
    current: str | None = None
    for i, line in enumerate(lines, 1):
        m = _JS_TEST.match(line)
        if m:
            current = m.group(2)
            out.tests.setdefault(current, i)
            out.assertions.setdefault(current, [])
            line = line[m.end():]
        if current is not None and _JS_ASSERT.search(line):
            out.assertions[current].append(_norm(line))
            if _JS_TRIVIAL.search(line):
                out.trivial.append((i, _norm(line)))
    return out


Header = Callable[[int], "str | None"]


def _after_attr(lines: list[str], attr: re.Pattern[str], fn: re.Pattern[str]) -> Header:
    """A header finder: a function that follows a test attribute within a few lines."""
    def header(i: int) -> str | None:
        m = fn.match(lines[i])
        if not m:
            return None
        for j in range(max(0, i - 4), i):
            if attr.match(lines[j]):
                return m.group(1)
        return None
    return header


def _braced(lines: list[str], markers: list[tuple[re.Pattern[str], MarkerKind]],
            asserts: re.Pattern[str], trivial: re.Pattern[str], header: Header) -> TestFacts:
    out = TestFacts()
    _markers(out, lines, markers)
    i = 0
    while i < len(lines):
        name = header(i)
        if name is None:
            i += 1
            continue
        out.tests.setdefault(name, i + 1)
        found = out.assertions.setdefault(name, [])
        depth, opened, j = 0, False, i
        while j < len(lines):
            depth += lines[j].count("{") - lines[j].count("}")
            opened = opened or "{" in lines[j]
            if j > i and asserts.search(lines[j]):
                found.append(_norm(lines[j]))
                if trivial.search(lines[j]):
                    out.trivial.append((j + 1, _norm(lines[j])))
            if opened and depth <= 0:
                break
            j += 1
        i = j + 1
    return out
