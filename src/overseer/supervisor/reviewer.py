"""Review of one attempt: the LLM's Verdict from the evidence, or a rules-only Verdict.

The prompt is rendered from `review_system.md.j2`, `review.md.j2` and (for the one re-ask)
`review_fix.md.j2`, each overridable from `<project>/.overseer/prompts/`, after the evidence has
been fitted into the model's context by priority (budget.py). An answer that does not validate
as a Verdict is re-asked once with the validation error; a second failure is recorded as the
outcome's error with no verdict — the supervisor never guesses a verdict.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from overseer.agents.base import AgentResult
from overseer.findings import Finding
from overseer.gates.result import GateResult
from overseer.plan.schema import ResolvedTask
from overseer.supervisor import prompts
from overseer.supervisor.budget import (
    CRITERIA,
    DIFF,
    FAILING_TESTS,
    REST,
    Fitted,
    Section,
    fit_sections,
)
from overseer.supervisor.llm import (
    LLM,
    ContextOverflow,
    InvalidJSON,
    LLMError,
    LLMUnavailable,
    Message,
)
from overseer.supervisor.review import Issue, Verdict

# Tokens kept back for the one re-ask message, and for chat-template framing per message.
REASK_RESERVE = 256
PER_MESSAGE = 8
ERROR_CHARS = 600


def verdict_schema() -> dict[str, Any]:
    """The JSON schema the model answers under. Written by hand rather than derived from
    `Verdict`: no $refs or nullable unions (grammar converters handle them poorly), lengths
    bounded so a small model cannot ramble past max_tokens, and the evidence fields first so
    the model states problems before it commits to `complete`."""
    short = {"type": "string", "minLength": 1, "maxLength": 200}
    # Grammar converters (llama.cpp's) ignore minimum/maximum; a list of steps keeps a
    # constrained decoder inside 0..1, and 0.05 is finer than any reviewer's calibration.
    unit = {"type": "number", "enum": [round(i * 0.05, 2) for i in range(21)]}
    return {
        "type": "object",
        "properties": {
            "issues": {
                "type": "array",
                "maxItems": 6,
                "items": {
                    "type": "object",
                    "properties": {
                        "severity": {"type": "string", "enum": ["major", "medium", "minor"]},
                        "description": short,
                    },
                    "required": ["severity", "description"],
                    "additionalProperties": False,
                },
            },
            "unmet_criteria": {"type": "array", "maxItems": 6, "items": short},
            "complete": {"type": "boolean"},
            "score": unit,
            "confidence": unit,
            "follow_up": {"type": "string", "maxLength": 400},
        },
        "required": ["issues", "unmet_criteria", "complete", "score", "confidence", "follow_up"],
        "additionalProperties": False,
    }


@dataclass
class ReviewOutcome:
    verdict: Verdict | None
    error: str | None  # why there is no verdict (invalid twice, overflow, rejected request)
    prompt: str  # every message sent, for the store; never holds an API key
    raw: str | None  # the model's last answer, verbatim
    omitted: list[str] = field(default_factory=list)  # what the budget left out of the prompt
    fallback: str | None = None  # set by review_or_rules: why the rules judged instead


# --------------------------------------------------------------------------- rules-only


def _gate_order(g: GateResult) -> tuple[int, str]:
    return (0 if not g.passed and g.required else 1 if not g.passed else 2, g.name)


def rules_verdict(gates: list[GateResult], agent: AgentResult) -> Verdict:
    """What the deterministic evidence alone supports: complete iff the agent completed and every
    required gate passed; confident in proportion to how much the gates actually checked."""
    required = [g for g in gates if g.required]
    failing = [g for g in required if not g.passed]
    issues: list[Issue] = []
    if agent.status != "completed":
        detail = f": {agent.error}" if agent.error else ""
        issues.append(Issue(severity="major", description=f"the agent ended {agent.status}{detail}"))
    for g in sorted(gates, key=_gate_order):
        if g.passed:
            continue
        what = "timed out" if g.timed_out else f"failed (exit {g.exit_code})"
        tests = f"; failing: {', '.join(g.failing_tests[:10])}" if g.failing_tests else ""
        issues.append(Issue(severity="major" if g.required else "minor",
                            description=f"gate {g.name} {what}{tests}"))
    for g in gates:
        if g.regressions:
            issues.append(Issue(severity="major",
                                description=f"gate {g.name}: regressions {', '.join(g.regressions[:10])}"))
    complete = agent.status == "completed" and not failing
    tested = any(g.tests is not None and g.tests.passed > 0 for g in required)
    if agent.status != "completed":
        confidence = 0.9
    elif failing:
        confidence = 0.9 if any(g.failing_tests for g in failing) else 0.8
    elif tested:
        confidence = 0.9
    elif required:
        confidence = 0.7  # exit codes only: the gate may check less than the criteria ask
    else:
        confidence = 0.3  # nothing but the agent's word
    if required:
        score = sum(_gate_score(g) for g in required) / len(required)
    else:
        score = 1.0 if complete else 0.0
    follow_up = None
    if failing:
        follow_up = "Make the failing required gates pass: " + ", ".join(
            f"{g.name}" + (f" ({', '.join(g.failing_tests[:5])})" if g.failing_tests else "")
            for g in failing
        ) + "."
    elif agent.status != "completed":
        follow_up = f"The previous attempt ended {agent.status}; finish the task."
    return Verdict(complete=complete, score=round(score, 3), confidence=confidence,
                   issues=issues, follow_up=follow_up, reviewer="rules")


def _gate_score(g: GateResult) -> float:
    if g.passed:
        return 1.0
    t = g.tests
    total = (t.passed + t.failed + t.errors) if t else 0
    return t.passed / total if t and total else 0.0


# --------------------------------------------------------------------------- the prompt


def _gates_text(gates: list[GateResult], agent: AgentResult) -> str:
    lines = [f"- agent: ended {agent.status}" + (f" (exit {agent.exit_code})" if agent.exit_code is not None else "")]
    if not gates:
        lines.append("- no gates ran: there is no deterministic evidence either way")
    for g in sorted(gates, key=_gate_order):
        state = "PASSED" if g.passed else ("TIMED OUT" if g.timed_out else "FAILED")
        kind = "required" if g.required else "optional"
        line = f"- {g.name} ({kind}): {state}"
        if g.exit_code is not None:
            line += f", exit {g.exit_code}"
        if g.tests is not None:
            t = g.tests
            line += f"; tests: {t.passed} passed, {t.failed} failed, {t.errors} errors, {t.skipped} skipped"
        lines.append(line)
        lines += [f"    failing: {name}" for name in g.failing_tests]
        lines += [f"    regression (passed before this task): {name}" for name in g.regressions]
    return "\n".join(lines) + "\n"


def build_sections(
    task: ResolvedTask, diff: str, gates: list[GateResult], agent: AgentResult, history: list[str],
    findings: Sequence[Finding] = (),
) -> tuple[list[Section], list[str]]:
    criteria = "".join(f"- {c}\n" for c in task.acceptance) or "(none given: judge against the task description)\n"
    sections = [
        Section(CRITERIA, "criteria", criteria),
        Section(FAILING_TESTS, "gates", _gates_text(gates, agent)),
        *([Section(FAILING_TESTS, "findings", "".join(
            f"- [{f.severity}] {f.source}: {f.text()}\n" for f in findings))] if findings else []),
        Section(DIFF, "diff", diff if diff.strip() else "(the attempt changed no files)\n", "diff"),
        Section(REST, "description", task.prompt),
    ]
    outputs: list[str] = []
    for g in sorted(gates, key=_gate_order):
        if not g.passed and g.output_tail.strip():
            name = f"output of gate {g.name}"
            outputs.append(name)
            sections.append(Section(REST + 1, name, g.output_tail, "tail"))
    if history:
        text = "".join(f"Attempt {i}: {h.strip()}\n" for i, h in enumerate(history, 1))
        sections.append(Section(REST + 2, "history", text, "tail"))
    if agent.final_message.strip():
        sections.append(Section(REST + 3, "agent message", agent.final_message, "tail"))
    return sections, outputs


def _prompt_text(messages: list[Message]) -> str:
    return "\n\n".join(f"<<{m['role']}>>\n{m['content']}" for m in messages)


def _messages(
    task: ResolvedTask, sections: list[Section], fitted: Fitted, outputs: list[str],
    schema: dict[str, Any], project_dir: Path | None,
) -> list[Message]:
    system = prompts.render("review_system.md.j2", project_dir, schema=json.dumps(schema))
    # Every section has a key, "" when left out, so a project's template can index any of them.
    parts = {s.name: fitted.parts.get(s.name, "") for s in sections}
    user = prompts.render(
        "review.md.j2", project_dir, task=task, parts=parts, omitted=fitted.omitted,
        gate_outputs=outputs,
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _tokens(llm: LLM, messages: list[Message]) -> int:
    return sum(llm.count_tokens(m["content"]) + PER_MESSAGE for m in messages)


def fit_prompt(
    task: ResolvedTask, sections: list[Section], outputs: list[str], llm: LLM, *,
    max_tokens: int, project_dir: Path | None, shrink: float = 1.0,
) -> tuple[list[Message], Fitted]:
    """Messages whose tokens, plus the answer and a re-ask, fit the model's context."""
    schema = verdict_schema()
    limit = int((llm.context_tokens - max_tokens - REASK_RESERVE) * shrink)
    empty = Fitted(text="", omitted=[], parts={})
    frame = _tokens(llm, _messages(task, sections, empty, outputs, schema, project_dir))
    budget = limit - frame
    for _ in range(4):
        fitted = fit_sections(sections, max(0, budget), llm.count_tokens)
        messages = _messages(task, sections, fitted, outputs, schema, project_dir)
        over = _tokens(llm, messages) - limit
        if over <= 0:
            return messages, fitted
        # Omission notes and tokenizer effects at joins cost a little more than the sum.
        budget -= over + max(16, budget // 20)
    return messages, fitted


# --------------------------------------------------------------------------- review


def _parse(data: dict[str, Any], reviewer: str) -> Verdict:
    data = dict(data)
    if data.get("follow_up") == "":
        data["follow_up"] = None
    data["reviewer"] = reviewer
    return Verdict.model_validate(data)


def _short(e: Exception) -> str:
    if isinstance(e, ValidationError):
        text = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'answer'}: {err['msg']}" for err in e.errors()
        )
    else:
        text = str(e)
    return text[:ERROR_CHARS]


