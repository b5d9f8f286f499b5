"""What happens after an attempt: a pure function of the evidence (ARCHITECTURE.md: decide).

The gates are deterministic evidence and dominate; the reviewer's verdict can hold a task back
but never push a failing required gate through; the task's history turns repeated failures into
a rollback and then a human. docs/decisions.md describes every rule and threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from overseer.agents.base import AgentResult
from overseer.config import DecisionSettings
from overseer.engine import decide_feedback as fb
from overseer.findings import Finding, blocking
from overseer.gates.result import GateResult
from overseer.supervisor.review import Verdict

Action = Literal["proceed", "retry", "clarify", "escalate", "rollback", "abort"]

# How much the gates alone say an attempt is done, by how much they actually checked. Evidence
# strengths, not thresholds: the thresholds they are compared with live in DecisionSettings.
GATES_COUNTED_TESTS = 0.9
GATES_EXIT_CODES_ONLY = 0.7
NO_REQUIRED_GATES = 0.3
GATES_REFUTE = 0.05
OPTIONAL_GATE_FAILED = 0.05

_DEFAULTS = DecisionSettings()


class Breakpoint(BaseModel):
    kind: str
    message: str


class Decision(BaseModel):
    action: Action
    reasons: list[str] = Field(min_length=1)
    feedback: str | None = None
    breakpoint: Breakpoint | None = None
    # Combined confidence that the attempt is done (gates, reviewer, history), 0 to 1.
    confidence: float = Field(default=0.0, ge=0, le=1)
    # What failed ("" when nothing did): equal signatures are the same failure again.
    signature: str = ""
    # The attempt's change must not stay in the tree (it tampered with the tests): the engine
    # puts the tree back to the attempt's checkpoint before anything else happens.
    discard: bool = False


class AttemptSummary(BaseModel):
    """One earlier attempt of the task, as far as later decisions care."""

    attempt: int
    action: Action
    signature: str = ""
    gates_passed: bool = False
    verdict_complete: bool | None = None
    agent_status: str = "completed"
    # The gates passed but the reviewer held the task back.
    disagreement: bool = False

    @classmethod
    def of(
        cls, ev: AttemptEvidence, decision: Decision, th: Thresholds | None = None
    ) -> AttemptSummary:
        """The summary the workflow appends to `history` after deciding on `ev` (pass the same
        thresholds decide() had)."""
        verdict = _llm_verdict(ev.verdict, th or Thresholds(), ev.reviewer_weight)
        gates_ok = _gates_ok(ev.gates)
        return cls(
            attempt=ev.attempt,
            action=decision.action,
            signature=decision.signature,
            gates_passed=gates_ok,
            verdict_complete=ev.verdict.complete if ev.verdict is not None else None,
            agent_status=ev.agent.status,
            disagreement=(
                gates_ok and ev.agent.status == "completed" and verdict is not None
                and decision.action != "proceed"
                and bool(_reviewer_objections(verdict, th or Thresholds()))
            ),
        )


class AttemptEvidence(BaseModel):
    """Everything decide() may look at for one attempt."""

    attempt: int
    max_attempts: int
    agent: AgentResult
    gates: list[GateResult]
    verdict: Verdict | None = None
    # Why there is no verdict (the reviewer failed), when it failed.
    review_error: str | None = None
    history: list[AttemptSummary] = Field(default_factory=list)
    # What the evidence sources found besides gate results: test integrity, holdout gates,
    # unfinished work. A major finding refuses the attempt like a failing required gate.
    findings: list[Finding] = Field(default_factory=list)
    # How much the reviewer's verdict may count, from its measured figures on the false-done
    # corpus (supervisor.reliability): 0 means it showed no signal and is recorded, not counted.
    reviewer_weight: float = Field(default=1.0, ge=0, le=1)


class Thresholds(BaseModel):
    """DecisionSettings as decide() reads them; the defaults are DecisionSettings' defaults."""

    model_config = ConfigDict(frozen=True)

    proceed_at: float = _DEFAULTS.proceed_at
    escalate_below: float = _DEFAULTS.escalate_below
    max_disagreements: int = _DEFAULTS.max_disagreements
    max_medium_issues: int = _DEFAULTS.max_medium_issues
    block_on_major: bool = _DEFAULTS.block_on_major
    block_on_regressions: bool = _DEFAULTS.block_on_regressions
    repeat_failures_before_rollback: int = _DEFAULTS.repeat_failures_before_rollback
    gates_weight: float = _DEFAULTS.gates_weight
    history_penalty: float = _DEFAULTS.history_penalty
    reviewer_min_confidence: float = _DEFAULTS.reviewer_min_confidence
    on_tampering: Literal["fail", "ask"] = _DEFAULTS.on_tampering

    @classmethod
    def from_settings(cls, s: DecisionSettings) -> Thresholds:
        return cls(**{k: getattr(s, k) for k in cls.model_fields})


