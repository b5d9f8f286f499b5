"""`overseer config ...`: the effective configuration, where each value came from, secrets redacted."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from overseer.cli.output import out
from overseer.cli.run_flags import AGENT, MODE, PARALLEL, SUPERVISOR, settings_flags
from overseer.errors import ConfigError, OverseerError

if TYPE_CHECKING:
    from overseer.config import ConfigValue, Settings

config_app = typer.Typer(
    help="Inspect the effective configuration.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@config_app.callback()
def _config() -> None:
    """Inspect the effective configuration."""
    # A callback keeps `config` a command group even while it has a single subcommand.


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value if value else '""'
    return json.dumps(value, default=str)


@config_app.command("show")
def show(
    as_json: Annotated[
        bool, typer.Option("--json", help="print {key: {value, source}} as JSON")
    ] = False,
    project_dir: Annotated[
        Path | None,
        typer.Option("--dir", help="a directory in the repository whose overseer.yaml applies "
                     "(default: the current directory)"),
    ] = None,
    plan: Annotated[
        Path | None, typer.Option("--plan", help="also read the overseer.yaml beside this plan, as `run PLAN` does"),
    ] = None,
    parallel: int | None = PARALLEL,
    agent: str | None = AGENT,
    supervisor: str | None = SUPERVISOR,
    mode: str | None = MODE,
) -> None:
    """Print every setting's effective value and its source, with secrets redacted: exactly what
    `overseer run` with the same flags (and `--plan`) would use."""
    from overseer.cli.locate import git_root
    from overseer.cli.run_cmd import plan_workspace
    from overseer.scrub import Scrubber

    start = Path(".") if project_dir is None else project_dir
    if not start.is_dir():
        # Checked here rather than with exists=True so it reports like every other bad input.
        raise ConfigError(
            f"--dir {start}: not a directory",
            hint="pass the project directory that holds overseer.yaml",
        )
    if plan is not None and not plan.is_file():
        raise ConfigError(f"--plan {plan}: no such file", hint="pass the plan file `overseer run` gets")
    if plan is not None and project_dir is None:
        start = plan_workspace(plan)
    root = git_root(start) or start
    flags = {k: v for k, v in settings_flags(parallel, agent, supervisor, mode).items() if v is not None}
    from overseer.config import explain_settings, load_settings

    values = explain_settings(root, flags, plan_dir=plan.parent if plan else None)
    # Token shapes too (a Bearer token inside notifications.command), not only known values.
    scrub = Scrubber.for_run()
    values = [replace(v, value=scrub.deep(v.value)) for v in values]
    if as_json:
        doc = {v.key: {"value": v.value, "source": v.source} for v in values}
        typer.echo(json.dumps(doc, indent=2, default=str))
        return
    table = Table("key", "value", "source", box=None, pad_edge=False)
    for v in values:
        table.add_row(
            Text(v.key, overflow="fold"),
            Text(_render(v.value), overflow="fold"),
            Text(_short(v.source), style="dim" if v.source == "default" else "", overflow="fold"),
        )
    out.print(table)
    _differences_from_the_run(load_settings(root, flags, plan_dir=plan.parent if plan else None), root, values)


def _short(source: str) -> str:
    """A source path as a person reads it in a narrow terminal: relative to here, or to ~."""
    for base, shown in ((Path.cwd(), "."), (Path.home(), "~")):
        prefix = f"{base}{os.sep}"
        if source.startswith(prefix):
            return f"{shown}/{source[len(prefix):]}"
    return source


def _differences_from_the_run(settings: Settings, root: Path, values: list[ConfigValue]) -> None:
    """A run keeps the settings it started with (docs/config.md): say which of them a change
    made since does not reach."""
    from overseer.engine.recorded import RECORDED_SECTIONS, differences
    from overseer.store import Store

    if not settings.database.url and not (root / ".overseer" / "state.db").is_file():
        return
    try:
        rec = Store.open(settings.database_url_for(root)).latest_run(str(root))
    except OverseerError as e:
        # Showing the settings must not depend on the store being up.
        out.print(f"\n(the runs of {root} were not compared: {e.message})", markup=False)
        return
    current = {v.key: v.value for v in values}
    if rec is None or rec.state in ("completed", "failed", "cancelled"):
        return
    diff = differences(rec.config_json or {}, current)
    if not diff:
        return
    out.print(f"\nrun {rec.id} ({rec.state}) keeps the {', '.join(RECORDED_SECTIONS)} settings it "
              "started with; these differ from the above and do not reach it:", markup=False)
    for key, (was, now) in diff.items():
        out.print(f"  {key}: {_render(was)} in the run (now {_render(now)})", markup=False)
