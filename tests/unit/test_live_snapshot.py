"""The live view's snapshot, read from a real (SQLite) store the way the engine fills it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from overseer.agents.base import AgentEvent, AgentResult
from overseer.cli.live_snapshot import SnapshotReader
from overseer.gates.result import GateResult, TestCounts
from overseer.lifecycle import TaskState
from overseer.plan.schema import ResolvedTask
from overseer.store import Store

SECRET = "tok-9f8e7d6c5b4a39281"
PLAN = {"plan": {"agents": {"py": {"type": "shell", "env": {"SERVICE_TOKEN": SECRET}}}}}


def rtask(tid: str) -> ResolvedTask:
    return ResolvedTask(
        id=tid, title=f"Task {tid}", prompt=f"do {tid}", acceptance=[], depends_on=[], priority=0,
        milestone=None, agent_name="py", agent={"type": "shell", "command": "true"}, gates=[],
        max_attempts=3, timeout=60, breakpoint="never",
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    s.create_run("r1", name="calc", plan_path="/ws/plan.yaml", workspace="/ws", plan_json=PLAN,
                 config_json={}, parallel=2, branch=None)
    s.add_tasks("r1", [rtask("build"), rtask("docs"), rtask("later")])
    yield s
    s.close()


def start(store: Store, task: str, n: int) -> str:
    if n == 1:
        store.set_task_state("r1", task, TaskState.READY)
    store.set_task_state("r1", task, TaskState.RUNNING)
    return store.start_attempt("r1", task, n, prompt="p", agent_name="py", agent_type="shell",
                               checkpoint_sha=None, transcript_path=None)


def test_snapshot_of_a_run_in_progress(store: Store) -> None:
    a1 = start(store, "build", 1)
    store.finish_attempt(a1, AgentResult(status="completed", input_tokens=100, output_tokens=20,
                                         cost_usd=0.25, duration_s=30.0))
    store.add_gate_results(a1, [GateResult(name="tests", passed=False, exit_code=1,
                                           tests=TestCounts(passed=3, failed=1),
                                           failing_tests=["test_add"])])
    store.set_task_state("r1", "build", TaskState.BLOCKED)
    bp = store.open_breakpoint("r1", "after_task", f"check it; key {SECRET}", task_id="build",
                               attempt_id=a1)
    d1 = start(store, "docs", 1)
    events = [AgentEvent(kind="text", data={"text": "reading the code"}),
              AgentEvent(kind="file_change", data={"changes": [{"path": "README.md", "change": "edit"}]}),
              AgentEvent(kind="tool_call", data={"name": "Bash", "command": f"echo {SECRET}"}),
              AgentEvent(kind="tool_result", data={"output": "done"}),
              AgentEvent(kind="file_change", data={"path": "README.md"})]
    for seq, ev in enumerate(events):
        store.add_event(d1, seq, ev)

    reader = SnapshotReader(store, "r1")
    attempt = store.get_attempt(d1)
    assert attempt is not None
    snap = reader.read(attempt.started_at + timedelta(seconds=42))

    assert (snap.run_id, snap.name, snap.state, snap.paused, snap.finished) == ("r1", "calc", "running", False, False)
    rows = {t.id: t for t in snap.tasks}
    assert [t.id for t in snap.tasks] == ["build", "docs", "later"]
    assert (rows["build"].state, rows["build"].attempt, rows["build"].tokens, rows["build"].cost_usd,
            rows["build"].elapsed_s) == ("blocked", 1, 120, 0.25, 30.0)
    assert rows["docs"].state == "running" and rows["docs"].elapsed_s == pytest.approx(42.0)
    assert rows["later"].elapsed_s is None and rows["later"].attempt == 0
    [act] = snap.activity
    # The latest message or tool call, not the tool's result; each file once.
    assert (act.task, act.attempt, act.files) == ("docs", 1, ("README.md",))
    assert act.last.startswith("tool_call: Bash echo") and SECRET not in act.last
    [gate] = snap.gates
    assert (gate.task, gate.attempt, gate.passed) == ("build", 1, False)
    assert "tests FAILED" in gate.text and "test_add" in gate.text
    [open_bp] = snap.breakpoints
    assert (open_bp.id, open_bp.task, open_bp.kind) == (bp, "build", "after_task")
    assert SECRET not in open_bp.message
    assert (snap.tokens, snap.cost_usd) == (120, 0.25)

    # Later reads see only what changed: new events, resolved breakpoints, pause.
    store.add_event(d1, len(events), AgentEvent(kind="text", data={"text": "all done"}))
    store.resolve_breakpoint(bp, "approved", note=None, resolved_by="me")
    store.set_run_paused("r1", True)
    snap = reader.read(datetime.now(UTC))
    assert snap.activity[0].last == "all done" and snap.activity[0].files == ("README.md",)
    assert snap.breakpoints == () and snap.paused


def test_a_finished_run_counts_elapsed_to_its_end(store: Store) -> None:
    from overseer.lifecycle import RunState

    store.set_run_state("r1", RunState.FAILED, error="task docs failed")
    run = store.get_run("r1")
    assert run is not None and run.finished_at is not None
    snap = SnapshotReader(store, "r1").read(run.finished_at + timedelta(hours=5))
    assert snap.finished and snap.state == "failed" and snap.error == "task docs failed"
    assert snap.elapsed_s == pytest.approx((run.finished_at - run.created_at).total_seconds())
