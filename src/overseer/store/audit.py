"""What the store records about each attempt after the agent ran: gates, verdicts, decisions,
breakpoints, checkpoints, file changes, artifacts."""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from overseer.errors import StoreError
from overseer.findings import Finding
from overseer.gates.result import GateResult, TestCounts
from overseer.lifecycle import RunState, TaskState, check_task_transition
from overseer.store import models as m
from overseer.store.base import StoreBase
from overseer.store.models import utcnow
from overseer.store.records import (
    ArtifactRecord,
    BreakpointRecord,
    CheckpointRecord,
    DecisionRecord,
)

BREAKPOINT_RESOLUTIONS = frozenset({"approved", "rejected", "answered", "auto", "cancelled"})


def _as_dict(value: dict[str, Any] | BaseModel) -> dict[str, Any]:
    """A JSON-ready dict from a dict or a pydantic model (Verdict, Decision)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return json.loads(json.dumps(value, default=str))


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str)


class AuditMixin(StoreBase):
    # -- gates -------------------------------------------------------------------------------

    def add_gate_results(self, attempt_id: str, results: list[GateResult]) -> None:
        """Replace the attempt's gate results: a repeated gate step leaves one set."""

        def tx(s: Session) -> None:
            self._attempt(s, attempt_id)
            s.execute(delete(m.GateResultRow).where(m.GateResultRow.attempt_id == attempt_id))
            for i, g in enumerate(results):
                s.add(
                    m.GateResultRow(
                        attempt_id=attempt_id, position=i, name=g.name, required=g.required,
                        passed=g.passed, exit_code=g.exit_code, duration_s=g.duration_s,
                        tests=g.tests.model_dump() if g.tests is not None else None,
                        failing_tests=list(g.failing_tests), output_tail=g.output_tail,
                        output_file=g.output_file, regressions=list(g.regressions),
                        timed_out=g.timed_out,
                    )
                )

        self._write(tx)

    def add_findings(self, attempt_id: str, findings: list[Finding]) -> None:
        """Replace the attempt's findings: a repeated evidence step leaves one set."""

        def tx(s: Session) -> None:
            self._attempt(s, attempt_id)
            s.execute(delete(m.FindingRow).where(m.FindingRow.attempt_id == attempt_id))
            for i, f in enumerate(findings):
                s.add(m.FindingRow(attempt_id=attempt_id, position=i, source=f.source, kind=f.kind,
                                   severity=f.severity, path=f.path, line=f.line,
                                   message=f.message, fix=f.fix))

        self._write(tx)

    def findings(self, attempt_id: str) -> list[Finding]:
        def tx(s: Session) -> list[Finding]:
            rows = s.scalars(select(m.FindingRow).where(m.FindingRow.attempt_id == attempt_id)
                             .order_by(m.FindingRow.position)).all()
            return [Finding(source=r.source, kind=r.kind, severity=r.severity,  # type: ignore[arg-type]
                            path=r.path, line=r.line, message=r.message, fix=r.fix) for r in rows]

        return self._read(tx)

    def gate_results(self, attempt_id: str) -> list[GateResult]:
        def tx(s: Session) -> list[GateResult]:
            rows = s.scalars(
                select(m.GateResultRow)
                .where(m.GateResultRow.attempt_id == attempt_id)
                .order_by(m.GateResultRow.position)
            )
            return [
                GateResult(
                    name=r.name, required=r.required, passed=r.passed, exit_code=r.exit_code,
                    duration_s=r.duration_s,
                    tests=TestCounts(**r.tests) if r.tests is not None else None,
                    failing_tests=list(r.failing_tests), output_tail=r.output_tail,
                    output_file=r.output_file, regressions=list(r.regressions),
                    timed_out=r.timed_out,
                )
                for r in rows
            ]

        return self._read(tx)

    # -- verdicts and decisions --------------------------------------------------------------

    def add_verdict(self, attempt_id: str, verdict: dict[str, Any] | BaseModel) -> None:
        """Record the supervisor's verdict on an attempt; a repeat replaces it."""
        data = _as_dict(verdict)
        values = {
            "complete": data.get("complete"),
            "score": data.get("score"),
            "confidence": data.get("confidence"),
            "unmet_criteria": list(data.get("unmet_criteria") or []),
            "issues": list(data.get("issues") or []),
            "follow_up": _text(data.get("follow_up")),
            "reviewer": _text(data.get("reviewer")),
            "data": data,
            "created_at": utcnow(),
        }

        def tx(s: Session) -> None:
            self._attempt(s, attempt_id)
            stmt = self._insert(m.Verdict).values(attempt_id=attempt_id, **values)
            s.execute(stmt.on_conflict_do_update(index_elements=["attempt_id"], set_=values))

        self._write(tx)

    def verdict(self, attempt_id: str) -> dict[str, Any] | None:
        """The verdict exactly as it was recorded, or None."""
        return self._read(
            lambda s: s.scalar(select(m.Verdict.data).where(m.Verdict.attempt_id == attempt_id))
        )

    def add_decision(self, attempt_id: str, decision: dict[str, Any] | BaseModel) -> None:
        """Record the decision on an attempt (one per attempt; a repeat replaces it but keeps
        its outcome) and show it as the task's last decision."""
        data = _as_dict(decision)
        reasons = [str(r) for r in data.get("reasons") or []]
        values = {
            "action": str(data["action"]),
            "reasons": reasons,
            "feedback": _text(data.get("feedback")),
            "breakpoint": data.get("breakpoint"),
            "data": data,
        }

        def tx(s: Session) -> None:
            a = self._attempt(s, attempt_id)
            stmt = self._insert(m.Decision).values(
                attempt_id=attempt_id, created_at=utcnow(), **values
            )
            s.execute(stmt.on_conflict_do_update(index_elements=["attempt_id"], set_=values))
            task = self._lock_task(s, a.run_id, a.task_id)
            task.last_decision = {"action": values["action"], "reasons": reasons}

        self._write(tx)

    def set_decision_outcome(self, attempt_id: str, outcome: str) -> None:
        """Note what happened after a decision, so decisions can be judged by their results."""

        def tx(s: Session) -> None:
            d = s.get(m.Decision, attempt_id)
            if d is None:
                raise StoreError(f"no decision recorded for attempt {attempt_id!r}")
            d.outcome = outcome

        self._write(tx)

    def count_decisions(self, run_id: str, actions: tuple[str, ...]) -> int:
        """How many of the run's attempts ended in one of `actions`."""

        def tx(s: Session) -> int:
            return int(s.scalar(
                select(func.count()).select_from(m.Decision).join(m.Attempt, m.Attempt.id == m.Decision.attempt_id)
                .where(m.Attempt.run_id == run_id, m.Decision.action.in_(actions))
            ) or 0)

        return self._read(tx)

    def decision(self, attempt_id: str) -> DecisionRecord | None:
        def tx(s: Session) -> DecisionRecord | None:
            d = s.get(m.Decision, attempt_id)
            return DecisionRecord.of(d) if d is not None else None

        return self._read(tx)

    # -- breakpoints -------------------------------------------------------------------------

    def open_breakpoint(
        self,
        run_id: str,
        kind: str,
        message: str,
        *,
        task_id: str | None = None,
        attempt_id: str | None = None,
        severity: str = "info",
        breakpoint_id: str | None = None,
    ) -> str:
        """Open a breakpoint and return its id. Idempotent: an explicit breakpoint_id is
        created once; without one, an open breakpoint of the same kind for the same task and
        attempt (any state, when there is an attempt) is returned instead of a new one."""

        def tx(s: Session) -> str:
            self._lock_run(s, run_id)  # serialises the check-then-insert on PostgreSQL
            if breakpoint_id is None:
                q = select(m.Breakpoint.id).where(
                    m.Breakpoint.run_id == run_id,
                    m.Breakpoint.kind == kind,
                    m.Breakpoint.task_id.is_(None) if task_id is None
                    else m.Breakpoint.task_id == task_id,
                )
                if attempt_id is None:
                    q = q.where(m.Breakpoint.attempt_id.is_(None), m.Breakpoint.state == "open")
                else:
                    q = q.where(m.Breakpoint.attempt_id == attempt_id)
                found = s.scalar(q.order_by(m.Breakpoint.created_at.desc()).limit(1))
                if found is not None:
                    return found
            bp_id = breakpoint_id or f"bp-{uuid.uuid4().hex[:8]}"
            self._insert_breakpoint(s, bp_id, run_id, kind, message, task_id, attempt_id, severity)
            return bp_id

        return self._write(tx)

    def park_task(
        self, run_id: str, task_id: str, kind: str, message: str, *, attempt_id: str | None,
        breakpoint_id: str, reason: str,
    ) -> bool:
        """Open a human breakpoint on the task, block the task and set the run waiting, in one
        transaction, so no reader sees the breakpoint beside a task still running. Idempotent
        on breakpoint_id. A cancelled task stays cancelled (and False is returned)."""

        def tx(s: Session) -> bool:
            run = self._lock_run(s, run_id)  # lock order: run, then task
            task = self._lock_task(s, run_id, task_id)
            self._insert_breakpoint(s, breakpoint_id, run_id, kind, message, task_id, attempt_id, "human")
            if task.state == TaskState.CANCELLED.value:
                return False
            check_task_transition(task_id, TaskState(task.state), TaskState.BLOCKED)
            task.state, task.state_reason = TaskState.BLOCKED.value, reason
            run.state, run.finished_at = RunState.WAITING.value, None
            return True

        return self._write(tx)

    def _insert_breakpoint(
        self, s: Session, bp_id: str, run_id: str, kind: str, message: str, task_id: str | None,
        attempt_id: str | None, severity: str,
    ) -> None:
        stmt = self._insert(m.Breakpoint).values(
            id=bp_id, run_id=run_id, task_id=task_id, attempt_id=attempt_id, kind=kind,
            message=message, severity=severity, state="open", created_at=utcnow(),
        )
        s.execute(stmt.on_conflict_do_nothing(index_elements=["id"]))

    def resolve_breakpoint(
        self, breakpoint_id: str, state: str, *, note: str | None = None,
        resolved_by: str | None = None,
    ) -> BreakpointRecord:
        """Close a breakpoint (approved | rejected | answered | auto | cancelled, when its run
        is cancelled). Repeating the same
        resolution is a no-op; contradicting an earlier one raises StoreError."""
        if state not in BREAKPOINT_RESOLUTIONS:
            raise StoreError(
                f"unknown breakpoint resolution {state!r}",
                hint="one of: " + ", ".join(sorted(BREAKPOINT_RESOLUTIONS)),
            )

        def tx(s: Session) -> BreakpointRecord:
            bp = s.scalars(
                select(m.Breakpoint)
                .where(m.Breakpoint.id == self._breakpoint_id(s, breakpoint_id))
                .with_for_update(key_share=True)
            ).one()
            if bp.state == "open":
                bp.state, bp.resolution, bp.resolved_by = state, note, resolved_by
                bp.resolved_at = utcnow()
            elif bp.state != state:
                raise StoreError(
                    f"breakpoint {bp.id} was already {bp.state}",
                    hint="a breakpoint is resolved once; see `overseer status`",
                )
            return BreakpointRecord.of(bp)

        return self._write(tx)

    def get_breakpoint(self, breakpoint_id: str) -> BreakpointRecord:
        """A breakpoint by id or unique id prefix (as typed on the command line)."""

        def tx(s: Session) -> BreakpointRecord:
            bp = s.get(m.Breakpoint, self._breakpoint_id(s, breakpoint_id))
            assert bp is not None
            return BreakpointRecord.of(bp)

        return self._read(tx)

    def list_breakpoints(self, run_id: str, state: str | None = None) -> list[BreakpointRecord]:
        def tx(s: Session) -> list[BreakpointRecord]:
            q = select(m.Breakpoint).where(m.Breakpoint.run_id == run_id)
            if state is not None:
                q = q.where(m.Breakpoint.state == state)
            q = q.order_by(m.Breakpoint.created_at, m.Breakpoint.id)
            return [BreakpointRecord.of(b) for b in s.scalars(q)]

        return self._read(tx)

    def find_breakpoint(self, given: str) -> BreakpointRecord | None:
        """A breakpoint by id or unique id prefix; None when there is none (StoreError when the
        prefix is ambiguous)."""

        def tx(s: Session) -> BreakpointRecord | None:
            bp_id = self._matching_breakpoint(s, given)
            bp = s.get(m.Breakpoint, bp_id) if bp_id else None
            return BreakpointRecord.of(bp) if bp is not None else None

        return self._read(tx)

    @classmethod
    def _breakpoint_id(cls, s: Session, given: str) -> str:
        found = cls._matching_breakpoint(s, given)
        if found is None:
            raise StoreError(f"no breakpoint {given!r}", hint="`overseer status` lists them")
        return found

    @staticmethod
    def _matching_breakpoint(s: Session, given: str) -> str | None:
        if s.get(m.Breakpoint, given) is not None:
            return given
        ids = list(
            s.scalars(
                select(m.Breakpoint.id)
                .where(m.Breakpoint.id.startswith(given, autoescape=True))
                .limit(2)
            )
        )
        if len(ids) > 1:
            raise StoreError(f"breakpoint id {given!r} is ambiguous", hint="type more of the id")
        return ids[0] if ids else None

    # -- checkpoints, file changes, artifacts ------------------------------------------------

    def add_checkpoint(self, run_id: str, task_id: str, attempt: int, ref: str, sha: str) -> None:
        """Record the workspace checkpoint taken before attempt `attempt`; a repeat replaces it."""

        def tx(s: Session) -> None:
            stmt = self._insert(m.Checkpoint).values(
                run_id=run_id, task_id=task_id, attempt=attempt, ref=ref, sha=sha,
                created_at=utcnow(),
            )
            s.execute(
                stmt.on_conflict_do_update(
                    index_elements=["run_id", "task_id", "attempt"], set_={"ref": ref, "sha": sha}
                )
            )

        self._write(tx)

    def checkpoints(self, run_id: str, task_id: str | None = None) -> list[CheckpointRecord]:
        def tx(s: Session) -> list[CheckpointRecord]:
            q = select(m.Checkpoint).where(m.Checkpoint.run_id == run_id)
            if task_id is not None:
                q = q.where(m.Checkpoint.task_id == task_id)
            q = q.order_by(m.Checkpoint.task_id, m.Checkpoint.attempt)
            return [CheckpointRecord.of(c) for c in s.scalars(q)]

        return self._read(tx)

    def add_file_changes(
        self, attempt_id: str, changes: list[tuple[str, str, int, int]]
    ) -> None:
        """Replace the attempt's changed files: (path, status, lines added, lines removed)."""

        def tx(s: Session) -> None:
            self._attempt(s, attempt_id)
            s.execute(delete(m.FileChange).where(m.FileChange.attempt_id == attempt_id))
            s.add_all(
                m.FileChange(attempt_id=attempt_id, path=p, status=st, added=a, removed=r)
                for p, st, a, r in changes
            )

        self._write(tx)

    def file_changes(self, attempt_id: str) -> list[tuple[str, str, int, int]]:
        def tx(s: Session) -> list[tuple[str, str, int, int]]:
            rows = s.scalars(
                select(m.FileChange)
                .where(m.FileChange.attempt_id == attempt_id)
                .order_by(m.FileChange.id)
            )
            return [(r.path, r.status, r.added, r.removed) for r in rows]

        return self._read(tx)

    def add_artifact(
        self, run_id: str, kind: str, path: str, attempt_id: str | None = None
    ) -> None:
        """Record a file the run produced (transcript, log, report). Idempotent."""

        def tx(s: Session) -> None:
            self._lock_run(s, run_id)  # serialises the check-then-insert on PostgreSQL
            q = select(m.Artifact.id).where(
                m.Artifact.run_id == run_id, m.Artifact.kind == kind, m.Artifact.path == path,
                m.Artifact.attempt_id.is_(None) if attempt_id is None
                else m.Artifact.attempt_id == attempt_id,
            )
            if s.scalar(q) is None:
                s.add(m.Artifact(run_id=run_id, attempt_id=attempt_id, kind=kind, path=path))

        self._write(tx)

    def artifacts(self, run_id: str) -> list[ArtifactRecord]:
        def tx(s: Session) -> list[ArtifactRecord]:
            q = select(m.Artifact).where(m.Artifact.run_id == run_id).order_by(m.Artifact.id)
            return [ArtifactRecord.of(a) for a in s.scalars(q)]

        return self._read(tx)
