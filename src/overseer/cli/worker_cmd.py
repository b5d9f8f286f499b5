"""`overseer worker`: join the shared PostgreSQL queues as an extra worker."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import typer

from overseer.cli.locate import settings_for
from overseer.cli.output import out
from overseer.cli.run_here import exit_now
from overseer.errors import EXIT_OK


def worker(
    worker_id: str | None = typer.Option(
        None, "--id", help="stable name of this worker (default: HOST-1, HOST-2, … the first free); "
        "restart a dead worker under its old name and it finishes the tasks it had"
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="print the agents' output too"),
) -> None:
    """Take runs and tasks from the shared PostgreSQL queues until stopped (Ctrl-C or SIGTERM)."""
    from overseer.engine.worker import claim_worker_id, serve

    settings = settings_for({}, Path.cwd())
    name, _lock = claim_worker_id(worker_id)
    stop = threading.Event()

    def _stop(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    from overseer.cli.printer import PlainPrinter
    from overseer.events import subscribe

    subscribe(PlainPrinter(verbose=verbose))
    out.print(f"worker {name} (pid {os.getpid()}): taking runs and tasks; stop with Ctrl-C", markup=False)
    serve(settings, Path.cwd(), name, stop)
    out.print(f"worker {name}: stopped; its unfinished tasks go on when it starts again", markup=False)
    # DBOS threads may still wait in a recv; their state is durable, so leave without them.
    exit_now(EXIT_OK)
