"""After an answer: who carries the run on — its live process, a worker, nobody (and then
`overseer resume`), or nothing because the run is over. The case where a process is started is
the browser test's (tests/e2e/test_serve_playwright.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from overseer.engine.continuation import after_answer
from overseer.engine.run_lock import executing
from overseer.lifecycle import RunState
from overseer.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    s.create_run("r1", name="n", plan_path=str(tmp_path / "plan.yaml"), workspace=str(tmp_path),
                 plan_json={"version": 1, "name": "n"}, config_json={}, parallel=1, branch="main")
    s.set_run_state("r1", RunState.WAITING)
    return s


def test_nobody_executing_the_run_is_said_with_the_command_and_nothing_started(
    store: Store, tmp_path: Path
) -> None:
    went = after_answer(store, tmp_path, "r1", start=False)
    assert went.how == "stopped" and went.pid is None
    assert "continue it with `overseer resume r1`" in went.message
    assert not (tmp_path / ".overseer" / "runs" / "r1" / "run.log").exists()


@pytest.mark.parametrize("start", [False, True])
def test_a_live_executor_carries_it_on_and_nothing_is_started(
    store: Store, tmp_path: Path, start: bool
) -> None:
    with executing(tmp_path, "r1"):
        went = after_answer(store, tmp_path, "r1", start=start)
    assert (went.how, went.pid) == ("executing", os.getpid())
    assert f"process {os.getpid()} is executing run r1" in went.message


@pytest.mark.parametrize("start", [False, True])
def test_a_queued_run_is_left_to_the_workers(store: Store, tmp_path: Path, start: bool) -> None:
    store.set_run_dispatch("r1", "queue")
    went = after_answer(store, tmp_path, "r1", start=start)
    assert went.how == "queued" and "overseer worker" in went.message
    assert not (tmp_path / ".overseer" / "runs" / "r1" / "run.log").exists()


def test_a_finished_run_needs_nothing(store: Store, tmp_path: Path) -> None:
    store.set_run_state("r1", RunState.CANCELLED)
    went = after_answer(store, tmp_path, "r1", start=True)
    assert went.how == "finished" and "cancelled" in went.message
    assert not (tmp_path / ".overseer" / "runs" / "r1" / "run.log").exists()
