"""What carries a run on after a person answers one of its breakpoints.

The answer is a durable message: a process executing the run picks it up at once. A run
parked with `--no-wait`, or whose process was stopped, has nobody to pick it up until
something resumes it. `after_answer` says which case it is, and — for an answer given where
no terminal is at hand, the web view — starts `overseer resume RUN --no-wait` in a process of
its own, so the task goes on by itself; it ends again at the next breakpoint that parks the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from overseer.engine.run_lock import executor_pid, log_path
from overseer.store import Store
from overseer.store.store import TERMINAL_RUN_STATES

How = Literal["finished", "queued", "executing", "stopped", "started"]


@dataclass(frozen=True)
class Continuation:
    how: How
    message: str
    pid: int | None = None


def after_answer(store: Store, repo: Path, run_id: str, *, start: bool) -> Continuation:
    """How the run goes on now that a breakpoint of it is answered; with start, a run that no
    process executes is resumed in the background."""
    rec = store.get_run(run_id)
    if rec is None or rec.state in TERMINAL_RUN_STATES:
        state = rec.state if rec is not None else "gone"
        return Continuation("finished", f"run {run_id} has already finished ({state})")
    if rec.dispatch == "queue":
        return Continuation("queued", f"run {run_id} is queued: an `overseer worker` carries it on "
                                      "(start one if none is running)")
    pid = executor_pid(repo, run_id)
    if pid is not None:
        return Continuation("executing", f"the task goes on now: process {pid} is executing run {run_id}",
                            pid)
    if not start:
        return Continuation("stopped", f"no process is executing run {run_id}: "
                                       f"continue it with `overseer resume {run_id}`")
    child = start_resume(repo, run_id)
    return Continuation(
        "started",
        f"no process was executing run {run_id}, so `overseer resume {run_id} --no-wait` was started "
        f"(process {child.pid}, output in {log_path(repo, run_id)})",
        child.pid,
    )


def start_resume(repo: Path, run_id: str) -> subprocess.Popen[bytes]:
    """`overseer resume RUN --no-wait` in a session of its own, appending to the run's log."""
    path = log_path(repo, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "overseer.cli.main", "resume", run_id, "--no-wait"],
            cwd=repo, env=os.environ.copy(), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    # Reaped here, so a long-lived caller (the web server) collects no zombies.
    threading.Thread(target=child.wait, name=f"resume-{run_id}", daemon=True).start()
    return child
