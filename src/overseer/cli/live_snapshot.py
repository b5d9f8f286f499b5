"""What the live view shows, read from the store — so a view in the run's own process and one
attached from another terminal (`overseer watch`) see the same thing.

`SnapshotReader.read()` is the only part that touches the store; the view renders the frozen
`Snapshot` it returns with a pure function."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from overseer.gates.result import GateResult
from overseer.report.stream import event_text, gate_summary
from overseer.scrub import Scrubber
from overseer.store import AttemptRecord, EventRecord, Store
from overseer.store.store import TERMINAL_RUN_STATES

FILES_SHOWN = 5
# Gate results are shown for the tasks whose latest attempt finished most recently.
GATE_TASKS_SHOWN = 4


@dataclass(frozen=True)
class TaskRow:
    id: str
    title: str
    state: str
    attempt: int
    agent: str
    elapsed_s: float | None
    tokens: int
    cost_usd: float | None
    reason: str | None = None


@dataclass(frozen=True)
class Activity:
    """What a running agent is doing: its latest message or tool call and the files it touched."""

    task: str
    attempt: int
    last: str
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class GateLine:
    task: str
    attempt: int
    passed: bool
    text: str


@dataclass(frozen=True)
class OpenBreakpoint:
    id: str
    task: str | None
    kind: str
    message: str


@dataclass(frozen=True)
class Snapshot:
    run_id: str
    name: str
    state: str
    paused: bool
    finished: bool
    elapsed_s: float
    tasks: tuple[TaskRow, ...]
    activity: tuple[Activity, ...] = ()
    gates: tuple[GateLine, ...] = ()
    breakpoints: tuple[OpenBreakpoint, ...] = ()
    tokens: int = 0
    cost_usd: float | None = None
    error: str | None = None


@dataclass
class _AttemptActivity:
    last: str = ""
    files: list[str] = field(default_factory=list)


class SnapshotReader:
    """Reads a run's Snapshot; agent events are read incrementally, so a refresh costs a few
    small queries however long the run has been going."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store, self.run_id = store, run_id
        run = store.get_run(run_id)
        self.scrubber = Scrubber.for_run(run.plan_json if run else None)
        self._after_id = 0
        self._activity: dict[str, _AttemptActivity] = {}
        self._gates: dict[str, list[GateResult]] = {}

    def read(self, now: datetime) -> Snapshot:
        # Open breakpoints first: a task is parked in the same write that opens its breakpoint,
        # so everything read after them shows that task blocked and the run waiting.
        bps = tuple(
            OpenBreakpoint(b.id, b.task_id, b.kind, self.scrubber.text(b.message))
            for b in self.store.list_breakpoints(self.run_id, state="open")
        )
        run = self.store.get_run(self.run_id)
        if run is None:
            raise LookupError(self.run_id)
        self._take_events(self.store.list_events(run_id=self.run_id, after_id=self._after_id))
        latest: dict[str, AttemptRecord] = {}
        agent_time: dict[str, float] = {}
        for att in self.store.attempts(self.run_id):
            latest[att.task_id] = att
            agent_time[att.task_id] = agent_time.get(att.task_id, 0.0) + att.duration_s
        rows, activity = [], []
        for t in self.store.list_tasks(self.run_id):
            cur = latest.get(t.task_id)
            if cur is not None and cur.finished_at is None:
                # A running attempt's duration is not recorded yet: count it from its start.
                elapsed: float | None = agent_time[t.task_id] + (now - cur.started_at).total_seconds()
                act = self._activity.get(cur.id, _AttemptActivity())
                activity.append(Activity(t.task_id, cur.n, act.last, tuple(act.files[-FILES_SHOWN:])))
            else:
                elapsed = agent_time.get(t.task_id)
            rows.append(TaskRow(
                id=t.task_id, title=t.title, state=str(t.state), attempt=t.attempts,
                agent=t.agent_name, elapsed_s=elapsed, tokens=t.input_tokens + t.output_tokens,
                cost_usd=t.cost_usd, reason=t.state_reason,
            ))
        done = sorted((a for a in latest.values() if a.finished_at is not None),
                      key=lambda a: (a.finished_at, a.id), reverse=True)[:GATE_TASKS_SHOWN]
        gates = [GateLine(a.task_id, a.n, g.passed, self.scrubber.text(gate_summary(g)))
                 for a in done for g in self._gate_results(a.id)]
        end = run.finished_at or now
        return Snapshot(
            run_id=run.id, name=run.name, state=str(run.state), paused=run.paused,
            finished=run.state in TERMINAL_RUN_STATES,
            elapsed_s=max(0.0, (end - run.created_at).total_seconds()), tasks=tuple(rows),
            activity=tuple(activity), gates=tuple(gates), breakpoints=bps,
            tokens=run.input_tokens + run.output_tokens, cost_usd=run.cost_usd,
            error=self.scrubber.text(run.error) if run.error else None,
        )

    def _take_events(self, events: list[EventRecord]) -> None:
        for e in events:
            self._after_id = max(self._after_id, e.id)
            act = self._activity.setdefault(e.attempt_id, _AttemptActivity())
            if e.kind in ("text", "tool_call", "error", "rate_limit"):
                text = event_text(e).strip()
                if text:
                    act.last = self.scrubber.text(f"{e.kind}: {text}" if e.kind != "text" else text)
            elif e.kind == "file_change":
                for c in e.data.get("changes") or [e.data]:
                    path = c.get("path") if isinstance(c, dict) else None
                    if path and path not in act.files:
                        act.files.append(str(path))

    def _gate_results(self, attempt_id: str) -> list[GateResult]:
        # A finished attempt's gates are written in one go; once seen they never change.
        if attempt_id not in self._gates:
            found = self.store.gate_results(attempt_id)
            if not found:
                return []
            self._gates[attempt_id] = found
        return self._gates[attempt_id]