def failure_signature(
    gates: list[GateResult], agent: AgentResult, findings: list[Finding] | None = None
) -> str:
    """What failed, as one comparable string: the agent's end state when it did not complete,
    each failing required gate with its failing tests, each regression. "" when nothing failed.
    A rate limit is not a failure and has no signature."""
    parts: list[str] = []
    if agent.status not in ("completed", "rate_limited"):
        parts.append(f"agent:{agent.status}")
    for g in sorted(gates, key=lambda g: g.name):
        if g.required and not g.passed:
            what = "timeout" if g.timed_out else ",".join(sorted(fb.failing_tests(g)))
            parts.append(f"gate:{g.name}[{what}]")
        if g.regressions:
            parts.append(f"regressed:{g.name}[{','.join(sorted(g.regressions))}]")
    for f in sorted(blocking(findings or []), key=lambda f: (f.path or "", f.kind)):
        parts.append(f"{f.source}:{f.kind}[{f.path or ''}]")
    return "|".join(parts)


def decide(ev: AttemptEvidence, th: Thresholds | None = None) -> Decision:
    th = th or Thresholds()
    if ev.agent.status == "rate_limited":
        return _rate_limited(ev, th)

    failed_required = [g for g in ev.gates if g.required and not g.passed]
    failed_optional = [g for g in ev.gates if not g.required and not g.passed]
    # A failing required gate is already blocking; these are regressions it would not report.
    regressed = [g for g in ev.gates if g.regressions and not (g.required and not g.passed)]
    refused = blocking(ev.findings)
    notes = [f for f in ev.findings if f.severity != "major"]
    signature = failure_signature(ev.gates, ev.agent, ev.findings)
    verdict = _llm_verdict(ev.verdict, th, ev.reviewer_weight)
    confidence = _confidence(ev, verdict, th)
    reasons: list[str] = []
    feedback: list[str] = []

    if ev.agent.status != "completed":
        reasons.append(f"agent ended {ev.agent.status}" + (f": {ev.agent.error}" if ev.agent.error else ""))
        feedback.append(fb.agent_feedback(ev.agent))
    for g in failed_required:
        reasons.append(f"required gate {g.name} failed" + fb.gate_detail(g))
        feedback.append(fb.gate_feedback(g))
    for g in failed_optional:
        reasons.append(f"optional gate {g.name} failed" + fb.gate_detail(g) + " (not blocking)")
    blocking_regressions = regressed if th.block_on_regressions else []
    for g in blocking_regressions:
        reasons.append(f"gate {g.name}: {len(g.regressions)} test(s) passed before this task and fail now")
        feedback.append(fb.regression_feedback(g))
    for f in refused:
        reasons.append(f"{f.source}: {f.text()}")
    if refused:
        feedback.insert(0, fb.findings_feedback(refused))
    for f in notes:
        reasons.append(f"{f.source} ({f.severity}, not blocking): {f.text()}")
    if notes:
        feedback.append(fb.notes_feedback(notes))
    reasons.append(_review_note(ev, verdict))

    made = _Draft(reasons, feedback, confidence, signature, discard=bool(refused))

    if ev.agent.status != "completed" or failed_required or blocking_regressions or refused:
        # The deterministic evidence says no: nothing the reviewer says can change that.
        if verdict is not None:
            feedback.append(fb.verdict_feedback(verdict))
        return _failed(ev, th, signature, reasons, made)

    if verdict is None:
        passed = [g.name for g in ev.gates if g.passed]
        reasons.insert(0, "all required gates passed: " + ", ".join(passed) if passed
                       else "no gates configured: accepted on the agent's exit status alone")
        return made("proceed", text=[])

    passed = [g.name for g in ev.gates if g.required and g.passed]
    reasons.insert(0, ("all required gates passed: " + ", ".join(passed)) if passed
                   else "no required gates: the reviewer's judgement is the only evidence")
    objections = _reviewer_objections(verdict, th)
    if objections:
        return _disagreement(ev, th, verdict, objections, reasons, made)
    return _by_confidence(ev, th, verdict, confidence, reasons, made)


