"""decide(): every action and every invariant, table-driven, plus the failure signature and the
feedback a retry carries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overseer.agents.base import AgentResult
from overseer.config import DecisionSettings
from overseer.engine.decide import (
    AttemptEvidence,
    AttemptSummary,
    Decision,
    Thresholds,
    decide,
    failure_signature,
)
from overseer.engine.decide_feedback import failures_in_output
from overseer.gates.result import GateResult, TestCounts
from overseer.supervisor.review import Issue, Verdict

PYTEST_TAIL = """\
____________________________ test_negative ____________________________
    def test_negative():
>       assert double(-2) == -4
E       assert 4 == -4
E        +  where 4 = double(-2)
tests/test_m.py:7: AssertionError
=========================== short test summary info ===========================
FAILED tests/test_m.py::test_negative - assert 4 == -4
1 failed, 1 passed in 0.02s
"""

UNITTEST_TAIL = """\
test_double (test_mathx.T.test_double) ... ok
test_double_negative (test_mathx.T.test_double_negative) ... FAIL

======================================================================
FAIL: test_double_negative (test_mathx.T.test_double_negative)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/tmp/r/test_mathx.py", line 7, in test_double_negative
    self.assertEqual(double(-2), -4)
AssertionError: 4 != -4

----------------------------------------------------------------------
Ran 2 tests in 0.000s