def _attempt(
    llm: LLM, messages: list[Message], max_tokens: int
) -> tuple[Verdict | None, str | None, str | None]:
    """(verdict, raw answer, why it was refused). Endpoint failures propagate as LLMError."""
    try:
        data = llm.complete_json(messages, verdict_schema(), max_tokens=max_tokens)
    except InvalidJSON as e:
        return None, e.raw, _short(e)
    raw = json.dumps(data)
    try:
        return _parse(data, llm.name), raw, None
    except ValidationError as e:
        return None, raw, _short(e)


def review(
    task: ResolvedTask,
    diff: str,
    gates: list[GateResult],
    agent: AgentResult,
    history: list[str],
    llm: LLM,
    *,
    project_dir: Path | None = None,
    max_tokens: int = 1024,
    findings: Sequence[Finding] = (),
) -> ReviewOutcome:
    """Ask `llm` for a Verdict on one attempt. `findings` are what the evidence sources found
    (test integrity, unfinished work): the reviewer sees them beside the gates.

    Raises `LLMUnavailable` when the model cannot be reached (the caller reviews by rules and
    records the reason; `review_or_rules` does exactly that). Every other failure comes back as
    an outcome with `verdict=None` and `error` set.
    """
    sections, outputs = build_sections(task, diff, gates, agent, history, findings)
    messages, fitted = fit_prompt(task, sections, outputs, llm, max_tokens=max_tokens,
                                  project_dir=project_dir)
    prompt, raw = _prompt_text(messages), None
    try:
        try:
            verdict, raw, error = _attempt(llm, messages, max_tokens)
        except ContextOverflow:
            # The server counted more than we did: refit much smaller, once.
            messages, fitted = fit_prompt(task, sections, outputs, llm, max_tokens=max_tokens,
                                          project_dir=project_dir, shrink=0.6)
            prompt = _prompt_text(messages)
            verdict, raw, error = _attempt(llm, messages, max_tokens)
        if verdict is not None:
            return ReviewOutcome(verdict, None, prompt, raw, fitted.omitted)

        # One re-ask, saying why the answer was refused.
        fix = prompts.render("review_fix.md.j2", project_dir, error=error)
        again = [*messages]
        if raw and llm.count_tokens(raw) <= max_tokens:
            again.append({"role": "assistant", "content": raw})
        again.append({"role": "user", "content": fix})
        prompt = _prompt_text(again)
        verdict, raw2, error2 = _attempt(llm, again, max_tokens)
        if verdict is not None:
            return ReviewOutcome(verdict, None, prompt, raw2, fitted.omitted)
        return ReviewOutcome(None, f"invalid answer twice: {error}; then: {error2}", prompt,
                             raw2, fitted.omitted)
    except LLMUnavailable:
        raise
    except ContextOverflow as e:
        return ReviewOutcome(None, f"context overflow, even after shrinking the prompt: {e}",
                             prompt, raw, fitted.omitted)
    except LLMError as e:
        return ReviewOutcome(None, str(e), prompt, raw, fitted.omitted)


def review_or_rules(
    task: ResolvedTask,
    diff: str,
    gates: list[GateResult],
    agent: AgentResult,
    history: list[str],
    llm: LLM,
    *,
    project_dir: Path | None = None,
    max_tokens: int = 1024,
    findings: Sequence[Finding] = (),
) -> ReviewOutcome:
    """`review`, but when the LLM is unavailable the rules judge and `fallback` says why."""
    try:
        return review(task, diff, gates, agent, history, llm, project_dir=project_dir,
                      max_tokens=max_tokens, findings=findings)
    except LLMUnavailable as e:
        return ReviewOutcome(rules_verdict(gates, agent), None, "", None, [],
                             fallback=f"rules-only review: {e}")
