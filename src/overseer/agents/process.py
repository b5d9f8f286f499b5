"""Run one agent process: its own process group, line events, timeout, stall detection, kill.

Every CLI agent goes through here so that limits and kill semantics are the same for all,
and so that no agent process outlives its attempt.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from overseer.scrub import process_scrubber
from overseer.watchdog import ATTEMPT_ENV, watchdog

# A cancel wakes the runner the moment it is set; this only bounds how long the thread that
# waits for it outlives an agent that exited on its own. The timeout and stall limits need no
# periodic look either: the runner sleeps until the nearer of the two.
CANCEL_WAIT_S = 2.0
# The longest single sleep, so a limit of days (or infinity) is still a finite wait.
MAX_SLEEP_S = 60.0

# Process groups started by this process and not yet reaped, so an interrupted
# orchestrator can take them down with it.
_live_groups: set[int] = set()
_live_lock = threading.Lock()


@dataclass
class ProcessOutcome:
    exit_code: int | None
    ended_by: str  # "exit" | "timeout" | "stalled" | "cancelled"
    duration_s: float
    tail: list[str] = field(default_factory=list)


def kill_group(pgid: int, grace: float = 3.0) -> None:
    """SIGTERM the group, then SIGKILL whatever is left after `grace` seconds."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _group_alive(pgid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    # A zombie leader still "exists"; look for any non-zombie member.
    for pid in _pids():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 3 and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def kill_all_live_groups() -> None:
    with _live_lock:
        groups = list(_live_groups)
    for pgid in groups:
        kill_group(pgid, grace=1.0)


def kill_leftovers(attempt_id: str) -> int:
    """Kill processes left from an earlier life of this attempt (e.g. before a kill -9).

    They are found by the attempt id in their environment rather than by a recorded pid,
    so a recycled pid can never make us kill an unrelated process.
    """
    marker = f"{ATTEMPT_ENV}={attempt_id}".encode()
    killed = 0
    for pid in _pids():
        if pid == os.getpid():
            continue
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in env:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
                killed += 1
    return killed


class LiveStdin:
    """A process's stdin while it runs: the first data at the start, more when the caller has
    it, then EOF (`close`). Writes after EOF, or after the process ended, are dropped."""

    def __init__(self, first: bytes) -> None:
        self.first = first
        self._more: queue.Queue[bytes | None] = queue.Queue()
        self.closed = threading.Event()

    def write(self, data: bytes) -> None:
        if not self.closed.is_set():
            self._more.put(data)

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self._more.put(None)

    def feed(self, stdin: IO[bytes]) -> None:
        """Write to `stdin` until closed (run on a thread of its own)."""
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):
            stdin.write(self.first)
            stdin.flush()
            while (data := self._more.get()) is not None:
                stdin.write(data)
                stdin.flush()
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):
            stdin.close()


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    on_line: Callable[[str], None],
    timeout: float,
    stall_after: float,
    on_spawn: Callable[[int], None] = lambda _pgid: None,
    cancel: threading.Event | None = None,
    stdin_data: bytes | LiveStdin | None = None,
    tail_lines: int = 200,
) -> ProcessOutcome:
    """Run argv to completion or until a limit; every output line goes to on_line as it comes,
    with secrets masked (overseer.scrub) — the process's and those of `env`."""
    scrub = process_scrubber()
    scrub.learn(env)
    start = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    pgid = proc.pid
    with _live_lock:
        _live_groups.add(pgid)
    watchdog().watch(pgid, env.get(ATTEMPT_ENV, ""))
    on_spawn(pgid)
    tail: deque[str] = deque(maxlen=tail_lines)
    last_output = [time.monotonic()]

    def pump() -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = scrub.text(raw.decode("utf-8", errors="replace").rstrip("\n"))
            last_output[0] = time.monotonic()
            tail.append(line)
            on_line(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    if isinstance(stdin_data, LiveStdin) and proc.stdin is not None:
        threading.Thread(target=stdin_data.feed, args=(proc.stdin,), daemon=True).start()
    elif isinstance(stdin_data, bytes) and proc.stdin is not None:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(stdin_data)
            proc.stdin.close()
    # A blocking wait in its own thread: Popen.wait(timeout) polls, and eight agents polling
    # would keep the orchestrator busy while they work.
    exited = threading.Event()
    wake = threading.Event()  # an exit or a cancel: look at once, not at the next check

    def wait_for_exit() -> None:
        proc.wait()
        exited.set()
        wake.set()
        if isinstance(stdin_data, LiveStdin):
            stdin_data.close()  # nothing reads it any more: let its writer end

    def wait_for_cancel(ev: threading.Event) -> None:
        while not exited.is_set():
            if ev.wait(CANCEL_WAIT_S):
                wake.set()
                return

    threading.Thread(target=wait_for_exit, daemon=True).start()
    if cancel is not None:
        threading.Thread(target=wait_for_cancel, args=(cancel,), daemon=True).start()
    ended_by = "exit"
    try:
        while True:
            # Until the nearer limit (each output line moves the stall limit on), an exit or a
            # cancel; a limit that moved meanwhile is just slept for again.
            due = min(start + timeout, last_output[0] + stall_after) - time.monotonic()
            wake.wait(min(MAX_SLEEP_S, max(0.0, due) + 0.01))
            if exited.is_set():
                break
            now = time.monotonic()
            if cancel is not None and cancel.is_set():
                ended_by = "cancelled"
            elif now - start > timeout:
                ended_by = "timeout"
            elif now - last_output[0] > stall_after:
                ended_by = "stalled"
            else:
                continue
            kill_group(pgid)
            proc.wait()
            break
    finally:
        # The leader may have exited while children it spawned live on in the group.
        if _group_alive(pgid):
            kill_group(pgid, grace=1.0)
        # Some agents start helpers in a session of their own (codex's shell snapshot does),
        # out of the group's reach; they still carry the attempt id.
        if env.get(ATTEMPT_ENV):
            kill_leftovers(env[ATTEMPT_ENV])
        with _live_lock:
            _live_groups.discard(pgid)
        watchdog().unwatch(pgid)
    reader.join(timeout=5)
    return ProcessOutcome(
        exit_code=proc.returncode,
        ended_by=ended_by,
        duration_s=time.monotonic() - start,
        tail=list(tail),
    )
