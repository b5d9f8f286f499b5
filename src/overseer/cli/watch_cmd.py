"""`overseer watch [RUN]`: the live view of a run executing in another process."""

from __future__ import annotations

import typer

from overseer.cli.locate import locate
from overseer.errors import OverseerError


def watch(run: str | None = typer.Argument(None, help="run id or prefix (default: the latest run)")) -> None:
    """Watch a run live and answer its breakpoints with a key; q leaves it running."""
    from overseer.cli import live

    if not live.usable_terminal():
        raise OverseerError("`overseer watch` needs a terminal",
                            hint="for plain lines use: overseer log RUN --follow")
    run_id, repo, store, settings = locate(run)
    raise typer.Exit(live.watch(live.Target(store, settings.database_url_for(repo), repo, run_id)))
