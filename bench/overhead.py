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
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import floor, spawn_cost


def noop_plan(n: int) -> str:
    lines = [
        "version: 1",
        "name: overhead",
        "defaults: {agent: noop, gates: [noop], max_attempts: 1}",
        "agents: {noop: {type: shell, command: 'true'}}",
        "gates: [{name: noop, run: 'true'}]",
        "tasks:",
    ]
    lines += [f"  - {{id: t{i:04d}, prompt: nothing}}" for i in range(n)]
    return "\n".join(lines) + "\n"


def overseer_run(n: int, tmp: Path) -> tuple[float, float]:
    repo = tmp / "repo"
    repo.mkdir()
    (repo / "README").write_text("bench\n")
    # Orchestration alone: no reviewer (a model review costs seconds and is measured elsewhere).
    env = {**os.environ, "OVERSEER_SUPERVISOR__PROVIDER": "none", "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@b"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "start"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env=env)
    (repo / "plan.yaml").write_text(noop_plan(n))
    cmd = [sys.executable, "-m", "overseer.cli.main"]
    t0 = time.perf_counter()
    subprocess.run([*cmd, "validate", "plan.yaml"], cwd=repo, check=True, env=env, capture_output=True)
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = subprocess.run([*cmd, "run", "plan.yaml"], cwd=repo, env=env, capture_output=True, text=True)
    total = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit(f"overseer run failed ({res.returncode}):\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    return total, startup


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="overseer-bench-") as d:
        tmp = Path(d)
        per_wf, _cpu = floor(args.tasks, f"sqlite:///{tmp / 'floor.sqlite'}")
        procs = spawn_cost()
        total, startup = overseer_run(args.tasks, tmp)
    per_task = (total - startup) / args.tasks
    own = per_task - procs
    print(f"tasks                         {args.tasks}")
    print(f"overseer run, wall            {total:8.2f} s   (process start + plan load {startup:.2f} s)")
    print(f"per task, all in              {per_task * 1000:8.1f} ms")
    print(f"  of which no-op agent + gate {procs * 1000:8.1f} ms   (two bash processes, measured alone)")
    print(f"  overseer's own overhead     {own * 1000:8.1f} ms")
    print(f"DBOS floor: one-step workflow {per_wf * 1000:8.2f} ms   ({1 / per_wf:,.0f} workflows/s)")
    print(f"ratio overhead / DBOS floor   {own / per_wf:8.1f}x")


if __name__ == "__main__":
    main()
