"""`overseer pause | continue RUN`: stop starting new tasks, or start them again."""

from __future__ import annotations

import typer

from overseer.cli.locate import locate
from overseer.cli.output import out


def _set(run: str | None, paused: bool) -> None:
    from overseer.engine.humans import pause_run

    run_id, repo, store, settings = locate(run)
    pause_run(store, settings.database_url_for(repo), repo, run_id, paused)
    if paused:
        out.print(f"run {run_id}: paused; running tasks finish, no new task starts "
                  f"(continue with: overseer continue {run_id})", markup=False)
    else:
        out.print(f"run {run_id}: new tasks start again", markup=False)


def pause(run: str | None = typer.Argument(None, help="run id or prefix (default: the latest run)")) -> None:
    """Pause new work: running tasks finish, no new task starts."""
    _set(run, True)


def continue_(run: str | None = typer.Argument(None, help="run id or prefix (default: the latest run)")) -> None:
    """Continue a paused run: new tasks start again."""
    _set(run, False)
