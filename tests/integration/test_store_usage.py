"""The narrow reads the engine polls and evaluates rules with (usage, run_state): they must agree
with the full status query they replace, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from overseer.agents.base import AgentResult
from overseer.errors import StoreError
from overseer.lifecycle import RunState, TaskState
from overseer.plan.schema import GateSpec, ResolvedTask
from overseer.store import Store


def rtask(tid: str) -> ResolvedTask:
    return ResolvedTask(
        id=tid, title=tid, prompt="p", acceptance=[], depends_on=[], priority=0, milestone=None,
        agent_name="coder", agent={"type": "shell", "command": "true"},
        gates=[GateSpec(name="tests", run="true")], max_attempts=3, timeout=60, breakpoint="never",
    )


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store.open(store_url)
    yield s
    s.close()


PLAN = {"plan": {"name": "big"}, "resolved_tasks": [{"id": f"t{i}"} for i in range(50)]}


def attempt(store: Store, run_id: str, task_id: str, n: int, **usage: object) -> None:
    if n == 1:
        store.set_task_state(run_id, task_id, TaskState.READY)
        store.set_task_state(run_id, task_id, TaskState.RUNNING)
    aid = store.start_attempt(run_id, task_id, n, prompt="p", agent_name="coder", agent_type="shell",
                              checkpoint_sha="c0ffee", transcript_path=None)
    store.finish_attempt(aid, AgentResult.model_validate({"status": "completed", "duration_s": 1.0, **usage}))


def test_usage_matches_status_for_every_task(store: Store) -> None:
    store.create_run("r", name="n", plan_path="p", workspace="/ws", plan_json=PLAN, config_json={},
                     parallel=2, branch="main")
    store.add_tasks("r", [rtask("a"), rtask("b"), rtask("c")])
    attempt(store, "r", "a", 1, input_tokens=100, output_tokens=10)  # no cost reported
    attempt(store, "r", "a", 2, input_tokens=50, output_tokens=5, cost_usd=0.25)
    attempt(store, "r", "b", 1, input_tokens=7, output_tokens=3, cost_usd=1.5)

    st = store.status("r")
    for t in st["tasks"]:
        u = store.usage("r", t["id"])
        assert u.task_cost_usd == t["cost_usd"]
        assert u.task_tokens == t["input_tokens"] + t["output_tokens"]
        assert (u.run_cost_usd, u.run_tokens) == (st["totals"]["cost_usd"], st["totals"]["tokens"])
    assert store.usage("r", "a")[:2] == (0.25, 165)
    assert store.usage("r", "c")[:2] == (None, 0)
    assert store.usage("r", "a")[2:] == (1.75, 175)
    # Locking the run for those writes skipped loading its plan; the plan is still all there.
    run = store.get_run("r")
    assert run is not None and run.plan_json == PLAN
    with pytest.raises(StoreError, match="no task 'zz'"):
        store.usage("r", "zz")


def test_run_state_follows_the_run(store: Store) -> None:
    assert store.run_state("nope") is None
    store.create_run("r", name="n", plan_path="p", workspace="/ws", plan_json=PLAN, config_json={},
                     parallel=1, branch="main")
    assert store.run_state("r") == RunState.RUNNING.value
    store.set_run_state("r", RunState.CANCELLED)
    assert store.run_state("r") == "cancelled"
