"""Workflow ids of a run. A run is one workflow per task under one run workflow; a rollback
of a finished run re-opens tasks, and their re-run is a new *generation* of workflows (a
finished DBOS workflow cannot run again under its old id)."""

from __future__ import annotations

from overseer.store import Store

GENERATION = "generation"


def generation(store: Store, run_id: str) -> int:
    return sum(1 for a in store.artifacts(run_id) if a.kind == GENERATION)


def next_generation(store: Store, run_id: str) -> int:
    g = generation(store, run_id) + 1
    store.add_artifact(run_id, GENERATION, str(g))
    return g


def run_workflow_id(run_id: str, g: int) -> str:
    return run_id if g == 0 else f"{run_id}~{g}"


def task_workflow_id(run_id: str, g: int, task_id: str) -> str:
    return f"{run_workflow_id(run_id, g)}/{task_id}"
