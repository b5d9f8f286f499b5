"""`overseer init`: commented starting files for a project."""

from __future__ import annotations

from pathlib import Path

import typer

from overseer.cli.output import out
from overseer.errors import OverseerError

CONFIG_TEMPLATE = """\
# overseer settings for this project. Precedence: defaults < ~/.config/overseer/config.yaml
# < this file < OVERSEER_* environment variables (OVERSEER_RUN__PARALLEL=2) < command-line flags.
# `overseer config show` prints the effective values and where each came from.
run:
  parallel: 1            # tasks at once
  # branch: main         # branch that receives one commit per task (default: the current one)
# database:
#   url: postgresql+psycopg://user@127.0.0.1:5432/overseer   # default: SQLite in .overseer/state.db
"""

PLAN_TEMPLATE = """\
# A plan: tasks with prompts, acceptance criteria and dependencies. Reference: docs/plan.md.
# Check it with `overseer validate plan.yaml`; run it with `overseer run plan.yaml`.
version: 1
name: my-project
defaults: {agent: coder, max_attempts: 3, gates: [tests], timeout: 1800}
agents:
  coder: {type: shell, command: "echo \\"$OVERSEER_PROMPT\\" > NOTES.md"}   # replace with a real agent
gates:
  - {name: tests, run: "python3 -m pytest -q", required: true, timeout: 600}
tasks:
  - id: first
    title: A first task
    prompt: Describe the change you want, as you would to a colleague.
    acceptance: ["the tests pass"]
"""


def init(
    directory: Path = typer.Argument(Path("."), help="project directory (a git repository)"),
    force: bool = typer.Option(False, "--force", help="overwrite existing files"),
) -> None:
    """Write overseer.yaml and plan.yaml templates and create .overseer/."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("overseer.yaml", CONFIG_TEMPLATE), ("plan.yaml", PLAN_TEMPLATE)):
        path = directory / name
        if path.exists() and not force:
            raise OverseerError(f"{path} already exists", hint="pass --force to overwrite it")
        path.write_text(text)
        written.append(str(path))
    (directory / ".overseer").mkdir(exist_ok=True)
    for w in written:
        out.print(f"wrote {w}", markup=False)
    out.print("next: edit plan.yaml, then `overseer validate plan.yaml` and `overseer run plan.yaml`", markup=False)
