"""Agent types come from the `overseer.agents` entry-point group, built-ins included."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

from overseer.errors import OverseerError


@cache
def _load() -> tuple[dict[str, Any], dict[str, str]]:
    found: dict[str, Any] = {}
    broken: dict[str, str] = {}
    for ep in entry_points(group="overseer.agents"):
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # a broken plugin must not take the other agents down with it
            broken[ep.name] = f"{ep.value}: {type(exc).__name__}: {exc}"
    return found, broken


def agent_types() -> dict[str, Any]:
    """Map of agent type name → agent class, loaded from entry points."""
    return _load()[0]


def broken_agent_types() -> dict[str, str]:
    """Entry points that failed to load, with why (shown by `overseer doctor`)."""
    return _load()[1]


def get_agent_type(name: str) -> Any:
    types = agent_types()
    if name not in types:
        broken = broken_agent_types()
        if name in broken:
            raise OverseerError(
                f"agent type {name!r} is installed but failed to load: {broken[name]}",
                hint="reinstall the package that provides it; `overseer doctor` lists agent types",
            )
        known = ", ".join(sorted(types)) or "none"
        raise OverseerError(
            f"unknown agent type {name!r}",
            hint=f"known types: {known}; a third-party type is added by installing its package",
        )
    return types[name]
