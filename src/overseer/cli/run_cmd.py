"""`overseer run`, `resume` and `status`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.table import Table

from overseer.cli.output import err, out
from overseer.cli.run_flags import AGENT, MODE, PARALLEL, PLAIN, SUPERVISOR, settings_flags
from overseer.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TASKS_FAILED,
    EXIT_WAITING,
    OverseerError,
)

if TYPE_CHECKING:
    # `--help` and the commands that never open a store import neither SQLAlchemy nor the
    # settings' pydantic models (tests/unit/test_cli_imports.py).
    from overseer.config import Settings
    from overseer.store import Store


def _settings(flags: dict[str, Any], project: Path | None = None, plan_dir: Path | None = None) -> Settings:
    """Settings as every command resolves them (docs/config.md): the project is the root of the
    repository at or above `project` (default: the current directory), `plan_dir` the
    directory of the run's plan file."""
    root = _git_root(project or Path.cwd()) or (project or Path.cwd())
    from overseer.config import load_settings

    return load_settings(root, {k: v for k, v in flags.items() if v is not None}, plan_dir=plan_dir)


NOTIFY_FLUSH_S = 15.0


def _interrupt_as_keyboard(*_: Any) -> None:
    raise KeyboardInterrupt


def _exit_now(code: int) -> NoReturn:
    """Leave while DBOS worker threads still wait (in recv, or on an agent we killed).

    Their progress is in the workflow log and `overseer resume` recovers them; letting the
    interpreter join them would hang until their waits time out.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run_to_end(
    run_id: str, repo: Path, store: Store, settings: Settings, verbose: bool, no_wait: bool = False,
    live: bool | None = None,
) -> int:
    """Execute the run here with plain progress lines, or — live, by default whenever a person
    is at a terminal — in a child process shown by the live view (docs/live-view.md)."""
    from overseer.cli import live as live_view
    from overseer.engine.runner import execute
    from overseer.notify import Notifier

    signal.signal(signal.SIGTERM, _interrupt_as_keyboard)
    if live is None:
        live = live_view.usable_terminal()
    if live:
        return live_view.run_with_view(run_id, repo, store, settings, verbose, no_wait)
    from overseer.cli.printer import PlainPrinter
    from overseer.events import subscribe

    unsubscribe = subscribe(PlainPrinter(verbose=verbose))
    notifier = Notifier(settings.notifications, repo=repo, link=_breakpoint_link(settings, repo))
    unsubscribe_notifier = notifier.subscribe()
    try:
        summary = execute(run_id, repo, store, settings, no_wait=no_wait)
    except KeyboardInterrupt:
        err.print(f"interrupted; continue with: overseer resume {run_id}", markup=False)
        _exit_now(EXIT_INTERRUPTED)
    finally:
        unsubscribe()
        # Deliver what is queued (a run_finished message, say) before a hard exit drops it.
        notifier.flush(NOTIFY_FLUSH_S)
        unsubscribe_notifier()
    _print_summary(store.status(run_id))
    if summary["state"] == "cancelled":
        out.print(f"run {run_id} was cancelled", markup=False)
        _exit_now(EXIT_TASKS_FAILED)
    if summary["state"] == "waiting":
        out.print(
            f"run {run_id} is parked waiting for a person; answer the breakpoints above, "
            f"then: overseer resume {run_id}",
            markup=False,
        )
        _exit_now(EXIT_WAITING)
    return EXIT_OK if summary["state"] == "completed" else EXIT_TASKS_FAILED


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

    repo_dir = _plan_workspace(plan)
    settings = _settings(settings_flags(parallel, agent, supervisor, mode), repo_dir, plan.parent)
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
        _run_to_end(prepared.run_id, prepared.repo, prepared.store, settings, verbose, no_wait,
                    live=False if plain else None)
    )


def _plan_workspace(plan: Path) -> Path:
    """The directory the plan's run works in (its `workspace:`, relative to the plan file)."""
    from overseer.engine.runner import agent_configs
    from overseer.plan.load import load_plan

    p = load_plan(plan, agent_configs())
    return (plan.parent / (p.workspace or ".")).resolve()


def _say_which_project_file_wins(repo_dir: Path, plan_dir: Path) -> None:
    from overseer.config import project_files

    files = [f for f in project_files(_git_root(repo_dir) or repo_dir, plan_dir) if f.is_file()]
    if len(files) == 2:
        out.print(f"settings: {files[1]} is read over {files[0]} (where both set a key, "
                  f"{files[1].name} at the repository's root wins; `overseer config show --plan` "
                  "shows each value's source)", markup=False)


def _breakpoint_link(settings: Settings, repo: Path) -> Callable[[str], str]:
    """A breakpoint's link for notifications: its page in `overseer serve`, answerable there
    with a short-lived token for it alone (web/links.py)."""
    from overseer.config import parse_age
    from overseer.web.links import breakpoint_url, link_key

    ttl = parse_age(settings.web.link_ttl) or 86400.0
    return lambda bp_id: breakpoint_url(settings.web.link_base(), link_key(repo), bp_id, ttl)


def _ask_create_repo(repo: Path) -> bool:
    """Ask before `git init`-ing a directory, only when a person is there to answer."""
    if (repo / ".git").exists() or not sys.stdin.isatty():
        return False
    return typer.confirm(f"{repo} is not a git repository. Initialise one?", default=False)


