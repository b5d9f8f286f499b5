"""What the engine benchmarks share: DBOS's own floor, the cost of the no-op processes a no-op
task still starts, the no-op DAG plan, and running the real `overseer run` on it in a fresh
git repository. Run from bench/ scripts (`import _common`)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
CMD = [sys.executable, "-m", "overseer.cli.main"]

FLOOR = textwrap.dedent(
    """
    import sys, time
    from dbos import DBOS
    n, db = int(sys.argv[1]), sys.argv[2]

    @DBOS.step()
    def noop(i):
        return i

    @DBOS.workflow()
    def one_step(i):
        return noop(i)

    DBOS(config={"name": "floor", "system_database_url": db, "log_level": "WARNING",
                 "application_version": "bench"})
    DBOS.launch()
    one_step(-1)  # warm up
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        one_step(i)
    print(time.perf_counter() - t0, time.process_time() - c0)
    DBOS.destroy()
    """
)


def floor(n: int, db: str) -> tuple[float, float]:
    """DBOS alone: (wall, CPU) seconds per one-step workflow."""
    out = subprocess.run([sys.executable, "-c", FLOOR, str(n), db],
                         check=True, capture_output=True, text=True).stdout
    wall, cpu = out.strip().splitlines()[-1].split()
    return float(wall) / n, float(cpu) / n


def spawn_cost(k: int = 50) -> float:
    """What two no-op processes (agent + gate) cost per task on this machine, by themselves."""
    t0 = time.perf_counter()
    for _ in range(k):
        subprocess.run(["bash", "-c", "true"], check=True)
        subprocess.run(["bash", "-c", "true"], check=True)
    return (time.perf_counter() - t0) / k


def noop_plan(n: int, width: int, seed: int = 6) -> str:
    """n tasks whose agent and gate are `true`, in layers of `width`: each task past the first
    layer depends on one or two tasks of the layer before it (width >= n: all independent)."""
    rng = random.Random(seed)
    lines = [
        "version: 1",
        "name: noop",
        "defaults: {agent: noop, gates: [noop], max_attempts: 1}",
        "agents: {noop: {type: shell, command: 'true'}}",
        "gates: [{name: noop, run: 'true'}]",
        "tasks:",
    ]
    for i in range(n):
        layer = i // width
        if layer == 0:
            lines.append(f"  - {{id: t{i:05d}, prompt: nothing}}")
            continue
        prev = range((layer - 1) * width, layer * width)
        deps = rng.sample(list(prev), k=min(len(prev), rng.choice((1, 2))))
        dep_ids = ", ".join(f"t{d:05d}" for d in sorted(deps))
        lines.append(f"  - {{id: t{i:05d}, prompt: nothing, depends_on: [{dep_ids}]}}")
    return "\n".join(lines) + "\n"


def git_env() -> dict[str, str]:
    return {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
            "GIT_COMMITTER_EMAIL": "b@b"}


def overseer_env(db_url: str | None) -> dict[str, str]:
    """Orchestration alone: no reviewer (a model review costs seconds and is measured elsewhere)."""
    env = {**git_env(), "OVERSEER_SUPERVISOR__PROVIDER": "none"}
    if db_url:
        env["OVERSEER_DATABASE__URL"] = db_url
    else:
        env.pop("OVERSEER_DATABASE__URL", None)
    return env


def new_repo(tmp: Path, name: str, plan: str) -> Path:
    """A fresh git repository with one commit and the plan in plan.yaml."""
    repo = tmp / name
    repo.mkdir()
    (repo / "README").write_text("bench\n")
    env = git_env()
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "start"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env=env)
    (repo / "plan.yaml").write_text(plan)
    return repo


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process (all its threads, none of its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of stat(5)


@dataclass
class Run:
    wall: float  # `overseer run`, process start to exit
    startup: float  # process start + plan load, measured by `overseer validate`
    own_cpu: float  # the orchestrator process alone
    all_cpu: float  # it and every process it started and reaped

    def per_task(self, n: int) -> float:
        return (self.wall - self.startup) / n


class RunFailed(Exception):
    """The run exited non-zero or was killed at its time limit; the message ends with its log."""


def overseer_run(repo: Path, parallel: int | None, db_url: str | None, limit_s: float | None = None) -> Run:
    """`overseer run plan.yaml` in repo. RunFailed when it fails, or when it is still running
    after limit_s (a hung run must not hang the benchmark)."""
    env = overseer_env(db_url)
    t0 = time.perf_counter()
    subprocess.run([*CMD, "validate", "plan.yaml"], cwd=repo, check=True, env=env, capture_output=True)
    startup = time.perf_counter() - t0
    log = repo.parent / f"{repo.name}.log"
    extra = ["--parallel", str(parallel)] if parallel else []
    with log.open("w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen([*CMD, "run", "plan.yaml", *extra], cwd=repo, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        # The last reading before exit: /proc/PID/stat is gone once the process is reaped.
        last = [0.0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.1):
                c = cpu_seconds(proc.pid)
                if c is not None:
                    last[0] = c

        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        killer = threading.Timer(limit_s, proc.kill) if limit_s else None
        if killer:
            killer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        if killer:
            killer.cancel()
        done.set()
        watcher.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        why = f"killed after {limit_s:.0f} s" if limit_s and wall >= limit_s else f"exit {proc.returncode}"
        text = log.read_text(errors="replace")
        # The run's directory is temporary: keep its whole log for the post-mortem.
        fd, kept = tempfile.mkstemp(prefix="overseer-bench-failed-", suffix=".log")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        raise RunFailed(f"overseer run --parallel {parallel} failed ({why}; whole log: {kept}):\n{text[-3000:]}")
    return Run(wall=wall, startup=startup, own_cpu=last[0], all_cpu=usage.ru_utime + usage.ru_stime)
