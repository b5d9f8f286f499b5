"""What happens after an attempt: a pure function of the evidence (ARCHITECTURE.md: decide)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from overseer.agents.base import AgentResult
from overseer.gates.result import GateResult
from overseer.supervisor.review import Verdict

Action = Literal["proceed", "retry", "clarify", "escalate", "rollback", "abort"]

FEEDBACK_TAIL_LINES = 30


class Breakpoint(BaseModel):
    kind: str
    message: str


class Decision(BaseModel):
    action: Action
    reasons: list[str] = Field(min_length=1)
    feedback: str | None = None
    breakpoint: Breakpoint | None = None


class AttemptEvidence(BaseModel):
    """Everything decide() may look at for one attempt."""

    attempt: int
    max_attempts: int
    agent: AgentResult
    gates: list[GateResult]
    verdict: Verdict | None = None


def decide(ev: AttemptEvidence) -> Decision:
    reasons: list[str] = []
    feedback: list[str] = []
    last = ev.attempt >= ev.max_attempts

    if ev.agent.status != "completed":
        reasons.append(f"agent ended {ev.agent.status}" + (f": {ev.agent.error}" if ev.agent.error else ""))
        feedback.append(_agent_feedback(ev.agent))

    failed_required = [g for g in ev.gates if g.required and not g.passed]
    failed_optional = [g for g in ev.gates if not g.required and not g.passed]
    for g in failed_required:
        reasons.append(f"required gate {g.name} failed" + _gate_detail(g))
        feedback.append(_gate_feedback(g))
    for g in failed_optional:
        reasons.append(f"optional gate {g.name} failed" + _gate_detail(g) + " (not blocking)")

    if ev.agent.status == "completed" and not failed_required:
        passed = [g.name for g in ev.gates if g.passed]
        if passed:
            reasons.insert(0, "all required gates passed: " + ", ".join(passed))
        else:
            reasons.insert(0, "no gates configured: accepted on the agent's exit status alone")
        return Decision(action="proceed", reasons=reasons)

    if last:
        reasons.append(f"attempt {ev.attempt} of {ev.max_attempts}: no attempts left")
        return Decision(action="abort", reasons=reasons, feedback="\n\n".join(feedback) or None)
    reasons.append(f"attempt {ev.attempt} of {ev.max_attempts}: retrying with feedback")
    return Decision(action="retry", reasons=reasons, feedback="\n\n".join(feedback))


def _gate_detail(g: GateResult) -> str:
    if g.timed_out:
        return " (timed out)"
    parts = [f" (exit {g.exit_code}"]
    if g.tests is not None:
        parts.append(f", {g.tests.failed + g.tests.errors} failing tests")
    return "".join(parts) + ")"


def _gate_feedback(g: GateResult) -> str:
    lines = [f"The gate `{g.name}` failed" + _gate_detail(g) + "."]
    if g.failing_tests:
        lines.append("Failing tests:")
        lines.extend(f"- {t}" for t in g.failing_tests)
    tail = _tail(g.output_tail, FEEDBACK_TAIL_LINES)
    if tail:
        lines.append(f"Last lines of its output:\n```\n{tail}\n```")
    return "\n".join(lines)


def _agent_feedback(r: AgentResult) -> str:
    msg = f"Your previous attempt ended {r.status}" + (f" ({r.error})" if r.error else "") + "."
    tail = _tail(r.final_message, FEEDBACK_TAIL_LINES)
    return msg + (f" Its last output:\n```\n{tail}\n```" if tail else "")


def _tail(text: str, n: int) -> str:
    lines: Sequence[str] = text.strip("\n").splitlines()
    return "\n".join(lines[-n:])