Located = tuple[str, Path, "Store", "Settings"]


def _locate(run: str | None, repo: Path | None = None, *, breakpoint: str | None = None) -> Located:
    """Find RUN, or the run of BREAKPOINT, or the latest run: in the repository at or above
    the current directory, else — for a run or breakpoint named by id, as overseer prints them —
    in the other repositories this user has run plans in (store/known.py), so a printed
    command works from wherever it was printed."""
    from overseer.store.known import known

    here = _git_root(repo or Path.cwd())
    if here is not None:
        found = _find_run(here, run, breakpoint, open_new=True)
        if found is not None:
            return found
    if run or breakpoint:
        for other in known():
            if other != here:
                found = _find_run(other, run, breakpoint, open_new=False)
                if found is not None:
                    return found
    what = (f"no breakpoint {breakpoint!r}" if breakpoint else f"no run matching {run!r}" if run
            else "no runs yet")
    if here is None:
        raise OverseerError(
            f"{what}: {Path.cwd()} is not inside a git repository, and no repository this user "
            "ran plans in has it",
            hint="run this from the repository the run worked on (or check the id)",
        )
    raise OverseerError(f"{what} in {here}", hint="start one with `overseer run PLAN`")


def _find_run(root: Path, run: str | None, breakpoint: str | None, *, open_new: bool) -> Located | None:
    settings = _settings({}, root)
    url = settings.database_url_for(root)
    if not open_new:
        if not settings.database.url and not (root / ".overseer" / "state.db").is_file():
            return None
    from overseer.store import Store

    try:
        store = Store.open(url)
        if breakpoint:
            bp = store.find_breakpoint(breakpoint)
            rec = store.get_run(bp.run_id) if bp is not None else None
        else:
            rec = store.find_run_prefix(run) if run else store.latest_run(str(root))
    except OverseerError:
        if open_new:
            raise
        return None  # another repository's store that cannot be read: not where this run is
    if rec is None:
        return None
    # The run's own plan directory is part of its settings, as it was for `overseer run`.
    settings = _settings({}, root, Path(rec.plan_path).parent)
    return rec.id, root, store, settings


def _repo_root(start: Path) -> Path:
    root = _git_root(start)
    if root is None:
        raise OverseerError(f"{start} is not inside a git repository",
                            hint="run this from the repository the run worked on")
    return root


def _git_root(start: Path) -> Path | None:
    """The root of the git repository at or above start; None outside any."""
    if not start.is_dir():
        return None
    proc = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=start, capture_output=True, text=True, check=False
    )
    return Path(proc.stdout.strip()) if proc.returncode == 0 else None


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
    run_id, repo, store, settings = _locate(run)
    if mode is not None:
        # Validated like any flag (one clear message), then recorded: the run keeps it.
        rec = store.get_run(run_id)
        assert rec is not None
        settings = _settings({"run.mode": mode}, repo, Path(rec.plan_path).parent)
        if store.run_mode(run_id) != settings.run.mode:
            store.set_run_mode(run_id, settings.run.mode)
            out.print(f"run {run_id}: mode is now {settings.run.mode}", markup=False)
    rec = store.get_run(run_id)
    assert rec is not None
    if rec.state in ("completed", "failed", "cancelled"):
        out.print(f"run {run_id} already finished: {rec.state}", markup=False)
        _print_summary(store.status(run_id))
        raise typer.Exit(EXIT_OK if rec.state == "completed" else EXIT_TASKS_FAILED)
    out.print(f"run {run_id}: resuming", markup=False)
    raise typer.Exit(_run_to_end(run_id, repo, store, settings, verbose, no_wait,
                                 live=False if plain else None))


def cancel(
    run: str = typer.Argument(..., help="run id or unique prefix"),
    reason: str = typer.Option("cancelled by a person", "--reason", help="recorded with the run"),
) -> None:
    """Stop a run: its agents are killed and its unfinished tasks cancelled."""
    from overseer.engine.cancel import cancel_run

    run_id, repo, store, settings = _locate(run)
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
    run_id, _repo, store, _settings_ = _locate(run)
    st = store.status(run_id)
    if as_json:
        sys.stdout.write(json.dumps(st, indent=2, default=str) + "\n")
        return
    _print_summary(st)


def _print_summary(st: dict[str, Any]) -> None:
    table = Table(title=f"run {st['run_id']}: {st['state']}", title_justify="left")
    for col in ("task", "state", "attempts", "agent", "tokens", "cost", "last decision"):
        table.add_column(col)
    for t in st["tasks"]:
        dec = t.get("last_decision") or {}
        # The first reason is the headline; `overseer status --json` and export have them all.
        reasons = (dec.get("reasons") or [""])[0]
        cost = "-" if t.get("cost_usd") is None else f"${t['cost_usd']:.4f}"
        table.add_row(
            t["id"], t["state"], str(t["attempts"]), t.get("agent") or "",
            str((t.get("input_tokens") or 0) + (t.get("output_tokens") or 0)), cost,
            (f"{dec.get('action', '')}: {reasons}" if dec else ""),
        )
    out.print(table)
    tot = st.get("totals", {})
    cost = "-" if tot.get("cost_usd") is None else f"${tot['cost_usd']:.4f}"
    out.print(f"totals: {tot.get('tokens', 0)} tokens, cost {cost}, {tot.get('duration_s', 0):.1f}s", markup=False)
