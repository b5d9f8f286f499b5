"""Where an attempt's trees are kept in git: its checkpoint (the tree it started from) and its
end (the tree it left, before gates judged it), so its exact diff can be shown at any time
later — after a retry put the tree back, or a rollback moved the branch."""

from __future__ import annotations


def checkpoint_ref(run_id: str, task_id: str, n: int) -> str:
    return f"refs/overseer/{run_id}/{task_id}/{n}"


def end_ref(run_id: str, task_id: str, n: int) -> str:
    return f"refs/overseer/{run_id}/{task_id}/{n}-end"
