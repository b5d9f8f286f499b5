"""`overseer validate` and `overseer schema plan`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from overseer.cli.output import out


def validate(
    plan: Annotated[
        Path, typer.Argument(help="the plan file to check", metavar="PLAN", show_default=False)
    ],
) -> None:
    """Check a plan and report every problem in it as PLAN:LINE:COL: message."""
    from overseer.agents.registry import agent_types
    from overseer.plan.load import load_plan

    configs = {name: cls.config_class for name, cls in agent_types().items()}
    # A PlanError propagates: cli.main prints each diagnostic on stderr and exits 2.
    loaded = load_plan(plan, configs)
    n = len(loaded.tasks)
    out.print(f"{plan}: valid ({n} task{'' if n == 1 else 's'})", markup=False)


def schema_plan() -> None:
    """Print the plan's JSON Schema (for yaml-language-server and other editors)."""
    from overseer.plan import plan_json_schema

    typer.echo(json.dumps(plan_json_schema(), indent=2))
