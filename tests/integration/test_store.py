"""The state store against real databases: every test that takes `store` runs on SQLite and on
a real PostgreSQL cluster started by the `postgres_url` fixture."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from overseer.agents.base import AgentEvent, AgentResult
from overseer.errors import IllegalTransition, StoreError
from overseer.gates.result import GateResult, TestCounts
from overseer.lifecycle import RunState, TaskState
from overseer.plan.schema import GateSpec, ResolvedTask
from overseer.store import Store
from overseer.store.db import HEAD_REVISION, VERSION_TABLE, head_revision

TABLES = {
    "runs", "tasks", "attempts", "events", "gate_results", "verdicts", "decisions",
    "breakpoints", "checkpoints", "file_changes", "artifacts", VERSION_TABLE,
}


def rtask(tid: str, deps: list[str] | None = None, priority: int = 0) -> ResolvedTask:
    return ResolvedTask(
        id=tid, title=f"Task {tid}", prompt=f"do {tid}", acceptance=[], depends_on=deps or [],
        priority=priority, milestone=None, agent_name="coder",
        agent={"type": "shell", "command": "true"},
        gates=[GateSpec(name="tests", run="pytest -q")], max_attempts=3, timeout=60,
        breakpoint="never",
    )


def new_run(store: Store, run_id: str = "run-1", workspace: str = "/ws", **kw: object) -> str:
    args: dict[str, object] = dict(
        name="calc", plan_path="/ws/plan.yaml", workspace=workspace,
        plan_json={"version": 1, "name": "calc"}, config_json={"agent": "x"}, parallel=2,
        branch="main",
    )
    args.update(kw)
    store.create_run(run_id, **args)  # type: ignore[arg-type]
    return run_id


def result(**kw: object) -> AgentResult:
    base: dict[str, object] = dict(status="completed", final_message="done", duration_s=1.5)
    base.update(kw)
    return AgentResult.model_validate(base)


def to_running(store: Store, run_id: str, task_id: str) -> None:
    store.set_task_state(run_id, task_id, TaskState.READY)
    store.set_task_state(run_id, task_id, TaskState.RUNNING)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store.open(store_url)
    yield s
    s.close()


@pytest.fixture
def run_with_tasks(store: Store) -> str:
    run_id = new_run(store)
    store.add_tasks(run_id, [rtask("a"), rtask("b", ["a"], priority=5), rtask("c", ["a"])])
    return run_id


# -- opening and migrations -----------------------------------------------------------------


def test_open_migrates_empty_database_and_reopen_is_noop(store_url: str) -> None:
    s1 = Store.open(store_url)
    new_run(s1)
    s1.close()
    engine = create_engine(store_url)
    try:
        assert TABLES <= set(inspect(engine).get_table_names())
        with engine.connect() as c:
            versions = c.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        assert [v[0] for v in versions] == [head_revision()] == [HEAD_REVISION]
    finally:
        engine.dispose()
    s2 = Store.open(store_url)  # already at head: must neither fail nor touch data
    try:
        run = s2.get_run("run-1")
        assert run is not None and run.name == "calc"
    finally:
        s2.close()


def test_database_from_a_newer_overseer_is_store_error(store_url: str) -> None:
    Store.open(store_url).close()
    engine = create_engine(store_url)
    with engine.begin() as c:
        c.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="migrate") as err:
        Store.open(store_url)
    assert err.value.hint


def test_in_memory_sqlite_works() -> None:
    s = Store.open("sqlite://")
    try:
        new_run(s)
        assert s.get_run("run-1") is not None
    finally:
        s.close()


def test_threads_opening_the_same_fresh_database(store_url: str) -> None:
    stores: list[Store] = []
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            stores.append(Store.open(store_url))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for s in stores:
        s.close()
    assert not errors, errors
    assert len(stores) == 4


def test_sqlite_open_creates_parent_dir_and_uses_wal(tmp_path: Path) -> None:
    db = tmp_path / "deep" / "er" / ".overseer" / "state.db"
    s = Store.open(f"sqlite:///{db}")
    try:
        assert db.exists()
        with s._writer.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert (c.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 1000
    finally:
        s.close()


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "mysql://u:pw@localhost/db",
        "sqlite:///relative/state.db",
        "postgresql+nosuchdriver://u@localhost/db",
    ],
)
def test_bad_url_is_store_error_with_hint(url: str) -> None:
    with pytest.raises(StoreError) as err:
        Store.open(url)
    assert err.value.hint


def test_unreachable_postgres_is_store_error_without_password() -> None:
    with pytest.raises(StoreError) as err:
        Store.open("postgresql+psycopg://bob:hunter2@127.0.0.1:1/nowhere?connect_timeout=3")
    assert "hunter2" not in str(err.value) and "hunter2" not in (err.value.hint or "")
    assert err.value.hint


_OPENER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from overseer.store import Store
    url, run_id, gate = sys.argv[1], sys.argv[2], sys.argv[3:]
    if gate:  # imported and ready: wait for the starting gun so every open races
        Path(gate[0] + "." + run_id).touch()
        while not os.path.exists(gate[0]):
            time.sleep(0.001)
    s = Store.open(url)
    s.create_run(run_id, name="n", plan_path="p", workspace="/proc-ws", plan_json={},
                 config_json={}, parallel=1, branch=None)
    s.close()
    print("ok")
    """
)


