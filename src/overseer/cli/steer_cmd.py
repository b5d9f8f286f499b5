"""`overseer steer TASK "message"`: tell a task that has yet to finish what to do differently,
without stopping it (engine/steering.py)."""

from __future__ import annotations

import typer

from overseer.cli.output import out


def steer(
    task: str = typer.Argument(..., help="the task to steer"),
    message: str = typer.Argument(..., help="what it should do differently, or also"),
    run: str | None = typer.Option(None, "--run", help="run id or unique prefix (default: the latest)"),
) -> None:
    """Queue a message for a task: its next prompt carries it. The running attempt goes on;
    if it passes, one more attempt takes the message on top of its work."""
    from overseer.cli.locate import locate
    from overseer.engine.humans import who
    from overseer.engine.steering import steer as queue

    run_id, _repo, store, _settings = locate(run)
    rec, how = queue(store, run_id, task, message, who())
    out.print(f"queued for task {rec.task_id} (run {run_id}): delivered {how}", markup=False)
