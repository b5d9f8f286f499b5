"""Crash injection: `kill -9` of `overseer run` at moments chosen at random (seeded, so a
failure reproduces with OVERSEER_CRASH_SEED), each followed by `overseer resume`; and of one of
two workers sharing a run on PostgreSQL, restarted. After each: no task completed before the
kill ran again, one commit per task, a clean tree, no worktree left behind, and no agent alive
from before the kill (docs/architecture.md, "Crash safety").

OVERSEER_CRASH_KILLS and OVERSEER_CRASH_WORKER_KILLS set how many runs are tried (8 and 3);
the tests print the kill points."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import (
    alive,
    clean_env,
    git,
    overseer_cmd,
    queue_run,
    start_worker,
    status_json,
    stop_all,
    wait_for,
)

SEED = int(os.environ.get("OVERSEER_CRASH_SEED", "20261207"))
KILLS = int(os.environ.get("OVERSEER_CRASH_KILLS", "8"))
TASKS = ["a", "b", "c", "d"]

AGENT = """\
echo "$OVERSEER_TASK_ID $OVERSEER_ATTEMPT $$" >> "$AGENT_LOG"
sleep 0.$((RANDOM % 6 + 2))
echo "$OVERSEER_TASK_ID done" > "$OVERSEER_TASK_ID.txt"
"""


PLAN = """\
version: 1
name: crash-injection
defaults: {agent: sh, timeout: 120}
agents:
  sh: {type: shell, command: "bash tools/agent.sh"}
tasks:
  - {id: a, prompt: do a, gates: [{name: made, run: "test -f a.txt"}]}
  - {id: b, prompt: do b, depends_on: [a], gates: [{name: made, run: "test -f b.txt"}]}
  - {id: c, prompt: do c, gates: [{name: made, run: "test -f c.txt"}]}
  - {id: d, prompt: do d, depends_on: [b, c], gates: [{name: made, run: "test -f d.txt"}]}
