"""Where a command's run is: the repository at or above the current directory, its settings,
and — for a run or breakpoint named by id, as overseer prints them — the other repositories this
user has run plans in (store/known.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overseer.errors import OverseerError

if TYPE_CHECKING:
    # `--help` and the commands that never open a store import neither SQLAlchemy nor the
    # settings' pydantic models (tests/unit/test_cli_imports.py).
    from overseer.config import Settings
    from overseer.store import Store


def settings_for(flags: dict[str, Any], project: Path | None = None, plan_dir: Path | None = None) -> Settings:
    """Settings as every command resolves them (docs/config.md): the project is the root of the
    repository at or above `project` (default: the current directory), `plan_dir` the
    directory of the run's plan file."""
    root = git_root(project or Path.cwd()) or (project or Path.cwd())
    from overseer.config import load_settings

    return load_settings(root, {k: v for k, v in flags.items() if v is not None}, plan_dir=plan_dir)


Located = tuple[str, Path, "Store", "Settings"]


def locate(run: str | None, repo: Path | None = None, *, breakpoint: str | None = None) -> Located:
    """Find RUN, or the run of BREAKPOINT, or the latest run: in the repository at or above
    the current directory, else — for a run or breakpoint named by id, as overseer prints them —
    in the other repositories this user has run plans in (store/known.py), so a printed
    command works from wherever it was printed."""
    from overseer.store.known import known

    here = git_root(repo or Path.cwd())
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
    settings = settings_for({}, root)
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
    settings = settings_for({}, root, Path(rec.plan_path).parent)
    return rec.id, root, store, settings


def repo_root(start: Path) -> Path:
    root = git_root(start)
    if root is None:
        raise OverseerError(f"{start} is not inside a git repository",
                            hint="run this from the repository the run worked on")
    return root


def git_root(start: Path) -> Path | None:
    """The root of the git repository at or above start; None outside any."""
    if not start.is_dir():
        return None
    proc = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=start, capture_output=True, text=True, check=False
    )
    return Path(proc.stdout.strip()) if proc.returncode == 0 else None
