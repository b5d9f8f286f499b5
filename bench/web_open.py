"""How long the web view takes to open a run page, against the size of the run's history.

A run is generated in a temp SQLite store: 10 tasks, one attempt each, N agent events per
task. For each size this times the run page's first update (web/live.py `LiveFeed.poll`: the
page's state and its latest activity lines) next to the baseline, reading the whole event
history as `overseer log` does (`LogReader.poll`), which is what the first update did before it
started at the last lines.

    python bench/web_open.py [--events 100 1000 5000 20000] [--repeat 5]

Prints medians and the ratio; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from overseer.agents.base import AgentEvent
from overseer.lifecycle import TaskState
from overseer.plan.schema import ResolvedTask
from overseer.report.stream import LogReader
from overseer.store import Store
from overseer.web.live import LiveFeed

TASKS = 10


def _task(tid: str) -> ResolvedTask:
    return ResolvedTask(id=tid, title=tid, prompt=f"do {tid}", acceptance=[], depends_on=[],
                        priority=0, milestone=None, agent_name="a", agent={"type": "shell", "command": "true"},
                        gates=[], max_attempts=3, timeout=60, breakpoint="never")


def build(store: Store, workspace: Path, events: int) -> str:
    run = "bench-run"
    store.create_run(run, name="bench", plan_path=str(workspace / "plan.yaml"), workspace=str(workspace),
                     plan_json={}, config_json={}, parallel=1, branch="main")
    store.add_tasks(run, [_task(f"t{i}") for i in range(TASKS)])
    per_task = max(1, events // TASKS)
    for i in range(TASKS):
        tid = f"t{i}"
        store.set_task_state(run, tid, TaskState.READY)
        store.set_task_state(run, tid, TaskState.RUNNING)
        aid = store.start_attempt(run, tid, 1, prompt="p", agent_name="a", agent_type="shell",
                                  checkpoint_sha=None, transcript_path=None)
        for k in range(per_task):
            store.add_event(aid, k, AgentEvent(kind="text", data={"text": f"{tid} step {k}: edited src/x.py"}))
    return run


def median_s(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, nargs="+", default=[100, 1000, 5000, 20000])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"{'events':>8}  {'page open':>10}  {'whole history':>14}  {'ratio':>6}")
    for n in args.events:
        with tempfile.TemporaryDirectory() as d:
            store = Store.open(f"sqlite:///{Path(d) / 'state.db'}")
            run = build(store, Path(d), n)
            page = median_s(lambda: LiveFeed(store, run).poll(), args.repeat)  # noqa: B023
            whole = median_s(lambda: LogReader(store, run).poll(), args.repeat)  # noqa: B023
            store.close()
        print(f"{n:>8}  {page * 1000:>8.1f}ms  {whole * 1000:>12.1f}ms  {whole / page:>5.1f}x")


if __name__ == "__main__":
    main()
