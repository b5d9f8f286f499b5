"""No agent outlives its supervisor: after `kill -9` of `overseer run` or of a worker, the
agent's whole tree — a helper in a session of its own included — is gone within a second, and
nothing writes to the tree afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from e2e_helpers import alive, clean_env, overseer_cmd, wait_for

# The agent starts a helper that leaves its process group (setsid), notes both pids, then
# sleeps; had it lived, it would write late.txt.
AGENT = """\
setsid bash -c 'sleep 4; echo helper > helper-late.txt' &
echo "$$ $!" > "$PIDS"
sleep 4
echo late > late.txt
"""


def _plan(repo: Path) -> None:
    (repo / "tools").mkdir(exist_ok=True)
    (repo / "tools" / "agent.sh").write_text(AGENT)
    (repo / "plan.yaml").write_text("""\
version: 1
name: orphans
defaults: {agent: sh, timeout: 300}
agents:
  sh: {type: shell, command: "bash tools/agent.sh"}
tasks:
  - {id: one, prompt: take your time}
""")


def _killed_under_its_agent(proc: subprocess.Popen[bytes], pids_file: Path) -> list[int]:
    try:
        wait_for(lambda: pids_file.exists() and len(pids_file.read_text().split()) == 2, 120)
        pids = [int(p) for p in pids_file.read_text().split()]
        assert all(alive(p) for p in pids)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    return pids


def _gone_and_silent(repo: Path, pids: list[int]) -> None:
    wait_for(lambda: not any(alive(p) for p in pids), timeout=1.0)
    time.sleep(4.5)  # past the moment the agent and its helper would have written
    assert not (repo / "late.txt").exists() and not (repo / "helper-late.txt").exists()


def test_kill_9_of_run_takes_the_agent_and_its_helpers_with_it(make_repo, tmp_path):
    repo = make_repo({"a.txt": "a\n"})
    _plan(repo)
    env = {**clean_env(tmp_path / "home"), "PIDS": str(tmp_path / "pids")}
    (tmp_path / "home").mkdir()
    proc = subprocess.Popen(overseer_cmd("run", "plan.yaml", "--plain"), cwd=repo, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pids = _killed_under_its_agent(proc, tmp_path / "pids")
    _gone_and_silent(repo, pids)


@pytest.mark.real
def test_kill_9_of_a_worker_takes_its_agent_with_it(make_repo, tmp_path, fresh_postgres_url):
    repo = make_repo({"a.txt": "a\n"})
    _plan(repo)
    (tmp_path / "home").mkdir()
    env = {**clean_env(tmp_path / "home"), "PIDS": str(tmp_path / "pids"),
           "OVERSEER_DATABASE__URL": fresh_postgres_url}
    worker = subprocess.Popen(overseer_cmd("worker", "--id", "doomed"), cwd=repo, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        res = subprocess.run(overseer_cmd("run", "plan.yaml", "--no-wait"), cwd=repo, env=env,
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stdout + res.stderr
        pids = _killed_under_its_agent(worker, tmp_path / "pids")
    finally:
        if worker.poll() is None:
            worker.kill()
    _gone_and_silent(repo, pids)
