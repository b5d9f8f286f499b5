"""The audit report as data: what `overseer export` renders as JSON, Markdown or HTML."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from overseer.findings import Finding

SCHEMA_VERSION = 1


class FileStat(BaseModel):
    path: str
    status: str
    added: int
    removed: int


class DiffStat(BaseModel):
    files: list[FileStat] = Field(default_factory=list)
    added: int = 0
    removed: int = 0


class GateEvidence(BaseModel):
    name: str
    required: bool
    passed: bool
    exit_code: int | None
    duration_s: float
    timed_out: bool = False
    # passed / failed / skipped / errors, when the gate's output could be parsed as tests
    tests: dict[str, int] | None = None
    failing_tests: list[str] = Field(default_factory=list)
    regressions: list[str] = Field(default_factory=list)
    output_tail: str = ""


class Issue(BaseModel):
    severity: str | None = None
    description: str


class VerdictInfo(BaseModel):
    reviewer: str | None = None
    complete: bool | None = None
    score: float | None = None
    confidence: float | None = None
    unmet_criteria: list[str] = Field(default_factory=list)
    issues: list[Issue] = Field(default_factory=list)
    follow_up: str | None = None
    # Why there is no judgement (the review failed and the gates decided alone).
    error: str | None = None


class DecisionInfo(BaseModel):
    action: str
    reasons: list[str] = Field(default_factory=list)
    feedback: str | None = None
    breakpoint: dict[str, Any] | None = None
    outcome: str | None = None
    at: datetime


class BreakpointInfo(BaseModel):
    id: str
    task: str | None
    attempt: int | None
    kind: str
    message: str
    severity: str
    state: str
    opened_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    note: str | None = None


class AttemptReport(BaseModel):
    n: int
    status: str
    agent: str
    agent_type: str
    model: str | None = None
    prompt: str
    turns: int
    input_tokens: int
    output_tokens: int
    tokens: int
    cost_usd: float | None
    # True when the cost was computed from tokens and a price table, not reported by the agent.
    cost_estimated: bool = False
    duration_s: float
    started_at: datetime
    finished_at: datetime | None
    exit_code: int | None = None
    error: str | None = None
    final_message: str | None = None
    restarts: int = 0
    checkpoint_sha: str | None = None
    events: dict[str, int] = Field(default_factory=dict)
    permission_denials: list[dict[str, Any]] = Field(default_factory=list)
    diff: DiffStat = Field(default_factory=DiffStat)
    gates: list[GateEvidence] = Field(default_factory=list)
    # What test integrity, holdout gates and unfinished-work detection found (docs/trust.md).
    findings: list[Finding] = Field(default_factory=list)
    verdict: VerdictInfo | None = None
    decision: DecisionInfo | None = None
    breakpoints: list[BreakpointInfo] = Field(default_factory=list)


class TaskReport(BaseModel):
    id: str
    title: str
    state: str
    state_reason: str | None = None
    agent: str
    depends_on: list[str] = Field(default_factory=list)
    acceptance: list[str] = Field(default_factory=list)
    commit_sha: str | None = None
    cost_usd: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    duration_s: float = 0.0
    attempts: list[AttemptReport] = Field(default_factory=list)
    # Breakpoints that belong to the task but to no attempt (`breakpoint: before`).
    breakpoints: list[BreakpointInfo] = Field(default_factory=list)


class Totals(BaseModel):
    """Equal to `overseer status --json` totals for cost_usd, tokens and duration_s."""

    cost_usd: float | None
    cost_estimated: bool = False
    tokens: int
    input_tokens: int
    output_tokens: int
    # Agent time: the sum of attempt durations (as in `status`), not the run's wall-clock span.
    duration_s: float
    wall_clock_s: float | None = None
    tasks: int
    tasks_by_state: dict[str, int] = Field(default_factory=dict)
    attempts: int
    breakpoints: int
    gates_run: int
    gates_failed: int


class TimelineEntry(BaseModel):
    at: datetime
    task: str | None = None
    attempt: int | None = None
    kind: str
    text: str


class RunInfo(BaseModel):
    id: str
    plan_name: str
    plan_path: str
    workspace: str
    branch: str | None
    state: str
    error: str | None
    parallel: int
    created_at: datetime
    finished_at: datetime | None
    supervisor: str | None = None


class RunReport(BaseModel):
    schema_version: int = SCHEMA_VERSION
    generated_at: datetime
    generator: str
    run: RunInfo
    totals: Totals
    tasks: list[TaskReport]
    breakpoints: list[BreakpointInfo]
    timeline: list[TimelineEntry]
