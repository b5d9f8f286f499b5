"""`overseer stats`: how the agents and the reviewer have done (engine.outcomes)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from overseer.cli.locate import locate
from overseer.cli.output import out
from overseer.errors import OverseerError

if TYPE_CHECKING:
    from overseer.store import Store


def stats(
    run: str | None = typer.Argument(
        None, metavar="RUN|breakpoints",
        help="run id or unique prefix (default: the latest), or `breakpoints`",
    ),
    bp_run: str | None = typer.Argument(
        None, metavar="RUN", show_default=False, help="after `breakpoints`: the run"
    ),
    all_runs: bool = typer.Option(False, "--all", help="every run in this repository"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object"),
) -> None:
    """Per-agent success rates, attempts per task, decisions, and how well the reviewer's
    confidence predicted what became of its decisions. `overseer stats breakpoints [RUN]`:
    breakpoints triggered, resolved, auto-resolved and mean time to resolve, by kind."""
    # `breakpoints` is a word where RUN stands, so `overseer stats RUN` keeps working.
    if run == "breakpoints":
        from overseer.cli.breakpoint_stats import print_table
        from overseer.engine.breakpoint_stats import load_breakpoint_stats

        store, run_ids = selected_runs(bp_run, all_runs, "overseer stats breakpoints --all")
        return show(load_breakpoint_stats(store, run_ids), as_json, print_table)
    if bp_run is not None:
        raise OverseerError(f"unexpected argument {bp_run!r}", hint="overseer stats [RUN|--all]")
    from overseer.engine.outcomes import compute_stats

    store, run_ids = selected_runs(run, all_runs, "overseer stats --all")
    show(compute_stats(store, run_ids), as_json, _print)


def selected_runs(run: str | None, all_runs: bool, hint: str) -> tuple[Store, list[str]]:
    """RUN (default: the latest run), or with --all every run of the repository, oldest first."""
    if run and all_runs:
        raise OverseerError("give a RUN or --all, not both", hint=hint)
    run_id, repo, store, _settings = locate(run)
    return store, [r.id for r in reversed(store.list_runs(str(repo)))] if all_runs else [run_id]


def show(st: dict[str, Any], as_json: bool, table: Callable[[dict[str, Any]], None]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(st, indent=2) + "\n")
    else:
        table(st)


def _share(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _print(st: dict[str, Any]) -> None:
    runs = st["runs"]
    out.print(f"runs: {', '.join(runs) if len(runs) <= 3 else f'{len(runs)} runs'}", markup=False)
    agents = Table(title="agents", title_justify="left")
    for col in ("agent", "tasks", "completed", "success", "attempts"):
        agents.add_column(col)
    for a in st["agents"]:
        agents.add_row(a["agent"], str(a["tasks"]), str(a["completed"]), _share(a["success_rate"]),
                       str(a["attempts"]))
    out.print(agents)
    apt = st["attempts_per_task"]
    mean = "-" if apt["mean"] is None else f"{apt['mean']:.2f}"
    out.print(f"attempts per task: mean {mean}, max {apt['max'] if apt['max'] is not None else '-'} "
              f"({apt['tasks']} tasks that ran)", markup=False)
    decisions = ", ".join(f"{k} {v}" for k, v in st["decisions"].items()) or "none"
    out.print(f"decisions: {decisions}", markup=False)
    outcomes = ", ".join(f"{k} {v}" for k, v in st["outcomes"].items()) or "none"
    out.print(f"outcomes: {outcomes}", markup=False)
    rel = Table(title="reviewer confidence vs outcome (LLM verdicts)", title_justify="left")
    for col in ("confidence", "verdicts", "proceeded", "held up", "share held up"):
        rel.add_column(col)
    for b in st["reliability"]:
        rel.add_row(b["bucket"], str(b["verdicts"]), str(b["proceeded"]), str(b["held_up"]),
                    _share(b["held_up_share"]))
    out.print(rel)
    if not any(b["verdicts"] for b in st["reliability"]):
        out.print("(no LLM verdicts yet: the reviewer was rules-only or off)", markup=False)