# --------------------------------------------------------------------------- the rules


@dataclass
class _Draft:
    """Reasons and feedback gathered so far; each rule ends by making its Decision from them."""

    reasons: list[str]
    feedback: list[str]
    confidence: float
    signature: str
    discard: bool = False

    def __call__(
        self, action: Action, *, bp: Breakpoint | None = None, text: list[str] | None = None
    ) -> Decision:
        body = "\n\n".join(t for t in (self.feedback if text is None else text) if t) or None
        return Decision(action=action, reasons=self.reasons, feedback=body, breakpoint=bp,
                        confidence=self.confidence, signature=self.signature, discard=self.discard)


def _rate_limited(ev: AttemptEvidence, th: Thresholds) -> Decision:
    until = ev.agent.retry_at.isoformat() if ev.agent.retry_at else "its limit resets"
    return Decision(
        action="retry",
        reasons=[f"agent hit its usage limit: waiting until {until}, then retrying "
                 "(not counted as a failure)"],
        feedback="Your previous attempt was stopped by a usage limit; continue where you left off.",
        confidence=round(_history_adjusted(0.0, ev, th), 3),
    )


def _failed(ev: AttemptEvidence, th: Thresholds, signature: str, reasons: list[str], made: _Draft) -> Decision:
    tampered = [f for f in blocking(ev.findings) if f.source == "integrity"]
    if ev.attempt >= ev.max_attempts:
        if tampered and th.on_tampering == "ask":
            reasons.append(f"attempt {ev.attempt} of {ev.max_attempts}: no attempts left, and the "
                           "tests were tampered with: asking a human (decision.on_tampering: ask)")
            files = ", ".join(dict.fromkeys(f.where for f in tampered))
            return made("escalate", bp=Breakpoint(
                kind="tests_tampered",
                message=f"the last attempt tampered with the tests ({files}); its change was reverted"))
        reasons.append(f"attempt {ev.attempt} of {ev.max_attempts}: no attempts left")
        return made("abort")
    repeats = _repeats(ev.history, signature)
    if signature and repeats >= th.repeat_failures_before_rollback:
        rolled_back = any(h.action == "rollback" for h in ev.history)
        same = f"the same failure {repeats} times in a row ({signature})"
        if not rolled_back:
            reasons.append(f"{same}: rolling back to the task's checkpoint and starting a fresh "
                           "agent session")
            return made("rollback")
        reasons.append(f"{same}, also after a rollback: asking a human")
        bp = Breakpoint(kind="consecutive_failures",
                        message=f"attempt {ev.attempt} failed with {same}, even after a rollback "
                                "and a fresh session")
        return made("escalate", bp=bp)
    reasons.append(f"attempt {ev.attempt} of {ev.max_attempts}: retrying with feedback")
    return made("retry")


