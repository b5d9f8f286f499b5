"""The table of `overseer stats breakpoints [RUN|--all]` (the figures: engine.breakpoint_stats;
the command: stats_cmd)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from overseer.cli.output import out

COLUMNS = ("triggered", "resolved", "auto_resolved", "open", "cancelled", "approved", "rejected", "answered")


def _duration(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 120:
        return f"{s:.0f}s"
    if s < 7200:
        return f"{s / 60:.1f}m"
    return f"{s / 3600:.1f}h"


def print_table(st: dict[str, Any]) -> None:
    runs = st["runs"]
    out.print(f"runs: {', '.join(runs) if len(runs) <= 3 else f'{len(runs)} runs'}", markup=False)
    out.print(
        f"breakpoints: {st['triggered']} triggered, {st['resolved']} resolved "
        f"({st['auto_resolved']} automatically, {st['cancelled']} by a cancel), {st['open']} open; mean time to resolve "
        f"(people): {_duration(st['mean_time_to_resolve_s'])}",
        markup=False,
    )
    if not st["by_kind"]:
        return
    table = Table(title="by kind", title_justify="left")
    table.add_column("kind")
    for col in COLUMNS:
        table.add_column(col.replace("_", " "), justify="right")
    table.add_column("mean time to resolve", justify="right")
    for kind, k in st["by_kind"].items():
        table.add_row(kind, *(str(k[c]) for c in COLUMNS), _duration(k["mean_time_to_resolve_s"]))
    out.print(table)
