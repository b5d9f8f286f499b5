"""Which tests failed, and with what message, from the output unittest and pytest print.

Gates that write JUnit name their failing tests; plain `unittest` or `pytest` runs without a
report only print them. Both formats are read from the output tail, so feedback can quote each
failing test's assertion line and a failure signature can tell one failure from another.
"""

from __future__ import annotations

import re

# Enough to show what was expected and what came; more is noise the agent can rerun to see.
ASSERTION_LINES_PER_TEST = 4

_UNITTEST_HEAD = re.compile(r"^(FAIL|ERROR): (\S+) \(([^)]*)\)")
_PYTEST_SUMMARY = re.compile(r"^(FAILED|ERROR) (\S+?)(?: - (.*))?$")
_PYTEST_SECTION = re.compile(r"^_{3,} (.+?) _{3,}$")
_ASSERTISH = re.compile(r"(assert|!=|==|[Ee]xpected)")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Failure)\b(:|$)")
# "File ..." frames and pytest's "path.py:7: AssertionError" locations point, they do not say.
_LOCATION = re.compile(r"^(File |\S+:\d+: )")


def failures_in_output(tail: str, *, strong_only: bool = False) -> dict[str, list[str]]:
    """Failing test name -> its assertion lines, as printed by unittest or pytest. With
    `strong_only`, only pytest's `E` lines and exception lines: messages, never a line of the
    test's source (what a holdout gate may reveal)."""
    strong: dict[str, list[str]] = {}  # pytest's `E` lines, the exception line of a traceback
    weak: dict[str, list[str]] = {}  # other lines that look like a comparison, as a fallback
    current: str | None = None
    for raw in tail.splitlines():
        line = raw.rstrip()
        m = _UNITTEST_HEAD.match(line)
        if m:
            # "FAIL: test_x (mod.Class.test_x)" (3.11+) or "(mod.Class)" (older): the dotted
            # form names the test uniquely.
            dotted = m.group(3)
            current = dotted if dotted.endswith("." + m.group(2)) else f"{dotted}.{m.group(2)}"
            strong.setdefault(current, [])
            continue
        m = _PYTEST_SUMMARY.match(line)
        if m and ("::" in m.group(2) or m.group(2).endswith(".py")):
            _add(strong.setdefault(m.group(2), []), m.group(3))
            current = None
            continue
        m = _PYTEST_SECTION.match(line)
        if m:
            current = m.group(1).strip()
            strong.setdefault(current, [])
            continue
        if current is None or not line.strip():
            continue
        text = line.strip()
        if line.startswith("E "):
            _add(strong[current], text[1:].strip())
        elif _EXCEPTION_LINE.match(text):
            _add(strong[current], text)
        elif not strong_only and _ASSERTISH.search(text) and not _LOCATION.match(text):
            _add(weak.setdefault(current, []), text)
    found = {name: lines or weak.get(name, [])[:ASSERTION_LINES_PER_TEST]
             for name, lines in strong.items()}
    # pytest prints a section per test under its short name and the summary under its node id;
    # fold the section's lines into the node id so each test is listed once.
    for name in [n for n in found if "::" not in n]:
        for node in found:
            if "::" in node and node.rsplit("::", 1)[-1] == name.split(".")[-1]:
                found[node] = _merge(found[node], found.pop(name))
                break
    return found


def _add(lines: list[str], text: str | None) -> None:
    if text and text not in lines and len(lines) < ASSERTION_LINES_PER_TEST:
        lines.append(text)


def _merge(a: list[str], b: list[str]) -> list[str]:
    return (a + [x for x in b if x not in a])[:ASSERTION_LINES_PER_TEST]


def lines_for(found: dict[str, list[str]], test: str) -> list[str]:
    """The lines `failures_in_output` found for `test`, matched by its full id or, when the
    runners name it differently (pytest node id vs unittest dotted name), by its short name."""
    if test in found:
        return found[test]
    short = test.replace("::", ".").split(".")[-1]
    for name, lines in found.items():
        if name.replace("::", ".").split(".")[-1] == short:
            return lines
    return []