def _disagreement(
    ev: AttemptEvidence, th: Thresholds, verdict: Verdict, objections: list[str],
    reasons: list[str], made: _Draft,
) -> Decision:
    reasons.extend(objections)
    count = 1 + sum(1 for h in ev.history if h.disagreement)
    text = [fb.verdict_feedback(verdict)]
    if count > th.max_disagreements or ev.attempt >= ev.max_attempts:
        why = (f"the reviewer held back a task whose gates pass {count} time(s) "
               f"(decision.max_disagreements: {th.max_disagreements})"
               if count > th.max_disagreements else
               f"attempt {ev.attempt} of {ev.max_attempts}: no attempts left to settle it")
        reasons.append(f"{why}: asking a human")
        bp = Breakpoint(kind="conflicting_solutions",
                        message="the gates pass but the reviewer disagrees: " + "; ".join(objections))
        return made("escalate", bp=bp, text=text)
    reasons.append(f"gates and reviewer disagree ({count} of {th.max_disagreements} allowed): "
                   "retrying with the reviewer's findings")
    return made("retry", text=text)


def _by_confidence(
    ev: AttemptEvidence, th: Thresholds, verdict: Verdict, confidence: float,
    reasons: list[str], made: _Draft,
) -> Decision:
    pct = f"combined confidence {confidence:.2f}"
    if confidence >= th.proceed_at:
        reasons.append(f"the reviewer judged it complete; {pct} >= decision.proceed_at {th.proceed_at}")
        return made("proceed", text=[])
    low = Breakpoint(kind="confidence_too_low",
                     message=f"the gates pass and the reviewer says complete, but {pct} is too "
                             "low to proceed without a person")
    if confidence < th.escalate_below:
        reasons.append(f"{pct} < decision.escalate_below {th.escalate_below}: asking a human")
        return made("escalate", bp=low, text=[])
    asked = any(h.action == "clarify" for h in ev.history)
    if asked or ev.attempt >= ev.max_attempts:
        why = "the agent was already asked to back up its claim" if asked else "no attempts left"
        reasons.append(f"{pct} < decision.proceed_at {th.proceed_at} and {why}: asking a human")
        return made("escalate", bp=low, text=[])
    reasons.append(f"{pct} < decision.proceed_at {th.proceed_at}: asking the agent to show how "
                   "each criterion is met")
    ask = ("The checks pass, but the evidence that the task is done is thin. Show how each "
           "acceptance criterion is met; add or extend tests that prove it where they are missing.")
    return made("clarify", text=[ask, fb.verdict_feedback(verdict)])


# --------------------------------------------------------------------------- evidence


def _llm_verdict(v: Verdict | None, th: Thresholds, weight: float = 1.0) -> Verdict | None:
    """The verdict when it is independent evidence. A rules-only verdict is derived from the
    gates themselves, so counting it again would be counting the gates twice; a reviewer below
    decision.reviewer_min_confidence says itself that its judgement is not evidence, and one
    whose measured weight is 0 showed no signal on the false-done corpus."""
    if v is None or v.reviewer == "rules" or v.confidence < th.reviewer_min_confidence or weight <= 0:
        return None
    return v


def _gates_ok(gates: list[GateResult]) -> bool:
    return all(g.passed for g in gates if g.required)


