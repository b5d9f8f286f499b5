"""Answers to breakpoints, from any process: recorded in the store, delivered to the waiting task."""

from __future__ import annotations

import getpass
import socket
from pathlib import Path

from dbos import DBOSClient

from overseer.engine.generations import generation, task_workflow_id
from overseer.engine.runtime import system_database_url
from overseer.engine.steps import breakpoint_topic
from overseer.errors import OverseerError
from overseer.store import BreakpointRecord, Store

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
    client = DBOSClient(system_database_url=system_database_url(store_url, repo))
    try:
        # The idempotency key makes a repeated command deliver the answer once.
        client.send(
            task_workflow_id(bp.run_id, generation(store, bp.run_id), bp.task_id),
            {"action": action, "note": note, "by": by},
            topic=breakpoint_topic(bp.id),
            idempotency_key=f"{bp.id}:{state}",
        )
    finally:
        client.destroy()
    return rec
