"""Executing a prepared run in this process, with plain progress lines: for `overseer run`
without a terminal, the live view's child process, `demo` and `resume`. The live view itself
(cli/live.py) is chosen by `overseer run`, which then runs this in a child."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from rich.table import Table

from overseer.cli.output import err, out
from overseer.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_TASKS_FAILED, EXIT_WAITING

if TYPE_CHECKING:
    from overseer.config import Settings
    from overseer.store import Store


NOTIFY_FLUSH_S = 15.0


def _interrupt_as_keyboard(*_: Any) -> None:
    raise KeyboardInterrupt


def exit_now(code: int) -> NoReturn:
    """Leave while DBOS worker threads still wait (in recv, or on an agent we killed).

    Their progress is in the workflow log and `overseer resume` recovers them; letting the
    interpreter join them would hang until their waits time out.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_plain(
    run_id: str, repo: Path, store: Store, settings: Settings, verbose: bool, no_wait: bool = False,
) -> int:
    """Execute the run here, printing progress lines; its exit code."""
    from overseer.engine.runner import execute
    from overseer.notify import Notifier

    signal.signal(signal.SIGTERM, _interrupt_as_keyboard)
    from overseer.cli.printer import PlainPrinter
    from overseer.events import subscribe

    unsubscribe = subscribe(PlainPrinter(verbose=verbose))
    notifier = Notifier(settings.notifications, repo=repo, link=breakpoint_link(settings, repo))
    unsubscribe_notifier = notifier.subscribe()
    try:
        summary = execute(run_id, repo, store, settings, no_wait=no_wait)
    except KeyboardInterrupt:
        err.print(f"interrupted; continue with: overseer resume {run_id}", markup=False)
        exit_now(EXIT_INTERRUPTED)
    finally:
        unsubscribe()
        # Deliver what is queued (a run_finished message, say) before a hard exit drops it.
        notifier.flush(NOTIFY_FLUSH_S)
        unsubscribe_notifier()
    print_summary(store.status(run_id))
    if summary["state"] == "cancelled":
        out.print(f"run {run_id} was cancelled", markup=False)
        exit_now(EXIT_TASKS_FAILED)
    if summary["state"] == "waiting":
        out.print(
            f"run {run_id} is parked waiting for a person; answer the breakpoints above, "
            f"then: overseer resume {run_id}",
            markup=False,
        )
        exit_now(EXIT_WAITING)
    return EXIT_OK if summary["state"] == "completed" else EXIT_TASKS_FAILED


def breakpoint_link(settings: Settings, repo: Path) -> Callable[[str], str]:
    """A breakpoint's link for notifications: its page in `overseer serve`, answerable there
    with a short-lived token for it alone (web/links.py)."""
    from overseer.config import parse_age
    from overseer.web.links import breakpoint_url, link_key

    ttl = parse_age(settings.web.link_ttl) or 86400.0
    return lambda bp_id: breakpoint_url(settings.web.link_base(), link_key(repo), bp_id, ttl)


def print_summary(st: dict[str, Any]) -> None:
    table = Table(title=f"run {st['run_id']}: {st['state']}", title_justify="left")
    for col in ("task", "state", "attempts", "agent", "tokens", "cost", "last decision"):
        table.add_column(col)
    for t in st["tasks"]:
        dec = t.get("last_decision") or {}
        # The first reason is the headline; `overseer status --json` and export have them all.
        reasons = (dec.get("reasons") or [""])[0]
        cost = "-" if t.get("cost_usd") is None else f"${t['cost_usd']:.4f}"
        table.add_row(
            t["id"], t["state"], str(t["attempts"]), t.get("agent") or "",
            str((t.get("input_tokens") or 0) + (t.get("output_tokens") or 0)), cost,
            (f"{dec.get('action', '')}: {reasons}" if dec else ""),
        )
    out.print(table)
    tot = st.get("totals", {})
    cost = "-" if tot.get("cost_usd") is None else f"${tot['cost_usd']:.4f}"
    out.print(f"totals: {tot.get('tokens', 0)} tokens, cost {cost}, {tot.get('duration_s', 0):.1f}s", markup=False)
