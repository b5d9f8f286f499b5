"""`overseer prune [--older-than AGE] [--keep N] [--dry-run]`: remove old runs' transcripts and
artifacts by the `retention` settings (docs/config.md). `overseer prune --scrub` masks secrets
in what every run of the repository kept, in the store and under .overseer/runs/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from overseer.cli.output import out
from overseer.errors import OverseerError


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _age(text: str, where: str) -> timedelta | None:
    from overseer.config import parse_age

    try:
        seconds = parse_age(text)
    except ValueError as e:
        raise OverseerError(f"{where}: {e}", hint="e.g. --older-than 30d, 12h, 2w or never") from None
    return None if seconds is None else timedelta(seconds=seconds)


def prune(
    older_than: Annotated[str | None, typer.Option(
        "--older-than", help="prune finished runs that ended longer ago than this (30d, 12h, 2w, "
        "never); default: retention.older_than", show_default=False)] = None,
    keep: Annotated[int | None, typer.Option(
        "--keep", min=0, help="keep this many newest finished runs whatever their age; default: "
        "retention.keep", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="say what would be removed, remove nothing")] = False,
    scrub: Annotated[bool, typer.Option(
        "--scrub", help="remove nothing: mask secrets in what every run kept (runs stored by an "
        "overseer that did not scrub its writes)")] = False,
) -> None:
    """Remove finished runs' transcripts and artifacts; their summaries stay for status and export."""
    from overseer.cli.locate import repo_root
    from overseer.config import load_settings
    from overseer.store import Store
    from overseer.store.retention import choose_runs, measure, remove_tree, run_dir

    root = repo_root(Path.cwd())
    settings = load_settings(root)
    if scrub:
        if dry_run or older_than is not None or keep is not None:
            raise OverseerError("--scrub rewrites every run and removes nothing",
                                hint="run `overseer prune --scrub` on its own")
        _scrub_all(root, settings.database_url_for(root))
        return
    age = _age(older_than, "--older-than") if older_than is not None else _age(
        settings.retention.older_than, "retention.older_than")
    keep_n = settings.retention.keep if keep is None else keep
    store = Store.open(settings.database_url_for(root))
    try:
        runs = store.list_runs(str(root))
        chosen = choose_runs(runs, now=datetime.now(UTC), older_than=age, keep=keep_n)
        verb = "would remove" if dry_run else "removed"
        total_files = total_bytes = pruned = 0
        for run in chosen:
            where = run_dir(run)
            usage = measure(where)
            events = store.prunable_events(run.id)
            if usage.files == 0 and events == 0:
                continue  # pruned before: nothing left
            if not dry_run:
                remove_tree(where)
                events = store.prune_run(run.id, str(where))
            pruned += 1
            total_files += usage.files
            total_bytes += usage.bytes
            ended = run.finished_at.date().isoformat() if run.finished_at else "?"
            out.print(
                f"run {run.id} ({run.state}, finished {ended}): {verb} {usage.files} file"
                f"{'' if usage.files == 1 else 's'} ({human_bytes(usage.bytes)}) under "
                f"{where.relative_to(root) if where.is_relative_to(root) else where} and "
                f"{events} agent event{'' if events == 1 else 's'}", markup=False)
    finally:
        store.close()
    unfinished = sum(1 for r in runs if r.finished_at is None)
    kept = (f"kept the {keep_n} newest finished run{'' if keep_n == 1 else 's'}"
            + (f" and runs that finished within {older_than or settings.retention.older_than}"
               if age is not None else "; no age limit (never)"))
    if unfinished:
        kept += f"; {unfinished} unfinished run{'' if unfinished == 1 else 's'} untouched"
    if pruned == 0:
        out.print(f"nothing to prune ({kept})", markup=False)
        return
    freed = "would free" if dry_run else "freed"
    out.print(f"{freed} {human_bytes(total_bytes)} ({total_files} files) from {pruned} run"
              f"{'' if pruned == 1 else 's'}; {kept}. Summaries stay: `overseer status RUN`, "
              "`overseer export RUN`", markup=False)


def _scrub_all(root: Path, url: str) -> None:
    from overseer.scrub import Scrubber, scrub_files
    from overseer.store import Store
    from overseer.store.retention import run_dir

    store = Store.open(url)
    try:
        runs = store.list_runs(str(root))
        rows = files = 0
        for run in runs:
            # This shell's secrets, and those the run's plan handed its agents.
            scrubber = Scrubber.for_run(run.plan_json)
            n_rows = store.scrub_run(run.id, scrubber)
            n_files = len(scrub_files(run_dir(run), scrubber))
            rows, files = rows + n_rows, files + n_files
            if n_rows or n_files:
                out.print(f"run {run.id}: masked secrets in {n_rows} row{'' if n_rows == 1 else 's'} "
                          f"and {n_files} file{'' if n_files == 1 else 's'}", markup=False)
    finally:
        store.close()
    out.print(f"scrubbed {len(runs)} run{'' if len(runs) == 1 else 's'}: {rows} rows and {files} "
              "files held a secret; they hold masks now", markup=False)
