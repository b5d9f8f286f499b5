"""A usage limit parks the task until its reset time — across a kill -9 — then resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import UTC, datetime

from e2e_helpers import clean_env, git, overseer_cmd

AGENT = """\
import datetime, os, sys, time
log = os.environ["AGENT_LOG"]
runs = open(log).read().count(os.environ["OVERSEER_TASK_ID"]) if os.path.exists(log) else 0
with open(log, "a") as f:
    f.write(f"{os.environ['OVERSEER_TASK_ID']} {os.environ['OVERSEER_ATTEMPT']} {time.time()}\\n")
if os.environ["OVERSEER_TASK_ID"] == "limited" and runs == 0:
    reset = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=6)
    open(os.environ["RESET_FILE"], "w").write(reset.isoformat())
    print("usage limit reached")
    print(f"retry-at: {reset.isoformat()}")
    sys.exit(75)
open(os.environ["OVERSEER_TASK_ID"] + ".txt", "w").write("done\\n")
"""


def test_rate_limit_parks_until_reset_across_a_restart(make_repo, tmp_path):
    log, reset_file = tmp_path / "agent.log", tmp_path / "reset"
    repo = make_repo({"tools/agent.py": AGENT})
    (repo / "plan.yaml").write_text(
        f"""\
version: 1
name: rl
defaults: {{agent: py, timeout: 60, max_attempts: 1}}
agents:
  py: {{type: shell, command: "python3 tools/agent.py", env: {{AGENT_LOG: "{log}", RESET_FILE: "{reset_file}"}}}}
tasks:
  - {{id: limited, prompt: hit the limit}}
  - {{id: other, prompt: independent work}}
"""
    )
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    proc = subprocess.Popen(overseer_cmd("run", "plan.yaml"), cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    # Wait until the independent task has finished while the limited one is parked.
    while time.monotonic() < deadline and not (log.exists() and "other" in log.read_text()):
        time.sleep(0.1)
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)

    res = subprocess.run(overseer_cmd("resume"), cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr

    runs = [line.split() for line in log.read_text().splitlines()]
    limited = [r for r in runs if r[0] == "limited"]
    assert len(limited) == 2, runs
    reset = datetime.fromisoformat(reset_file.read_text())
    # The second try started no earlier than the reset time the agent reported.
    assert datetime.fromtimestamp(float(limited[1][2]), UTC) >= reset
    assert [r[0] for r in runs].count("other") == 1
    st = json.loads(subprocess.run(overseer_cmd("status", "--json"), cwd=repo, env=env,
                                   capture_output=True, text=True).stdout)
    assert st["state"] == "completed"
    # max_attempts is 1, yet the task completed: the usage limit cost no attempt.
    assert {t["id"]: t["state"] for t in st["tasks"]} == {"limited": "completed", "other": "completed"}
    # Nor does `status` count the parked wait as an attempt (docs/agents.md).
    assert {t["id"]: t["attempts"] for t in st["tasks"]} == {"limited": 1, "other": 1}
    kinds = [(b["kind"], b["state"]) for b in st["breakpoints"]]
    assert kinds == [("rate_limit_hit", "auto")]
    assert "limited: limited" in git(repo, "log", "--format=%s")
