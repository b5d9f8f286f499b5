"""Throughput and idle cost of the engine on a large DAG, on SQLite and on PostgreSQL.

A plan of N tasks (default 1,000) laid out as a DAG of width W (default 50: layer k's tasks
each depend on one or two tasks of layer k-1), whose agent and gate are no-ops (`true`), is run
through the real `overseer run` at several `--parallel` values, each run in a fresh temporary
git repository (on PostgreSQL: a fresh database in a throwaway cluster on 127.0.0.1). For each
(backend, parallel) it prints tasks per second, wall time per task, and the orchestrator
process's own CPU per task (the overseer python process, not the agents, gates and git it
starts), next to DBOS's own floor on the same backend measured in the same run: one-step
workflows per second in a fresh process.

Then the idle cost: 8 independent tasks whose agent is `sleep 10`, at `--parallel 8`; the
orchestrator's CPU time is sampled from 2 s to 9 s into the sleeps and printed as % of one
core (aim: under 2% — no busy polling).

    python bench/scale.py [--quick] [--tasks 1000] [--width 50] [--parallels 1,8,32]
                          [--backends sqlite,postgres] [--no-idle]

`--quick` (200 tasks, --parallel 1 and 8) takes about ten minutes on a busy 2-core machine; the
full run is several times that (each task costs a few hundred ms of orchestrator CPU there).

Prints numbers; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from _common import floor, spawn_cost

TICK = os.sysconf("SC_CLK_TCK")
PG_USER = "overseer"



# -- plans ---------------------------------------------------------------------------------


def dag_plan(n: int, width: int, seed: int = 6) -> str:
    """n tasks in layers of `width`; each task past the first layer depends on one or two
    tasks of the layer before it."""
    rng = random.Random(seed)
    lines = [
        "version: 1",
        "name: scale",
        "defaults: {agent: noop, gates: [noop], max_attempts: 1}",
        "agents: {noop: {type: shell, command: 'true'}}",
        "gates: [{name: noop, run: 'true'}]",
        "tasks:",
    ]
    for i in range(n):
        layer, prev = i // width, range((i // width - 1) * width, min(i // width * width, n))
        if layer == 0:
            lines.append(f"  - {{id: t{i:05d}, prompt: nothing}}")
            continue
        deps = rng.sample(list(prev), k=min(len(prev), rng.choice((1, 2))))
        dep_ids = ", ".join(f"t{d:05d}" for d in sorted(deps))
        lines.append(f"  - {{id: t{i:05d}, prompt: nothing, depends_on: [{dep_ids}]}}")
    return "\n".join(lines) + "\n"


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


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process (all its threads, none of its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of stat(5)


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


def git_env() -> dict[str, str]:
    return {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
            "GIT_COMMITTER_EMAIL": "b@b"}


def new_repo(tmp: Path, name: str, plan: str) -> Path:
    repo = tmp / name
    repo.mkdir()
    (repo / "README").write_text("bench\n")
    env = git_env()
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "start"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env=env)
    (repo / "plan.yaml").write_text(plan)
    return repo


def overseer_env(db_url: str | None) -> dict[str, str]:
    env = {**git_env(), "OVERSEER_SUPERVISOR__PROVIDER": "none"}
    if db_url:
        env["OVERSEER_DATABASE__URL"] = db_url
    else:
        env.pop("OVERSEER_DATABASE__URL", None)
    return env


CMD = [sys.executable, "-m", "overseer.cli.main"]


@dataclass
class Run:
    wall: float  # `overseer run`, process start to exit
    startup: float  # process start + plan load, measured by `overseer validate`
    own_cpu: float  # the orchestrator process alone
    all_cpu: float  # it and every process it started and reaped

    def per_task(self, n: int) -> float:
        return (self.wall - self.startup) / n


def overseer_run(repo: Path, parallel: int, db_url: str | None) -> Run:
    env = overseer_env(db_url)
    t0 = time.perf_counter()
    subprocess.run([*CMD, "validate", "plan.yaml"], cwd=repo, check=True, env=env, capture_output=True)
    startup = time.perf_counter() - t0
    log = repo.parent / f"{repo.name}.log"
    with log.open("w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen([*CMD, "run", "plan.yaml", "--parallel", str(parallel)],
                                cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT)
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
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        watcher.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        text = log.read_text(errors="replace")
        sys.exit(f"overseer run --parallel {parallel} failed ({proc.returncode}):\n{text[-3000:]}")
    return Run(wall=wall, startup=startup, own_cpu=last[0],
               all_cpu=usage.ru_utime + usage.ru_stime)


# -- PostgreSQL: a throwaway cluster, as tests/conftest.py starts one ------------------------


def pg_bindir() -> Path | None:
    candidates: list[str] = []
    if os.environ.get("OVERSEER_PG_BIN"):
        candidates.append(os.environ["OVERSEER_PG_BIN"])
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
        reverse=True,
    )
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).resolve().parent))
    for c in candidates:
        d = Path(c)
        if all((d / b).is_file() for b in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def unprivileged_prefix() -> tuple[list[str], int | None, int | None]:
    """PostgreSQL refuses to run as root: run it as `postgres` (or `nobody`) then."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return ["runuser", "-u", name, "--"], pw.pw_uid, pw.pw_gid
        if shutil.which("setpriv"):
            return (["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", "--"],
                    pw.pw_uid, pw.pw_gid)
    return [], None, None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_missing() -> str | None:
    if pg_bindir() is None:
        return "no PostgreSQL server binaries (initdb, pg_ctl, postgres); apt-get install postgresql"
    if os.geteuid() == 0 and not unprivileged_prefix()[0]:
        return "running as root with no postgres/nobody user to run PostgreSQL as"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed in this environment"
    return None