def _reviewer_objections(v: Verdict, th: Thresholds) -> list[str]:
    out: list[str] = []
    if not v.complete:
        out.append(f"the reviewer ({v.reviewer}) judged it incomplete"
                   + (f": unmet {'; '.join(v.unmet_criteria)}" if v.unmet_criteria else ""))
    elif v.unmet_criteria:
        # A verdict that says complete yet lists unmet criteria contradicts itself; the
        # cautious reading is the one that keeps a false "done" out.
        out.append(f"the reviewer ({v.reviewer}) lists unmet criteria: {'; '.join(v.unmet_criteria)}")
    majors = fb.issues_of(v, "major")
    if majors and th.block_on_major:
        out.append(f"{len(majors)} major issue(s): " + "; ".join(i.description for i in majors))
    mediums = fb.issues_of(v, "medium")
    if len(mediums) > th.max_medium_issues:
        out.append(f"{len(mediums)} medium issues > decision.max_medium_issues {th.max_medium_issues}")
    return out


def _gate_confidence(ev: AttemptEvidence) -> float:
    if ev.agent.status != "completed" or not _gates_ok(ev.gates) or blocking(ev.findings):
        return GATES_REFUTE
    required = [g for g in ev.gates if g.required]
    if any(g.tests is not None and g.tests.passed > 0 for g in required):
        base = GATES_COUNTED_TESTS
    elif required:
        base = GATES_EXIT_CODES_ONLY
    else:
        base = NO_REQUIRED_GATES
    failed_optional = sum(1 for g in ev.gates if not g.required and not g.passed)
    return max(0.0, base - OPTIONAL_GATE_FAILED * failed_optional)


def _confidence(ev: AttemptEvidence, verdict: Verdict | None, th: Thresholds) -> float:
    """Gates weigh `gates_weight`; the reviewer weighs the rest times its own confidence, so an
    unsure reviewer moves the result little; earlier rejected attempts each take a little off."""
    gates = _gate_confidence(ev)
    if verdict is None:
        combined = gates
    else:
        support = verdict.score if verdict.complete else 0.0
        w_r = (1 - th.gates_weight) * verdict.confidence * ev.reviewer_weight
        total = th.gates_weight + w_r
        combined = (th.gates_weight * gates + w_r * support) / total if total else gates
        if gates == GATES_REFUTE:
            # The gates said no: the reviewer may lower that, never raise it.
            combined = min(combined, gates)
    return round(_history_adjusted(combined, ev, th), 3)


def _history_adjusted(value: float, ev: AttemptEvidence, th: Thresholds) -> float:
    rejected = sum(1 for h in ev.history if h.action != "proceed" and h.agent_status != "rate_limited")
    return min(1.0, max(0.0, value - th.history_penalty * rejected))


def _repeats(history: list[AttemptSummary], signature: str) -> int:
    """How many attempts in a row, ending with this one, failed exactly this way. Rate-limited
    attempts are skipped: a usage limit says nothing about the work."""
    n = 1
    for h in reversed(history):
        if h.agent_status == "rate_limited":
            continue
        if h.signature != signature:
            break
        n += 1
    return n


def _review_note(ev: AttemptEvidence, verdict: Verdict | None) -> str:
    if verdict is not None:
        return (f"reviewer {verdict.reviewer}: {'complete' if verdict.complete else 'incomplete'}, "
                f"score {verdict.score:.2f}, confidence {verdict.confidence:.2f}")
    if ev.review_error:
        return f"no reviewer verdict (review failed: {ev.review_error}): decided on the gates alone"
    if ev.verdict is not None and ev.verdict.reviewer != "rules" and ev.reviewer_weight <= 0:
        return (f"reviewer {ev.verdict.reviewer} showed no signal on the false-done corpus "
                "(overseer bench reviewer): its findings are recorded, not counted; decided on "
                "the gates alone")
    if ev.verdict is not None and ev.verdict.reviewer != "rules":
        v = ev.verdict
        return (f"reviewer {v.reviewer} was unsure (confidence {v.confidence:.2f} < "
                f"decision.reviewer_min_confidence): its findings are recorded, not counted; "
                "decided on the gates alone")
    if ev.verdict is not None:
        return "reviewed by rules only (no LLM): decided on the gates alone"
    return "no reviewer verdict: decided on the gates alone"
