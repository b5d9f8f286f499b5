"""One process executes a run: a second holder is refused while the first lives, not after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from overseer.engine.run_lock import executing, executor_pid, lock_path
from overseer.errors import OverseerError


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    with executing(tmp_path, "r1"):
        with pytest.raises(OverseerError) as e, executing(tmp_path, "r1"):
            pass
        assert f"pid {os.getpid()}" in e.value.message and "overseer cancel r1" in (e.value.hint or "")
        with executing(tmp_path, "r2"):  # another run is another lock
            pass
    with executing(tmp_path, "r1"):  # released on the way out
        pass


def test_a_holder_killed_by_sigkill_leaves_no_stale_lock(tmp_path):
    code = ("import sys, time; from pathlib import Path; from overseer.engine.run_lock import executing\n"
            "with executing(Path(sys.argv[1]), 'r1'):\n    print('held', flush=True); time.sleep(300)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        with pytest.raises(OverseerError, match=f"pid {proc.pid}"), executing(tmp_path, "r1"):
            pass
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert lock_path(tmp_path, "r1").exists()
    assert executor_pid(tmp_path, "r1") is None
    with executing(tmp_path, "r1"):
        pass


def test_executor_pid_names_the_live_holder_only(tmp_path):
    assert executor_pid(tmp_path, "r1") is None  # never executed: no lock file at all
    with executing(tmp_path, "r1"):
        assert executor_pid(tmp_path, "r1") == os.getpid()
        assert executor_pid(tmp_path, "r2") is None
    assert executor_pid(tmp_path, "r1") is None
    with executing(tmp_path, "r1"):  # asking took no lock that would refuse the next holder
        pass
