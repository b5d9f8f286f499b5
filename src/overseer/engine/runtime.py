"""DBOS set-up for this process: one system database per repository, one executor per run."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from dbos import DBOS, DBOSClient, DBOSConfig

from overseer.engine.serializer import ScrubbingSerializer

# Pinned, not DBOS's default source hash: a changed hash would leave interrupted runs of an
# older overseer un-recovered. Bump it only when workflow code changes incompatibly.
APPLICATION_VERSION = "overseer-1"
APPLICATION_NAME = "overseer"


def is_postgres(store_url: str) -> bool:
    return store_url.startswith("postgresql")


def system_database_url(store_url: str, repo: Path) -> str:
    if store_url.startswith("sqlite"):
        return f"sqlite:///{(repo / '.overseer' / 'dbos.sqlite').resolve()}"
    # On PostgreSQL DBOS keeps its tables in its own schema of the same database.
    return store_url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def client(store_url: str, repo: Path) -> Iterator[DBOSClient]:
    """A client of the run's workflows for a process that does not launch DBOS (approve,
    pause, cancel from another terminal)."""
    c = DBOSClient(system_database_url=system_database_url(store_url, repo),
                   serializer=ScrubbingSerializer())
    try:
        yield c
    finally:
        c.destroy()


def launch(sys_db_url: str, executor_id: str, queues: Sequence[str] | None = ()) -> None:
    """Start DBOS. Its recovery then resumes this executor's unfinished workflows.

    `queues` names the queues this process takes work from; None means every queue (a worker).
    """
    # Import for the side effect of registering the workflows before launch.
    from overseer.engine import workflows  # noqa: F401

    config: DBOSConfig = {
        "name": APPLICATION_NAME,
        "system_database_url": sys_db_url,
        "application_version": APPLICATION_VERSION,
        "executor_id": executor_id,
        "log_level": "WARNING",
        # recv() on SQLite polls; 100 ms keeps hand-offs and approvals quick at ~10 queries a second.
        "notification_listener_polling_interval_sec": 0.1,
        # On PostgreSQL, sends and events are pushed by a thread that wakes every this often
        # (DBOS's default, 10 ms, costs ~0.4% of a core doing nothing); 50 ms is still far
        # below what a hand-off or an approval needs.
        "notification_coalesce_sec": 0.05,
        # What DBOS keeps of inputs and outputs is scrubbed like everything else at rest.
        "serializer": ScrubbingSerializer(),
    }
    for name in ("dbos", "dbos._logger"):
        logging.getLogger(name).setLevel(logging.WARNING)
    DBOS(config=config)
    if queues is not None:
        DBOS.listen_queues(queues)
    DBOS.launch()


def shutdown() -> None:
    DBOS.destroy(workflow_completion_timeout_sec=0)