FAILED (failures=1)
"""


def ok_gate(name: str = "unit", tests: int = 3, required: bool = True) -> GateResult:
    return GateResult(name=name, required=required, passed=True, exit_code=0,
                      tests=TestCounts(passed=tests) if tests else None)


def bad_gate(name: str = "unit", failing: list[str] | None = None, tail: str = "",
             required: bool = True) -> GateResult:
    failing = ["tests/test_m.py::test_negative"] if failing is None else failing
    return GateResult(name=name, required=required, passed=False, exit_code=1,
                      tests=TestCounts(passed=1, failed=len(failing)), failing_tests=failing,
                      output_tail=tail)


def agent(status: str = "completed", **kw: Any) -> AgentResult:
    return AgentResult.model_validate({"status": status, **kw})


def llm(complete: bool = True, score: float = 0.9, confidence: float = 0.9, **kw: Any) -> Verdict:
    return Verdict(complete=complete, score=score, confidence=confidence, reviewer="embedded:x", **kw)


def rules(complete: bool = True) -> Verdict:
    return Verdict(complete=complete, score=1.0, confidence=0.9, reviewer="rules")


def hist(action: str, signature: str = "", **kw: Any) -> AttemptSummary:
    return AttemptSummary.model_validate({"attempt": 1, "action": action, "signature": signature, **kw})


SIG = "gate:unit[tests/test_m.py::test_negative]"
MEDIUM3 = [Issue(severity="medium", description=f"m{i}") for i in range(3)]

# (id, evidence kwargs, expected action, expected breakpoint kind, a phrase in the reasons)
CASES: list[tuple[str, dict[str, Any], str, str | None, str]] = [
    # -- gates alone: the engine's behaviour before any reviewer existed
    ("gates pass, no verdict", dict(gates=[ok_gate()]), "proceed", None, "decided on the gates alone"),
    ("no gates at all", dict(gates=[]), "proceed", None, "agent's exit status alone"),
    ("gates pass, rules verdict", dict(gates=[ok_gate()], verdict=rules()), "proceed", None, "rules only"),
    ("review failed: gates decide", dict(gates=[ok_gate()], review_error="invalid answer twice"),
     "proceed", None, "review failed: invalid answer twice"),
    ("required gate fails", dict(gates=[bad_gate()]), "retry", None, "required gate unit failed"),
    ("optional gate fails only", dict(gates=[ok_gate(), bad_gate("lint", [], required=False)]),
     "proceed", None, "not blocking"),
    ("agent failed", dict(agent=agent("failed", error="exit 3"), gates=[ok_gate()]), "retry", None,
     "agent ended failed"),
    ("last attempt fails", dict(attempt=3, gates=[bad_gate()]), "abort", None, "no attempts left"),
    # -- invariant: a failing required gate never proceeds, whatever the LLM says
    ("required gate fails, LLM says done", dict(gates=[bad_gate()], verdict=llm(score=1, confidence=1)),
     "retry", None, "required gate unit failed"),
    ("regression in optional gate", dict(gates=[ok_gate(), GateResult(
        name="slow", required=False, passed=False, exit_code=1, regressions=["t::a"])]),
     "retry", None, "passed before this task"),
    # -- rate limits wait, and are no failure
    ("rate limited", dict(agent=agent("rate_limited", retry_at=datetime(2030, 1, 1, tzinfo=UTC)),
                          gates=[bad_gate()]), "retry", None, "waiting until 2030-01-01"),
    ("rate limited on last attempt", dict(attempt=3, agent=agent("rate_limited"), gates=[]),
     "retry", None, "not counted as a failure"),
    # -- repeated identical failures: rollback once, then a human
    ("same failure twice", dict(gates=[bad_gate()], history=[hist("retry", SIG)]), "rollback", None,
     "fresh agent session"),
    ("same failure after rollback", dict(attempt=3, max_attempts=5, gates=[bad_gate()],
                                         history=[hist("retry", SIG), hist("rollback", SIG)]),
     "escalate", "consecutive_failures", "also after a rollback"),
    ("different failure", dict(gates=[bad_gate()], history=[hist("retry", "gate:unit[other]")]),
     "retry", None, "retrying with feedback"),
    ("rate limit between identical failures", dict(attempt=3, max_attempts=5, gates=[bad_gate()],
     history=[hist("retry", SIG), hist("retry", "", agent_status="rate_limited")]),
     "rollback", None, "2 times in a row"),
    # -- the reviewer holds back a task whose gates pass
    ("LLM: incomplete", dict(gates=[ok_gate()], verdict=llm(False, unmet_criteria=["handles -x"])),
     "retry", None, "unmet handles -x"),
    ("LLM: incomplete, disagreements used up",
     dict(attempt=3, max_attempts=5, gates=[ok_gate()], verdict=llm(False),
          history=[hist("retry", disagreement=True), hist("retry", disagreement=True)]),
     "escalate", "conflicting_solutions", "max_disagreements: 2"),
    ("LLM: incomplete on last attempt", dict(attempt=3, gates=[ok_gate()], verdict=llm(False)),
     "escalate", "conflicting_solutions", "no attempts left"),
    ("LLM: complete but lists unmet", dict(gates=[ok_gate()], verdict=llm(unmet_criteria=["docs"])),
     "retry", None, "lists unmet criteria"),
    ("LLM: major issue", dict(gates=[ok_gate()],
                              verdict=llm(issues=[Issue(severity="major", description="stubbed")])),
     "retry", None, "1 major issue(s): stubbed"),
    ("LLM: 3 medium issues", dict(gates=[ok_gate()], verdict=llm(issues=MEDIUM3)), "retry", None,
     "3 medium issues > decision.max_medium_issues 2"),
    ("LLM: 2 medium issues", dict(gates=[ok_gate()], verdict=llm(issues=MEDIUM3[:2])), "proceed",
     None, ">= decision.proceed_at"),
    # -- confidence routing
    ("LLM: complete, confident", dict(gates=[ok_gate()], verdict=llm()), "proceed", None,
     "judged it complete"),
    ("LLM: complete, no gates, low score", dict(gates=[], verdict=llm(score=0.2, confidence=0.9)),
     "escalate", "confidence_too_low", "decision.escalate_below"),
    ("LLM: complete, middling", dict(gates=[], verdict=llm(score=0.9, confidence=0.9)), "clarify",
     None, "show how"),
    ("LLM: middling after a clarify", dict(gates=[], verdict=llm(), history=[hist("clarify")]),
     "escalate", "confidence_too_low", "already asked"),
    ("LLM: middling on last attempt", dict(attempt=3, gates=[], verdict=llm()), "escalate",
     "confidence_too_low", "no attempts left"),
]


def _ev(**kw: Any) -> AttemptEvidence:
    base: dict[str, Any] = {"attempt": 1, "max_attempts": 3, "agent": agent(), "gates": []}
    base.update(kw)
    return AttemptEvidence(**base)


@pytest.mark.parametrize(("ev", "action", "kind", "phrase"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_decide_table(ev: dict[str, Any], action: str, kind: str | None, phrase: str) -> None:
    d = decide(_ev(**ev))
    assert d.action == action, d.reasons
    assert (d.breakpoint.kind if d.breakpoint else None) == kind
    assert any(phrase in r for r in d.reasons), d.reasons
    assert 0 <= d.confidence <= 1
    if d.breakpoint is not None:
        assert d.breakpoint.message


def test_every_action_is_covered() -> None:
    assert {c[2] for c in CASES} == {"proceed", "retry", "clarify", "escalate", "rollback", "abort"}


def test_old_call_still_works() -> None:
    d = decide(AttemptEvidence(attempt=1, max_attempts=1, agent=agent(), gates=[ok_gate()]))
    assert d.action == "proceed" and d.feedback is None


# -- invariants, over many random evidences --------------------------------------------------

verdicts = st.none() | st.builds(
    Verdict, complete=st.booleans(), score=st.floats(0, 1), confidence=st.floats(0, 1),
    unmet_criteria=st.lists(st.sampled_from(["a", "b"]), max_size=2),
    issues=st.lists(st.builds(Issue, severity=st.sampled_from(["major", "medium", "minor"]),
                              description=st.just("x")), max_size=4),
    follow_up=st.none() | st.just("do more"), reviewer=st.sampled_from(["rules", "llm"]),
)
gates = st.lists(st.builds(GateResult, name=st.sampled_from(["a", "b", "c"]), required=st.booleans(),
                           passed=st.booleans(), exit_code=st.just(1)), max_size=3)
statuses = st.sampled_from(["completed", "failed", "timeout", "stalled", "rate_limited",
                            "budget_exceeded", "cancelled"])


@given(gates, verdicts, statuses, st.integers(1, 4), st.lists(
    st.builds(AttemptSummary, attempt=st.just(1),
              action=st.sampled_from(["retry", "clarify", "rollback", "escalate"]),
              signature=st.sampled_from(["", "gate:a[]"]), disagreement=st.booleans()),
    max_size=3))
def test_invariants(g: list[GateResult], v: Verdict | None, status: str, n: int,
                    history: list[AttemptSummary]) -> None:
    ev = _ev(attempt=n, max_attempts=4, agent=agent(status), gates=g, verdict=v, history=history)
    d = decide(ev)
    assert d.reasons and all(r.strip() for r in d.reasons)
    failing_required = any(x.required and not x.passed for x in g)
    if failing_required or status != "completed":
        assert d.action != "proceed"
    if d.action in ("retry", "clarify", "rollback") and status != "rate_limited":
        assert d.feedback
    if d.action == "escalate":
        assert d.breakpoint is not None
    if status == "rate_limited":
        assert d.action == "retry"
    elif n == 4 and (failing_required or status != "completed"):
        assert d.action == "abort"
    # decide is pure: the same evidence gives the same decision
    assert decide(ev) == d


# -- thresholds come from config ---------------------------------------------------------------


def test_thresholds_mirror_settings() -> None:
    assert Thresholds() == Thresholds.from_settings(DecisionSettings())
    custom = DecisionSettings(proceed_at=0.95, escalate_below=0.1, max_medium_issues=0)
    th = Thresholds.from_settings(custom)
    assert (th.proceed_at, th.escalate_below, th.max_medium_issues) == (0.95, 0.1, 0)
    assert set(Thresholds.model_fields) == set(DecisionSettings.model_fields)


@pytest.mark.parametrize(("th", "action"), [
    (Thresholds(max_medium_issues=0), "retry"),
    (Thresholds(block_on_major=False), "proceed"),
    (Thresholds(proceed_at=0.99, escalate_below=0.2), "clarify"),
    (Thresholds(max_disagreements=0), "proceed"),
])
def test_thresholds_route(th: Thresholds, action: str) -> None:
    v = llm(issues=[Issue(severity="major", description="x")] if not th.block_on_major else
            [Issue(severity="medium", description="m")])
    assert decide(_ev(gates=[ok_gate()], verdict=v), th).action == action


def test_max_disagreements_zero_escalates_first_disagreement() -> None:
    d = decide(_ev(gates=[ok_gate()], verdict=llm(False)), Thresholds(max_disagreements=0))
    assert d.action == "escalate" and d.breakpoint and d.breakpoint.kind == "conflicting_solutions"


def test_repeat_threshold_is_configurable() -> None:
    ev = _ev(gates=[bad_gate()], history=[hist("retry", SIG)])
    assert decide(ev, Thresholds(repeat_failures_before_rollback=3)).action == "retry"


# -- confidence ------------------------------------------------------------------------------


def test_confidence_gates_dominate() -> None:
    tested = decide(_ev(gates=[ok_gate()])).confidence
    exit_only = decide(_ev(gates=[ok_gate(tests=0)])).confidence
    none = decide(_ev(gates=[])).confidence
    assert tested > exit_only > none
    # A doubting reviewer lowers confidence; a failing gate keeps it low whatever it says.
    assert decide(_ev(gates=[ok_gate()], verdict=llm(score=0.3, confidence=0.9))).confidence < tested
    assert decide(_ev(gates=[bad_gate()], verdict=llm(score=1, confidence=1))).confidence <= 0.05
    # A reviewer unsure of itself (below reviewer_min_confidence) does not move it at all.
    unsure = decide(_ev(gates=[ok_gate()], verdict=llm(False, confidence=0.1))).confidence
    sure = decide(_ev(gates=[ok_gate()], verdict=llm(False, confidence=1.0))).confidence
    assert sure < unsure == tested


def test_unsure_reviewer_cannot_block_what_the_gates_accept() -> None:
    # The embedded 135M model's typical answer: "complete", confidence 0, a list of objections.
    v = llm(True, score=0.0, confidence=0.0)
    d = decide(_ev(gates=[ok_gate()], verdict=v.model_copy(update={"unmet_criteria": ["issue"]})))
    assert d.action == "proceed"
    assert any("unsure" in r and "reviewer_min_confidence" in r for r in d.reasons)
    # The same verdict from a sure reviewer is a disagreement, and the gates alone never proceed
    # past a failing required gate whatever the reviewer says.
    sure = v.model_copy(update={"unmet_criteria": ["issue"], "confidence": 0.9})
    assert decide(_ev(gates=[ok_gate()], verdict=sure)).action != "proceed"
    assert decide(_ev(gates=[bad_gate()], verdict=llm(True, confidence=0.0))).action != "proceed"
    # The floor is a setting.
    th = Thresholds(reviewer_min_confidence=0.0)
    assert decide(_ev(gates=[ok_gate()], verdict=v.model_copy(update={"unmet_criteria": ["x"]})), th).action != "proceed"


def test_history_lowers_confidence() -> None:
    fresh = decide(_ev(gates=[ok_gate()], verdict=llm())).confidence
    later = decide(_ev(attempt=3, gates=[ok_gate()], verdict=llm(),
                       history=[hist("retry", SIG), hist("retry", "x")])).confidence
    assert later == pytest.approx(fresh - 2 * Thresholds().history_penalty)


# -- failure signature -----------------------------------------------------------------------


def test_failure_signature() -> None:
    assert failure_signature([ok_gate()], agent()) == ""
    assert failure_signature([], agent("rate_limited")) == ""
    a = failure_signature([bad_gate(failing=["t::b", "t::a"]), ok_gate("lint")], agent())
    b = failure_signature([ok_gate("lint"), bad_gate(failing=["t::a", "t::b"])], agent())
    assert a == b == "gate:unit[t::a,t::b]"
    assert failure_signature([bad_gate(failing=["t::a"])], agent()) != a
    assert failure_signature([bad_gate("opt", required=False)], agent()) == ""
    assert failure_signature([], agent("timeout")) == "agent:timeout"
    # Without a JUnit report the printed failures tell one failure from another.
    plain = GateResult(name="unit", passed=False, exit_code=1, output_tail=UNITTEST_TAIL)
    assert failure_signature([plain], agent()) == "gate:unit[test_mathx.T.test_double_negative]"


# -- feedback --------------------------------------------------------------------------------


def test_retry_feedback_names_tests_with_assertion_lines() -> None:
    d = decide(_ev(gates=[bad_gate(tail=PYTEST_TAIL)]))
    assert d.feedback is not None
    assert "- tests/test_m.py::test_negative\n    assert 4 == -4" in d.feedback
    plain = GateResult(name="unit", passed=False, exit_code=1, output_tail=UNITTEST_TAIL)
    d = decide(_ev(gates=[plain]))
    assert d.feedback is not None
    assert "- test_mathx.T.test_double_negative\n    AssertionError: 4 != -4" in d.feedback


def test_feedback_carries_reviewer_findings() -> None:
    v = llm(False, unmet_criteria=["negative numbers"], follow_up="handle x < 0",
            issues=[Issue(severity="major", description="hard-coded"),
                    Issue(severity="minor", description="naming")])
    d = decide(_ev(gates=[ok_gate()], verdict=v))
    assert d.action == "retry" and d.feedback is not None
    for part in ("negative numbers", "handle x < 0", "[major] hard-coded"):
        assert part in d.feedback
    assert "naming" not in d.feedback  # minor issues are not worth a retry's attention
    # With failing gates the reviewer's findings ride along with the gate's.
    d = decide(_ev(gates=[bad_gate()], verdict=v))
    assert d.feedback is not None and "test_negative" in d.feedback and "hard-coded" in d.feedback


def test_failures_in_output_parses_both_formats() -> None:
    assert failures_in_output(PYTEST_TAIL) == {
        "tests/test_m.py::test_negative": ["assert 4 == -4", "+  where 4 = double(-2)"]}
    assert failures_in_output(UNITTEST_TAIL) == {
        "test_mathx.T.test_double_negative": ["AssertionError: 4 != -4"]}
    assert failures_in_output("all good\n") == {}


# -- history summaries -----------------------------------------------------------------------


def test_summary_of_attempt() -> None:
    ev = _ev(gates=[ok_gate()], verdict=llm(False))
    d = decide(ev)
    s = AttemptSummary.of(ev, d)
    assert (s.action, s.gates_passed, s.verdict_complete, s.disagreement) == ("retry", True, False, True)
    ev2 = _ev(gates=[bad_gate()])
    s2 = AttemptSummary.of(ev2, decide(ev2))
    assert s2.signature == SIG and not s2.disagreement and not s2.gates_passed
    # JSON round trip: the workflow passes these through DBOS.
    assert AttemptSummary.model_validate_json(s.model_dump_json()) == s
    assert Decision.model_validate_json(d.model_dump_json()) == d


def test_disagreements_count_through_summaries() -> None:
    history: list[AttemptSummary] = []
    actions = []
    for n in range(1, 5):
        ev = _ev(attempt=n, max_attempts=6, gates=[ok_gate()], verdict=llm(False), history=history)
        d = decide(ev)
        actions.append(d.action)
        history = [*history, AttemptSummary.of(ev, d)]
        if d.action == "escalate":
            break
    assert actions == ["retry", "retry", "escalate"]
