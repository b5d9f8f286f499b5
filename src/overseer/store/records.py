"""Immutable snapshots of store rows. The store hands these out instead of ORM objects, because
its sessions end with each call and several engine threads share it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from overseer.lifecycle import RunState, TaskState
from overseer.store import models as m

if TYPE_CHECKING:
    from overseer.agents.base import AgentEvent


@dataclass(frozen=True)
class RunRecord:
    id: str
    name: str
    plan_path: str
    workspace: str
    plan_json: dict[str, Any]
    config_json: dict[str, Any]
    state: RunState
    parallel: int
    branch: str | None
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    cost_usd: float | None
    input_tokens: int
    output_tokens: int
    paused: bool = False
    dispatch: str = "local"

    @classmethod
    def of(cls, r: m.Run) -> RunRecord:
        return cls(
            id=r.id, name=r.name, plan_path=r.plan_path, workspace=r.workspace,
            plan_json=r.plan_json, config_json=r.config_json, state=RunState(r.state),
            parallel=r.parallel, branch=r.branch, created_at=r.created_at,
            finished_at=r.finished_at, error=r.error, cost_usd=r.cost_usd,
            input_tokens=r.input_tokens, output_tokens=r.output_tokens,
            paused=bool(r.paused), dispatch=r.dispatch or "local",
        )


@dataclass(frozen=True)
class TaskRecord:
    run_id: str
    task_id: str
    position: int
    title: str
    state: TaskState
    state_reason: str | None
    priority: int
    depends_on: list[str]
    agent_name: str
    spec: dict[str, Any]
    attempts: int
    commit_sha: str | None
    cost_usd: float | None
    input_tokens: int
    output_tokens: int
    last_decision: dict[str, Any] | None
    updated_at: datetime

    @property
    def id(self) -> str:
        return self.task_id

    @classmethod
    def of(cls, t: m.Task) -> TaskRecord:
        return cls(
            run_id=t.run_id, task_id=t.task_id, position=t.position, title=t.title,
            state=TaskState(t.state), state_reason=t.state_reason, priority=t.priority,
            depends_on=list(t.depends_on), agent_name=t.agent_name, spec=t.spec_json,
            attempts=t.attempts, commit_sha=t.commit_sha, cost_usd=t.cost_usd,
            input_tokens=t.input_tokens, output_tokens=t.output_tokens,
            last_decision=t.last_decision, updated_at=t.updated_at,
        )


@dataclass(frozen=True)
class AttemptRecord:
    id: str
    run_id: str
    task_id: str
    n: int
    prompt: str
    agent_name: str
    agent_type: str
    status: str  # "running" until finished, then an AgentResult status
    final_message: str | None
    session_id: str | None
    turns: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    duration_s: float
    retry_at: datetime | None
    error: str | None
    exit_code: int | None
    permission_denials: list[dict[str, Any]]
    pgid: int | None
    transcript_path: str | None
    checkpoint_sha: str | None
    restarts: int
    started_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, a: m.Attempt) -> AttemptRecord:
        return cls(
            id=a.id, run_id=a.run_id, task_id=a.task_id, n=a.n, prompt=a.prompt,
            agent_name=a.agent_name, agent_type=a.agent_type, status=a.status,
            final_message=a.final_message, session_id=a.session_id, turns=a.turns,
            input_tokens=a.input_tokens, output_tokens=a.output_tokens, cost_usd=a.cost_usd,
            duration_s=a.duration_s, retry_at=a.retry_at, error=a.error, exit_code=a.exit_code,
            permission_denials=list(a.permission_denials or []), pgid=a.pgid,
            transcript_path=a.transcript_path, checkpoint_sha=a.checkpoint_sha,
            restarts=a.restarts, started_at=a.started_at, finished_at=a.finished_at,
        )


@dataclass(frozen=True)
class EventRecord:
    id: int
    attempt_id: str
    run_id: str
    task_id: str
    seq: int
    kind: str
    ts: float
    data: dict[str, Any]

    def to_event(self) -> AgentEvent:
        from overseer.agents.base import AgentEvent

        return AgentEvent.model_validate({"kind": self.kind, "ts": self.ts, "data": self.data})


@dataclass(frozen=True)
class DecisionRecord:
    attempt_id: str
    action: str
    reasons: list[str]
    feedback: str | None
    breakpoint: dict[str, Any] | None
    data: dict[str, Any]
    created_at: datetime
    outcome: str | None

    @classmethod
    def of(cls, d: m.Decision) -> DecisionRecord:
        return cls(
            attempt_id=d.attempt_id, action=d.action, reasons=list(d.reasons),
            feedback=d.feedback, breakpoint=d.breakpoint, data=d.data,
            created_at=d.created_at, outcome=d.outcome,
        )


def attempt_number(attempt_id: str | None) -> int | None:
    """The N of an attempt id `RUN/TASK/N` (engine/steps/common.attempt_id); None for none."""
    tail = (attempt_id or "").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


@dataclass(frozen=True)
class BreakpointRecord:
    id: str
    run_id: str
    task_id: str | None
    attempt_id: str | None
    kind: str
    message: str
    severity: str
    state: str  # open | approved | rejected | answered | auto
    resolution: str | None
    resolved_by: str | None
    created_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, b: m.Breakpoint) -> BreakpointRecord:
        return cls(
            id=b.id, run_id=b.run_id, task_id=b.task_id, attempt_id=b.attempt_id, kind=b.kind,
            message=b.message, severity=b.severity, state=b.state, resolution=b.resolution,
            resolved_by=b.resolved_by, created_at=b.created_at, resolved_at=b.resolved_at,
        )


@dataclass(frozen=True)
class CheckpointRecord:
    run_id: str
    task_id: str
    attempt: int
    ref: str
    sha: str
    created_at: datetime

    @classmethod
    def of(cls, c: m.Checkpoint) -> CheckpointRecord:
        return cls(
            run_id=c.run_id, task_id=c.task_id, attempt=c.attempt, ref=c.ref, sha=c.sha,
            created_at=c.created_at,
        )


@dataclass(frozen=True)
class ArtifactRecord:
    id: int
    run_id: str
    attempt_id: str | None
    kind: str
    path: str
    created_at: datetime

    @classmethod
    def of(cls, a: m.Artifact) -> ArtifactRecord:
        return cls(
            id=a.id, run_id=a.run_id, attempt_id=a.attempt_id, kind=a.kind, path=a.path,
            created_at=a.created_at,
        )
