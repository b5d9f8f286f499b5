"""What the web pages show, read from the store as plain JSON-ready dicts with secrets masked.

The same dicts feed the first render of a page and the live updates, so both always agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from overseer.report.stream import LogLine
from overseer.scrub import Scrubber
from overseer.store import BreakpointRecord, RunRecord, Store, TaskRecord
from overseer.store.records import attempt_number
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


def breakpoint_view(b: BreakpointRecord) -> dict[str, Any]:
    return {
        "id": b.id, "task": b.task_id, "kind": b.kind, "message": b.message,
        "attempt": attempt_number(b.attempt_id),
        "severity": b.severity, "state": b.state, "note": b.resolution, "by": b.resolved_by,
        "created_at": stamp(b.created_at), "resolved_at": stamp(b.resolved_at),
        # Only a task waits on a breakpoint; one without a task has nothing to answer.
        "actionable": b.state == "open" and b.task_id is not None,
    }


def attempt_summary(store: Store, attempt_id: str) -> dict[str, Any]:
    """What a breakpoint card says of the attempt it stopped at: files, +/−, gates, findings."""
    changes = store.file_changes(attempt_id)
    gates = store.gate_results(attempt_id)
    findings = store.findings(attempt_id)
    return {
        "files": len(changes), "added": sum(c[2] for c in changes), "removed": sum(c[3] for c in changes),
        "gates": [{"name": g.name, "passed": g.passed} for g in gates],
        "findings": len(findings), "major": sum(1 for f in findings if f.severity == "major"),
    }


def run_view(store: Store, run: RunRecord, scrubber: Scrubber) -> dict[str, Any]:
    """The run page's state: the run, its tasks with their costs, and its breakpoints (an
    open one with a summary of the attempt it stopped at)."""
    records = store.list_breakpoints(run.id)
    bps = [breakpoint_view(b) for b in records]
    for b, rec in zip(bps, records, strict=True):
        if b["state"] == "open" and rec.attempt_id:
            b["summary"] = attempt_summary(store, rec.attempt_id)
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


FILES_PER_PAGE = 20
LINES_PER_FILE = 400


def diff_files(diff: str) -> list[dict[str, Any]]:
    """A `git diff` split by file, each line with its kind (add, del, hunk, meta, ctx), each
    file cut at LINES_PER_FILE lines (the raw diff has the rest: `overseer diff`)."""
    files: list[dict[str, Any]] = []
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            path = line.split(" b/", 1)[-1]
            files.append({"path": path, "lines": [], "more": 0, "added": 0, "removed": 0})
            continue
        if not files:
            continue
        f = files[-1]
        kind = ("hunk" if line.startswith("@@") else
                "meta" if line.startswith(("+++", "---", "index ", "new file", "deleted file", "similarity",
                                           "rename ", "old mode", "new mode", "Binary files")) else
                "add" if line.startswith("+") else "del" if line.startswith("-") else "ctx")
        f["added"] += kind == "add"
        f["removed"] += kind == "del"
        if len(f["lines"]) < LINES_PER_FILE:
            f["lines"].append({"kind": kind, "text": line})
        else:
            f["more"] += 1
    return files


def diff_page(files: list[dict[str, Any]], page: int) -> tuple[list[dict[str, Any]], int]:
    """The files of page `page` (1-based) and how many pages there are."""
    pages = max(1, -(-len(files) // FILES_PER_PAGE))
    page = min(max(page, 1), pages)
    return files[(page - 1) * FILES_PER_PAGE: page * FILES_PER_PAGE], pages
