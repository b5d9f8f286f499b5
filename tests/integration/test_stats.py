"""Outcomes of decisions and `overseer stats`, on a store filled directly (SQLite and a real
PostgreSQL), and once through the installed console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from overseer.agents.base import AgentResult
from overseer.engine.decide import Decision
from overseer.engine.outcomes import compute_stats, record_outcomes
from overseer.lifecycle import TaskState
from overseer.plan.schema import ResolvedTask
from overseer.store import Store
from overseer.supervisor.review import Verdict

S = TaskState


def rtask(tid: str, agent: str) -> ResolvedTask:
    return ResolvedTask(
        id=tid, title=tid, prompt=f"do {tid}", acceptance=[], depends_on=[], priority=0,
        milestone=None, agent_name=agent, agent={"type": "shell", "command": "true"}, gates=[],
        max_attempts=3, timeout=60, breakpoint="never",
    )


def attempt(store: Store, run_id: str, tid: str, n: int, action: str,
            verdict: tuple[float, str] | None = None) -> str:
    agent = store.get_task(run_id, tid).agent_name
    aid = store.start_attempt(run_id, tid, n, prompt="p", agent_name=agent, agent_type="shell",
                              checkpoint_sha=None, transcript_path=None)
    store.finish_attempt(aid, AgentResult(status="completed"))
    if verdict is not None:
        conf, reviewer = verdict
        store.add_verdict(aid, Verdict(complete=action == "proceed", score=conf, confidence=conf,
                                       reviewer=reviewer))
    bp = {"kind": "conflicting_solutions", "message": "m"} if action == "escalate" else None
    store.add_decision(aid, Decision.model_validate(
        {"action": action, "reasons": [f"{action} because"], "breakpoint": bp}))
    return aid


def states(store: Store, run_id: str, tid: str, *seq: TaskState) -> None:
    for s in seq:
        store.set_task_state(run_id, tid, s)


def fill(store: Store, run_id: str = "run-1", workspace: str = "/ws") -> dict[str, str]:
    """Six tasks, one per kind of outcome. Returns name -> attempt id."""
    store.create_run(run_id, name="r", plan_path="plan.yaml", workspace=workspace, plan_json={},
                     config_json={}, parallel=1, branch=None)
    store.add_tasks(run_id, [rtask("a", "coder"), rtask("b", "coder"), rtask("c", "helper"),
                             rtask("d", "coder"), rtask("e", "helper"), rtask("f", "helper")])
    ids: dict[str, str] = {}
    # a: retried, then proceeded and held up
    states(store, run_id, "a", S.READY, S.RUNNING)
    ids["a1"] = attempt(store, run_id, "a", 1, "retry", (0.3, "embedded:m"))
    states(store, run_id, "a", S.RETRYING, S.RUNNING)
    ids["a2"] = attempt(store, run_id, "a", 2, "proceed", (0.9, "embedded:m"))
    states(store, run_id, "a", S.COMPLETED)
    # b: escalated, a person approved
    states(store, run_id, "b", S.READY, S.RUNNING)
    ids["b1"] = attempt(store, run_id, "b", 1, "escalate", (0.5, "embedded:m"))
    bp = store.open_breakpoint(run_id, "conflicting_solutions", "m", task_id="b", attempt_id=ids["b1"])
    states(store, run_id, "b", S.BLOCKED)
    store.resolve_breakpoint(bp, "approved")
    states(store, run_id, "b", S.READY, S.RUNNING, S.COMPLETED)
    # c: retried, then aborted
    states(store, run_id, "c", S.READY, S.RUNNING)
    ids["c1"] = attempt(store, run_id, "c", 1, "retry")
    states(store, run_id, "c", S.RETRYING, S.RUNNING)
    ids["c2"] = attempt(store, run_id, "c", 2, "abort")
    states(store, run_id, "c", S.FAILED)
    # d: proceeded with a confident reviewer, then rolled back by a person (re-opened)
    states(store, run_id, "d", S.READY, S.RUNNING)
    ids["d1"] = attempt(store, run_id, "d", 1, "proceed", (0.95, "embedded:m"))
    states(store, run_id, "d", S.COMPLETED, S.PENDING)
    # e: escalated, still waiting: no outcome yet
    states(store, run_id, "e", S.READY, S.RUNNING)
    ids["e1"] = attempt(store, run_id, "e", 1, "escalate", (0.1, "rules"))
    store.open_breakpoint(run_id, "conflicting_solutions", "m", task_id="e", attempt_id=ids["e1"])
    states(store, run_id, "e", S.BLOCKED)
    # f: escalated, a person rejected on the last attempt
    states(store, run_id, "f", S.READY, S.RUNNING)
    ids["f1"] = attempt(store, run_id, "f", 1, "escalate", (0.7, "embedded:m"))
    bp = store.open_breakpoint(run_id, "conflicting_solutions", "m", task_id="f", attempt_id=ids["f1"])
    states(store, run_id, "f", S.BLOCKED)
    store.resolve_breakpoint(bp, "rejected", note="no")
    states(store, run_id, "f", S.FAILED)
    return ids


EXPECTED = {"a1": "retry_succeeded", "a2": "final", "b1": "approved", "c1": "retry_failed",
            "c2": "final", "d1": "regressed_later", "f1": "rejected"}


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store.open(store_url)
    yield s
    s.close()


def test_record_outcomes_labels_each_decision(store: Store) -> None:
    ids = fill(store)
    labels = record_outcomes(store, "run-1")
    assert labels == {ids[k]: v for k, v in EXPECTED.items()}
    for k, v in EXPECTED.items():
        d = store.decision(ids[k])
        assert d is not None and d.outcome == v
    e1 = store.decision(ids["e1"])
    assert e1 is not None and e1.outcome is None  # still waiting for a person
    assert record_outcomes(store, "run-1") == labels  # idempotent


def test_stats(store: Store) -> None:
    fill(store)
    st = compute_stats(store, ["run-1"])
    agents = {a["agent"]: a for a in st["agents"]}
    assert agents["coder"] == {"agent": "coder", "tasks": 3, "completed": 2,
                               "success_rate": round(2 / 3, 3), "attempts": 4}
    assert agents["helper"]["tasks"] == 3 and agents["helper"]["completed"] == 0
    assert st["attempts_per_task"] == {"tasks": 6, "mean": round(8 / 6, 2), "max": 2}
    assert st["decisions"] == {"abort": 1, "escalate": 3, "proceed": 2, "retry": 2}
    # Outcomes not yet stored are computed the same way.
    assert st["outcomes"] == {"approved": 1, "final": 2, "regressed_later": 1, "rejected": 1,
                              "retry_failed": 1, "retry_succeeded": 1, "unknown": 1}
    rel = {b["bucket"]: b for b in st["reliability"]}
    # 0.3 retry: a verdict, no proceed; rules verdicts are not counted.
    assert rel["0.2-0.4"] == {"bucket": "0.2-0.4", "verdicts": 1, "proceeded": 0, "held_up": 0,
                              "held_up_share": None}
    assert rel["0.4-0.6"]["proceeded"] == rel["0.4-0.6"]["held_up"] == 1  # b, approved
    assert rel["0.6-0.8"]["verdicts"] == 1 and rel["0.6-0.8"]["proceeded"] == 0  # f, rejected
    # 0.9 held up, 0.95 was rolled back later.
    assert rel["0.8-1.0"] == {"bucket": "0.8-1.0", "verdicts": 2, "proceeded": 2, "held_up": 1,
                              "held_up_share": 0.5}
    assert rel["0.0-0.2"]["verdicts"] == 0


def test_stats_across_runs(store: Store) -> None:
    fill(store, "run-1")
    fill(store, "run-2")
    st = compute_stats(store, ["run-1", "run-2"])
    assert st["attempts_per_task"]["tasks"] == 12
    assert sum(st["decisions"].values()) == 16


# -- the console script --------------------------------------------------------------------


def _overseer() -> list[str]:
    exe = Path(sys.executable).parent / "overseer"
    return [str(exe)] if exe.exists() else [shutil.which("overseer") or "overseer"]


def _cli(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERSEER_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    return subprocess.run([*_overseer(), *args], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=120)


def test_stats_command(tmp_path: Path) -> None:
    repo, home = tmp_path / "repo", tmp_path / "home"
    repo.mkdir()
    home.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    res = _cli(repo, home, "stats")
    assert res.returncode != 0 and "no runs yet" in res.stderr and "Traceback" not in res.stderr

    store = Store.open(f"sqlite:///{repo / '.overseer' / 'state.db'}")
    try:
        fill(store, "run-1", str(repo))
        fill(store, "run-2", str(repo))
    finally:
        store.close()

    res = _cli(repo, home, "stats", "--json", "run-1")
    assert res.returncode == 0, res.stderr
    st: dict[str, Any] = json.loads(res.stdout)
    assert st["runs"] == ["run-1"]
    assert {a["agent"]: a["success_rate"] for a in st["agents"]} == {"coder": 0.667, "helper": 0.0}

    res = _cli(repo, home, "stats", "--json", "--all")
    assert res.returncode == 0, res.stderr
    assert sorted(json.loads(res.stdout)["runs"]) == ["run-1", "run-2"]

    res = _cli(repo, home, "stats")
    assert res.returncode == 0, res.stderr
    for text in ("coder", "67%", "attempts per task: mean 1.33, max 2", "0.8-1.0", "50%",
                 "regressed_later 1"):
        assert text in res.stdout, res.stdout
