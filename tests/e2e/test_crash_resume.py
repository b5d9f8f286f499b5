"""kill -9 during the second task, then `overseer resume`: nothing done twice, nothing lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess

from e2e_helpers import alive, clean_env, git, overseer_cmd, wait_for

AGENT = """\
#!/usr/bin/env bash
set -e
echo "$OVERSEER_TASK_ID $OVERSEER_ATTEMPT $$" >> "$AGENT_LOG"
if [ "$OVERSEER_TASK_ID" = two ] && [ ! -e "$FIRST_LIFE" ]; then
  touch "$FIRST_LIFE"
  echo "half-written" > two.txt
  sleep 300   # the orchestrator is killed while this runs
fi
echo "$OVERSEER_TASK_ID done" > "$OVERSEER_TASK_ID.txt"
"""


def test_kill_9_during_second_task_then_resume(make_repo, tmp_path):
    log, first_life = tmp_path / "agent.log", tmp_path / "first-life"
    repo = make_repo({"tools/agent.sh": AGENT})
    (repo / "plan.yaml").write_text(
        f"""\
version: 1
name: crash
defaults: {{agent: sh, timeout: 600}}
agents:
  sh: {{type: shell, command: "bash tools/agent.sh", env: {{AGENT_LOG: "{log}", FIRST_LIFE: "{first_life}"}}}}
tasks:
  - {{id: one, prompt: do one}}
  - {{id: two, prompt: do two, depends_on: [one]}}
  - {{id: three, prompt: do three, depends_on: [two]}}
"""
    )
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    proc = subprocess.Popen(
        overseer_cmd("run", "plan.yaml"), cwd=repo, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_for(lambda: log.exists() and "two 1" in log.read_text())
        wait_for(lambda: (repo / "two.txt").exists())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    leftover_pid = int(log.read_text().splitlines()[-1].split()[2])
    # No agent outlives its supervisor: the watchdog ends it within a second of the kill.
    wait_for(lambda: not alive(leftover_pid), timeout=1.0)

    res = subprocess.run(overseer_cmd("resume"), cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr

    lines = log.read_text().splitlines()
    runs = [" ".join(line.split()[:2]) for line in lines]
    assert runs.count("one 1") == 1, "the first task's agent must not run again"
    assert runs.count("two 1") == 2 and runs.count("three 1") == 1
    assert not alive(leftover_pid), "resume must kill the agent left over from the crash"

    subjects = git(repo, "log", "--format=%s").splitlines()
    assert subjects == ["three: three", "two: two", "one: one", "start"]
    assert len(git(repo, "log", "--format=%H", "--grep", "Overseer-Task: one").split()) == 1
    assert (repo / "two.txt").read_text() == "two done\n"
    status = json.loads(
        subprocess.run(overseer_cmd("status", "--json"), cwd=repo, env=env, capture_output=True, text=True).stdout
    )
    assert status["state"] == "completed"
    assert [t["state"] for t in status["tasks"]] == ["completed"] * 3
