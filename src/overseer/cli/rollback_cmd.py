"""`overseer rollback TASK`: put the tree and branch back to before a task, re-open it."""

from __future__ import annotations

import os

import typer

from overseer.cli.locate import locate
from overseer.cli.output import out


def rollback(
    task: str = typer.Argument(..., metavar="TASK", help="the task to roll back to (its state before it ran)"),
    run: str | None = typer.Option(None, "--run", help="run id or unique prefix (default: the latest)"),
    attempt: int | None = typer.Option(
        None, "--attempt", min=1, help="roll back to before this attempt instead of the first"
    ),
    force: bool = typer.Option(
        False, "--force", help="roll back over uncommitted changes (they are saved under a ref first)"
    ),
) -> None:
    """Restore the working tree to before TASK (or one attempt of it), move the branch back, and
    mark TASK and everything built on it pending; `overseer resume` re-runs them."""
    from overseer.workspace import GitWorkspace
    from overseer.workspace.rollback import rollback as do_rollback

    run_id, repo, store, _settings = locate(run)
    r = do_rollback(GitWorkspace.open(repo), store, run_id, task, attempt=attempt, force=force)
    say = lambda text: out.print(text, markup=False)  # noqa: E731
    say(f"run {run_id}: rolled back to before {task} attempt {r.attempt} ({r.checkpoint_ref})")
    if r.from_head != r.to_head:
        say(f"branch {r.branch}: {r.from_head[:12]} → {r.to_head[:12]}")
        say(f"dropped {len(r.dropped)} commit(s), still reachable at {r.saved_ref}:")
        for c in r.dropped:
            say(f"  {c.sha[:12]} {c.subject}")
    else:
        say(f"branch {r.branch} stays at {r.to_head[:12]} (no commits to drop)")
    if r.saved_tree_ref:
        say(f"--force replaced uncommitted changes to {len(r.overwritten)} path(s); "
            f"the tree before the rollback is saved at {r.saved_tree_ref}")
    say(f"working tree restored to checkpoint {r.checkpoint_sha[:12]}")
    say(f"pending again: {', '.join(r.reset_tasks)}")
    say(f"recorded in {os.path.relpath(r.record_path, repo)}")
    say(f"re-run with: overseer resume {run_id}")
