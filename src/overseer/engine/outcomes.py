"""Learning from outcomes: what happened after each decision, and what that says about the
agents and the reviewer (`overseer stats`).

`label_outcomes` is pure: given one task's records it names each decision's outcome. Labels:
- `approved` / `rejected`: a person resolved the breakpoint this attempt opened;
- `retry_succeeded` / `retry_failed`: a retry, clarify, rollback (or a person's answer) after
  which the task did, or did not, end completed;
- `final`: a proceed that held up (the task ended completed with this attempt as its last), or
  an abort;
- `regressed_later`: a proceed that did not hold up: the task was re-opened (rolled back, run
  again) or did not end completed.
A decision whose outcome is not known yet (task still running, breakpoint open) gets none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from overseer.lifecycle import TaskState
from overseer.store import Store
from overseer.store.records import AttemptRecord, BreakpointRecord, DecisionRecord, TaskRecord

OUTCOMES = ("approved", "rejected", "retry_succeeded", "retry_failed", "regressed_later", "final")
HELD_UP = frozenset({"final", "approved"})
BUCKETS = 5  # 0–0.2, 0.2–0.4, … 0.8–1.0
_HUMAN_RESOLVED = {"approved": "approved", "rejected": "rejected"}
# Breakpoints that precede the attempt rather than judge it.
_BEFORE_KINDS = frozenset({"before_task"})


def label_outcomes(
    task: TaskRecord,
    attempts: Sequence[AttemptRecord],
    decisions: dict[str, DecisionRecord],
    breakpoints: Iterable[BreakpointRecord],
) -> dict[str, str]:
    """attempt id -> outcome, for every decision of `task` whose outcome is known."""
    ordered = sorted(attempts, key=lambda a: a.n)
    last_n = ordered[-1].n if ordered else 0
    by_attempt = {
        b.attempt_id: b for b in breakpoints
        if b.task_id == task.task_id and b.attempt_id and b.kind not in _BEFORE_KINDS
    }
    terminal = task.state in (TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED)
    completed = task.state == TaskState.COMPLETED
    labels: dict[str, str] = {}
    for a in ordered:
        d = decisions.get(a.id)
        if d is None:
            continue
        bp = by_attempt.get(a.id)
        if bp is not None and bp.state in _HUMAN_RESOLVED:
            labels[a.id] = _HUMAN_RESOLVED[bp.state]
            continue
        if bp is not None and bp.state == "open":
            continue
        if d.action == "proceed":
            labels[a.id] = "final" if completed and a.n == last_n else "regressed_later"
        elif d.action == "abort":
            labels[a.id] = "final"
        elif terminal:
            labels[a.id] = "retry_succeeded" if completed else "retry_failed"
    return labels


def _task_records(
    store: Store, run_id: str
) -> list[tuple[TaskRecord, list[AttemptRecord], dict[str, DecisionRecord], dict[str, Any]]]:
    attempts = store.attempts(run_id)
    out = []
    for t in store.list_tasks(run_id):
        mine = [a for a in attempts if a.task_id == t.task_id]
        decisions = {a.id: d for a in mine if (d := store.decision(a.id)) is not None}
        verdicts = {a.id: v for a in mine if (v := store.verdict(a.id)) is not None}
        out.append((t, mine, decisions, verdicts))
    return out


def record_outcomes(store: Store, run_id: str) -> dict[str, str]:
    """Label every decision of the run whose outcome is known and store the labels (idempotent;
    safe to run as a step, and again after a resume). Returns attempt id -> outcome."""
    breakpoints = store.list_breakpoints(run_id)
    labels: dict[str, str] = {}
    for task, attempts, decisions, _ in _task_records(store, run_id):
        found = label_outcomes(task, attempts, decisions, breakpoints)
        for attempt_id, outcome in found.items():
            if decisions[attempt_id].outcome != outcome:
                store.set_decision_outcome(attempt_id, outcome)
        labels.update(found)
    return labels


# --------------------------------------------------------------------------- stats


@dataclass
class _Bucket:
    low: float
    high: float
    verdicts: int = 0
    proceeded: int = 0
    held_up: int = 0


def bucket_of(confidence: float) -> int:
    return min(int(confidence * BUCKETS), BUCKETS - 1)


def compute_stats(store: Store, run_ids: Sequence[str]) -> dict[str, Any]:
    """Per-agent success, attempts per task, decisions by action and outcome, and a reliability
    table of LLM reviewer confidence against what became of the decisions."""
    agents: dict[str, dict[str, int]] = {}
    attempts_per_task: list[int] = []
    actions: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    buckets = [_Bucket(i / BUCKETS, (i + 1) / BUCKETS) for i in range(BUCKETS)]
    for run_id in run_ids:
        breakpoints = store.list_breakpoints(run_id)
        for task, attempts, decisions, verdicts in _task_records(store, run_id):
            a = agents.setdefault(task.agent_name or "?", {"tasks": 0, "completed": 0, "attempts": 0})
            a["tasks"] += 1
            a["completed"] += task.state == TaskState.COMPLETED
            a["attempts"] += len(attempts)
            if attempts:
                attempts_per_task.append(len(attempts))
            computed = label_outcomes(task, attempts, decisions, breakpoints)
            for attempt_id, d in decisions.items():
                actions[d.action] += 1
                outcome = d.outcome or computed.get(attempt_id)
                outcomes[outcome or "unknown"] += 1
                v = verdicts.get(attempt_id)
                if v is None or v.get("reviewer") in (None, "rules") or v.get("confidence") is None:
                    continue
                b = buckets[bucket_of(float(v["confidence"]))]
                b.verdicts += 1
                if d.action == "proceed" or outcome == "approved":
                    b.proceeded += 1
                    b.held_up += outcome in HELD_UP
    n = len(attempts_per_task)
    return {
        "runs": list(run_ids),
        "agents": [
            {"agent": name, "tasks": v["tasks"], "completed": v["completed"],
             "success_rate": round(v["completed"] / v["tasks"], 3) if v["tasks"] else None,
             "attempts": v["attempts"]}
            for name, v in sorted(agents.items())
        ],
        "attempts_per_task": {
            "tasks": n,
            "mean": round(sum(attempts_per_task) / n, 2) if n else None,
            "max": max(attempts_per_task) if n else None,
        },
        "decisions": dict(sorted(actions.items())),
        "outcomes": dict(sorted(outcomes.items())),
        "reliability": [
            {"bucket": f"{b.low:.1f}-{b.high:.1f}", "verdicts": b.verdicts, "proceeded": b.proceeded,
             "held_up": b.held_up,
             "held_up_share": round(b.held_up / b.proceeded, 3) if b.proceeded else None}
            for b in buckets
        ],
    }
