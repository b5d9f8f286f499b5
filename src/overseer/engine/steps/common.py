"""What every kind of step shares: attempt ids and the one way a task's state changes."""

from __future__ import annotations

from overseer.engine.context import current
from overseer.events import Event, publish
from overseer.lifecycle import TaskState


def attempt_id(run_id: str, task_id: str, n: int) -> str:
    return f"{run_id}/{task_id}/{n}"


def set_state(run_id: str, task_id: str, state: TaskState, reason: str | None = None) -> None:
    store = current().store
    if store.get_task(run_id, task_id).state == TaskState.CANCELLED and state != TaskState.CANCELLED:
        return  # `overseer cancel` got there first; the step finishing under it changes nothing
    store.set_task_state(run_id, task_id, state, reason)
    publish(Event(type="task_state", run_id=run_id, task_id=task_id, data={"state": state.value, "reason": reason}))
