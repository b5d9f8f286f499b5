"""Answers to breakpoints, from any process: recorded in the store, delivered to the waiting task."""

from __future__ import annotations

import getpass
import socket
from pathlib import Path

from overseer.engine.generations import generation, run_workflow_id, task_workflow_id
from overseer.engine.runtime import client
from overseer.engine.steps import breakpoint_topic
from overseer.engine.workflows import TASK_DONE
from overseer.errors import OverseerError
from overseer.store import BreakpointRecord, Store
from overseer.store.store import TERMINAL_RUN_STATES

RESOLUTION_STATE = {"approve": "approved", "reject": "rejected", "answer": "answered"}


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def resolve(
    store: Store, store_url: str, repo: Path, breakpoint: str, action: str, note: str | None,
    by: str | None = None,
) -> BreakpointRecord:
    """Resolve a breakpoint and wake the task waiting on it (wherever its run is executing)."""
    bp = store.get_breakpoint(breakpoint)
    state = RESOLUTION_STATE[action]
    if bp.state != "open" and bp.state != state:
        raise OverseerError(
            f"breakpoint {bp.id} was already {bp.state}"
            + (f" by {bp.resolved_by}" if bp.resolved_by else ""),
            hint="a breakpoint is resolved once; `overseer status` shows the open ones",
        )
    if bp.task_id is None:
        raise OverseerError(f"breakpoint {bp.id} belongs to no task", hint="nothing waits on it")
    by = by or who()
    rec = store.resolve_breakpoint(bp.id, state, note=note, resolved_by=by)
    with client(store_url, repo) as c:
        # The idempotency key makes a repeated command deliver the answer once.
        c.send(
            task_workflow_id(bp.run_id, generation(store, bp.run_id), bp.task_id),
            {"action": action, "note": note, "by": by},
            topic=breakpoint_topic(bp.id),
            idempotency_key=f"{bp.id}:{state}",
        )
    return rec


def pause_run(store: Store, store_url: str, repo: Path, run_id: str, paused: bool) -> None:
    """Stop starting new tasks (running ones finish), or start them again."""
    run = store.get_run(run_id)
    if run is None:
        raise OverseerError(f"no run {run_id!r}", hint="`overseer status` lists runs")
    if run.state in TERMINAL_RUN_STATES:
        raise OverseerError(f"run {run_id} is {run.state.value}", hint="only an unfinished run can be paused")
    store.set_run_paused(run_id, paused)
    with client(store_url, repo) as c:
        # The run workflow reads it between task hand-offs; it is durable, so a paused run
        # stays paused across a crash and `overseer resume`.
        c.send(run_workflow_id(run_id, generation(store, run_id)), {"pause": paused}, topic=TASK_DONE)
