"""Every way out of every breakpoint leaves the task running (with what to do next) or failed
with its reason: breakpoint kind × approve/reject/answer × attempts left/last."""

from __future__ import annotations

import pytest

from overseer.engine.answers import after_human
from overseer.engine.budget import AttemptBudget

KINDS = ["after_task", "copilot_review", "confidence_too_low", "consecutive_failures",
         "conflicting_solutions", "tests_tampered", "breaking_test_failure", "architecture_decision",
         "milestone_completion", "budget_exceeded", "time_threshold_exceeded", "my_rule",
         "before_task", "merge_conflict"]
LEFT = AttemptBudget(3, used=1)
LAST = AttemptBudget(3, used=3)


def expected(kind: str, action: str, last: bool, can_commit: bool, decided: str) -> str:
    if kind == "before_task":
        return "fail" if action == "reject" else "proceed"
    if kind == "merge_conflict":
        return "proceed" if action == "approve" else "fail"
    if action == "approve":
        if kind == "copilot_review":
            return "fail" if last and decided in ("retry", "clarify", "rollback") else "keep"
        return "proceed" if can_commit else "fail" if last else "retry"
    if kind == "budget_exceeded":
        return "fail"
    return "fail" if last else "retry"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("action", ["approve", "reject", "answer"])
@pytest.mark.parametrize("last", [False, True])
@pytest.mark.parametrize(("can_commit", "decided"), [(True, "proceed"), (False, "retry")])
def test_every_way_out_of_a_breakpoint(kind, action, last, can_commit, decided):
    out = after_human(kind, {"action": action, "note": "use the cache"}, bp="bp-1",
                      budget=LAST if last else LEFT, can_commit=can_commit, decided=decided)
    assert out.next == expected(kind, action, last, can_commit, decided)
    # Always a reason, naming the breakpoint; a failure says why nothing more will happen.
    assert "bp-1" in out.reason
    if out.next == "fail" and action != "approve" and kind not in ("merge_conflict",):
        assert "use the cache" in out.reason
    # The person's words reach the agent whenever it goes on because of them.
    if out.next == "retry" and action != "approve":
        assert out.feedback is not None and "use the cache" in out.feedback


def test_an_answer_on_the_last_attempt_fails_with_the_answer_and_the_limit():
    out = after_human("after_task", {"action": "answer", "note": "also handle unicode"}, bp="bp-9",
                      budget=LAST, can_commit=True, decided="proceed")
    assert out.next == "fail"
    assert "answered at bp-9: also handle unicode" in out.reason
    assert "no attempts are left" in out.reason and "max_attempts 3" in out.reason


@pytest.mark.parametrize(("budget", "used", "reason"), [
    (AttemptBudget(3, used=1), None, None),
    (AttemptBudget(3, used=3), None, "no attempts left after 3 (max_attempts)"),
    (AttemptBudget(3, used=1, run_retry_limit=2), 2, None),
    (AttemptBudget(3, used=1, run_retry_limit=2), 3,
     "the run used its 2 decision retries (retries.max_decision_retries_per_run)"),
])
def test_the_attempt_budget(budget, used, reason):
    assert budget.exhausted_reason(used) == reason


def test_only_judged_attempts_use_the_budget():
    b = AttemptBudget(2)
    assert (b.attempt, b.last, b.left) == (0, False, 2)
    b = b.judged()
    assert (b.attempt, b.last, b.left) == (1, False, 1)
    b = b.judged()
    assert (b.attempt, b.last, b.needs_run_count) == (2, True, False)
