"""`overseer export RUN --format md|json|html [-o FILE]` and `overseer log RUN [--task T] [--follow]`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from overseer.cli.locate import locate
from overseer.cli.output import err
from overseer.errors import EXIT_INTERRUPTED, OverseerError

FOLLOW_POLL_S = 0.5


def export(
    run: str | None = typer.Argument(None, help="run id or unique prefix (default: the latest)"),
    fmt: str = typer.Option(..., "--format", "-f", help="md, json or html"),
    output: Path | None = typer.Option(None, "--output", "-o", help="write here instead of stdout"),
) -> None:
    """Write an audit report of a run: every task and attempt with its evidence, secrets masked."""
    from overseer.report import FORMATS, collect, render

    fmt = fmt.lower().lstrip(".")
    fmt = {"markdown": "md"}.get(fmt, fmt)
    if fmt not in FORMATS:
        raise OverseerError(f"unknown format {fmt!r}", hint="use --format md, json or html")
    run_id, repo, store, _settings = locate(run)
    text = render(collect(store, run_id, repo), fmt)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OverseerError(f"cannot write {output}: {exc.strerror or exc}",
                            hint="choose another path with -o") from exc
    err.print(f"wrote {fmt} report of run {run_id} to {output}", markup=False)


def log(
    run: str | None = typer.Argument(None, help="run id or unique prefix (default: the latest)"),
    task: str | None = typer.Option(None, "--task", "-t", help="only this task"),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep printing until the run finishes"),
) -> None:
    """Print a run's events readably: agent output, tool calls, gates, verdicts, decisions."""
    from overseer.report.stream import LogReader

    run_id, _repo, store, _settings = locate(run)
    if task is not None and task not in {t.task_id for t in store.list_tasks(run_id)}:
        known = ", ".join(t.task_id for t in store.list_tasks(run_id)) or "none"
        raise OverseerError(f"no task {task!r} in run {run_id}", hint=f"tasks in this run: {known}")
    reader = LogReader(store, run_id, task)
    try:
        while True:
            # Read the state before the lines: once the run is seen finished, the poll that
            # follows still picks up everything it wrote on the way out.
            done = not follow or reader.finished()
            for line in reader.poll():
                sys.stdout.write(line.format() + "\n")
            sys.stdout.flush()
            if done:
                return
            time.sleep(FOLLOW_POLL_S)
    except KeyboardInterrupt:
        sys.stdout.flush()
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except BrokenPipeError:
        # `overseer log | head`: the reader left; nothing more to say.
        raise typer.Exit(0) from None
