"""The live terminal view of a run: `overseer run` in a terminal, and `overseer watch`.

The view only reads the store and sends answers the way `overseer approve` does, so it works
the same beside the run and from another terminal. `overseer run` with the view starts the run
itself in a child process of its own session (see live_child.py) and watches it: `q` then ends
only the view and the run goes on in the background, a closed terminal does not stop it, and
Ctrl-C is passed on to the run, which stops as it does without the view."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.live import Live

from overseer.cli.live_keys import Command, KeyReader, KeyState, on_key
from overseer.cli.live_render import render
from overseer.cli.live_snapshot import Snapshot, SnapshotReader
from overseer.cli.output import err, out
from overseer.config import Settings
from overseer.engine.run_lock import log_path
from overseer.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TASKS_FAILED,
    EXIT_WAITING,
    OverseerError,
)
from overseer.store import Store

# The view reads the store this often: a few times a second is live to a person and cheap.
REFRESH_S = 0.4
# ... unless reading and drawing a big run takes longer: then the view keeps to about a tenth
# of a core (a 1,000-task run costs ~0.1 s of CPU per refresh) and refreshes less often.
CPU_SHARE = 0.1
# Lines kept for everything but the task table when it is cut to the terminal's height.
OTHER_LINES = 16


@dataclass(frozen=True)
class Target:
    """The run on view, and what answering its breakpoints needs."""

    store: Store
    store_url: str
    repo: Path
    run_id: str


def usable_terminal() -> bool:
    """The view needs a terminal to draw on and one to read keys from."""
    return sys.stdin.isatty() and sys.stdout.isatty() and os.environ.get("TERM", "") != "dumb"


def carry_out(target: Target, cmd: Command) -> str:
    """Do what a key asked; the returned line says what happened (or why not)."""
    from overseer.engine.continuation import after_answer
    from overseer.engine.humans import pause_run, resolve

    try:
        if cmd.kind == "resolve":
            rec = resolve(target.store, target.store_url, target.repo, cmd.breakpoint, cmd.action, cmd.note)
            went = after_answer(target.store, target.repo, rec.run_id, start=True)
            done = f"{rec.id}: {rec.state} (task {rec.task_id})"
            # Under `overseer run` its own child executes the run: nothing more to say.
            return done if went.how == "executing" else f"{done}; {went.message}"
        if cmd.kind == "pause":
            pause_run(target.store, target.store_url, target.repo, target.run_id, cmd.paused)
            return "paused: running tasks finish, no new task starts" if cmd.paused else "continuing"
    except OverseerError as exc:
        return f"{exc.message}" + (f" ({exc.hint})" if exc.hint else "")
    return ""


def show_attempt(target: Target, console: Console, breakpoint: str) -> str:
    """`overseer show BP` in a pager, over the view; what to say once it is closed."""
    from overseer.cli.show_cmd import print_view
    from overseer.report.attempt_view import attempt_view
    from overseer.store.records import attempt_number

    try:
        bp = target.store.find_breakpoint(breakpoint)
        if bp is None or bp.task_id is None:
            return f"{breakpoint}: no attempt to show"
        v = attempt_view(target.store, bp.run_id, target.repo, bp.task_id, attempt_number(bp.attempt_id))
    except OverseerError as exc:
        return exc.message
    with console.pager(styles=True):
        print_view(v, full=False, console=console)
    return f"shown: {v.task}#{v.attempt.n} (a approve · r reject · t answer)"


def view(target: Target, console: Console, child: subprocess.Popen[bytes] | None = None) -> tuple[str, Snapshot]:
    """Show the run until it finishes, the child running it exits, or `q`; return why
    ("finished", "exited" or "detached") and the last snapshot."""
    reader = SnapshotReader(target.store, target.run_id)
    state = KeyState()
    with KeyReader() as keys, Live(console=console, auto_refresh=False, transient=False) as live:
        while True:
            cpu = time.process_time()
            snap = reader.read(datetime.now(UTC))
            max_tasks = max(3, shutil.get_terminal_size().lines - OTHER_LINES - 4 * len(snap.breakpoints))
            live.update(render(snap, state.prompt(), max_tasks), refresh=True)
            if snap.finished:
                return "finished", snap
            if child is not None and child.poll() is not None:
                # It may have finished the run since the read above: show the final state.
                snap = reader.read(datetime.now(UTC))
                live.update(render(snap, state.prompt(), max_tasks), refresh=True)
                return "exited", snap
            cost = time.process_time() - cpu
            deadline = time.monotonic() + max(REFRESH_S, cost / CPU_SHARE)
            while (left := deadline - time.monotonic()) > 0:
                try:
                    key = keys.keys.get(timeout=left)
                except queue.Empty:
                    break  # time to read the store again
                state, cmd = on_key(state, key, tuple(b.id for b in snap.breakpoints))
                if cmd is None:
                    live.update(render(snap, state.prompt(), max_tasks), refresh=True)
                    continue
                if cmd.kind == "detach":
                    return "detached", snap
                if cmd.kind == "view":
                    with keys.paused():
                        live.stop()
                        try:
                            message = show_attempt(target, console, cmd.breakpoint)
                        finally:
                            live.start()
                    state = KeyState(message=message)
                    break
                live.update(render(snap, f"{cmd.action or 'pause'}…", max_tasks), refresh=True)
                state = KeyState(message=carry_out(target, cmd))
                break


def start_child(run_id: str, repo: Path, settings_json: str, verbose: bool, no_wait: bool) -> subprocess.Popen[bytes]:
    """Start the run in a process of its own session, its output appended to the run's log.
    The settings go through a pipe: they can hold secrets, which must not touch the disk."""
    from overseer.cli.live_child import encode_request

    path = log_path(repo, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "overseer.cli.live_child"], cwd=repo, stdin=subprocess.PIPE,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    assert child.stdin is not None
    child.stdin.write(encode_request(run_id, repo, settings_json, verbose, no_wait))
    child.stdin.close()
    return child


def stop_child(child: subprocess.Popen[bytes], grace_s: float = 60.0) -> int:
    """Interrupt the run as Ctrl-C would have without the view; its exit code."""
    if child.poll() is None:
        child.send_signal(signal.SIGINT)
    try:
        return child.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        child.kill()
        return child.wait()


def run_with_view(run_id: str, repo: Path, store: Store, settings: Settings, verbose: bool, no_wait: bool) -> int:
    """`overseer run` in a terminal: the run in a child process, this one showing it."""
    from overseer.cli.live_child import settings_json

    target = Target(store, settings.database_url_for(repo), repo, run_id)
    child = start_child(run_id, repo, settings_json(settings), verbose, no_wait)
    log = log_path(repo, run_id)
    try:
        why, _snap = view(target, Console(highlight=False), child)
    except KeyboardInterrupt:
        stop_child(child)
        err.print(f"interrupted; continue with: overseer resume {run_id}", markup=False)
        return EXIT_INTERRUPTED
    except Exception:
        # The view broke, not the run: say where the run is before the error is reported.
        err.print(f"the live view stopped; run {run_id} goes on in the background (process "
                  f"{child.pid}, output in {log}): overseer watch {run_id}", markup=False)
        raise
    if why == "detached":
        out.print(f"detached: run {run_id} goes on in the background (process {child.pid}, "
                  f"output in {log}); watch it again with: overseer watch {run_id}", markup=False)
        return EXIT_OK
    code = child.wait()
    if code == EXIT_WAITING:
        out.print(f"run {run_id} is parked waiting for a person; answer the breakpoints above, "
                  f"then: overseer resume {run_id}", markup=False)
    elif code not in (EXIT_OK, EXIT_TASKS_FAILED):
        err.print(f"the run's process ended with exit code {code}; the end of its output "
                  f"({log}):", markup=False)
        err.print(_tail(log), markup=False)
        err.print(f"hint: continue with: overseer resume {run_id}", markup=False)
    return code if code >= 0 else EXIT_INTERRUPTED


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def watch(target: Target) -> int:
    """`overseer watch`: the view of a run executing elsewhere (or parked, or finished)."""
    why, snap = view(target, Console(highlight=False))
    if why == "detached":
        out.print(f"detached from run {target.run_id}", markup=False)
        return EXIT_OK
    return EXIT_OK if snap.state == "completed" else EXIT_TASKS_FAILED
