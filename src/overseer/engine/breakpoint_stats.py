"""Breakpoint statistics (`overseer stats breakpoints`): how often each kind stopped a run,
how it was resolved, and how long people took. Pure over the store's records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from overseer.store import BreakpointRecord, Store

HUMAN_RESOLUTIONS = ("approved", "rejected", "answered")


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 1) if xs else None


def _summary(bps: list[BreakpointRecord]) -> dict[str, Any]:
    by_state = {s: sum(1 for b in bps if b.state == s) for s in (*HUMAN_RESOLUTIONS, "auto", "cancelled", "open")}
    # Time to resolve is a person's: auto-resolved breakpoints close in the same step and would
    # only pull the mean towards zero.
    waits = [(b.resolved_at - b.created_at).total_seconds() for b in bps
             if b.state in HUMAN_RESOLUTIONS and b.resolved_at is not None]
    return {
        "triggered": len(bps),
        "resolved": len(bps) - by_state["open"],
        "auto_resolved": by_state["auto"],
        "open": by_state["open"],
        "cancelled": by_state["cancelled"],
        **{s: by_state[s] for s in HUMAN_RESOLUTIONS},
        "mean_time_to_resolve_s": _mean(waits),
    }


def breakpoint_stats(records: Iterable[BreakpointRecord], runs: list[str]) -> dict[str, Any]:
    """Totals and per-kind numbers: triggered, resolved, auto_resolved, open, cancelled (closed
    by cancelling their run), approved, rejected, answered, mean_time_to_resolve_s (people only; None when none resolved)."""
    bps = list(records)
    kinds = sorted({b.kind for b in bps})
    return {
        "runs": runs,
        **_summary(bps),
        "by_kind": {k: _summary([b for b in bps if b.kind == k]) for k in kinds},
    }


def load_breakpoint_stats(store: Store, run_ids: list[str]) -> dict[str, Any]:
    records = [b for r in run_ids for b in store.list_breakpoints(r)]
    return breakpoint_stats(records, run_ids)
