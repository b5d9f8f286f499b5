"""How the CLI speaks: one console for results, one for diagnostics, one way to print an error."""

from __future__ import annotations

from rich.console import Console

from overseer.errors import OverseerError, PlanError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(exc: OverseerError) -> None:
    if isinstance(exc, PlanError):
        for d in exc.diagnostics:
            err.print(str(d), markup=False)
        if len(exc.diagnostics) > 1:
            err.print(f"{len(exc.diagnostics)} errors", markup=False)
    else:
        err.print(f"error: {exc.message}", markup=False)
    if exc.hint:
        err.print(f"hint: {exc.hint}", markup=False)