class Cluster:
    def __init__(self, port: int) -> None:
        self.port = port

    def new_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"b_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user=PG_USER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())  # our own generated name
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{name}"


@contextmanager
def postgres_cluster() -> Iterator[Cluster]:
    bindir = pg_bindir()
    assert bindir is not None
    prefix, uid, gid = unprivileged_prefix()
    root = Path(tempfile.mkdtemp(prefix="overseer-bench-pg-"))
    if uid is not None and gid is not None:
        os.chown(root, uid, gid)
    data, log = root / "data", root / "server.log"

    def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(prefix + cmd, cwd=root, capture_output=True, text=True, timeout=120, check=False)

    started = False
    try:
        init = run([str(bindir / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust",
                    "--encoding=UTF8", "--no-sync", "--no-instructions"])
        if init.returncode != 0:
            sys.exit(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        for _ in range(5):  # the free port can be taken between choosing it and binding it
            port = free_port()
            # The same settings the test suite uses: durability off, as for a throwaway cluster.
            opts = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
            start = run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts,
                         "-w", "-t", "60", "start"])
            if start.returncode == 0:
                started = True
                break
        if not started:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            sys.exit(f"PostgreSQL did not start:\n{start.stderr}\n{tail}")
        yield Cluster(port)
    finally:
        if started:
            run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(root, ignore_errors=True)


# -- the benchmark -------------------------------------------------------------------------


