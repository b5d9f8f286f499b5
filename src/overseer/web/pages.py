"""HTML for the web view: Jinja2 templates shipped with the package, autoescaped, so text from
agents and plans can never become markup."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("overseer.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["usd"] = lambda v: "-" if v is None else f"${v:.4f}"
    return env


def render(name: str, **context: Any) -> str:
    return _env().get_template(name).render(**context)


def fragments(view: dict[str, Any], activity: list[dict[str, Any]], csrf: str) -> dict[str, Any]:
    """The parts of the run page a live update replaces, rendered by the same macros as the
    page itself; activity lines are separate so the page can add them to what it has."""
    parts: Any = _env().get_template("parts.html.j2").module  # its macros, by name
    return {
        "header": str(parts.header(view)),
        "tasks": str(parts.tasks(view)),
        "open": str(parts.open_breakpoints(view, csrf)),
        "resolved": str(parts.resolved(view)),
        "activity": [str(parts.activity_item(a)) for a in activity],
    }
