"""The state store the engine writes to and the CLI reads from: runs, tasks, attempts, events.

Every method is one short transaction on its own session, so one Store is shared by all engine
threads. Methods that the engine may repeat after a crash are idempotent."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from overseer.agents.base import AgentEvent, AgentResult
from overseer.errors import StoreError
from overseer.lifecycle import RunState, TaskState, check_task_transition
from overseer.plan.schema import ResolvedTask
from overseer.store import models as m
from overseer.store.audit import AuditMixin
from overseer.store.db import create_engines, migrate, redact
from overseer.store.models import utcnow
from overseer.store.records import AttemptRecord, EventRecord, RunRecord, TaskRecord
from overseer.store.retention import RetentionMixin, ScrubMixin
from overseer.store.steers import SteerMixin

TERMINAL_RUN_STATES = frozenset({RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED})


class Usage(NamedTuple):
    """A task's and its run's usage, as rolled up from their attempts."""

    task_cost_usd: float | None
    task_tokens: int
    run_cost_usd: float | None
    run_tokens: int


def attempt_id_for(run_id: str, task_id: str, n: int) -> str:
    return f"{run_id}/{task_id}/{n}"


class Store(AuditMixin, RetentionMixin, ScrubMixin, SteerMixin):
    @classmethod
    def open(cls, url: str) -> Store:
        """Connect to url (sqlite:////abs/path/state.db or postgresql+psycopg://...) and bring
        its schema to the current migration."""
        writer, reader = create_engines(url)
        try:
            migrate(writer, url)
        except BaseException:
            writer.dispose()
            reader.dispose()
            raise
        return cls(redact(url), writer, reader)

    # -- runs --------------------------------------------------------------------------------

    def create_run(
        self, run_id: str, *, name: str, plan_path: str, workspace: str,
        plan_json: dict[str, Any], config_json: dict[str, Any], parallel: int,
        branch: str | None,
    ) -> None:
        """Create the run in state running. Idempotent: an existing run is left as it is."""

        def tx(s: Session) -> None:
            stmt = self._insert(m.Run).values(
                id=run_id, name=name, plan_path=plan_path, workspace=workspace,
                plan_json=plan_json, config_json=config_json, state=RunState.RUNNING.value,
                parallel=parallel, branch=branch, created_at=utcnow(),
                input_tokens=0, output_tokens=0,
            )
            s.execute(stmt.on_conflict_do_nothing(index_elements=["id"]))

        self._write(tx)

    def get_run(self, run_id: str) -> RunRecord | None:
        def tx(s: Session) -> RunRecord | None:
            run = s.get(m.Run, run_id)
            return RunRecord.of(run) if run is not None else None

        return self._read(tx)

    def run_state(self, run_id: str) -> str | None:
        """The run's state alone (cheap enough to poll: the run's row holds its whole plan)."""

        def tx(s: Session) -> str | None:
            return s.scalar(select(m.Run.state).where(m.Run.id == run_id))

        return self._read(tx)

    def latest_run(self, workspace: str | None = None) -> RunRecord | None:
        runs = self.list_runs(workspace, limit=1)
        return runs[0] if runs else None

    def list_runs(self, workspace: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """Runs, newest first."""

        def tx(s: Session) -> list[RunRecord]:
            q = select(m.Run).order_by(m.Run.created_at.desc(), m.Run.id.desc())
            if workspace is not None:
                q = q.where(m.Run.workspace == workspace)
            if limit is not None:
                q = q.limit(limit)
            return [RunRecord.of(r) for r in s.scalars(q)]

        return self._read(tx)

    def find_run_prefix(self, prefix: str) -> RunRecord | None:
        """The run whose id is prefix, or the only one starting with it; None if none does;
        StoreError if several do."""

        def tx(s: Session) -> RunRecord | None:
            exact = s.get(m.Run, prefix)
            if exact is not None:
                return RunRecord.of(exact)
            q = select(m.Run).where(m.Run.id.startswith(prefix, autoescape=True)).limit(2)
            found = list(s.scalars(q))
            if len(found) > 1:
                raise StoreError(
                    f"run id prefix {prefix!r} is ambiguous",
                    hint="type more of the run id; `overseer status` shows it",
                )
            return RunRecord.of(found[0]) if found else None

        return self._read(tx)

    def set_run_state(self, run_id: str, state: RunState, error: str | None = None) -> None:
        """Set the run's state and error. A terminal state stamps finished_at (once; repeating
        it keeps the first time); going back to a live state clears it."""
        state = RunState(state)

        def tx(s: Session) -> None:
            run = self._lock_run(s, run_id)
            if state in TERMINAL_RUN_STATES:
                if run.state != state.value or run.finished_at is None:
                    run.finished_at = utcnow()
            else:
                run.finished_at = None
            run.state = state.value
            run.error = error

        self._write(tx)

    def set_run_paused(self, run_id: str, paused: bool) -> None:
        def tx(s: Session) -> None:
            self._lock_run(s, run_id).paused = paused

        self._write(tx)

    def run_mode(self, run_id: str) -> str:
        """autopilot | copilot, as recorded with the run's settings (run.mode)."""

        def tx(s: Session) -> str:
            config = s.scalar(select(m.Run.config_json).where(m.Run.id == run_id)) or {}
            return str((config.get("run") or {}).get("mode") or "autopilot")

        return self._read(tx)

    def set_run_mode(self, run_id: str, mode: str) -> None:
        """Change the run's recorded mode (`overseer resume --mode`): its next attempts follow it."""

        def tx(s: Session) -> None:
            run = self._lock_run(s, run_id)
            config = dict(run.config_json or {})
            config["run"] = {**(config.get("run") or {}), "mode": mode}
            run.config_json = config  # a new object, so the change is written

        self._write(tx)

    def set_run_dispatch(self, run_id: str, dispatch: str) -> None:
        def tx(s: Session) -> None:
            self._lock_run(s, run_id).dispatch = dispatch

        self._write(tx)

    # -- tasks -------------------------------------------------------------------------------

    def add_tasks(self, run_id: str, tasks: list[ResolvedTask]) -> None:
        """Add the run's tasks as pending, in plan order. Idempotent: a task that exists keeps
        its state, attempts and position; its title, priority and spec are refreshed."""

        def tx(s: Session) -> None:
            self._lock_run(s, run_id)
            top = s.scalar(select(func.max(m.Task.position)).where(m.Task.run_id == run_id))
            base = 0 if top is None else top + 1
            for i, t in enumerate(tasks):
                meta = {
                    "title": t.title,
                    "priority": t.priority,
                    "depends_on": list(t.depends_on),
                    "spec_json": t.model_dump(mode="json"),
                }
                stmt = self._insert(m.Task).values(
                    run_id=run_id, task_id=t.id, position=base + i, state=TaskState.PENDING.value,
                    agent_name=t.agent_name, attempts=0, input_tokens=0, output_tokens=0,
                    updated_at=utcnow(), **meta,
                )
                s.execute(
                    stmt.on_conflict_do_update(index_elements=["run_id", "task_id"], set_=meta)
                )

        self._write(tx)

    def get_task(self, run_id: str, task_id: str) -> TaskRecord:
        def tx(s: Session) -> TaskRecord:
            task = s.get(m.Task, (run_id, task_id))
            if task is None:
                raise StoreError(f"no task {task_id!r} in run {run_id!r}", hint="see `overseer status`")
            return TaskRecord.of(task)

        return self._read(tx)

    def list_tasks(self, run_id: str) -> list[TaskRecord]:
        def tx(s: Session) -> list[TaskRecord]:
            q = select(m.Task).where(m.Task.run_id == run_id).order_by(m.Task.position, m.Task.task_id)
            return [TaskRecord.of(t) for t in s.scalars(q)]

        return self._read(tx)

    def set_task_state(
        self, run_id: str, task_id: str, state: TaskState, reason: str | None = None
    ) -> None:
        """Move a task along its lifecycle; IllegalTransition if the move is not allowed.
        Repeating the current state is a no-op apart from updating the reason."""
        state = TaskState(state)

        def tx(s: Session) -> None:
            task = self._lock_task(s, run_id, task_id)
            check_task_transition(task_id, TaskState(task.state), state)
            if task.state == state.value and reason is None:
                return
            task.state = state.value
            task.state_reason = reason

        self._write(tx)

    def set_task_commit(self, run_id: str, task_id: str, sha: str) -> None:
        def tx(s: Session) -> None:
            self._lock_task(s, run_id, task_id).commit_sha = sha

        self._write(tx)

    # -- attempts ----------------------------------------------------------------------------

    def start_attempt(
        self, run_id: str, task_id: str, n: int, *, prompt: str, agent_name: str,
        agent_type: str, checkpoint_sha: str | None, transcript_path: str | None,
        shown: int | None = None,
    ) -> str:
        """Record that attempt n of the task started and return its id. Starting it again (the
        engine re-running a step a crash interrupted) resets it instead of adding another: the
        previous run's events, gate results and file changes go, its usage leaves the totals,
        and `restarts` counts it. `shown` is the attempt number people see (default n): a
        repeat that costs no attempt (a usage-limit wait, an infrastructure retry) gets a record
        of its own but not a new number."""
        attempt_id = attempt_id_for(run_id, task_id, n)

        def tx(s: Session) -> str:
            # Lock order everywhere: run, then task, then attempt.
            self._lock_run(s, run_id)
            task = self._lock_task(s, run_id, task_id)
            a = s.get(m.Attempt, attempt_id)
            if a is None:
                s.add(
                    m.Attempt(
                        id=attempt_id, run_id=run_id, task_id=task_id, n=n, prompt=prompt,
                        agent_name=agent_name, agent_type=agent_type, status="running",
                        checkpoint_sha=checkpoint_sha, transcript_path=transcript_path,
                        started_at=utcnow(), permission_denials=[],
                    )
                )
            else:
                for child in (m.Event, m.GateResultRow, m.FileChange, m.FindingRow):
                    s.execute(delete(child).where(child.attempt_id == attempt_id))
                a.prompt, a.agent_name, a.agent_type = prompt, agent_name, agent_type
                a.checkpoint_sha, a.transcript_path = checkpoint_sha, transcript_path
                a.status, a.final_message, a.session_id, a.turns = "running", None, None, 0
                a.input_tokens, a.output_tokens, a.cost_usd, a.duration_s = 0, 0, None, 0.0
                a.retry_at, a.error, a.exit_code, a.pgid = None, None, None, None
                a.permission_denials = []
                a.restarts += 1
                a.started_at, a.finished_at = utcnow(), None
            task.attempts = max(task.attempts, n if shown is None else shown)
            task.agent_name = agent_name
            if a is not None:
                # Only a restarted attempt had usage to take out; a new one adds nothing yet,
                # and the rollup sums over every attempt of the run.
                s.flush()
                self._rollup(s, run_id, task_id)
            return attempt_id

        return self._write(tx)

    def set_attempt_pgid(self, attempt_id: str, pgid: int | None) -> None:
        def tx(s: Session) -> None:
            self._attempt(s, attempt_id).pgid = pgid

        self._write(tx)

    def finish_attempt(self, attempt_id: str, result: AgentResult) -> None:
        """Record the agent's result and recompute the task's and run's usage from their
        attempts (so repeating this never counts anything twice)."""

        def tx(s: Session) -> None:
            a = self._attempt(s, attempt_id)
            self._lock_run(s, a.run_id)
            self._lock_task(s, a.run_id, a.task_id)
            s.refresh(a)
            a.status = result.status
            a.final_message = result.final_message
            a.session_id = result.session_id
            a.turns = result.turns
            a.input_tokens, a.output_tokens = result.input_tokens, result.output_tokens
            a.cost_usd, a.duration_s = result.cost_usd, result.duration_s
            a.retry_at, a.error, a.exit_code = result.retry_at, result.error, result.exit_code
            a.permission_denials = result.model_dump(mode="json")["permission_denials"]
            a.finished_at = utcnow()
            s.flush()
            self._rollup(s, a.run_id, a.task_id)

        self._write(tx)

    @staticmethod
    def _rollup(s: Session, run_id: str, task_id: str) -> None:
        """Usage of the task and the run, summed from their attempts. The caller holds the run
        and task locks, so concurrent finishes cannot each miss the other's attempt."""

        def sums(*where: Any) -> tuple[int, int, float | None]:
            row = s.execute(
                select(
                    func.coalesce(func.sum(m.Attempt.input_tokens), 0),
                    func.coalesce(func.sum(m.Attempt.output_tokens), 0),
                    func.sum(m.Attempt.cost_usd),  # NULL when no attempt reported a cost
                ).where(*where)
            ).one()
            return int(row[0]), int(row[1]), None if row[2] is None else float(row[2])

        tin, tout, tcost = sums(m.Attempt.run_id == run_id, m.Attempt.task_id == task_id)
        s.execute(
            update(m.Task)
            .where(m.Task.run_id == run_id, m.Task.task_id == task_id)
            .values(input_tokens=tin, output_tokens=tout, cost_usd=tcost, updated_at=utcnow())
        )
        rin, rout, rcost = sums(m.Attempt.run_id == run_id)
        s.execute(
            update(m.Run)
            .where(m.Run.id == run_id)
            .values(input_tokens=rin, output_tokens=rout, cost_usd=rcost)
        )

    def usage(self, run_id: str, task_id: str) -> Usage:
        """Cost and tokens of the task and of its run, from the rolled-up columns alone (loading
        the run's row would decode its whole plan)."""

        def tx(s: Session) -> Usage:
            run = s.execute(
                select(m.Run.cost_usd, m.Run.input_tokens, m.Run.output_tokens).where(m.Run.id == run_id)
            ).one_or_none()
            task = s.execute(
                select(m.Task.cost_usd, m.Task.input_tokens, m.Task.output_tokens)
                .where(m.Task.run_id == run_id, m.Task.task_id == task_id)
            ).one_or_none()
            if run is None or task is None:
                raise StoreError(f"no task {task_id!r} in run {run_id!r}", hint="see `overseer status`")
            return Usage(task[0], int(task[1]) + int(task[2]), run[0], int(run[1]) + int(run[2]))

        return self._read(tx)

    def get_attempt(self, attempt_id: str) -> AttemptRecord | None:
        def tx(s: Session) -> AttemptRecord | None:
            a = s.get(m.Attempt, attempt_id)
            return AttemptRecord.of(a) if a is not None else None

        return self._read(tx)

    def attempts(self, run_id: str, task_id: str | None = None) -> list[AttemptRecord]:
        """The run's (or one task's) attempts, in the order they started."""

        def tx(s: Session) -> list[AttemptRecord]:
            q = select(m.Attempt).where(m.Attempt.run_id == run_id)
            if task_id is not None:
                q = q.where(m.Attempt.task_id == task_id)
            q = q.order_by(m.Attempt.started_at, m.Attempt.n, m.Attempt.id)
            return [AttemptRecord.of(a) for a in s.scalars(q)]

        return self._read(tx)

    def open_attempts_with_pgid(self, run_id: str | None = None) -> list[tuple[str, int]]:
        """(attempt id, process group) of unfinished attempts: leftovers a resume must kill."""

        def tx(s: Session) -> list[tuple[str, int]]:
            q = select(m.Attempt.id, m.Attempt.pgid).where(
                m.Attempt.finished_at.is_(None), m.Attempt.pgid.is_not(None)
            )
            if run_id is not None:
                q = q.where(m.Attempt.run_id == run_id)
            return [(i, int(p)) for i, p in s.execute(q.order_by(m.Attempt.id)) if p is not None]

        return self._read(tx)

    # -- events ------------------------------------------------------------------------------

    def add_event(self, attempt_id: str, seq: int, event: AgentEvent) -> None:
        """Record the attempt's seq-th event. Idempotent: a repeated seq is ignored."""
        data = event.model_dump(mode="json")

        def tx(s: Session) -> None:
            stmt = self._insert(m.Event).values(
                attempt_id=attempt_id, seq=seq, kind=data["kind"], ts=data["ts"], data=data["data"]
            )
            s.execute(stmt.on_conflict_do_nothing(index_elements=["attempt_id", "seq"]))

        self._write(tx)

    def events_start_for_last(self, run_id: str, n: int, task_id: str | None = None) -> int:
        """The event id after which the run's (or task's) last n events lie: what a viewer
        that shows only recent lines passes to list_events as after_id. 0 when there are fewer."""

        def tx(s: Session) -> int:
            q = (
                select(m.Event.id).join(m.Attempt, m.Attempt.id == m.Event.attempt_id)
                .where(m.Attempt.run_id == run_id)
            )
            if task_id is not None:
                q = q.where(m.Attempt.task_id == task_id)
            return s.scalar(q.order_by(m.Event.id.desc()).offset(n).limit(1)) or 0

        return self._read(tx)

    def list_events(
        self, attempt_id: str | None = None, *, run_id: str | None = None,
        task_id: str | None = None, after_id: int = 0, limit: int | None = None,
    ) -> list[EventRecord]:
        """Events in the order they were recorded, after event id `after_id` (a follower passes
        the last id it printed). One attempt's events come from one writer, so following an
        attempt never skips; on PostgreSQL, events of concurrent attempts can commit out of id
        order, so a run-wide follower may miss one that commits late."""

        def tx(s: Session) -> list[EventRecord]:
            q = (
                select(m.Event, m.Attempt.run_id, m.Attempt.task_id)
                .join(m.Attempt, m.Attempt.id == m.Event.attempt_id)
                .where(m.Event.id > after_id)
            )
            if attempt_id is not None:
                q = q.where(m.Event.attempt_id == attempt_id)
            if run_id is not None:
                q = q.where(m.Attempt.run_id == run_id)
            if task_id is not None:
                q = q.where(m.Attempt.task_id == task_id)
            q = q.order_by(m.Event.id)
            if limit is not None:
                q = q.limit(limit)
            return [
                EventRecord(
                    id=e.id, attempt_id=e.attempt_id, run_id=r, task_id=t, seq=e.seq,
                    kind=e.kind, ts=e.ts, data=e.data,
                )
                for e, r, t in s.execute(q)
            ]

        return self._read(tx)

    # -- status ------------------------------------------------------------------------------

    def status(self, run_id: str) -> dict[str, Any]:
        """The `overseer status --json` object (ARCHITECTURE.md), from one snapshot."""

        def tx(s: Session) -> dict[str, Any]:
            run = s.get(m.Run, run_id)
            if run is None:
                raise StoreError(f"no run {run_id!r} in the state database", hint="see `overseer status`")
            tasks = s.scalars(
                select(m.Task).where(m.Task.run_id == run_id).order_by(m.Task.position, m.Task.task_id)
            ).all()
            bps = s.scalars(
                select(m.Breakpoint)
                .where(m.Breakpoint.run_id == run_id)
                .order_by(m.Breakpoint.created_at, m.Breakpoint.id)
            ).all()
            tin, tout, cost, duration = s.execute(
                select(
                    func.coalesce(func.sum(m.Attempt.input_tokens), 0),
                    func.coalesce(func.sum(m.Attempt.output_tokens), 0),
                    func.sum(m.Attempt.cost_usd),
                    func.coalesce(func.sum(m.Attempt.duration_s), 0.0),
                ).where(m.Attempt.run_id == run_id)
            ).one()
            return {
                "run_id": run.id,
                "state": run.state,
                "tasks": [
                    {
                        "id": t.task_id,
                        "state": t.state,
                        # Why it is in that state: a failure's cause, a block's breakpoint.
                        "reason": t.state_reason,
                        "attempts": t.attempts,
                        "agent": t.agent_name,
                        "cost_usd": t.cost_usd,
                        "input_tokens": t.input_tokens,
                        "output_tokens": t.output_tokens,
                        "last_decision": t.last_decision,
                    }
                    for t in tasks
                ],
                "breakpoints": [
                    {"id": b.id, "task": b.task_id, "kind": b.kind, "reason": b.message, "state": b.state}
                    for b in bps
                ],
                "totals": {
                    "cost_usd": None if cost is None else float(cost),
                    "tokens": int(tin) + int(tout),
                    # Agent time: the sum of attempt durations, not the run's wall-clock span
                    # (which would include days parked at a breakpoint).
                    "duration_s": float(duration),
                },
            }

        return self._read(tx)
