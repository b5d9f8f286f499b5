"""Scale-out on PostgreSQL: runs and tasks handed out through DBOS queues.

A run started with `overseer run --no-wait` goes onto the shared runs queue; any
`overseer worker` takes it. Each run has a task queue of its own, whose global concurrency is
the run's `--parallel`; the `overseer run` process listens to its own run's queue, workers to
every queue, so workers add capacity to any run. On SQLite a run starts its tasks directly.
"""

from __future__ import annotations

from dbos import DBOS, Queue, SetWorkflowID

RUNS_QUEUE = "overseer-runs"
# Seconds between a listening process's looks at a queue: a task waits at most this long for
# a process to take it, and each idle listener makes a few queries a second.
POLL_S = 0.25


def task_queue_name(run_id: str) -> str:
    return f"overseer-tasks-{run_id}"


@DBOS.step(name="overseer.open_task_queue")
def open_task_queue(run_id: str, parallel: int, worker_slots: int | None) -> None:
    slots = min(worker_slots, parallel) if worker_slots else None
    DBOS.register_queue(
        task_queue_name(run_id), global_concurrency=parallel, worker_concurrency=slots,
        polling_interval_sec=POLL_S, on_conflict="always_update",
    )


@DBOS.step(name="overseer.close_task_queue")
def close_task_queue(run_id: str) -> None:
    # Every listener polls every queue it knows: a finished run's queue would cost forever.
    _known.pop(run_id, None)
    DBOS.delete_queue(task_queue_name(run_id))


# Enqueueing needs only the queue's name; its limits live in the database and are read by
# the processes that dequeue. So one lookup per run in this process, not one per task.
_known: dict[str, Queue] = {}


def task_queue(run_id: str) -> Queue:
    q = _known.get(run_id)
    if q is None:
        q = DBOS.retrieve_queue(task_queue_name(run_id))
        if q is None:
            raise RuntimeError(f"task queue of run {run_id} is not registered")
        _known[run_id] = q
    return q


def register_runs_queue() -> Queue:
    return DBOS.register_queue(RUNS_QUEUE, polling_interval_sec=POLL_S, on_conflict="never_update")


def enqueue_run(workflow_id: str, run_id: str, generation: int) -> None:
    """Put a run on the runs queue (DBOS launched, listening to no queue of its own)."""
    from overseer.engine.workflows import run_workflow

    with SetWorkflowID(workflow_id):
        register_runs_queue().enqueue(run_workflow, run_id, generation)
