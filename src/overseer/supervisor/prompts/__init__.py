"""Prompt templates (Jinja2). A project overrides any of them from `.overseer/prompts/`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined

_BUILTIN = PackageLoader("overseer.supervisor", "prompts")


def environment(project_dir: Path | None = None) -> Environment:
    loaders: list[Any] = []
    if project_dir is not None:
        override = project_dir / ".overseer" / "prompts"
        if override.is_dir():
            loaders.append(FileSystemLoader(str(override)))
    loaders.append(_BUILTIN)
    # Prompts are plain text for an agent, not HTML: autoescape would corrupt code.
    return Environment(  # noqa: S701
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render(name: str, project_dir: Path | None = None, **context: Any) -> str:
    return environment(project_dir).get_template(name).render(**context)


def task_prompt(
    task: Any, attempt: int, feedback: str | None, project_dir: Path | None = None,
    steers: Sequence[str] = (),
) -> str:
    """The prompt for one attempt at a task: the task itself, then any feedback from before,
    then what a person sent with `overseer steer` since the last prompt."""
    return render("task.md.j2", project_dir, task=task, attempt=attempt, feedback=feedback,
                  steers=list(steers), live=False)


def steer_message(steers: Sequence[str], project_dir: Path | None = None) -> str:
    """What a running session gets, at the end of a turn, of a person's `overseer steer`."""
    return render("steers.md.j2", project_dir, steers=list(steers), live=True).strip()
