"""The repositories this user has run plans in, so that a command overseer prints for a person
(`overseer approve bp-…`, `overseer resume RUN`) works from whatever directory it was printed in:
the plan's directory outside the repository, a notification read in another terminal.

One absolute path per line in `$XDG_STATE_HOME/overseer/workspaces` (default
~/.local/state/overseer/). Only paths are kept: each repository's own store says what ran there.
"""

from __future__ import annotations

import os
from pathlib import Path


def registry_path() -> Path:
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "overseer" / "workspaces"


def remember(repo: Path) -> None:
    """Add repo to the registry (once). Best effort: a read-only home loses only the lookup."""
    repo = repo.resolve()
    if repo in known():
        return
    path = registry_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One short append per line: concurrent runs cannot interleave within a line.
        with path.open("a", encoding="utf-8") as f:
            f.write(f"{repo}\n")
    except OSError:
        pass


def known() -> list[Path]:
    """Remembered repositories that still exist, newest first."""
    try:
        lines = registry_path().read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    seen: dict[Path, None] = {}
    for line in reversed(lines):
        p = Path(line.strip())
        if line.strip() and p.is_dir():
            seen.setdefault(p, None)
    return list(seen)
