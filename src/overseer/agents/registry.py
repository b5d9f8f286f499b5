"""Agent types come from the `overseer.agents` entry-point group, built-ins included."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

from overseer.errors import OverseerError


@cache
def agent_types() -> dict[str, Any]:
    """Map of agent type name → agent class, loaded from entry points."""
    found: dict[str, Any] = {}
    for ep in entry_points(group="overseer.agents"):
        found[ep.name] = ep.load()
    return found


def get_agent_type(name: str) -> Any:
    types = agent_types()
    if name not in types:
        known = ", ".join(sorted(types)) or "none"
        raise OverseerError(
            f"unknown agent type {name!r}",
            hint=f"known types: {known}; a third-party type is added by installing its package",
        )
    return types[name]
