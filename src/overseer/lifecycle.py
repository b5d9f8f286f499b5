"""Task and run states and the transitions between them (ARCHITECTURE.md: task states)."""

from __future__ import annotations

from enum import StrEnum

from overseer.errors import IllegalTransition


class TaskState(StrEnum):
    PENDING = "pending"
    READY = "ready"
    RUNNING = "running"
    RETRYING = "retrying"
    BLOCKED = "blocked"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RunState(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_TASK_STATES = frozenset({TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED})

_T = TaskState
TASK_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    _T.PENDING: frozenset({_T.READY, _T.CANCELLED}),
    # READY → BLOCKED: a `breakpoint: before` task waits for a human before its first attempt.
    # READY → FAILED: it could not start (its worktree could not be made).
    _T.READY: frozenset({_T.RUNNING, _T.BLOCKED, _T.FAILED, _T.CANCELLED}),
    _T.RUNNING: frozenset({_T.COMPLETED, _T.RETRYING, _T.BLOCKED, _T.FAILED, _T.CANCELLED}),
    _T.RETRYING: frozenset({_T.RUNNING, _T.CANCELLED, _T.FAILED}),
    _T.BLOCKED: frozenset({_T.READY, _T.FAILED, _T.CANCELLED}),
    # A rollback re-opens a finished task for another run through the plan.
    _T.COMPLETED: frozenset({_T.PENDING}),
    _T.FAILED: frozenset({_T.PENDING}),
    _T.CANCELLED: frozenset({_T.PENDING}),
}


def check_task_transition(task: str, current: TaskState, target: TaskState) -> None:
    """Raise IllegalTransition unless current → target is allowed. Same-state is a no-op."""
    if current == target:
        return
    if target not in TASK_TRANSITIONS[current]:
        raise IllegalTransition(f"task {task}", current.value, target.value)
