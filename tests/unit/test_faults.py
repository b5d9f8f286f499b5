"""crash_point: a real SIGKILL exactly where, and exactly when, OVERSEER_CRASH_AT says."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

SCRIPT = """
from overseer.engine.faults import crash_point
for i in range(1, 4):
    print(i, flush=True)
    crash_point("after_agent")
    crash_point("during_gates")
print("end", flush=True)
"""


@pytest.mark.parametrize(
    ("crash_at", "rc", "printed"),
    [
        (None, 0, "1 2 3 end"),
        ("", 0, "1 2 3 end"),
        ("during_commit", 0, "1 2 3 end"),      # a point this code never reaches
        ("after_agent", -signal.SIGKILL, "1"),  # the first time by default
        ("during_gates:2", -signal.SIGKILL, "1 2"),
        ("after_agent:3", -signal.SIGKILL, "1 2 3"),
        ("after_agent:4", 0, "1 2 3 end"),      # reached only three times
        ("after", 0, "1 2 3 end"),              # a prefix names no point
    ],
)
def test_crash_point_kills_only_at_the_named_point_and_time(crash_at, rc, printed):
    env = {k: v for k, v in os.environ.items() if k != "OVERSEER_CRASH_AT"}
    if crash_at is not None:
        env["OVERSEER_CRASH_AT"] = crash_at
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout.split()) == (rc, printed.split()), proc.stderr
