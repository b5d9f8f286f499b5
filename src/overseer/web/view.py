"""What the web pages show, read from the store as plain JSON-ready dicts with secrets masked.

The same dicts feed the first render of a page and the live updates, so both always agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from overseer.report.stream import LogLine
from overseer.scrub import Scrubber
from overseer.store import BreakpointRecord, RunRecord, Store, TaskRecord
from overseer.store.store import TERMINAL_RUN_STATES

RUNS_SHOWN = 100


def stamp(at: datetime | None) -> str | None:
    if at is None:
        return None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _run(r: RunRecord) -> dict[str, Any]:
    return {
        "id": r.id, "name": r.name, "state": str(r.state), "paused": r.paused,
        "finished": r.state in TERMINAL_RUN_STATES, "created_at": stamp(r.created_at),
        "finished_at": stamp(r.finished_at), "error": r.error, "branch": r.branch,
        "tokens": r.input_tokens + r.output_tokens, "cost_usd": r.cost_usd,
    }


def _task(t: TaskRecord) -> dict[str, Any]:
    dec = t.last_decision or {}
    reasons = dec.get("reasons") or []
    return {
        "id": t.task_id, "title": t.title, "state": str(t.state), "reason": t.state_reason,
        "attempts": t.attempts, "agent": t.agent_name,
        "tokens": t.input_tokens + t.output_tokens, "cost_usd": t.cost_usd,
        "decision": dec.get("action"), "decision_reason": reasons[0] if reasons else None,
        "commit": t.commit_sha[:12] if t.commit_sha else None,
    }


def _breakpoint(b: BreakpointRecord) -> dict[str, Any]:
    return {
        "id": b.id, "task": b.task_id, "kind": b.kind, "message": b.message,
        "severity": b.severity, "state": b.state, "note": b.resolution, "by": b.resolved_by,
        "created_at": stamp(b.created_at), "resolved_at": stamp(b.resolved_at),
        # Only a task waits on a breakpoint; one without a task has nothing to answer.
        "actionable": b.state == "open" and b.task_id is not None,
    }


def run_view(store: Store, run: RunRecord, scrubber: Scrubber) -> dict[str, Any]:
    """The run page's state: the run, its tasks with their costs, and its breakpoints."""
    bps = [_breakpoint(b) for b in store.list_breakpoints(run.id)]
    view = {
        "run": _run(run),
        "tasks": [_task(t) for t in store.list_tasks(run.id)],
        "open": [b for b in bps if b["state"] == "open"],
        "resolved": [b for b in bps if b["state"] != "open"],
    }
    return scrubber.deep(view)


def runs_view(store: Store, workspace: str, scrubber: Scrubber) -> list[dict[str, Any]]:
    """The runs of one repository, newest first, with how many breakpoints wait in each."""
    rows = []
    for r in store.list_runs(workspace, limit=RUNS_SHOWN):
        row = _run(r)
        row["open"] = len(store.list_breakpoints(r.id, state="open"))
        rows.append(row)
    return scrubber.deep(rows)


def activity_line(line: LogLine) -> dict[str, Any]:
    """One line of `overseer log` (already scrubbed by its reader) for the activity list."""
    at = datetime.fromtimestamp(line.ts, UTC)
    where = line.task or "run"
    if line.attempt is not None:
        where += f"#{line.attempt}"
    return {"time": at.strftime("%H:%M:%S"), "at": stamp(at), "where": where,
            "kind": line.kind, "text": line.text}
