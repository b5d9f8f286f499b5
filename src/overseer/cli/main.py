"""The `overseer` command: a Typer app whose commands live in sibling modules."""

from __future__ import annotations

import os
import sys

import typer

from overseer.cli.output import err, print_error
from overseer.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, OverseerError

app = typer.Typer(
    name="overseer",
    help="Supervise coding-agent CLIs through a plan of tasks, with real gates and review.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="show tracebacks for internal errors"),
) -> None:
    if debug:
        os.environ["OVERSEER_DEBUG"] = "1"


def _register() -> None:
    # Imported here so `overseer --help` stays fast and a broken optional module names itself.
    from overseer.cli import commands

    commands.register(app)


def main() -> None:
    _register()
    try:
        # Standalone mode lets click own usage errors (exit 2) and typer.Exit; everything
        # else propagates to the handlers below.
        app()
    except OverseerError as exc:
        print_error(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit:
        raise
    except Exception as exc:  # a bug: say so in one line, with the way to learn more
        if os.environ.get("OVERSEER_DEBUG"):
            raise
        err.print(f"internal error: {type(exc).__name__}: {exc}", markup=False)
        err.print("hint: run again with --debug for a traceback, and report it", markup=False)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
