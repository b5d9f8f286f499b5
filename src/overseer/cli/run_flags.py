"""The settings flags of `overseer run`, shared with `resume` and `config show` so a person can
see what a flag changes before running with it."""

from __future__ import annotations

from typing import Any

import typer

PARALLEL = typer.Option(None, "--parallel", min=1, help="tasks at once (run.parallel)")
AGENT = typer.Option(None, "--agent", help="use this plan agent for every task (run.agent)")
SUPERVISOR = typer.Option(None, "--supervisor", help="supervisor provider (supervisor.provider)")
MODE = typer.Option(None, "--mode", help="autopilot: act on each decision; copilot: a person confirms "
                    "before a task proceeds (run.mode)")
PLAIN = typer.Option(False, "--plain", help="plain progress lines instead of the live view, even in a terminal")


def settings_flags(parallel: int | None = None, agent: str | None = None, supervisor: str | None = None,
                   mode: str | None = None) -> dict[str, Any]:
    """The dotted settings keys the given flags set (load_settings' flags layer)."""
    return {"run.parallel": parallel, "run.agent": agent, "supervisor.provider": supervisor, "run.mode": mode}
