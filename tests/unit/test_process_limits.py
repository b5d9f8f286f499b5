"""run_process ends an agent by exit, timeout, stall or cancel — each limit acting without a
periodic check (the runner sleeps until the nearer limit or an exit/cancel wakes it)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from overseer.agents.process import ProcessOutcome, run_process


def run(argv: list[str], tmp_path: Path, *, timeout: float = 30, stall_after: float = 30,
        cancel: threading.Event | None = None) -> tuple[ProcessOutcome, list[str]]:
    lines: list[str] = []
    out = run_process(argv, cwd=tmp_path, env=dict(os.environ), on_line=lines.append,
                      timeout=timeout, stall_after=stall_after, cancel=cancel)
    return out, lines


@pytest.mark.parametrize(
    ("script", "timeout", "stall_after", "ended_by", "exit_code"),
    [
        ("echo hi; exit 3", 30, 30, "exit", 3),
        ("sleep 30", 1, 30, "timeout", -15),  # silent past its timeout, well before the stall
        ("sleep 30", 30, 1, "stalled", -15),  # silent past the stall limit
        # Output keeps pushing the stall limit on: a line every 0.3 s for ~2 s with a 1 s stall
        # limit runs to its own exit.
        ("for i in 1 2 3 4 5 6; do echo $i; sleep 0.3; done", 30, 1, "exit", 0),
        # ...but not past the timeout.
        ("while true; do echo x; sleep 0.2; done", 1.5, 1, "timeout", -15),
    ],
)
def test_limits(tmp_path: Path, script: str, timeout: float, stall_after: float, ended_by: str,
                exit_code: int) -> None:
    out, lines = run(["bash", "-c", script], tmp_path, timeout=timeout, stall_after=stall_after)
    assert (out.ended_by, out.exit_code) == (ended_by, exit_code), lines


def test_cancel_ends_it_without_waiting_for_a_limit(tmp_path: Path) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.5, cancel.set)
    timer.start()
    out, _ = run(["sleep", "60"], tmp_path, timeout=600, stall_after=600, cancel=cancel)
    timer.join()
    assert (out.ended_by, out.exit_code) == ("cancelled", -15)


def test_an_infinite_limit_is_a_finite_wait(tmp_path: Path) -> None:
    out, lines = run(["bash", "-c", "echo done"], tmp_path, timeout=float("inf"), stall_after=float("inf"))
    assert (out.ended_by, out.exit_code, lines) == ("exit", 0, ["done"])
