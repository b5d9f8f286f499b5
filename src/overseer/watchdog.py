"""No agent outlives the overseer process that started it, even after a `kill -9`.

Agents run in process groups of their own, so neither a signal to overseer nor the end of its
terminal reaches them. A watchdog does: one small process per overseer process, in a session of
its own, that holds the read end of a pipe whose write end only overseer has. Overseer tells it
each process group it starts and ends; when overseer dies by any means the kernel closes the pipe,
the watchdog reads end-of-file and kills what is still registered — the groups, then any process
that still carries a registered attempt's id in its environment (a helper that left the group,
as codex's shell snapshot does) — within a fraction of a second. A pipe is portable where a
parent-death signal is not, and it follows the process rather than the thread that spawned
(PR_SET_PDEATHSIG fires when the spawning thread exits, and DBOS steps run in pooled threads).

This file runs as the watchdog itself (`python -I -S watchdog.py`): standard library only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

# Marks every process of an attempt (set by process.run_process's callers): the one home of
# the name, here because this file must run with nothing but the standard library.
ATTEMPT_ENV = "OVERSEER_ATTEMPT_ID"
TERM_GRACE_S = 0.3


class Watchdog:
    """The client side: one per overseer process, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._watched: dict[int, str] = {}

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def watch(self, pgid: int, attempt_id: str = "") -> None:
        with self._lock:
            self._watched[pgid] = attempt_id
            self._send(f"add {pgid} {attempt_id}\n")

    def unwatch(self, pgid: int) -> None:
        with self._lock:
            self._watched.pop(pgid, None)
            if self._proc is not None and self._proc.poll() is None:
                self._send(f"del {pgid}\n")

    def close(self) -> None:
        """What overseer's death does: the watchdog kills every group still registered."""
        with self._lock:
            if self._proc is not None and self._proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self._proc.stdin.close()
                self._proc.wait()
            self._proc = None
            self._watched.clear()

    def _send(self, line: str) -> None:
        for _ in range(2):
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            assert self._proc is not None and self._proc.stdin is not None
            try:
                self._proc.stdin.write(line.encode())
                self._proc.stdin.flush()
                return
            except (BrokenPipeError, OSError):
                self._proc = None  # it died (someone killed it): a new one gets every group

    def _start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.abspath(__file__)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # Its own session: the terminal's Ctrl-C or hang-up, or a kill of overseer's group,
            # must not take the watchdog down with the agents still running.
            start_new_session=True, close_fds=True,
        )
        assert self._proc.stdin is not None
        for pgid, attempt_id in self._watched.items():
            self._proc.stdin.write(f"add {pgid} {attempt_id}\n".encode())
        self._proc.stdin.flush()


_watchdog = Watchdog()


def watchdog() -> Watchdog:
    return _watchdog


def measure(limit_s: float = 5.0) -> float | None:
    """Seconds a fresh watchdog takes to end a sleeping process group once its overseer's end
    of the pipe closes (None: the group outlived `limit_s`) — `overseer doctor`'s check."""
    probe = subprocess.Popen(["sleep", "60"], start_new_session=True)
    dog = Watchdog()
    try:
        dog.watch(probe.pid)
        start = time.monotonic()
        dog.close()
        while probe.poll() is None:
            if time.monotonic() - start > limit_s:
                return None
            time.sleep(0.005)
        return time.monotonic() - start
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait()


# ----------------------------------------------------------------------------- the watchdog


def _serve() -> None:
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    groups: dict[int, str] = {}
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            break  # overseer is gone
        parts = line.decode(errors="replace").split()
        if len(parts) >= 2 and parts[0] == "add":
            groups[int(parts[1])] = parts[2] if len(parts) > 2 else ""
        elif len(parts) == 2 and parts[0] == "del":
            groups.pop(int(parts[1]), None)
    _kill(groups)


def _kill(groups: dict[int, str]) -> None:
    for pgid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + TERM_GRACE_S
    while time.monotonic() < deadline and any(_alive(g) for g in groups):
        time.sleep(0.02)
    for pgid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
    markers = {f"{ATTEMPT_ENV}={a}".encode() for a in groups.values() if a}
    if markers and os.path.isdir("/proc"):
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/environ", "rb") as f:
                    env = set(f.read().split(b"\0"))
            except OSError:
                continue
            if env & markers:
                with contextlib.suppress(OSError):
                    os.killpg(os.getpgid(int(name)), signal.SIGKILL)


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    return True


if __name__ == "__main__":
    _serve()
