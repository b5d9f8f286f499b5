"""`overseer worker`: a process that takes runs and tasks from the shared PostgreSQL queues.

A worker's executor id is stable (its name), because DBOS recovers a dead process's
workflows only in a process that starts with the same id: restart a worker under its old name
and its interrupted tasks go on. Two live processes must never share a name, so each holds a
lock on it for as long as it runs.
"""

from __future__ import annotations

import fcntl
import socket
import tempfile
import threading
from pathlib import Path
from typing import IO

from overseer.agents.process import kill_all_live_groups
from overseer.config import Settings
from overseer.engine import queues, runtime
from overseer.engine.context import EngineContext, set_context
from overseer.errors import OverseerError
from overseer.store import Store

MAX_DEFAULT_WORKERS = 64


def _lock_path(worker_id: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in worker_id)
    return Path(tempfile.gettempdir()) / f"overseer-worker-{safe}.lock"


def _try_lock(worker_id: str) -> IO[str] | None:
    f = _lock_path(worker_id).open("a")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    return f


def claim_worker_id(requested: str | None) -> tuple[str, IO[str]]:
    """The worker's name and the lock that keeps it this process's alone. Without a name:
    `<host>-1`, `<host>-2`, … the first one free, so a restarted worker gets its old name back."""
    if requested:
        lock = _try_lock(requested)
        if lock is None:
            raise OverseerError(
                f"worker {requested!r} is already running on this host",
                hint="give each worker its own --id (a restarted worker reuses its old one)",
            )
        return requested, lock
    host = socket.gethostname()
    for n in range(1, MAX_DEFAULT_WORKERS + 1):
        lock = _try_lock(f"{host}-{n}")
        if lock is not None:
            return f"{host}-{n}", lock
    raise OverseerError(f"{MAX_DEFAULT_WORKERS} workers already run on this host", hint="pass --id")


def serve(settings: Settings, repo: Path, worker_id: str, stop: threading.Event) -> None:
    """Take work from every overseer queue until `stop` is set."""
    store_url = settings.database_url_for(repo)
    if not runtime.is_postgres(store_url):
        raise OverseerError(
            "`overseer worker` needs a shared PostgreSQL database; this repository uses SQLite",
            hint="set database.url to postgresql+psycopg://USER@127.0.0.1/DB in overseer.yaml "
            "(or OVERSEER_DATABASE__URL) for the runs and the workers alike",
        )
    store = Store.open(store_url)
    set_context(EngineContext(store=store, settings=settings))
    runtime.launch(runtime.system_database_url(store_url, repo), executor_id=worker_id, queues=None)
    try:
        queues.register_runs_queue()
        stop.wait()
    finally:
        kill_all_live_groups()
        runtime.shutdown()
        set_context(None)
