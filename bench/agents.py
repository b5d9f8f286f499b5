"""Wall time and peak memory of one agent task run through overseer vs. the bare CLI.

The same task — "write hello.txt containing hi": one tool call, then a final message — is
scripted on a fake model server (tests/fakes, 127.0.0.1) and run by the REAL agent CLI, in
a fresh git repository each time, in these modes, interleaved over `--reps` repetitions:

- bare:      the CLI alone, with exactly the argv and env the adapter builds
             (claude: `claude -p --output-format stream-json --verbose --permission-mode
             acceptEdits`, prompt on stdin; codex: `codex exec --json … --sandbox
             workspace-write -- PROMPT` with the CODEX_HOME/config.toml the adapter writes);
- overseer:  `overseer run plan.yaml --yes --supervisor none`, a one-task plan, no gates;
- adapter:   the adapter's `run()` called in this process (the CLI plus the adapter's own
             stream parsing, without Python start, DBOS, store or git);
- noop:      `overseer run` of the same one-task plan with a `shell: true` agent: what
             overseer costs per task with no agent at all.

Besides these, each repetition times `overseer validate plan.yaml` (Python start, CLI
imports, plan load) and fresh interpreters importing the engine and the supervisor's LLM SDKs,
and reads the attempt's duration from `overseer status --json`, to split the gap.

Peak memory is taken over the whole process tree (the root and every descendant, found by
parent pid in /proc, polled every `--poll` seconds): the sum of PSS (shared pages divided
among the processes mapping them: honest when a CLI forks or processes share libraries), the
sum of RSS (shared pages counted per process) and the largest single RSS. For `adapter` the
tree is this process's children only (the CLI): the adapter's Python is this process.

    python bench/agents.py [--agent claude|codex] [--reps 5] [--warmup 1]

Prints numbers; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.fakes.anthropic import FakeAnthropic, Turn  # noqa: E402
from tests.fakes.openai_responses import FakeResponses, add_file_patch, apply_patch_item, reply, say  # noqa: E402
from tests.realbin import CLI_PATHS  # noqa: E402

from overseer.agents.base import AgentEvent, AgentResult, RunContext  # noqa: E402
from overseer.agents.claude_code import ClaudeCodeAgent, ClaudeCodeConfig  # noqa: E402
from overseer.agents.codex import CodexAgent, CodexConfig, config_toml  # noqa: E402
from overseer.agents.envvars import expand_env  # noqa: E402
from overseer.agents.process import ATTEMPT_ENV  # noqa: E402

PROMPT = "Write hello.txt containing hi."
CONTENT = "hi\n"
KEY_VAR = "BENCH_AGENT_KEY"
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- memory: RSS of a process tree, sampled ---------------------------------------------------


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid → (ppid, rss bytes) for every live process."""
    out: dict[int, tuple[int, int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        # After "pid (comm)": [0] state, [1] ppid, ... [21] rss in pages.
        out[int(name)] = (int(fields[1]), int(fields[21]) * PAGE)
    return out


def _pss(pid: int) -> int:
    """Proportional set size: each shared page divided among the processes mapping it, so a
    tree's sum does not count a fork's copy-on-write pages or a shared library twice."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class TreeSampler:
    """Polls the tree under `root` (including it unless `include_root` is false)."""

    def __init__(self, root: int, *, include_root: bool = True, interval: float = 0.02) -> None:
        self.root, self.include_root, self.interval = root, include_root, interval
        self.peak_sum = 0
        self.peak_one = 0
        self.peak_pss = 0
        self.pids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        table = _proc_table()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _rss) in table.items():
            children.setdefault(ppid, []).append(pid)
        tree = [self.root] if self.include_root else []
        todo = list(children.get(self.root, []))
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        rss = [table[p][1] for p in tree if p in table]
        self.pids.update(tree)
        self.peak_sum = max(self.peak_sum, sum(rss))
        self.peak_one = max([self.peak_one, *rss])
        self.peak_pss = max(self.peak_pss, sum(_pss(p) for p in tree))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


# -- one measured run --------------------------------------------------------------------------


@dataclass
class Sample:
    wall: float
    peak_sum: int  # RSS summed over the tree
    peak_one: int  # RSS of the largest single process
    peak_pss: int  # PSS summed over the tree
    procs: int
    extra: dict[str, float] = field(default_factory=dict)


def run_process(argv: list[str], *, cwd: Path, env: dict[str, str], stdin: bytes | None,
                poll: float, timeout: float = 300) -> tuple[Sample, subprocess.CompletedProcess[bytes]]:
    t0 = time.perf_counter()
    # Its own process group, so that a run that hangs (e.g. parked on a breakpoint) is killed whole.
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    with TreeSampler(proc.pid, interval=poll) as s:
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise SystemExit(f"{' '.join(argv[:3])} … in {cwd} did not finish within {timeout:g}s "
                             f"(killed):\n{out.decode()[-1500:]}\n{err.decode()[-1500:]}") from None
        wall = time.perf_counter() - t0
    return (Sample(wall, s.peak_sum, s.peak_one, s.peak_pss, len(s.pids)),
            subprocess.CompletedProcess(argv, proc.returncode, out, err))


def run_in_process(fn: Callable[[], AgentResult], poll: float) -> tuple[Sample, AgentResult]:
    t0 = time.perf_counter()
    with TreeSampler(os.getpid(), include_root=False, interval=poll) as s:
        result = fn()
        wall = time.perf_counter() - t0
    return Sample(wall, s.peak_sum, s.peak_one, s.peak_pss, len(s.pids)), result


# -- the agents: fake server, config, bare argv/env ------------------------------------------


class Bench:
    """One agent kind: its fake server, its adapter config and how to run it bare."""

    name: str
    plan_agent: str  # YAML of the plan's agent entry (one line, flow style)

    def script(self, repo: Path) -> None:
        """Arm the fake server for one run of the task in `repo`."""
        raise NotImplementedError

    def check(self, repo: Path) -> None:
        got = (repo / "hello.txt").read_text() if (repo / "hello.txt").exists() else None
        if got is None or got.strip() != CONTENT.strip():
            raise SystemExit(f"{self.name}: hello.txt in {repo} is {got!r}, expected {CONTENT!r}")

    def adapter(self) -> Any:
        raise NotImplementedError

    def bare(self, ctx: RunContext) -> tuple[list[str], dict[str, str], bytes | None]:
        raise NotImplementedError

    def check_bare(self, res: subprocess.CompletedProcess[bytes]) -> None:
        raise NotImplementedError


class ClaudeBench(Bench):
    name = "claude-code"

    def __init__(self, binary: Path, api: FakeAnthropic, tmp: Path) -> None:
        self.api = api
        cfg_dir = str(tmp / "claude-config" / "{run_id}")
        self.config = ClaudeCodeConfig.model_validate({
            "binary": str(binary), "config_dir": cfg_dir,
            "env": {"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": "${" + KEY_VAR + "}"}})
        self.plan_agent = json.dumps(self.config.model_dump(include={"type", "binary", "config_dir", "env"}))

    def script(self, repo: Path) -> None:
        # The CLI's Write tool wants an absolute path: each run gets the turns for its repo.
        with self.api._lock:
            self.api.turns = [Turn.write(str(repo / "hello.txt"), CONTENT, when="hello.txt"),
                              Turn.reply("Wrote hello.txt.", when="File created")]
            self.api.used = set()

    def adapter(self) -> ClaudeCodeAgent:
        return ClaudeCodeAgent(self.config)

    def bare(self, ctx: RunContext) -> tuple[list[str], dict[str, str], bytes | None]:
        a = self.adapter()
        return a.argv(ctx), a.env(ctx), ctx.prompt.encode()

    def check_bare(self, res: subprocess.CompletedProcess[bytes]) -> None:
        lines = [json.loads(x) for x in res.stdout.decode().splitlines() if x.startswith("{")]
        final = [x for x in lines if x.get("type") == "result"]
        if not final or final[-1].get("is_error"):
            raise SystemExit(f"bare claude failed ({res.returncode}): {res.stdout[-1500:]!r} {res.stderr[-1500:]!r}")


class CodexBench(Bench):
    name = "codex"

    def __init__(self, binary: Path, api: FakeResponses, tmp: Path) -> None:
        self.api = api
        self.config = CodexConfig.model_validate({
            "binary": str(binary), "model": "gpt-5.5", "base_url": api.base_url, "api_key_env": KEY_VAR})
        self.plan_agent = json.dumps(self.config.model_dump(
            include={"type", "binary", "model", "base_url", "api_key_env"}))

    def script(self, repo: Path) -> None:
        self.api.script = [reply(apply_patch_item(add_file_patch("hello.txt", CONTENT))), say("Wrote hello.txt.")]

    def adapter(self) -> CodexAgent:
        return CodexAgent(self.config)

    def bare(self, ctx: RunContext) -> tuple[list[str], dict[str, str], bytes | None]:
        # What CodexAgent.run builds for a fresh (not resumed) attempt with a short prompt.
        cfg = self.config
        home = ctx.transcript.parent / "codex-home"
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.toml").write_text(config_toml(cfg))
        env = {**os.environ, **expand_env(cfg.env, os.environ), **ctx.extra_env,
               "CODEX_HOME": str(home), ATTEMPT_ENV: f"{ctx.run_id}/{ctx.task_id}/{ctx.attempt}"}
        argv = [cfg.binary, "exec", "--json", "--skip-git-repo-check", *cfg.args,
                "--sandbox", cfg.sandbox, "--", ctx.prompt]
        return argv, env, None

    def check_bare(self, res: subprocess.CompletedProcess[bytes]) -> None:
        types = [json.loads(x).get("type") for x in res.stdout.decode().splitlines() if x.startswith("{")]
        if res.returncode != 0 or "turn.completed" not in types:
            raise SystemExit(f"bare codex failed ({res.returncode}): {res.stdout[-1500:]!r} {res.stderr[-1500:]!r}")


# -- repositories, plans, modes ----------------------------------------------------------------


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def plan_text(agent_yaml: str) -> str:
    return textwrap.dedent(f"""\
        version: 1
        name: bench-agents
        defaults: {{agent: a, max_attempts: 1, timeout: 120}}
        agents:
          a: {agent_yaml}
        tasks:
          - id: hello
            title: Write hello
            prompt: {PROMPT}
            gates: []
        """)


NOOP_AGENT = '{"type": "shell", "command": "true"}'


def fresh_repo(tmp: Path, agent_yaml: str) -> Path:
    repo = tmp / "runs" / uuid.uuid4().hex[:10] / "repo"
    repo.mkdir(parents=True)
    (repo / "README.md").write_text("bench\n")
    (repo / "plan.yaml").write_text(plan_text(agent_yaml))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    return repo


def context(repo: Path) -> RunContext:
    run_id = f"bench-{uuid.uuid4().hex[:10]}"
    adir = repo.parent / "state" / run_id / "hello" / "1"
    adir.mkdir(parents=True)
    events: list[AgentEvent] = []
    return RunContext(workdir=repo, prompt=PROMPT, prompt_file=adir / "prompt.md", run_id=run_id, task_id="hello",
                      attempt=1, timeout=120, transcript=adir / "transcript.jsonl", on_event=events.append)


def overseer_argv(*args: str) -> list[str]:
    exe = Path(sys.executable).with_name("overseer")
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "overseer.cli.main", *args]


def mode_bare(b: Bench, tmp: Path, poll: float) -> Sample:
    repo = fresh_repo(tmp, b.plan_agent)
    b.script(repo)
    argv, env, stdin = b.bare(context(repo))
    s, res = run_process(argv, cwd=repo, env=env, stdin=stdin, poll=poll)
    b.check_bare(res)
    b.check(repo)
    return s


def mode_adapter(b: Bench, tmp: Path, poll: float) -> Sample:
    repo = fresh_repo(tmp, b.plan_agent)
    b.script(repo)
    ctx = context(repo)
    agent = b.adapter()
    s, result = run_in_process(lambda: agent.run(ctx), poll)
    if result.status != "completed":
        raise SystemExit(f"adapter run failed: {result.status}: {result.error}")
    b.check(repo)
    return s


def _overseer(b: Bench, repo: Path, poll: float) -> Sample:
    s, res = run_process(overseer_argv("run", "plan.yaml", "--yes", "--supervisor", "none"),
                         cwd=repo, env=dict(os.environ), stdin=None, poll=poll)
    if res.returncode != 0:
        raise SystemExit(f"overseer run failed ({res.returncode}):\n{res.stdout.decode()[-2000:]}\n"
                         f"{res.stderr.decode()[-2000:]}")
    # Not timed: how long the agent's attempt took inside that run, by overseer's own account.
    st = subprocess.run(overseer_argv("status", "--json"), cwd=repo, capture_output=True, text=True, check=True)
    s.extra["attempt"] = float(json.loads(st.stdout)["totals"]["duration_s"])
    return s


def mode_overseer(b: Bench, tmp: Path, poll: float) -> Sample:
    repo = fresh_repo(tmp, b.plan_agent)
    b.script(repo)
    s = _overseer(b, repo, poll)
    b.check(repo)
    return s


def mode_noop(b: Bench, tmp: Path, poll: float) -> Sample:
    return _overseer(b, fresh_repo(tmp, NOOP_AGENT), poll)


def mode_startup(b: Bench, tmp: Path, poll: float) -> Sample:
    repo = fresh_repo(tmp, b.plan_agent)
    s, res = run_process(overseer_argv("validate", "plan.yaml"), cwd=repo, env=dict(os.environ), stdin=None, poll=poll)
    if res.returncode != 0:
        raise SystemExit(f"overseer validate failed: {res.stdout.decode()[-1000:]} {res.stderr.decode()[-1000:]}")
    return s


def _import_probe(modules: str) -> Callable[[Bench, Path, float], Sample]:
    def probe(b: Bench, tmp: Path, poll: float) -> Sample:
        s, res = run_process([sys.executable, "-c", f"import {modules}"], cwd=tmp, env=dict(os.environ),
                             stdin=None, poll=poll)
        if res.returncode != 0:
            raise SystemExit(f"import {modules} failed: {res.stderr.decode()[-1000:]}")
        return s

    return probe


MODES: dict[str, Callable[[Bench, Path, float], Sample]] = {
    "bare": mode_bare, "overseer": mode_overseer, "adapter": mode_adapter,
    "noop": mode_noop, "startup": mode_startup,
    # Fresh interpreters importing what `overseer run` imports beyond the CLI.
    "imp-engine": _import_probe("overseer.engine.runner, overseer.engine.workflows"),
    "imp-llm": _import_probe("overseer.supervisor.providers"),
}
LABELS = {
    "bare": "bare CLI",
    "overseer": "overseer run",
    "adapter": "adapter in-process",
    "noop": "overseer run, no-op agent",
    "startup": "overseer validate",
    "imp-engine": "python: import engine",
    "imp-llm": "python: import LLM SDKs",
}
NOTES = {
    "adapter": "memory: the CLI only; the adapter is this process",
    "noop": "same plan, agent `true`: overseer alone",
    "startup": "Python start, CLI imports, plan load",
    "imp-engine": "overseer.engine.runner+workflows (DBOS, SQLAlchemy, store)",
    "imp-llm": "overseer.supervisor.providers (anthropic, openai SDKs)",
}


# -- report ------------------------------------------------------------------------------------


def mb(n: float) -> str:
    return f"{n / 2**20:.0f} MB"


def _paired(a: list[Sample], b: list[Sample]) -> float:
    return statistics.median(x.wall - y.wall for x, y in zip(a, b, strict=True))


def report(agent: str, samples: dict[str, list[Sample]], reps: int, poll: float) -> None:
    def med(m: str, attr: str = "wall") -> float:
        return float(statistics.median(getattr(x, attr) for x in samples[m]))

    load = os.getloadavg()
    print(f"\nagent {agent}: {reps} interleaved repetitions on {os.cpu_count()} CPUs, load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} — a busy shared box: read the ratios, not the absolutes")
    print(f"memory: peaks over the whole process tree, sampled every {poll * 1000:.0f} ms. 'tree PSS' splits "
          "shared pages (libraries, a fork's\ncopy-on-write pages) among the processes mapping them: the honest "
          "sum. 'tree RSS' counts them once per process; 'largest' is one process.\n")
    head = (f"{'mode':26} {'median s':>8} {'min s':>7} {'tree PSS':>9} {'tree RSS':>9} {'largest':>8} "
            f"{'procs':>5}  note")
    print(head)
    print("-" * (len(head) + 40))
    for m, v in samples.items():
        print(f"{LABELS[m]:26} {med(m):8.2f} {min(x.wall for x in v):7.2f} {mb(med(m, 'peak_pss')):>9} "
              f"{mb(med(m, 'peak_sum')):>9} {mb(med(m, 'peak_one')):>8} {med(m, 'procs'):5.0f}  {NOTES.get(m, '')}")
    if "bare" not in samples:
        return
    print()
    bare_t = med("bare")
    if "overseer" in samples:
        tr = med("overseer") / bare_t
        tmin = min(x.wall for x in samples["overseer"]) / min(x.wall for x in samples["bare"])
        pr = med("overseer", "peak_pss") / med("bare", "peak_pss")
        rr = med("overseer", "peak_sum") / med("bare", "peak_sum")
        verdict = "within" if tr <= 1.05 else "NOT within"
        print(f"overseer / bare, wall          median {tr:6.2f}x  min {tmin:6.2f}x   ({verdict} the 5% aim)")
        print(f"overseer / bare, peak memory   PSS    {pr:6.2f}x  RSS {rr:6.2f}x   "
              f"(+{mb(med('overseer', 'peak_pss') - med('bare', 'peak_pss'))} PSS)")
        gap = _paired(samples["overseer"], samples["bare"])
        attempt = statistics.median(x.extra["attempt"] for x in samples["overseer"])
        print(f"fixed cost overseer adds       {gap:6.2f} s per task (median of paired overseer - bare)")
        print(f"  the agent's attempt inside   {attempt:6.2f} s (overseer's own duration_s; bare CLI {bare_t:.2f} s)")
        print(f"  everything else in the run   {med('overseer') - attempt:6.2f} s")
        if "noop" in samples:
            print(f"  cf. a run with a no-op agent {med('noop'):6.2f} s")
        for m in ("startup", "imp-engine", "imp-llm"):
            if m in samples:
                print(f"    {LABELS[m] + ':':25} {med(m):6.2f} s  {NOTES[m]}")
    if "adapter" in samples:
        print(f"adapter in-process / bare      median {med('adapter') / bare_t:6.2f}x   "
              f"(paired difference {_paired(samples['adapter'], samples['bare']):+.2f} s: the adapter's own cost)")


# -- main --------------------------------------------------------------------------------------


def find_cli(name: str) -> Path:
    default, var = CLI_PATHS[name]
    p = Path(os.environ[var]) if os.environ.get(var) else default
    if p.exists():
        return p
    found = shutil.which(name)
    if found:
        return Path(found)
    raise SystemExit(f"the {name} CLI is not installed: run `bash scripts/install-agent-clis.sh`")


def isolate_env(tmp: Path) -> None:
    """This process's env is the base for every mode: a temp HOME, no OVERSEER_* or model keys."""
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("OVERSEER_", "ANTHROPIC_", "CLAUDE_", "OPENAI_", "CODEX_"))}
    home = tmp / "home"
    home.mkdir()
    keep.update({
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
        "OVERSEER_SUPERVISOR__PROVIDER": "none",
        "GIT_AUTHOR_NAME": "bench", "GIT_COMMITTER_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid", "GIT_COMMITTER_EMAIL": "bench@example.invalid",
        KEY_VAR: "sk-bench-fake-key",
    })
    os.environ.clear()
    os.environ.update(keep)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--agent", choices=["claude", "codex"], default="claude")
    ap.add_argument("--reps", type=int, default=5, help="measured repetitions of every mode, interleaved")
    ap.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first (disk caches, node compile cache)")
    ap.add_argument("--modes", default="bare,overseer,adapter,noop,startup,imp-engine,imp-llm",
                    help=f"comma-separated, of {','.join(MODES)}")
    ap.add_argument("--poll", type=float, default=0.02, help="seconds between /proc samples")
    args = ap.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := [m for m in modes if m not in MODES]:
        ap.error(f"unknown modes: {unknown}")

    with tempfile.TemporaryDirectory(prefix="overseer-bench-agents-") as d:
        tmp = Path(d)
        isolate_env(tmp)
        binary = find_cli(args.agent)
        server: FakeAnthropic | FakeResponses = FakeAnthropic([]) if args.agent == "claude" else FakeResponses()
        with server:
            b: Bench = (ClaudeBench(binary, server, tmp) if isinstance(server, FakeAnthropic)
                        else CodexBench(binary, server, tmp))
            samples: dict[str, list[Sample]] = {m: [] for m in modes}
            for r in range(args.warmup + args.reps):
                measured = r >= args.warmup
                for m in modes:
                    s = MODES[m](b, tmp, args.poll)
                    if measured:
                        samples[m].append(s)
                    print(f"{'rep' if measured else 'warmup'} {r - args.warmup + 1 if measured else r + 1:>2} "
                          f"{m:10} {s.wall:6.2f} s  pss {mb(s.peak_pss)}  rss {mb(s.peak_sum)}", file=sys.stderr, flush=True)
    report(b.name, samples, args.reps, args.poll)


if __name__ == "__main__":
    main()
