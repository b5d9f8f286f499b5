"""`overseer run`, `resume` and `status`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from overseer.cli.locate import git_root, locate, settings_for
from overseer.cli.output import out
from overseer.cli.run_flags import AGENT, MODE, PARALLEL, PLAIN, SUPERVISOR, settings_flags
from overseer.cli.run_here import print_summary, run_plain
from overseer.errors import (
    EXIT_OK,
    EXIT_TASKS_FAILED,
)

if TYPE_CHECKING:
    # `--help` and the commands that never open a store import neither SQLAlchemy nor the
    # settings' pydantic models (tests/unit/test_cli_imports.py).
    from overseer.config import Settings
    from overseer.store import Store


def run_to_end(
    run_id: str, repo: Path, store: Store, settings: Settings, verbose: bool, no_wait: bool = False,
    live: bool | None = None,
) -> int:
    """Execute the run here with plain progress lines, or — live, by default whenever a person
    is at a terminal — in a child process shown by the live view (docs/live-view.md)."""
    from overseer.cli import live as live_view

    if live is None:
        live = live_view.usable_terminal()
    if live:
        return live_view.run_with_view(run_id, repo, store, settings, verbose, no_wait)
    return run_plain(run_id, repo, store, settings, verbose, no_wait)


def run(
    plan: Path = typer.Argument(..., help="the plan file (YAML)"),
    parallel: int | None = PARALLEL,
    agent: str | None = AGENT,
    supervisor: str | None = SUPERVISOR,
    no_wait: bool = typer.Option(
        False, "--no-wait", help="return (exit 3) when the run is parked waiting for a person; "
        "on PostgreSQL, hand the run to `overseer worker`s and return at once"
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="create .overseer/ and a git repo if missing"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="print the agent's output too"),
    plain: bool = PLAIN,
    mode: str | None = MODE,
) -> None:
    """Run a plan: drive the agents through its tasks, check and commit each one."""
    from overseer.engine.runner import prepare_run

    repo_dir = plan_workspace(plan)
    settings = settings_for(settings_flags(parallel, agent, supervisor, mode), repo_dir, plan.parent)
    _say_which_project_file_wins(repo_dir, plan.parent)
    create = yes or _ask_create_repo(repo_dir)
    prepared = prepare_run(plan, settings, create_repo=create, agent_override=settings.run.agent)
    out.print(f"run {prepared.run_id}: {plan} in {prepared.repo}", markup=False)
    rec = prepared.store.get_run(prepared.run_id)
    if no_wait and rec is not None and rec.dispatch == "queue":
        from overseer.engine.runner import enqueue

        enqueue(prepared.run_id, prepared.repo, prepared.store, settings)
        out.print(f"run {prepared.run_id}: queued for `overseer worker` processes; "
                  f"follow it with: overseer status {prepared.run_id}", markup=False)
        raise typer.Exit(EXIT_OK)
    raise typer.Exit(
        run_to_end(prepared.run_id, prepared.repo, prepared.store, settings, verbose, no_wait,
                    live=False if plain else None)
    )


def plan_workspace(plan: Path) -> Path:
    """The directory the plan's run works in (its `workspace:`, relative to the plan file)."""
    from overseer.engine.runner import agent_configs
    from overseer.plan.load import load_plan

    p = load_plan(plan, agent_configs())
    return (plan.parent / (p.workspace or ".")).resolve()


def _say_which_project_file_wins(repo_dir: Path, plan_dir: Path) -> None:
    from overseer.config import project_files

    files = [f for f in project_files(git_root(repo_dir) or repo_dir, plan_dir) if f.is_file()]
    if len(files) == 2:
        out.print(f"settings: {files[1]} is read over {files[0]} (where both set a key, "
                  f"{files[1].name} at the repository's root wins; `overseer config show --plan` "
                  "shows each value's source)", markup=False)


def _ask_create_repo(repo: Path) -> bool:
    """Ask before `git init`-ing a directory, only when a person is there to answer."""
    if (repo / ".git").exists() or not sys.stdin.isatty():
        return False
    return typer.confirm(f"{repo} is not a git repository. Initialise one?", default=False)


def resume(
    run: str | None = typer.Argument(None, help="run id or unique prefix (default: the latest)"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="print the agent's output too"),
    no_wait: bool = typer.Option(
        False, "--no-wait", help="return (exit 3) when the run is parked waiting for a person"
    ),
    plain: bool = PLAIN,
    mode: str | None = MODE,
) -> None:
    """Continue an interrupted run where it stopped."""
    run_id, repo, store, settings = locate(run)
    if mode is not None:
        # Validated like any flag (one clear message), then recorded: the run keeps it.
        rec = store.get_run(run_id)
        assert rec is not None
        settings = settings_for({"run.mode": mode}, repo, Path(rec.plan_path).parent)
        if store.run_mode(run_id) != settings.run.mode:
            store.set_run_mode(run_id, settings.run.mode)
            out.print(f"run {run_id}: mode is now {settings.run.mode}", markup=False)
    rec = store.get_run(run_id)
    assert rec is not None
    if rec.state in ("completed", "failed", "cancelled"):
        out.print(f"run {run_id} already finished: {rec.state}", markup=False)
        print_summary(store.status(run_id))
        raise typer.Exit(EXIT_OK if rec.state == "completed" else EXIT_TASKS_FAILED)
    out.print(f"run {run_id}: resuming", markup=False)
    raise typer.Exit(run_to_end(run_id, repo, store, settings, verbose, no_wait,
                                 live=False if plain else None))


def cancel(
    run: str = typer.Argument(..., help="run id or unique prefix"),
    reason: str = typer.Option("cancelled by a person", "--reason", help="recorded with the run"),
) -> None:
    """Stop a run: its agents are killed and its unfinished tasks cancelled."""
    from overseer.engine.cancel import cancel_run

    run_id, repo, store, settings = locate(run)
    rec = store.get_run(run_id)
    assert rec is not None
    if rec.state in ("completed", "failed", "cancelled"):
        out.print(f"run {run_id} already finished: {rec.state}", markup=False)
        return
    done = cancel_run(store, settings.database_url_for(repo), repo, run_id, reason)
    out.print(f"run {run_id}: cancelled; tasks cancelled: {', '.join(done) or 'none'}", markup=False)


def status(
    run: str | None = typer.Argument(None, help="run id or unique prefix (default: the latest)"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object (see docs)"),
) -> None:
    """Show a run's tasks, attempts, decisions, costs and open breakpoints."""
    run_id, _repo, store, _settings_ = locate(run)
    st = store.status(run_id)
    if as_json:
        sys.stdout.write(json.dumps(st, indent=2, default=str) + "\n")
        return
    print_summary(st)


