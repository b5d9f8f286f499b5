"""What a retry tells the agent, and which tests failed: pure text work for decide().

Gates that write JUnit name their failing tests; plain `unittest` or `pytest` runs without a
report only print them. Both formats are read from the output tail, so the feedback can quote
each failing test's assertion line and the failure signature can tell one failure from another.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from overseer.agents.base import AgentResult
from overseer.gates.result import GateResult
from overseer.supervisor.review import Issue, Verdict

FEEDBACK_TAIL_LINES = 30
# Enough to show what was expected and what came; more is noise the agent can rerun to see.
ASSERTION_LINES_PER_TEST = 4
MAX_TESTS_LISTED = 20

_UNITTEST_HEAD = re.compile(r"^(FAIL|ERROR): (\S+) \(([^)]*)\)")
_PYTEST_SUMMARY = re.compile(r"^(FAILED|ERROR) (\S+?)(?: - (.*))?$")
_PYTEST_SECTION = re.compile(r"^_{3,} (.+?) _{3,}$")
_ASSERTISH = re.compile(r"(assert|!=|==|[Ee]xpected)")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Failure)\b(:|$)")
# "File ..." frames and pytest's "path.py:7: AssertionError" locations point, they do not say.
_LOCATION = re.compile(r"^(File |\S+:\d+: )")


def failures_in_output(tail: str) -> dict[str, list[str]]:
    """Failing test name -> its assertion lines, as printed by unittest or pytest."""
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
        elif _ASSERTISH.search(text) and not _LOCATION.match(text):
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


def failing_tests(g: GateResult) -> list[str]:
    """The gate's failing tests: from its JUnit report, else from its printed output."""
    if g.failing_tests:
        return list(g.failing_tests)
    if g.passed:
        return []
    return sorted(failures_in_output(g.output_tail))


def assertion_lines(g: GateResult, test: str) -> list[str]:
    parsed = failures_in_output(g.output_tail)
    if test in parsed:
        return parsed[test]
    short = test.replace("::", ".").split(".")[-1]
    for name, lines in parsed.items():
        if name.replace("::", ".").split(".")[-1] == short:
            return lines
    return []


def gate_detail(g: GateResult) -> str:
    if g.timed_out:
        return " (timed out)"
    parts = [f" (exit {g.exit_code}"]
    if g.tests is not None:
        parts.append(f", {g.tests.failed + g.tests.errors} failing tests")
    return "".join(parts) + ")"


def gate_feedback(g: GateResult) -> str:
    lines = [f"The gate `{g.name}` failed" + gate_detail(g) + "."]
    tests = failing_tests(g)
    if tests:
        lines.append("Failing tests:")
        for t in tests[:MAX_TESTS_LISTED]:
            lines.append(f"- {t}")
            lines.extend(f"    {a}" for a in assertion_lines(g, t))
        if len(tests) > MAX_TESTS_LISTED:
            lines.append(f"- … and {len(tests) - MAX_TESTS_LISTED} more")
    tail = tail_lines(g.output_tail, FEEDBACK_TAIL_LINES)
    if tail:
        lines.append(f"Last lines of its output:\n```\n{tail}\n```")
    return "\n".join(lines)


def regression_feedback(g: GateResult) -> str:
    names = "\n".join(f"- {t}" for t in g.regressions[:MAX_TESTS_LISTED])
    return f"These tests in `{g.name}` passed before this task and fail now:\n{names}"


def agent_feedback(r: AgentResult) -> str:
    msg = f"Your previous attempt ended {r.status}" + (f" ({r.error})" if r.error else "") + "."
    if r.status == "timeout":
        msg = ("Your previous attempt ran out of time and was stopped"
               + (f" ({r.error})" if r.error else "") + ". What you changed so far is still in "
               "the workspace; work in smaller steps so you finish within the time limit.")
    tail = tail_lines(r.final_message, FEEDBACK_TAIL_LINES)
    return msg + (f" Its last output:\n```\n{tail}\n```" if tail else "")


def issues_of(v: Verdict, *severities: str) -> list[Issue]:
    return [i for i in v.issues if i.severity in severities]


def verdict_feedback(v: Verdict) -> str:
    """The reviewer's objections, for the agent: unmet criteria, major/medium issues, follow-up."""
    parts: list[str] = []
    if v.unmet_criteria:
        parts.append("Acceptance criteria the reviewer found unmet:\n"
                     + "\n".join(f"- {c}" for c in v.unmet_criteria))
    issues = issues_of(v, "major", "medium")
    if issues:
        parts.append("Issues the reviewer found:\n"
                     + "\n".join(f"- [{i.severity}] {i.description}" for i in issues))
    if v.follow_up:
        parts.append(f"The reviewer asks: {v.follow_up}")
    if not parts and not v.complete:
        # A bare "not complete" still has to tell the agent something it can act on.
        parts.append("The reviewer judged the task not complete but named nothing specific: check "
                     "the work against every acceptance criterion and finish what is missing.")
    return "\n\n".join(parts)


def tail_lines(text: str, n: int) -> str:
    lines: Sequence[str] = text.strip("\n").splitlines()
    return "\n".join(lines[-n:])
