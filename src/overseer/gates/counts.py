"""Test counts from the summary a test runner prints, for gates that write no JUnit report.

Recognised: Python unittest, pytest, `go test -v`, node's built-in runner (TAP and spec
reporters), jest, vitest and `cargo test`. How their words map onto TestCounts:
- skipped: skipped, xfailed / expected failures, todo, deselected, ignored, filtered out —
  a test that did not run, or ran without the power to fail the gate;
- failed: failed, unittest's unexpected successes; errors: errors, node's cancelled;
- passed: passed, pytest's xpassed (pytest itself counts a non-strict xpass as a pass).

When the output holds summaries of several runners (a gate that runs two suites, a test that
prints another runner's output), the summary that ends last wins, whole: counts of different
runners are never added up. cargo and go print one result per test binary or package, so their
"summary" is the sum over the whole output and ends at its last line. Those sums need the whole
output: when the start of the output was dropped (`truncated`), they are not given at all,
since a partial sum would read as tests that stopped running.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from overseer.gates.result import TestCounts

# CSI sequences (colours, cursor moves), OSC sequences (titles, links), charset selection (ESC ( B).
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>]")

_PYTEST = re.compile(
    r"^=*\s*(?P<body>no tests ran|\d+ \w+(?: \w+)*(?:, \d+ \w+(?: \w+)*)*)"
    r" in [\d.]+\s*s(?:econds)?(?: \([\d:.]+\))?\s*=*$")
_PYTEST_WORDS = {"passed": "passed", "xpassed": "passed", "failed": "failed", "skipped": "skipped",
                 "xfailed": "skipped", "deselected": "skipped", "error": "errors", "errors": "errors"}

_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in [\d.]+s$")
_UNITTEST_END = re.compile(r"^(OK|FAILED|NO TESTS RAN)(?: \((.*)\))?$")
_UNITTEST_WORDS = {"failures": "failed", "unexpected successes": "failed", "errors": "errors",
                   "skipped": "skipped", "expected failures": "skipped"}

_NODE = re.compile(r"^(?:#|ℹ) (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)$")

_JEST = re.compile(r"^Tests:\s+(?P<body>.*?)\s*(?P<total>\d+) total$")
_VITEST = re.compile(r"^\s*Tests\s+(?P<body>\d+ \w+(?: \w+)*(?: \| \d+ \w+(?: \w+)*)*) \((?P<total>\d+)\)$")
_JS_WORDS = {"passed": "passed", "failed": "failed", "skipped": "skipped", "todo": "skipped",
             "pending": "skipped"}

_CARGO = re.compile(r"^test result: (?:ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored; "
                    r"(\d+) measured; (\d+) filtered out")

_GO = re.compile(r"^\s*--- (PASS|FAIL|SKIP): \S")
_GO_RUN = re.compile(r"^\s*=== RUN\s")
_GO_FIELD = {"PASS": "passed", "FAIL": "failed", "SKIP": "skipped"}


@dataclass(frozen=True)
class _Summary:
    end: int  # index of the line the summary ends on
    counts: TestCounts


def counts_from_output(text: str, *, truncated: bool = False) -> TestCounts | None:
    """The counts of the last complete runner summary in `text`; None when there is none.
    `truncated`: `text` is the end of a longer output (see the module's docstring)."""
    lines = [line.rstrip() for line in clean(text).split("\n")]
    found: list[_Summary] = []
    for parse in _PER_RUN:
        found.extend(parse(lines))
    if not truncated:
        for aggregate in _AGGREGATES:
            s = aggregate(lines)
            if s is not None:
                found.append(s)
    if not found:
        return None
    return max(found, key=lambda s: s.end).counts


def clean(text: str) -> str:
    """`text` without terminal escapes, and with carriage returns as line breaks."""
    return _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def _add(counts: TestCounts, field: str, n: int) -> None:
    setattr(counts, field, getattr(counts, field) + n)


def _items(body: str, sep: str, words: dict[str, str]) -> TestCounts:
    """'3 passed, 1 skipped' → counts; words a runner may add that say nothing of tests
    (warnings, reruns, subtests) are left out."""
    counts = TestCounts()
    for item in body.split(sep):
        n, _, word = item.strip().partition(" ")
        if n.isdigit() and word in words:
            _add(counts, words[word], int(n))
    return counts


def _pytest(lines: list[str]) -> list[_Summary]:
    out = []
    for i, line in enumerate(lines):
        m = _PYTEST.match(line)
        if m:
            body = m.group("body")
            counts = TestCounts() if body == "no tests ran" else _items(body, ",", _PYTEST_WORDS)
            out.append(_Summary(i, counts))
    return out


def _unittest(lines: list[str]) -> list[_Summary]:
    out = []
    for i, line in enumerate(lines):
        m = _UNITTEST_RAN.match(line)
        if not m:
            continue
        j = i + 1
        while j < len(lines) and not lines[j]:
            j += 1
        end = _UNITTEST_END.match(lines[j]) if j < len(lines) else None
        if end is None:
            continue  # "Ran N tests" alone: the run did not finish its report
        counts = TestCounts()
        for part in (end.group(2) or "").split(","):
            word, _, n = part.strip().partition("=")
            if n.isdigit() and word in _UNITTEST_WORDS:
                _add(counts, _UNITTEST_WORDS[word], int(n))
        counts.passed = max(0, int(m.group(1)) - counts.failed - counts.errors - counts.skipped)
        out.append(_Summary(j, counts))
    return out


def _node(lines: list[str]) -> list[_Summary]:
    """One summary per run of consecutive `# name N` (TAP) or `ℹ name N` (spec) lines."""
    out: list[_Summary] = []
    block: dict[str, float] = {}
    last = -2

    def flush() -> None:
        if {"tests", "pass", "fail"} <= block.keys():
            out.append(_Summary(last, TestCounts(
                passed=int(block["pass"]), failed=int(block["fail"]),
                skipped=int(block.get("skipped", 0) + block.get("todo", 0)),
                errors=int(block.get("cancelled", 0)))))
        block.clear()

    for i, line in enumerate(lines):
        m = _NODE.match(line)
        if m is None:
            continue
        if last != i - 1:
            flush()
        block[m.group(1)] = float(m.group(2))
        last = i
    flush()
    return out


def _jest(lines: list[str]) -> list[_Summary]:
    out = []
    for i, line in enumerate(lines):
        m = _JEST.match(line)
        if m:
            out.append(_Summary(i, _items(m.group("body"), ",", _JS_WORDS)))
    return out


def _vitest(lines: list[str]) -> list[_Summary]:
    out = []
    for i, line in enumerate(lines):
        m = _VITEST.match(line)
        if m:
            out.append(_Summary(i, _items(m.group("body"), "|", _JS_WORDS)))
    return out


def _cargo(lines: list[str]) -> _Summary | None:
    counts, end = TestCounts(), -1
    for i, line in enumerate(lines):
        m = _CARGO.match(line)
        if m:
            passed, failed, ignored, measured, filtered = (int(g) for g in m.groups())
            counts.passed += passed + measured
            counts.failed += failed
            counts.skipped += ignored + filtered
            end = i
    return _Summary(end, counts) if end >= 0 else None


def _go(lines: list[str]) -> _Summary | None:
    # Without -v, go test prints only the failures: counting them would read as tests gone.
    if not any(_GO_RUN.match(line) for line in lines):
        return None
    counts, end = TestCounts(), -1
    for i, line in enumerate(lines):
        m = _GO.match(line)
        if m:
            _add(counts, _GO_FIELD[m.group(1)], 1)
            end = i
    return _Summary(end, counts) if end >= 0 else None


_PER_RUN: tuple[Callable[[list[str]], list[_Summary]], ...] = (_pytest, _unittest, _node, _jest, _vitest)
_AGGREGATES: tuple[Callable[[list[str]], _Summary | None], ...] = (_cargo, _go)
