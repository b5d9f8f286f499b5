"""What a retry tells the agent, and which tests failed: pure text work for decide().

Gates that write JUnit name their failing tests; plain `unittest` or `pytest` runs without a
report only print them. Both formats are read from the output tail, so the feedback can quote
each failing test's assertion line and the failure signature can tell one failure from another.
"""

from __future__ import annotations

from collections.abc import Sequence

from overseer.agents.base import AgentResult
from overseer.findings import Finding
from overseer.gates.failures import failures_in_output, lines_for
from overseer.gates.result import GateResult
from overseer.supervisor.review import Issue, Verdict

FEEDBACK_TAIL_LINES = 30
MAX_TESTS_LISTED = 20

def failing_tests(g: GateResult) -> list[str]:
    """The gate's failing tests: from its JUnit report, else from its printed output."""
    if g.failing_tests:
        return list(g.failing_tests)
    if g.passed:
        return []
    return sorted(failures_in_output(g.output_tail))


def assertion_lines(g: GateResult, test: str) -> list[str]:
    return lines_for(failures_in_output(g.output_tail), test)


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


def findings_feedback(findings: Sequence[Finding]) -> str:
    """Blocking findings, each by file:line with what to do instead."""
    lines = ["Your change was not accepted and has been reverted: it changed the tests or the "
             "checks instead of making the code pass them."]
    for f in findings[:MAX_TESTS_LISTED]:
        lines.append(f"- {f.text()}" + (f" — {f.fix}" if f.fix else ""))
    if len(findings) > MAX_TESTS_LISTED:
        lines.append(f"- … and {len(findings) - MAX_TESTS_LISTED} more")
    lines.append("Leave the existing tests and the gates' files as they are; change the code "
                 "until the tests pass. Adding new tests is fine.")
    return "\n".join(lines)


def notes_feedback(findings: Sequence[Finding]) -> str:
    """Findings that do not refuse the attempt but that the agent should hear about."""
    return "Also found in your change:\n" + "\n".join(
        f"- {f.text()}" + (f" — {f.fix}" if f.fix else "") for f in findings[:MAX_TESTS_LISTED])
