"""Scale-out on a real PostgreSQL: `overseer run` alone, and `overseer worker` processes
sharing a run handed to them with `--no-wait`, one of them killed and restarted."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from e2e_helpers import (
    clean_env,
    git,
    overseer_cmd,
    queue_run,
    start_worker,
    status_json,
    stop_all,
    wait_for,
)

pytestmark = pytest.mark.real


def _plan(repo: Path, log: Path, n: int, sleep: float) -> None:
    # Each agent notes which process started it ($PPID: the worker, or the run process).
    tasks = "\n".join(f"  - {{id: t{i}, prompt: write t{i}}}" for i in range(1, n + 1))
    (repo / "plan.yaml").write_text(
        f"""\
version: 1
name: scale-out
defaults: {{agent: note, timeout: 300}}
agents:
  note: {{type: shell, command: 'echo "$OVERSEER_TASK_ID $PPID" >> {log}; sleep {sleep}; echo done > "$OVERSEER_TASK_ID.txt"'}}
tasks:
{tasks}
"""
    )


def _starts(log: Path) -> list[tuple[str, int]]:
    if not log.exists():
        return []
    return [(t, int(p)) for t, p in (line.split() for line in log.read_text().splitlines() if line.strip())]


def _commits_per_task(repo: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in git(repo, "log", "--format=%(trailers:key=Overseer-Task,valueonly)").splitlines():
        if line.strip():
            counts[line.strip()] = counts.get(line.strip(), 0) + 1
    return counts


@pytest.fixture
def pg_env(fresh_postgres_url: str, tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {**clean_env(home), "OVERSEER_DATABASE__URL": fresh_postgres_url}


def test_run_on_postgres_alone(make_repo, tmp_path, pg_env):
    log = tmp_path / "starts.log"
    repo = make_repo({"a.txt": "a\n"})
    _plan(repo, log, 3, 0)
    res = subprocess.run(overseer_cmd("run", "plan.yaml", "--parallel", "2"), cwd=repo, env=pg_env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    st = status_json(repo, pg_env)
    assert {t["id"]: t["state"] for t in st["tasks"]} == {"t1": "completed", "t2": "completed", "t3": "completed"}
    assert _commits_per_task(repo) == {"t1": 1, "t2": 1, "t3": 1}


def test_workers_share_a_run_and_a_restarted_worker_finishes_its_task(make_repo, tmp_path, pg_env):
    log = tmp_path / "starts.log"
    repo = make_repo({"a.txt": "a\n"})
    _plan(repo, log, 4, 4)
    # One task per process at a time, so two workers must share the run's two slots.
    env = {**pg_env, "OVERSEER_RUN__WORKER_SLOTS": "1"}
    workers = {name: start_worker(repo, env, name, tmp_path / f"{name}.out") for name in ("w1", "w2")}
    try:
        res = queue_run(repo, env)
        assert "queued" in res.stdout
        pids = {name: p.pid for name, p in workers.items()}
        # Both workers run an agent at once; then w2 dies under its agent.
        wait_for(lambda: {p for _t, p in _starts(log)} >= set(pids.values()), 180)
        killed_task = next(t for t, p in _starts(log) if p == pids["w2"])
        workers["w2"].send_signal(signal.SIGKILL)
        workers["w2"].wait(timeout=30)
        assert status_json(repo, env)["state"] == "running"
        workers["w2"] = start_worker(repo, env, "w2", tmp_path / "w2.out")
        wait_for(lambda: status_json(repo, env)["state"] in ("completed", "failed"), 300)
    finally:
        stop_all(workers.values())
    outs = {n: (tmp_path / f"{n}.out").read_text() for n in workers}
    st = status_json(repo, env)
    assert st["state"] == "completed", (st, outs)
    assert {t["id"] for t in st["tasks"] if t["state"] == "completed"} == {"t1", "t2", "t3", "t4"}
    assert _commits_per_task(repo) == {"t1": 1, "t2": 1, "t3": 1, "t4": 1}
    # The killed worker's task ran again, once, after w2 came back: its recovery hands the task
    # back to the run's queue, and the first free worker — the restarted w2 or w1 — takes it
    # (DBOS re-enqueues a dead executor's queued workflows; docs/scale-out.md).
    again = [p for t, p in _starts(log) if t == killed_task][1:]
    assert len(again) == 1 and again[0] in (workers["w1"].pid, workers["w2"].pid), (_starts(log), outs)
    assert all((repo / f"t{i}.txt").exists() for i in range(1, 5))
    assert not any("Traceback" in o for o in outs.values()), outs
    os.sync()


def test_resume_beside_a_live_worker_leaves_its_agent_alone(make_repo, tmp_path, pg_env):
    log = tmp_path / "starts.log"
    repo = make_repo({"a.txt": "a\n"})
    _plan(repo, log, 1, 5)
    worker = subprocess.Popen(overseer_cmd("worker", "--id", "solo"), cwd=repo, env=pg_env,
                              stdout=open(tmp_path / "w.out", "a"), stderr=subprocess.STDOUT, text=True)
    try:
        res = subprocess.run(overseer_cmd("run", "plan.yaml", "--no-wait"), cwd=repo, env=pg_env,
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stdout + res.stderr
        wait_for(lambda: bool(_starts(log)), 180)
        # Another terminal attaches while the worker's agent works: it waits, it kills nothing.
        res = subprocess.run(overseer_cmd("resume"), cwd=repo, env=pg_env, capture_output=True, text=True,
                             timeout=300)
        assert res.returncode == 0, res.stdout + res.stderr
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    assert _starts(log) == [("t1", worker.pid)], (tmp_path / "w.out").read_text()
    assert status_json(repo, pg_env)["state"] == "completed"
    assert _commits_per_task(repo) == {"t1": 1}
