"""One process at a time executes a run.

Continuing a run (`overseer resume`, or running the same plan again) starts by killing the
agents its attempts left behind. That is right after a crash, and wrong while another process
is still executing the run: it would kill that process's live agents and then drive the same
workflow a second time. An exclusive flock on a file beside the run's attempts says which case
it is; the kernel drops the lock when its holder dies — however it dies, kill -9 included —
so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from overseer.errors import OverseerError


def lock_path(repo: Path, run_id: str) -> Path:
    return repo / ".overseer" / "runs" / run_id / "executor.lock"


def log_path(repo: Path, run_id: str) -> Path:
    """Where a run executed in the background (by the live view or the web view) writes."""
    return repo / ".overseer" / "runs" / run_id / "run.log"


def executor_pid(repo: Path, run_id: str) -> int | None:
    """The pid of the live process executing the run on this machine, or None if none is.
    A shared lock is refused exactly while `executing` holds the exclusive one."""
    path = lock_path(repo, run_id)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(holder) if holder.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@contextmanager
def executing(repo: Path, run_id: str) -> Iterator[None]:
    """Hold the run's lock while the block runs; refuse if another live process holds it."""
    path = lock_path(repo, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise OverseerError(
                f"run {run_id} is being executed by another process (pid {holder})",
                hint=f"follow it with `overseer watch {run_id}`, or stop it with `overseer cancel {run_id}`",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock
