"""Orchestration overhead per task, next to DBOS's own floor, measured in the same run.

A plan of N independent tasks whose agent and gate are no-ops (`true`) is run through the
real `overseer run`; everything it spends beyond the no-op processes is overseer's own cost:
checkpoint, prompt, store writes, workflow steps, gate bookkeeping, commit check. The floor is
DBOS itself: one-step workflows per second on a SQLite system database in a fresh process.

    python bench/overhead.py [--tasks 200]

Prints numbers; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _common import RunFailed, floor, new_repo, noop_plan, overseer_run, spawn_cost


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=200)
    args = ap.parse_args()
    n = args.tasks
    with tempfile.TemporaryDirectory(prefix="overseer-bench-") as d:
        tmp = Path(d)
        per_wf, _cpu = floor(n, f"sqlite:///{tmp / 'floor.sqlite'}")
        procs = spawn_cost()
        try:
            run = overseer_run(new_repo(tmp, "repo", noop_plan(n, width=n)), None, None)
        except RunFailed as e:
            sys.exit(str(e))
    per_task = run.per_task(n)
    own = per_task - procs
    print(f"tasks                         {n}")
    print(f"overseer run, wall            {run.wall:8.2f} s   (process start + plan load {run.startup:.2f} s)")
    print(f"per task, all in              {per_task * 1000:8.1f} ms")
    print(f"  of which no-op agent + gate {procs * 1000:8.1f} ms   (two bash processes, measured alone)")
    print(f"  overseer's own overhead     {own * 1000:8.1f} ms")
    print(f"DBOS floor: one-step workflow {per_wf * 1000:8.2f} ms   ({1 / per_wf:,.0f} workflows/s)")
    print(f"ratio overhead / DBOS floor   {own / per_wf:8.1f}x")


if __name__ == "__main__":
    main()
