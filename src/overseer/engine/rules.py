"""Breakpoint rules: CEL expressions over a documented context of one attempt (docs/breakpoints.md).

Pure: compile once with `compile_rules`, then `evaluate` after each attempt. CEL (the
`common-expression-language` package, a binding of the Rust implementation) only reads the
context it is given; nothing here evaluates Python. An expression that errors at run time — a
missing gate, a null confidence — is false, so a rule cannot crash a run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import cel
from pydantic import BaseModel, ConfigDict, Field

from overseer.errors import ConfigError
from overseer.gates.result import GateResult

Severity = Literal["info", "warning", "critical"]
Mode = Literal["auto", "human"]


class TaskInfo(BaseModel):
    id: str
    title: str = ""
    milestone: str | None = None
    # The plan's `review:` for the task's milestone (human | auto), None without a milestone.
    milestone_review: str | None = None
    priority: int = 0
    attempt: int = 1
    max_attempts: int = 1


class ReviewInfo(BaseModel):
    """The reviewer's verdict; every field is null when there was none."""

    complete: bool | None = None
    score: float | None = None
    confidence: float | None = None
    reviewer: str | None = None
    unmet_criteria: list[str] = Field(default_factory=list)
    issues: int = 0


class CostInfo(BaseModel):
    task: float = 0.0
    run: float = 0.0


class TokenInfo(BaseModel):
    task: int = 0
    run: int = 0


class RuleContext(BaseModel):
    """What a rule's `when` can read after one attempt; every field is documented in
    docs/breakpoints.md."""

    task: TaskInfo
    # The decision's combined confidence (gates, reviewer, history), 0 to 1.
    confidence: float | None = None
    # The reviewer's score, 0 to 1.
    score: float | None = None
    review: ReviewInfo = Field(default_factory=ReviewInfo)
    # Each gate's result by name (GateResult: passed, required, exit_code, failing_tests, ...).
    gates: dict[str, GateResult] = Field(default_factory=dict)
    # Every required gate passed (true when the task has no required gate).
    gates_passed: bool = True
    # Tests failing now that passed at the run's baseline, over all gates.
    regressions: list[str] = Field(default_factory=list)
    files_changed: list[str] = Field(default_factory=list)
    lines_changed: int = 0
    cost_usd: CostInfo = Field(default_factory=CostInfo)
    tokens: TokenInfo = Field(default_factory=TokenInfo)
    # Accepting this attempt completes the last unfinished task of the task's milestone.
    milestone_complete: bool = False
    # Attempts in a row, this one included, that were not accepted.
    consecutive_failures: int = 0
    agent_status: str = "completed"
    decision_action: str | None = None
    # Kinds of what the evidence sources found (skip_added, placeholder, ...), one per finding.
    findings: list[str] = Field(default_factory=list)

    def as_cel(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


ROOT_FIELDS = frozenset(RuleContext.model_fields)


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    when: str
    kind: str | None = None  # the breakpoint's kind; None: the rule's name
    severity: Severity = "warning"
    mode: Mode = "human"
    message: str = ""
    # Where the rule came from, for error messages: "breakpoints.rules[2]".
    source: str = ""


class RuleHit(BaseModel):
    name: str
    kind: str
    severity: Severity
    mode: Mode
    message: str


@dataclass(frozen=True)
class _Compiled:
    rule: Rule
    program: Any  # cel.Program


@dataclass(frozen=True)
class CompiledRules:
    rules: tuple[_Compiled, ...]

    @property
    def names(self) -> list[str]:
        return [c.rule.name for c in self.rules]


_PARSE_POS = re.compile(r"<input>:(\d+):(\d+): (?:Syntax error: )?([^\n]*)")
# Comprehension macros bind their own variable: `files_changed.exists(f, ...)` binds `f`.
_BOUND = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")


def _where(rule: Rule) -> str:
    return f"{rule.source or 'breakpoint rule'} ({rule.name})"


def _compile_one(rule: Rule) -> _Compiled:
    try:
        program = cel.compile(rule.when)
    except Exception as exc:  # the binding raises ValueError; anything else is just as fatal
        text = str(exc)
        m = _PARSE_POS.search(text)
        pos, problem = (f"{m.group(1)}:{m.group(2)}", m.group(3)) if m else ("1:1", text)
        caret = ""
        if m:
            line = rule.when.splitlines()[int(m.group(1)) - 1] if rule.when.splitlines() else ""
            caret = f"\n  {line}\n  {' ' * (int(m.group(2)) - 1)}^"
        raise ConfigError(
            f"{_where(rule)}: when: syntax error at {pos}: {problem}{caret}",
            hint="fix the CEL expression; docs/breakpoints.md has examples",
            context={"rule": rule.name, "position": pos},
        ) from None
    bound = set(_BOUND.findall(rule.when))
    unknown = sorted(v for v in program.variables() if v not in ROOT_FIELDS and v not in bound)
    if unknown:
        raise ConfigError(
            f"{_where(rule)}: when: unknown field {unknown[0]!r}",
            hint="a rule reads: " + ", ".join(sorted(ROOT_FIELDS)) + " (docs/breakpoints.md)",
            context={"rule": rule.name},
        )
    return _Compiled(rule, program)


def compile_rules(rules: Iterable[Rule]) -> CompiledRules:
    """Compile every rule once. A syntax error or an unknown top-level field raises
    ConfigError naming the rule and the position."""
    compiled = [_compile_one(r) for r in rules]
    names = [c.rule.name for c in compiled]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise ConfigError(f"two breakpoint rules are named {dup!r}", hint="rename one of them")
    return CompiledRules(tuple(compiled))


def _holds(program: Any, data: dict[str, Any]) -> bool:
    try:
        return program.execute(data) is True
    except Exception:  # a missing key, a null operand, a type mismatch: the rule does not hold
        return False


def evaluate(compiled: CompiledRules, ctx: RuleContext) -> list[RuleHit]:
    """The rules whose `when` is true for this context, in the order they were compiled."""
    data = ctx.as_cel()
    hits = []
    for c in compiled.rules:
        if _holds(c.program, data):
            r = c.rule
            text = render(r.message, data) if r.message else f"rule {r.name} matched"
            hits.append(RuleHit(name=r.name, kind=r.kind or r.name, severity=r.severity,
                                mode=r.mode, message=text))
    return hits


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\}")


def _lookup(data: Mapping[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(path)
    return value


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value) or "none"
    return str(value)


def render(template: str, data: Mapping[str, Any]) -> str:
    """Fill `{task.id}`-style placeholders by looking dotted names up in `data`; no format
    specs, no attribute access, no evaluation. An unknown name stays as written; `{{` and
    `}}` are literal braces."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        try:
            return _text(_lookup(data, m.group(1)))
        except KeyError:
            return m.group(0)

    return _PLACEHOLDER.sub(sub, template)
