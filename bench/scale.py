"""Throughput and idle cost of the engine on a large DAG, on SQLite and on PostgreSQL.

A plan of N tasks (default 1,000) laid out as a DAG of width W (default 50: layer k's tasks
each depend on one or two tasks of layer k-1), whose agent and gate are no-ops (`true`), is run
through the real `overseer run` at several `--parallel` values, each run in a fresh temporary
git repository (on PostgreSQL: a fresh database in a throwaway cluster on 127.0.0.1). For each
(backend, parallel) it prints tasks per second, wall time per task, and the orchestrator
process's own CPU per task (the overseer python process, not the agents, gates and git it
starts), next to DBOS's own floor on the same backend measured in the same run: one-step
workflows per second in a fresh process.

"overhead" is the wall time per task beyond its two no-op processes (measured alone, serially,
in the same run; at --parallel p they overlap p at a time).

Then the idle cost: 8 independent tasks whose agent is `sleep 10`, at `--parallel 8`; the
orchestrator's CPU time is sampled from 2 s to 9 s into the sleeps and printed as % of one
core (aim: under 2% — no busy polling), with the busiest threads' shares.

    python bench/scale.py [--quick] [--tasks 1000] [--width 50] [--parallel 1,8,32]
                          [--db sqlite,postgres] [--no-idle | --idle-only]

`--quick` is 200 tasks at --parallel 1 and 8. PostgreSQL runs in a throwaway cluster
(overseer.testing.pgcluster, as the test suite starts it); when its binaries are missing the
postgres rows say so and are skipped.

Prints numbers; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _common import (
    CMD,
    TICK,
    RunFailed,
    cpu_seconds,
    floor,
    new_repo,
    noop_plan,
    overseer_env,
    overseer_run,
    spawn_cost,
)

from overseer.testing import pgcluster

# -- plans ---------------------------------------------------------------------------------


def sleep_plan(k: int, seconds: int) -> str:
    lines = [
        "version: 1",
        "name: idle",
        "defaults: {agent: sleeper, gates: [noop], max_attempts: 1}",
        f"agents: {{sleeper: {{type: shell, command: 'sleep {seconds}'}}}}",
        "gates: [{name: noop, run: 'true'}]",
        "tasks:",
    ]
    lines += [f"  - {{id: s{i}, prompt: nothing}}" for i in range(k)]
    return "\n".join(lines) + "\n"


# -- processes -----------------------------------------------------------------------------


def descendants(root: int) -> list[tuple[int, str]]:
    """(pid, comm) of every live process below root."""
    children: dict[int, list[tuple[int, str]]] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append((int(stat.split("/")[2]), comm))
    out, todo = [], [root]
    while todo:
        for pid, comm in children.get(todo.pop(), []):
            out.append((pid, comm))
            todo.append(pid)
    return out


# -- the benchmark -------------------------------------------------------------------------


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each live thread of pid, by thread id."""
    out = {}
    for stat in glob.glob(f"/proc/{pid}/task/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(stat.split("/")[4])] = (int(fields[11]) + int(fields[12])) / TICK
    return out


def idle_cpu(tmp: Path, db_url: str | None, agents: int = 8, seconds: int = 10) -> tuple[float, int, list[float]]:
    """% of one core the orchestrator uses from 2 s to `seconds - 1` s into its agents' sleep,
    how many sleeping agents were seen, and the busiest threads' shares (% of one core)."""
    repo = new_repo(tmp, "idle", sleep_plan(agents, seconds))
    log = tmp / "idle.log"
    with log.open("w") as out:
        proc = subprocess.Popen([*CMD, "run", "plan.yaml", "--parallel", str(agents)],
                                cwd=repo, env=overseer_env(db_url), stdout=out, stderr=subprocess.STDOUT)
        try:
            # t = 0 when the first agent's `sleep` shows up under the orchestrator.
            deadline = time.monotonic() + 120
            while not any(c == "sleep" for _, c in descendants(proc.pid)):
                if proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"idle run: no agent started:\n{log.read_text(errors='replace')[-3000:]}")
                time.sleep(0.02)
            t0 = time.monotonic()
            time.sleep(2.0)
            seen = sum(1 for _, c in descendants(proc.pid) if c == "sleep")
            c0, th0, w0 = cpu_seconds(proc.pid), thread_cpu(proc.pid), time.monotonic()
            time.sleep(max(0.0, t0 + seconds - 1 - time.monotonic()))
            c1, th1, w1 = cpu_seconds(proc.pid), thread_cpu(proc.pid), time.monotonic()
            if c0 is None or c1 is None:
                sys.exit("idle run: the orchestrator exited while its agents slept")
            share = (c1 - c0) / (w1 - w0) * 100
            threads = sorted(((th1[t] - th0.get(t, 0.0)) / (w1 - w0) * 100 for t in th1), reverse=True)
            try:
                rc: int | None = proc.wait(timeout=300)
            except subprocess.TimeoutExpired:
                rc = None
            if rc != 0:
                why = "still running 300 s after its agents" if rc is None else f"exit {rc}"
                raise RunFailed(f"idle run failed ({why}; measured {share:.2f}% of one core before):\n"
                                f"{log.read_text(errors='replace')[-3000:]}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return share, seen, threads


def csv_of(text: str, allowed: tuple[str, ...] | None, flag: str) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    for x in items:
        if allowed and x not in allowed:
            sys.exit(f"{flag}: unknown value {x!r} (one of: {', '.join(allowed)})")
        if not allowed and not x.isdigit():
            sys.exit(f"{flag}: {x!r} is not a whole number (e.g. {flag} 1,8,32)")
    return items


@contextmanager
def backend_cluster(backend: str) -> Iterator[pgcluster.Cluster | None]:
    if backend == "sqlite":
        yield None
        return
    try:
        with pgcluster.cluster(prefix="overseer-bench-pg-") as cluster:
            yield cluster
    except pgcluster.ClusterError as e:
        sys.exit(str(e))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=None, help="tasks in the DAG (1000; --quick: 200)")
    ap.add_argument("--width", type=int, default=50, help="tasks per layer of the DAG")
    ap.add_argument("--parallel", "--parallels", dest="parallel", default=None,
                    help="comma-separated --parallel values (1,8,32; --quick: 1,8)")
    ap.add_argument("--db", "--backends", dest="db", default="sqlite,postgres",
                    help="comma-separated: sqlite, postgres")
    ap.add_argument("--quick", action="store_true", help="a smaller run: 200 tasks at --parallel 1 and 8")
    ap.add_argument("--no-idle", action="store_true", help="skip the idle-CPU measurement")
    ap.add_argument("--idle-only", action="store_true", help="only the idle-CPU measurement")
    ap.add_argument("--run-limit", type=float, default=3600.0, metavar="S",
                    help="kill a run still going after S seconds and report it failed (3600)")
    args = ap.parse_args()
    n = args.tasks or (200 if args.quick else 1000)
    if n < 1 or args.width < 1:
        sys.exit("--tasks and --width: at least 1")
    parallels = [] if args.idle_only else [
        int(p) for p in csv_of(args.parallel or ("1,8" if args.quick else "1,8,32"), None, "--parallel")]
    backends = csv_of(args.db, ("sqlite", "postgres"), "--db")

    if parallels:
        print(f"DAG: {n} tasks, width {args.width}, no-op agent and gate (`true`), max_attempts 1; "
              f"supervisor off; {os.cpu_count()} CPUs")
        procs = spawn_cost()
        print(f"no-op agent + gate alone: {procs * 1000:.1f} ms per task (two bash processes, serially)")
        print()
        print(f"{'db':<9}{'parallel':>9}{'wall s':>9}{'tasks/s':>9}{'ms/task':>9}{'overhead':>9}"
              f"{'own CPU':>9}{'all CPU':>9}{'x floor':>9}")
        print(f"{'':<9}{'':>9}{'':>9}{'':>9}{'(wall)':>9}{'ms/task':>9}{'ms/task':>9}{'ms/task':>9}{'(CPU)':>9}")
    results: list[str] = []
    idle: list[str] = []
    for backend in backends:
        if backend == "postgres":
            lacking = pgcluster.missing()
            if lacking:
                print(f"{'postgres':<9} skipped: no {lacking[0]} ({lacking[1]})")
                continue
        with tempfile.TemporaryDirectory(prefix=f"overseer-bench-scale-{backend}-") as d, \
                backend_cluster(backend) as cluster:
            tmp = Path(d)

            def db() -> str | None:
                return cluster.create_database() if cluster else None

            if parallels:
                if cluster:
                    floor_url = cluster.create_database().replace("postgresql+psycopg://", "postgresql://", 1)
                else:
                    floor_url = f"sqlite:///{tmp / 'floor.sqlite'}"
                fl_wall, fl_cpu = floor(max(200, n // 2), floor_url)
                plan = noop_plan(n, args.width)
                for p in parallels:
                    try:
                        r = overseer_run(new_repo(tmp, f"p{p}", plan), p, db(), limit_s=args.run_limit)
                    except RunFailed as e:
                        # One failed cell must not cost the rest of the matrix.
                        print(f"{backend:<9}{p:>9}  FAILED: {e}", flush=True)
                        continue
                    per = r.per_task(n)
                    # Overhead: what a task costs beyond its no-op processes, which run p at a time.
                    over = per - procs / p
                    print(f"{backend:<9}{p:>9}{r.wall:>9.1f}{1 / per:>9.1f}{per * 1000:>9.1f}"
                          f"{over * 1000:>9.1f}{r.own_cpu / n * 1000:>9.1f}{r.all_cpu / n * 1000:>9.1f}"
                          f"{r.own_cpu / n / fl_cpu:>9.1f}", flush=True)
                results.append(f"{backend}: DBOS floor, one-step workflow: {fl_wall * 1000:.2f} ms wall, "
                               f"{fl_cpu * 1000:.2f} ms CPU ({1 / fl_wall:,.0f} workflows/s)")
            if not args.no_idle:
                try:
                    share, seen, threads = idle_cpu(tmp, db())
                except RunFailed as e:
                    print(f"{backend}: {e}", flush=True)
                    idle.append(f"{backend}: FAILED (above)")
                    continue
                busiest = ", ".join(f"{t:.2f}" for t in threads[:4])
                idle.append(f"{backend}: {share:.2f}% of one core while {seen} agents sleep (t = 2..9 s); "
                            f"busiest threads {busiest}%{'  -- over the 2% aim' if share > 2 else ''}")
    if parallels:
        print()
        print("ms/task (wall): (run wall - process start and plan load) / tasks; tasks/s is its inverse.")
        print("overhead: ms/task (wall) - the no-op processes' time / parallel (they overlap p at a time).")
        print("own CPU: the orchestrator process alone (utime+stime, /proc); all CPU: with the agents,")
        print("gates and git it starts. x floor: own CPU per task / DBOS's CPU per one-step workflow.")
        for line in results:
            print(line)
    if idle:
        print()
        print("orchestrator CPU while its agents sleep (aim: under 2% of one core):")
        for line in idle:
            print(f"  {line}")


if __name__ == "__main__":
    main()
