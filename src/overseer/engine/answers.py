"""What a person's answer at a breakpoint means for the task: a pure function, so every way out
of every breakpoint is in one table (tests/unit/test_human.py walks all of it).

Each outcome either goes on (proceed, retry with the person's words as feedback, keep what
overseer decided) or ends the task as failed with a reason that says who ended it and why —
never a task left `running` with nothing to run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from overseer.engine.budget import AttemptBudget

Answer = Literal["approve", "reject", "answer"]
Next = Literal["proceed", "retry", "keep", "fail"]


@dataclass(frozen=True)
class HumanOutcome:
    next: Next  # keep: do what overseer decided (a copilot approval)
    feedback: str | None = None  # for the agent's next prompt
    reason: str = ""  # for the task's state: why it goes on or why it failed


def human_feedback(action: str, note: str | None) -> str:
    verb = "answered" if action == "answer" else "reviewed your work and asked for changes"
    return f"A person {verb}:\n\n{note or ''}".strip()


def after_human(
    kind: str,
    answer: dict[str, Any],
    *,
    bp: str,
    budget: AttemptBudget,
    can_commit: bool,
    decided: str,
) -> HumanOutcome:
    """`can_commit`: the attempt's work may be committed (the agent completed, every required
    gate passed, no blocking finding). `decided`: overseer's own action for this attempt."""
    action, note = answer["action"], answer.get("note")
    said = {"approve": "approved", "reject": "rejected", "answer": "answered"}[action] + f" at {bp}"
    said_note = f"{said}: {note}" if note else said
    if kind == "before_task":
        if action == "reject":
            return HumanOutcome("fail", reason=f"{said_note} before it started")
        return HumanOutcome("proceed", human_feedback(action, note) if action == "answer" else None, said)
    if kind == "merge_conflict":
        if action == "approve":
            return HumanOutcome("proceed", reason=f"{said}: merging again")
        return HumanOutcome("fail", reason=f"merge conflict not resolved ({said_note})")
    if action == "approve":
        if kind == "copilot_review":
            if decided in ("retry", "clarify", "rollback") and budget.last:
                return HumanOutcome("fail", reason=f"{said} overseer's {decided}, but no attempts are left")
            return HumanOutcome("keep", reason=f"{said}: {decided}")
        if can_commit:
            return HumanOutcome("proceed", reason=said)
        if budget.last:
            return HumanOutcome("fail", reason=f"{said}, but the attempt cannot be committed (a required "
                                               "gate fails or the tests were tampered with) and no "
                                               "attempts are left")
        return HumanOutcome("retry", reason=f"{said}, but the attempt cannot be committed: retrying")
    if kind == "budget_exceeded":
        # Rejecting or answering a budget stop means: stop spending.
        return HumanOutcome("fail", reason=f"budget exceeded; {said_note}")
    if budget.last:
        what = "to act on the answer" if action == "answer" else "for the changes asked for"
        return HumanOutcome("fail", human_feedback(action, note),
                            reason=f"{said_note}; no attempts are left {what} (max_attempts {budget.max_attempts})")
    return HumanOutcome("retry", human_feedback(action, note), reason=f"{said}: retrying with the note")