def idle_cpu(tmp: Path, db_url: str | None, agents: int = 8, seconds: int = 10) -> tuple[float, int]:
    """% of one core the orchestrator uses from 2 s to `seconds - 1` s into its agents' sleep,
    and how many sleeping agents were seen."""
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
            c0, w0 = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(max(0.0, t0 + seconds - 1 - time.monotonic()))
            c1, w1 = cpu_seconds(proc.pid), time.monotonic()
            if c0 is None or c1 is None:
                sys.exit("idle run: the orchestrator exited while its agents slept")
            share = (c1 - c0) / (w1 - w0) * 100
            if proc.wait(timeout=300) != 0:
                sys.exit(f"idle run failed:\n{log.read_text(errors='replace')[-3000:]}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return share, seen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=None, help="tasks in the DAG (1000; --quick: 200)")
    ap.add_argument("--width", type=int, default=50, help="tasks per layer of the DAG")
    ap.add_argument("--parallels", default=None, help="comma-separated --parallel values (1,8,32; --quick: 1,8)")
    ap.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    ap.add_argument("--quick", action="store_true", help="a smaller run: 200 tasks at --parallel 1 and 8")
    ap.add_argument("--no-idle", action="store_true", help="skip the idle-CPU measurement")
    args = ap.parse_args()
    n = args.tasks or (200 if args.quick else 1000)
    parallels = [int(p) for p in (args.parallels or ("1,8" if args.quick else "1,8,32")).split(",")]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in ("sqlite", "postgres"):
            sys.exit(f"--backends: unknown backend {b!r} (sqlite, postgres)")

    print(f"DAG: {n} tasks, width {args.width}, no-op agent and gate (`true`), max_attempts 1; "
          f"supervisor off; {os.cpu_count()} CPUs")
    procs = spawn_cost()
    print(f"no-op agent + gate alone: {procs * 1000:.1f} ms per task (two bash processes, serially)")
    print()
    header = (f"{'backend':<9}{'parallel':>9}{'wall s':>9}{'tasks/s':>9}{'ms/task':>9}"
              f"{'own CPU':>9}{'all CPU':>9}{'x floor':>9}")
    print(header)
    print(f"{'':<9}{'':>9}{'':>9}{'':>9}{'(wall)':>9}{'ms/task':>9}{'ms/task':>9}{'(CPU)':>9}")
    results: list[str] = []
    idle: list[str] = []
    for backend in backends:
        if backend == "postgres":
            why = postgres_missing()
            if why:
                print(f"{'postgres':<9} skipped: {why}")
                continue
        with tempfile.TemporaryDirectory(prefix=f"overseer-bench-scale-{backend}-") as d:
            tmp = Path(d)
            with (postgres_cluster() if backend == "postgres" else _no_cluster()) as cluster:

                def db() -> str | None:
                    return cluster.new_database() if cluster else None

                if cluster:
                    floor_url = (db() or "").replace("postgresql+psycopg://", "postgresql://", 1)
                else:
                    floor_url = f"sqlite:///{tmp / 'floor.sqlite'}"
                fl_wall, fl_cpu = floor(max(200, n // 2), floor_url)
                plan = dag_plan(n, args.width)
                for p in parallels:
                    r = overseer_run(new_repo(tmp, f"p{p}", plan), p, db())
                    per = r.per_task(n)
                    print(f"{backend:<9}{p:>9}{r.wall:>9.1f}{1 / per:>9.1f}{per * 1000:>9.1f}"
                          f"{r.own_cpu / n * 1000:>9.1f}{r.all_cpu / n * 1000:>9.1f}"
                          f"{r.own_cpu / n / fl_cpu:>9.1f}", flush=True)
                    if p == 1:
                        serial = (f"{backend}: at --parallel 1, {(per - procs) * 1000:.1f} ms/task beyond the "
                                  f"no-op processes = {(per - procs) / fl_wall:.1f}x DBOS's floor wall time")
                results.append(f"{backend}: DBOS floor, one-step workflow: {fl_wall * 1000:.2f} ms wall, "
                               f"{fl_cpu * 1000:.2f} ms CPU ({1 / fl_wall:,.0f} workflows/s)")
                if 1 in parallels:
                    results.append(serial)
                if not args.no_idle:
                    share, seen = idle_cpu(tmp, db())
                    idle.append(f"{backend}: {share:.2f}% of one core while {seen} agents sleep "
                                f"(t = 2..9 s){'  -- over the 2% aim' if share > 2 else ''}")
    print()
    print("ms/task (wall): (run wall - process start and plan load) / tasks; tasks/s is its inverse.")
    print("own CPU: the orchestrator process alone (utime+stime, /proc); all CPU: with the agents,")
    print("gates and git it starts. x floor: own CPU per task / DBOS's CPU per one-step workflow.")
    for line in results:
        print(line)
    if idle:
        print()
        print("orchestrator CPU while its agents sleep (aim: under 2% of one core):")
        for line in idle:
            print(f"  {line}")


@contextmanager
def _no_cluster() -> Iterator[Cluster | None]:
    yield None


if __name__ == "__main__":
    main()