"""


def _agent_lines(log: Path) -> list[tuple[str, int]]:
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        task, _attempt, pid = line.split()
        out.append((task, int(pid)))
    return out


def _new_repo(repo: Path) -> Path:
    repo.mkdir()
    (repo / "tools").mkdir()
    (repo / "tools" / "agent.sh").write_text(AGENT)
    (repo / "plan.yaml").write_text(PLAN)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    return repo


def _recorded(repo: Path, env: dict[str, str]) -> dict[str, Any]:
    """The run as the store has it after the kill; no tasks when it was killed before the run
    was recorded."""
    res = subprocess.run(overseer_cmd("status", "--json"), cwd=repo, env=env, capture_output=True,
                         text=True, timeout=60)
    if res.returncode != 0:
        assert "no runs yet" in res.stderr, res.stderr  # anything else is a broken store
        return {"tasks": []}
    return dict(json.loads(res.stdout))


def _one_kill(tmp_path: Path, i: int) -> str:
    rng = random.Random(SEED + i)
    # The moment: after the k-th agent start (k = 0: while the run starts up), plus a random
    # slice of time — so kills land in every phase, on a fast machine or a loaded one alike.
    parallel, k, extra = rng.choice([1, 2]), rng.randint(0, len(TASKS)), rng.uniform(0.0, 0.8)
    root = tmp_path / f"try{i}"
    root.mkdir()
    repo = _new_repo(root / "repo")
    (root / "home").mkdir()
    log = root / "agent.log"
    env = {**clean_env(root / "home"), "AGENT_LOG": str(log)}
    moment = f"after agent start {k} + {extra:.2f}s" if k else f"{extra:.2f}s into start-up"

    proc = subprocess.Popen(overseer_cmd("run", "plan.yaml", "--plain", "--parallel", str(parallel)),
                            cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(_agent_lines(log)) >= k or proc.poll() is not None, timeout=120)
        time.sleep(extra)
        if proc.poll() is not None:
            return f"try {i}: parallel {parallel}, the run ended before {moment} (no kill)"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    before = _agent_lines(log)
    wait_for(lambda: not any(alive(pid) for _, pid in before), timeout=1.0)
    state = _recorded(repo, env)
    done_before = {t["id"] for t in state["tasks"] if t["state"] == "completed"}
    runs_before = {t: sum(1 for x, _ in before if x == t) for t in TASKS}

    if not state["tasks"]:
        # Killed before the run was recorded: nothing to resume, so it is simply run again.
        res = subprocess.run(overseer_cmd("run", "plan.yaml", "--plain", "--parallel", str(parallel)),
                             cwd=repo, env=env,
                             capture_output=True, text=True, timeout=300)
    else:
        res = subprocess.run(overseer_cmd("resume", "--plain"), cwd=repo, env=env,
                             capture_output=True, text=True, timeout=300)
    where = f"try {i} (seed {SEED + i}, parallel {parallel}, killed {moment})"
    assert res.returncode == 0, f"{where}: {res.stdout}{res.stderr}"

    after = _agent_lines(log)
    final = status_json(repo, env)
    assert final["state"] == "completed", where
    assert {t["id"]: t["state"] for t in final["tasks"]} == dict.fromkeys(TASKS, "completed"), where
    for t in done_before:
        assert sum(1 for x, _ in after if x == t) == runs_before[t], f"{where}: {t} ran again"
    for t in TASKS:
        commits = git(repo, "log", "--format=%H", "--grep", f"Overseer-Task: {t}$").split()
        assert len(commits) == 1, f"{where}: {len(commits)} commits of task {t}"
        assert (repo / f"{t}.txt").read_text() == f"{t} done\n", where
    assert git(repo, "status", "--porcelain") == "", f"{where}: the tree is not clean"
    assert len(git(repo, "worktree", "list").splitlines()) == 1, f"{where}: a worktree was left behind"
    assert not any(alive(pid) for _, pid in before), f"{where}: an agent from before the kill is alive"
    return f"{where}: {len(done_before)} task(s) done at the kill, {len(before)} agent start(s) before it"


def test_kill_9_at_random_moments_then_resume(tmp_path, capsys) -> None:
    report = [_one_kill(tmp_path, i) for i in range(KILLS)]
    killed = [r for r in report if "no kill" not in r]
    with capsys.disabled():
        print(f"\ncrash injection: {len(killed)} kill points of {KILLS} tries (seed {SEED})")
        for line in report:
            print("  " + line)
    # Most tries must land inside the run, or the test checks nothing.
    assert len(killed) >= (KILLS + 1) // 2, report


WORKER_KILLS = int(os.environ.get("OVERSEER_CRASH_WORKER_KILLS", "3"))


def _one_worker_kill(tmp_path: Path, cluster: Any, i: int) -> str:
    rng = random.Random(SEED * 31 + i)
    k, extra, victim = rng.randint(1, len(TASKS) - 1), rng.uniform(0.0, 0.6), rng.choice(["w1", "w2"])
    where = f"worker try {i} (kill {victim} after agent start {k} + {extra:.2f}s)"
    root = tmp_path / f"w{i}"
    root.mkdir()
    repo = _new_repo(root / "repo")
    (root / "home").mkdir()
    log = root / "agent.log"
    url = cluster.create_database()
    env = {**clean_env(root / "home"), "AGENT_LOG": str(log), "OVERSEER_DATABASE__URL": url,
           "OVERSEER_RUN__WORKER_SLOTS": "1"}
    workers = {name: start_worker(repo, env, name) for name in ("w1", "w2")}
    try:
        queue_run(repo, env)
        wait_for(lambda: len(_agent_lines(log)) >= k, timeout=180)
        time.sleep(extra)
        os.kill(workers[victim].pid, signal.SIGKILL)
        workers[victim].wait(timeout=30)
        # The other worker goes on meanwhile: the tasks completed by now first, then the agent
        # starts, so every completed task's start is among those counted.
        done_before = {t["id"] for t in status_json(repo, env)["tasks"] if t["state"] == "completed"}
        before = _agent_lines(log)
        runs_before = {t: sum(1 for x, _ in before if x == t) for t in TASKS}
        workers[victim] = start_worker(repo, env, victim)
        wait_for(lambda: status_json(repo, env)["state"] in ("completed", "failed"), timeout=300)
        final = status_json(repo, env)
    finally:
        stop_all(workers.values())
        cluster.drop_database(url.rsplit("/", 1)[1])
    assert final["state"] == "completed", f"{where}: {final}"
    after = _agent_lines(log)
    for t in done_before:
        assert sum(1 for x, _ in after if x == t) == runs_before[t], f"{where}: {t} ran again"
    for t in TASKS:
        commits = git(repo, "log", "--format=%H", "--grep", f"Overseer-Task: {t}$").split()
        assert len(commits) == 1, f"{where}: {len(commits)} commits of task {t}"
    assert git(repo, "status", "--porcelain") == "", where
    assert len(git(repo, "worktree", "list").splitlines()) == 1, where
    assert not any(alive(pid) for _, pid in before), f"{where}: an agent from before the kill is alive"
    return f"{where}: {len(done_before)} task(s) done at the kill"


@pytest.mark.real
def test_kill_9_of_a_worker_at_random_moments(tmp_path, postgres_cluster, capsys) -> None:
    """Two workers on PostgreSQL share a run; one is killed at a random moment and restarted.
    The same checks hold: nothing completed re-runs, one commit per task, a clean tree, no
    worktree left, no agent alive from before the kill."""
    report = [_one_worker_kill(tmp_path, postgres_cluster, i) for i in range(WORKER_KILLS)]
    with capsys.disabled():
        print(f"\nworker crash injection: {len(report)} kill points (seed {SEED})")
        for line in report:
            print("  " + line)
