"""Cancelling a run from any process: stop its workflows, kill its agents, record why."""

from __future__ import annotations

from pathlib import Path

from overseer.agents.process import kill_leftovers
from overseer.engine.generations import generation, run_workflow_id, task_workflow_id
from overseer.engine.runtime import client
from overseer.lifecycle import TERMINAL_TASK_STATES, RunState, TaskState
from overseer.store import Store


def cancel_run(store: Store, store_url: str, repo: Path, run_id: str, reason: str) -> list[str]:
    """Cancel every unfinished task of the run; return their ids."""
    tasks = store.list_tasks(run_id)
    with client(store_url, repo) as c:
        # Workflows first, so no new step starts while the agents are being killed.
        g = generation(store, run_id)
        c.cancel_workflow(run_workflow_id(run_id, g), cancel_children=True)
        for t in tasks:
            c.cancel_workflow(task_workflow_id(run_id, g, t.task_id))
    for attempt_id, _pgid in store.open_attempts_with_pgid(run_id):
        kill_leftovers(attempt_id)
    cancelled = []
    for t in tasks:
        if TaskState(t.state) not in TERMINAL_TASK_STATES:
            store.set_task_state(run_id, t.task_id, TaskState.CANCELLED, reason)
            cancelled.append(t.task_id)
    # An open breakpoint of a cancelled run can never be answered: close it, or status and
    # stats would show it waiting for a person for ever.
    for bp in store.list_breakpoints(run_id, state="open"):
        store.resolve_breakpoint(bp.id, "cancelled", note=reason, resolved_by="cancel")
    store.set_run_state(run_id, RunState.CANCELLED, error=reason)
    return cancelled
