"""Finding the real components tests drive; missing ones skip, or fail under OVERSEER_REQUIRE_REAL=1."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AGENTS = ROOT / ".agents"

# Where scripts/install-agent-clis.sh puts each CLI; an env var may point elsewhere.
CLI_PATHS = {
    "claude": (AGENTS / "node_modules" / ".bin" / "claude", "OVERSEER_TEST_CLAUDE"),
    "codex": (AGENTS / "node_modules" / ".bin" / "codex", "OVERSEER_TEST_CODEX"),
    "gemini": (AGENTS / "node_modules" / ".bin" / "gemini", "OVERSEER_TEST_GEMINI"),
    "aider": (AGENTS / "aider-venv" / "bin" / "aider", "OVERSEER_TEST_AIDER"),
}


def require_real() -> bool:
    return os.environ.get("OVERSEER_REQUIRE_REAL") == "1"


def missing(what: str, how: str) -> None:
    """Skip a test whose real component is absent — or fail it when CI demands the real thing."""
    msg = f"{what} not found: {how}"
    if require_real():
        pytest.fail(msg + " (OVERSEER_REQUIRE_REAL=1)")
    pytest.skip(msg)


def cli(name: str) -> Path:
    default, env = CLI_PATHS[name]
    p = Path(os.environ[env]) if os.environ.get(env) else default
    if not p.exists():
        found = shutil.which(name) if name != "aider" else None
        if found:
            return Path(found)
        missing(f"the {name} CLI", "run scripts/install-agent-clis.sh (make test does)")
    return p