def test_several_processes_open_a_fresh_database_at_once(store_url: str, tmp_path: Path) -> None:
    """Processes released together all migrate the same empty database; all must succeed
    (without the migration lock, PostgreSQL fails this with duplicate-table errors)."""
    gate = tmp_path / "go"
    names = [f"p{i}" for i in range(6)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, store_url, name, str(gate)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name in names
    ]
    deadline = time.monotonic() + 60
    while not all(Path(f"{gate}.{n}").exists() for n in names) and time.monotonic() < deadline:
        time.sleep(0.01)
    gate.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert out.strip() == "ok"
    s = Store.open(store_url)
    try:
        assert {r.id for r in s.list_runs("/proc-ws")} == set(names)
    finally:
        s.close()


def test_second_process_uses_sqlite_file_while_first_has_it_open(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    s = Store.open(url)
    try:
        new_run(s, "mine", workspace="/proc-ws")
        done = subprocess.run(
            [sys.executable, "-c", _OPENER, url, "theirs"],
            capture_output=True, text=True, timeout=120, check=False,
        )
        assert done.returncode == 0, done.stderr
        assert {r.id for r in s.list_runs("/proc-ws")} == {"mine", "theirs"}
        new_run(s, "mine-again", workspace="/proc-ws")  # still writable from here
    finally:
        s.close()


# -- runs --------------------------------------------------------------------------------------


def test_create_run_is_idempotent_and_readable(store: Store) -> None:
    new_run(store)
    new_run(store, name="other name")  # a repeat after a crash must not overwrite or duplicate
    run = store.get_run("run-1")
    assert run is not None
    assert (run.name, run.plan_path, run.workspace, run.parallel, run.branch) == (
        "calc", "/ws/plan.yaml", "/ws", 2, "main"
    )
    assert run.plan_json == {"version": 1, "name": "calc"} and run.config_json == {"agent": "x"}
    assert run.state is RunState.RUNNING and run.finished_at is None
    assert run.created_at.tzinfo is not None
    assert len(store.list_runs()) == 1
    assert store.get_run("nope") is None


def test_latest_run_and_prefix_lookup(store: Store) -> None:
    assert store.latest_run() is None
    new_run(store, "20260101-aaaa", workspace="/one")
    new_run(store, "20260101-aabb", workspace="/two")
    new_run(store, "20260102-cccc", workspace="/one")
    latest = store.latest_run()
    assert latest is not None and latest.id == "20260102-cccc"
    latest_two = store.latest_run("/two")
    assert latest_two is not None and latest_two.id == "20260101-aabb"
    assert store.latest_run("/three") is None
    found = store.find_run_prefix("20260102")
    assert found is not None and found.id == "20260102-cccc"
    exact = store.find_run_prefix("20260101-aaaa")
    assert exact is not None and exact.id == "20260101-aaaa"
    assert store.find_run_prefix("zzz") is None
    assert store.find_run_prefix("2026010_") is None  # LIKE wildcards are literal
    with pytest.raises(StoreError, match="ambiguous"):
        store.find_run_prefix("20260101-aa")


def test_set_run_state_stamps_finished_at_on_terminal_states(store: Store) -> None:
    new_run(store)
    store.set_run_state("run-1", RunState.WAITING)
    run = store.get_run("run-1")
    assert run is not None and run.state is RunState.WAITING and run.finished_at is None
    store.set_run_state("run-1", RunState.FAILED, error="task b failed")
    run = store.get_run("run-1")
    assert run is not None and run.state is RunState.FAILED and run.error == "task b failed"
    first = run.finished_at
    assert first is not None
    store.set_run_state("run-1", RunState.FAILED, error="task b failed")
    again = store.get_run("run-1")
    assert again is not None and again.finished_at == first
    store.set_run_state("run-1", RunState.RUNNING)  # resume
    resumed = store.get_run("run-1")
    assert resumed is not None and resumed.finished_at is None and resumed.error is None
    with pytest.raises(StoreError):
        store.set_run_state("nope", RunState.COMPLETED)


# -- tasks -------------------------------------------------------------------------------------


def test_add_tasks_pending_in_plan_order_and_idempotent(store: Store, run_with_tasks: str) -> None:
    tasks = store.list_tasks(run_with_tasks)
    assert [t.id for t in tasks] == ["a", "b", "c"]
    assert all(t.state is TaskState.PENDING and t.attempts == 0 for t in tasks)
    b = store.get_task(run_with_tasks, "b")
    assert (b.title, b.priority, b.depends_on, b.agent_name) == ("Task b", 5, ["a"], "coder")
    assert b.spec["max_attempts"] == 3 and b.cost_usd is None and b.last_decision is None

    store.set_task_state(run_with_tasks, "a", TaskState.READY)
    store.add_tasks(run_with_tasks, [rtask("a"), rtask("b", ["a"], 5), rtask("c", ["a"])])
    store.add_tasks(run_with_tasks, [rtask("d", ["c"])])
    tasks = store.list_tasks(run_with_tasks)
    assert [t.id for t in tasks] == ["a", "b", "c", "d"]
    assert tasks[0].state is TaskState.READY  # a repeat never resets progress
    with pytest.raises(StoreError):
        store.get_task(run_with_tasks, "zz")
    with pytest.raises(StoreError):
        store.add_tasks("no-such-run", [rtask("a")])


def test_task_transitions_and_illegal_ones(store: Store, run_with_tasks: str) -> None:
    r = run_with_tasks
    with pytest.raises(IllegalTransition):
        store.set_task_state(r, "a", TaskState.RUNNING)  # pending → running skips ready
    to_running(store, r, "a")
    store.set_task_state(r, "a", TaskState.RUNNING)  # same state: no-op
    store.set_task_state(r, "a", TaskState.RETRYING, reason="gate tests failed")
    t = store.get_task(r, "a")
    assert t.state is TaskState.RETRYING and t.state_reason == "gate tests failed"
    store.set_task_state(r, "a", TaskState.RUNNING)
    store.set_task_state(r, "a", TaskState.BLOCKED, reason="waiting for a human")
    store.set_task_state(r, "a", TaskState.READY)
    store.set_task_state(r, "a", TaskState.RUNNING)
    store.set_task_state(r, "a", TaskState.COMPLETED)
    with pytest.raises(IllegalTransition):
        store.set_task_state(r, "a", TaskState.RUNNING)
    assert store.get_task(r, "a").state is TaskState.COMPLETED  # the failed move changed nothing
    store.set_task_state(r, "b", TaskState.READY)
    store.set_task_state(r, "b", TaskState.FAILED, reason="its worktree could not be made")
    assert store.get_task(r, "b").state is TaskState.FAILED
    with pytest.raises(StoreError):
        store.set_task_state(r, "zz", TaskState.READY)

    store.set_task_commit(r, "a", "abc123")
    assert store.get_task(r, "a").commit_sha == "abc123"


# -- attempts and usage ----------------------------------------------------------------------


def _start(store: Store, run_id: str, task_id: str, n: int, prompt: str = "p") -> str:
    return store.start_attempt(
        run_id, task_id, n, prompt=prompt, agent_name="coder", agent_type="shell",
        checkpoint_sha="c0ffee", transcript_path=f"/ws/.overseer/{task_id}-{n}.jsonl",
    )


def test_attempt_lifecycle_and_usage_rollup(store: Store, run_with_tasks: str) -> None:
    r = run_with_tasks
    to_running(store, r, "a")
    a1 = _start(store, r, "a", 1)
    assert a1 == f"{r}/a/1"
    att = store.get_attempt(a1)
    assert att is not None and att.status == "running" and att.finished_at is None
    assert att.checkpoint_sha == "c0ffee" and att.transcript_path.endswith("a-1.jsonl")  # type: ignore[union-attr]
    assert store.get_task(r, "a").attempts == 1

    store.set_attempt_pgid(a1, 4242)
    assert store.open_attempts_with_pgid() == [(a1, 4242)]
    assert store.open_attempts_with_pgid(r) == [(a1, 4242)]
    assert store.open_attempts_with_pgid("other") == []

    retry_at = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    store.finish_attempt(
        a1,
        result(status="rate_limited", input_tokens=100, output_tokens=10, cost_usd=None,
               retry_at=retry_at, session_id="s-1", turns=3, exit_code=1, error="limit",
               permission_denials=[{"tool": "Bash"}]),
    )
    assert store.open_attempts_with_pgid() == []
    att = store.get_attempt(a1)
    assert att is not None and att.status == "rate_limited" and att.finished_at is not None
    assert (att.session_id, att.turns, att.exit_code, att.error) == ("s-1", 3, 1, "limit")
    assert att.retry_at == retry_at and att.permission_denials == [{"tool": "Bash"}]
    t = store.get_task(r, "a")
    assert (t.input_tokens, t.output_tokens, t.cost_usd) == (100, 10, None)

    a2 = _start(store, r, "a", 2)
    store.finish_attempt(a2, result(input_tokens=50, output_tokens=5, cost_usd=0.25))
    store.finish_attempt(a2, result(input_tokens=50, output_tokens=5, cost_usd=0.25))  # repeat
    t = store.get_task(r, "a")
    assert (t.attempts, t.input_tokens, t.output_tokens, t.cost_usd) == (2, 150, 15, 0.25)
    run = store.get_run(r)
    assert run is not None and (run.input_tokens, run.output_tokens, run.cost_usd) == (150, 15, 0.25)
    assert [a.n for a in store.attempts(r)] == [1, 2]
    assert [a.id for a in store.attempts(r, "a")] == [a1, a2]
    assert store.attempts(r, "b") == []
    with pytest.raises(StoreError):
        store.finish_attempt("nope/a/1", result())
    with pytest.raises(StoreError):
        _start(store, r, "zz", 1)


def test_start_attempt_again_after_crash_resets_instead_of_duplicating(
    store: Store, run_with_tasks: str
) -> None:
    r = run_with_tasks
    to_running(store, r, "a")
    a1 = _start(store, r, "a", 1)
    store.set_attempt_pgid(a1, 777)
    store.add_event(a1, 0, AgentEvent(kind="text", data={"text": "half way"}))
    store.add_gate_results(a1, [GateResult(name="tests", passed=False)])
    store.finish_attempt(a1, result(input_tokens=9, output_tokens=9, cost_usd=1.0))
    a1_again = _start(store, r, "a", 1, prompt="p2")  # the step re-runs after a crash
    assert a1_again == a1
    atts = store.attempts(r, "a")
    assert len(atts) == 1
    att = atts[0]
    assert (att.prompt, att.status, att.restarts, att.pgid, att.finished_at) == (
        "p2", "running", 1, None, None
    )
    assert store.list_events(a1) == [] and store.gate_results(a1) == []
    t = store.get_task(r, "a")
    assert (t.attempts, t.input_tokens, t.cost_usd) == (1, 0, None)
    _start(store, r, "a", 3)
    _start(store, r, "a", 2)  # attempts counts the highest n, not the calls
    assert store.get_task(r, "a").attempts == 3


# -- events ------------------------------------------------------------------------------------


def test_events_are_idempotent_and_filterable(store: Store, run_with_tasks: str) -> None:
    r = run_with_tasks
    a = _start(store, r, "a", 1)
    b = _start(store, r, "b", 1)
    ev = AgentEvent(kind="tool_call", ts=1700000000.25, data={"tool": "Edit", "path": "x.py"})
    store.add_event(a, 0, ev)
    store.add_event(a, 0, ev)  # repeated: ignored
    store.add_event(a, 1, AgentEvent(kind="text", data={"text": "hi"}))
    store.add_event(b, 0, AgentEvent(kind="usage", data={"input_tokens": 3}))
    events = store.list_events(a)
    assert [(e.seq, e.kind) for e in events] == [(0, "tool_call"), (1, "text")]
    assert events[0].to_event() == ev
    assert (events[0].run_id, events[0].task_id) == (r, "a")
    everything = store.list_events(run_id=r)
    assert len(everything) == 3
    assert [e.id for e in everything] == sorted(e.id for e in everything)
    after = store.list_events(run_id=r, after_id=everything[0].id)
    assert [e.id for e in after] == [e.id for e in everything[1:]]
    assert [e.attempt_id for e in store.list_events(run_id=r, task_id="b")] == [b]
    assert store.list_events(run_id="other") == []
    with pytest.raises(StoreError):
        store.add_event("nope/x/1", 0, ev)


# -- gates, verdicts, decisions ----------------------------------------------------------------


def test_gate_results_roundtrip_and_replace(store: Store, run_with_tasks: str) -> None:
    a = _start(store, run_with_tasks, "a", 1)
    first = [
        GateResult(
            name="tests", required=True, passed=False, exit_code=1, duration_s=2.5,
            tests=TestCounts(passed=3, failed=1), failing_tests=["t::x"], output_tail="boom",
            output_file="/ws/.overseer/gate.log", regressions=["t::y"], timed_out=False,
        ),
        GateResult(name="lint", required=False, passed=True, exit_code=0),
    ]
    store.add_gate_results(a, first)
    assert store.gate_results(a) == first
    second = [GateResult(name="tests", passed=True, exit_code=0, timed_out=True)]
    store.add_gate_results(a, second)
    store.add_gate_results(a, second)
    assert store.gate_results(a) == second
    assert store.gate_results("nope") == []


def test_verdict_and_decision(store: Store, run_with_tasks: str) -> None:
    r = run_with_tasks
    a = _start(store, r, "a", 1)
    verdict = {
        "complete": False, "score": 0.4, "confidence": 0.9, "unmet_criteria": ["tests pass"],
        "issues": ["add() ignores b"], "follow_up": "fix add", "reviewer": "smollm2",
    }
    store.add_verdict(a, verdict)
    assert store.verdict(a) == verdict
    store.add_verdict(a, {**verdict, "score": 0.5})
    assert store.verdict(a) == {**verdict, "score": 0.5}
    assert store.verdict("nope") is None

    decision = {
        "action": "retry", "reasons": ["required gate tests failed"], "feedback": "t::x fails",
        "breakpoint": None,
    }
    store.add_decision(a, decision)
    store.set_decision_outcome(a, "attempt 2 passed")
    store.add_decision(a, decision)  # repeated after a crash: one row, outcome kept
    d = store.decision(a)
    assert d is not None
    assert (d.action, d.reasons, d.feedback, d.breakpoint, d.outcome) == (
        "retry", ["required gate tests failed"], "t::x fails", None, "attempt 2 passed"
    )
    assert store.get_task(r, "a").last_decision == {
        "action": "retry", "reasons": ["required gate tests failed"]
    }
    store.add_decision(
        a, {"action": "escalate", "reasons": ["low confidence"], "feedback": None,
            "breakpoint": {"kind": "review", "message": "look"}}
    )
    d = store.decision(a)
    assert d is not None and d.breakpoint == {"kind": "review", "message": "look"}
    assert store.get_task(r, "a").last_decision == {"action": "escalate", "reasons": ["low confidence"]}
    with pytest.raises(StoreError):
        store.set_decision_outcome("nope", "x")


# -- breakpoints, checkpoints, file changes, artifacts ----------------------------------------


def test_breakpoints(store: Store, run_with_tasks: str) -> None:
    r = run_with_tasks
    a = _start(store, r, "a", 1)
    bp = store.open_breakpoint(r, "review", "score 0.4 < 0.7", task_id="a", attempt_id=a,
                               severity="warning")
    assert store.open_breakpoint(r, "review", "again", task_id="a", attempt_id=a) == bp
    before = store.open_breakpoint(r, "before", "task b asks first", task_id="b")
    assert before != bp
    assert [b.id for b in store.list_breakpoints(r, "open")] == [bp, before]
    rec = store.get_breakpoint(bp)
    assert rec.id == bp and rec.severity == "warning" and rec.attempt_id == a
    assert (rec.kind, rec.message, rec.task_id, rec.state) == ("review", "score 0.4 < 0.7", "a", "open")

    done = store.resolve_breakpoint(bp, "approved", note="fine", resolved_by="alice")
    assert (done.state, done.resolution, done.resolved_by) == ("approved", "fine", "alice")
    assert done.resolved_at is not None
    assert store.resolve_breakpoint(bp, "approved").state == "approved"  # repeat: no-op
    with pytest.raises(StoreError, match="already"):
        store.resolve_breakpoint(bp, "rejected")
    with pytest.raises(StoreError):
        store.resolve_breakpoint(before, "maybe")
    with pytest.raises(StoreError):
        store.get_breakpoint("bp-nothing")
    assert [b.id for b in store.list_breakpoints(r, "open")] == [before]
    fixed = store.open_breakpoint(r, "manual", "m", breakpoint_id="bp-fixed")
    assert fixed == "bp-fixed"
    assert store.open_breakpoint(r, "manual", "m", breakpoint_id="bp-fixed") == "bp-fixed"
    store.open_breakpoint(r, "manual", "m2", breakpoint_id="bp-fixes")
    assert len(store.list_breakpoints(r)) == 4
    assert store.get_breakpoint("bp-fixed").message == "m"  # exact id wins over prefix
    with pytest.raises(StoreError, match="ambiguous"):
        store.get_breakpoint("bp-fix")
    store.open_breakpoint(r, "question", "int or float?", breakpoint_id="bp-other1")
    answered = store.resolve_breakpoint("bp-oth", "answered", note="int")  # unique prefix
    assert (answered.id, answered.state, answered.resolution) == ("bp-other1", "answered", "int")


def test_park_task_opens_blocks_and_waits_in_one_step(store: Store, run_with_tasks: str) -> None:
    r = run_with_tasks
    to_running(store, r, "a")
    a = _start(store, r, "a", 1)
    assert store.park_task(r, "a", "after_task", "approve?", attempt_id=a, breakpoint_id="bp-park1",
                           reason="waiting at bp-park1")
    st = store.status(r)
    assert st["state"] == "waiting"
    assert [(t["id"], t["state"]) for t in st["tasks"] if t["id"] == "a"] == [("a", "blocked")]
    assert [(b["id"], b["state"]) for b in st["breakpoints"]] == [("bp-park1", "open")]
    assert store.get_task(r, "a").state_reason == "waiting at bp-park1"
    # Repeated after a crash: the same breakpoint, nothing added.
    assert store.park_task(r, "a", "after_task", "approve?", attempt_id=a, breakpoint_id="bp-park1",
                           reason="waiting at bp-park1")
    assert len(store.list_breakpoints(r)) == 1
    # A task `overseer cancel` reached first keeps its state; the breakpoint is still recorded.
    to_running(store, r, "b")
    store.set_task_state(r, "b", TaskState.CANCELLED)
    assert not store.park_task(r, "b", "before_task", "b?", attempt_id=None, breakpoint_id="bp-park2",
                               reason="x")
    assert store.get_task(r, "b").state == TaskState.CANCELLED
    # A task that cannot be blocked (already completed) refuses, and nothing of it is written.
    store.resolve_breakpoint("bp-park1", "approved")
    to_running(store, r, "a")
    store.set_task_state(r, "a", TaskState.COMPLETED)
    with pytest.raises(IllegalTransition):
        store.park_task(r, "a", "after_task", "again", attempt_id=a, breakpoint_id="bp-park3", reason="y")
    assert [b.id for b in store.list_breakpoints(r)] == ["bp-park1", "bp-park2"]


def test_checkpoints_file_changes_artifacts(store: Store, run_with_tasks: str) -> None:
    r = run_with_tasks
    a = _start(store, r, "a", 1)
    store.add_checkpoint(r, "a", 1, "refs/overseer/a/1", "sha1")
    store.add_checkpoint(r, "a", 1, "refs/overseer/a/1", "sha1b")  # re-taken after a crash
    store.add_checkpoint(r, "a", 2, "refs/overseer/a/2", "sha2")
    cps = store.checkpoints(r, "a")
    assert [(c.attempt, c.sha) for c in cps] == [(1, "sha1b"), (2, "sha2")]
    assert store.checkpoints(r, "b") == [] and len(store.checkpoints(r)) == 2

    store.add_file_changes(a, [("calc.py", "M", 3, 1), ("new.py", "A", 10, 0)])
    store.add_file_changes(a, [("calc.py", "M", 4, 1)])
    assert store.file_changes(a) == [("calc.py", "M", 4, 1)]

    store.add_artifact(r, "transcript", "/ws/.overseer/a-1.jsonl", attempt_id=a)
    store.add_artifact(r, "transcript", "/ws/.overseer/a-1.jsonl", attempt_id=a)
    store.add_artifact(r, "report", "/ws/.overseer/report.md")
    store.add_artifact(r, "report", "/ws/.overseer/report.md")
    arts = store.artifacts(r)
    assert [(x.kind, x.attempt_id) for x in arts] == [("transcript", a), ("report", None)]


# -- status ------------------------------------------------------------------------------------


def test_status_shape_and_totals(store: Store, run_with_tasks: str) -> None:
    r = run_with_tasks
    st = store.status(r)
    assert set(st) == {"run_id", "state", "tasks", "breakpoints", "totals"}
    assert st["totals"] == {"cost_usd": None, "tokens": 0, "duration_s": 0.0}

    to_running(store, r, "a")
    a1 = _start(store, r, "a", 1)
    store.finish_attempt(a1, result(input_tokens=100, output_tokens=20, duration_s=2.0))
    store.add_decision(a1, {"action": "retry", "reasons": ["gate"], "feedback": "x", "breakpoint": None})
    a2 = _start(store, r, "a", 2)
    store.finish_attempt(a2, result(input_tokens=10, output_tokens=2, duration_s=1.0))
    st = store.status(r)
    assert st["totals"] == {"cost_usd": None, "tokens": 132, "duration_s": 3.0}

    b1 = _start(store, r, "b", 1)
    store.finish_attempt(b1, result(input_tokens=1, output_tokens=1, cost_usd=0.5, duration_s=0.5))
    bp = store.open_breakpoint(r, "review", "needs a look", task_id="b", attempt_id=b1)
    store.set_run_state(r, RunState.WAITING)
    st = store.status(r)
    assert st["run_id"] == r and st["state"] == "waiting"
    assert st["tasks"][0] == {
        "id": "a", "state": "running", "reason": None, "attempts": 2, "agent": "coder",
        "cost_usd": None, "input_tokens": 110, "output_tokens": 22,
        "last_decision": {"action": "retry", "reasons": ["gate"]},
    }
    assert [t["id"] for t in st["tasks"]] == ["a", "b", "c"]
    assert all(
        set(t) == {"id", "state", "reason", "attempts", "agent", "cost_usd", "input_tokens",
                   "output_tokens", "last_decision"}
        for t in st["tasks"]
    )
    assert st["tasks"][1]["cost_usd"] == 0.5 and st["tasks"][2]["attempts"] == 0
    assert st["breakpoints"] == [
        {"id": bp, "task": "b", "kind": "review", "reason": "needs a look", "state": "open"}
    ]
    assert st["totals"] == {"cost_usd": 0.5, "tokens": 134, "duration_s": 3.5}
    import json

    json.dumps(st)  # the CLI prints it as is
    with pytest.raises(StoreError):
        store.status("nope")


# -- concurrency -------------------------------------------------------------------------------


def test_concurrent_writers_from_threads(store: Store) -> None:
    """Engine threads share one Store: each works its own tasks while all of them roll usage
    up into the same run. Nothing may be lost, duplicated or deadlocked."""
    r = new_run(store)
    n_threads, per_thread, events = 6, 3, 15
    store.add_tasks(r, [rtask(f"t{i}-{j}") for i in range(n_threads) for j in range(per_thread)])
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_threads)

    def worker(i: int) -> None:
        try:
            barrier.wait()
            for j in range(per_thread):
                tid = f"t{i}-{j}"
                to_running(store, r, tid)
                for n in (1, 2):
                    aid = _start(store, r, tid, n)
                    for seq in range(events):
                        store.add_event(aid, seq, AgentEvent(kind="text", data={"i": seq}))
                    store.add_event(aid, 0, AgentEvent(kind="text", data={"dup": True}))
                    store.finish_attempt(
                        aid, result(input_tokens=10, output_tokens=1, cost_usd=0.01, duration_s=0.1)
                    )
                    store.add_decision(
                        aid, {"action": "retry" if n == 1 else "proceed", "reasons": ["r"],
                              "feedback": None, "breakpoint": None},
                    )
                store.set_task_state(r, tid, TaskState.COMPLETED)
                store.set_task_commit(r, tid, f"sha-{tid}")
                store.status(r)  # readers run alongside the writers
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not any(t.is_alive() for t in threads), "writers hung"
    assert not errors, errors

    n_tasks = n_threads * per_thread
    st = store.status(r)
    assert all(t["state"] == "completed" and t["attempts"] == 2 for t in st["tasks"])
    assert st["totals"]["tokens"] == n_tasks * 2 * 11
    assert st["totals"]["cost_usd"] == pytest.approx(n_tasks * 2 * 0.01)
    run = store.get_run(r)
    assert run is not None and run.input_tokens == n_tasks * 2 * 10
    assert len(store.attempts(r)) == n_tasks * 2
    assert len(store.list_events(run_id=r)) == n_tasks * 2 * events


def test_timestamps_are_utc_and_ordered(store: Store) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    new_run(store)
    run = store.get_run("run-1")
    assert run is not None and run.created_at.tzinfo is not None
    assert before <= run.created_at <= datetime.now(UTC) + timedelta(seconds=5)
