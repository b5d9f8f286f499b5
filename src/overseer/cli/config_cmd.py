"""`overseer config ...`: the effective configuration, where each value came from, secrets redacted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from overseer.cli.output import out
from overseer.config import explain_settings
from overseer.errors import ConfigError

_CWD = Path(".")

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
        Path,
        typer.Option(
            "--dir",
            help="project directory whose overseer.yaml applies",
        ),
    ] = _CWD,
) -> None:
    """Print every setting's effective value and its source, with secrets redacted."""
    if not project_dir.is_dir():
        # Checked here rather than with exists=True so it reports like every other bad input.
        raise ConfigError(
            f"--dir {project_dir}: not a directory",
            hint="pass the project directory that holds overseer.yaml",
        )
    values = explain_settings(project_dir)
    if as_json:
        doc = {v.key: {"value": v.value, "source": v.source} for v in values}
        typer.echo(json.dumps(doc, indent=2, default=str))
        return
    table = Table("key", "value", "source", box=None, pad_edge=False)
    for v in values:
        table.add_row(
            Text(v.key),
            Text(_render(v.value), overflow="fold"),
            Text(v.source, style="dim" if v.source == "default" else "", overflow="fold"),
        )
    out.print(table)
