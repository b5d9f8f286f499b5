"""`overseer log` on real runs: the agent's lines and the decisions, --task, and --follow both
on a finished run and on one still going."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from e2e_helpers import clean_env, git, overseer_cmd

SECRET = "sk-test-PLANTED123456789"

AGENT = """\
import os
task, n = os.environ["OVERSEER_TASK_ID"], os.environ["OVERSEER_ATTEMPT"]
print("key is", os.environ["OPENAI_API_KEY"])
if task == "double":
    body = "return abs(x) * 2" if n == "1" else "return x * 2"
    open("mathx.py", "w").write("def double(x):\\n    " + body + "\\n")
else:
    open("DOC.md", "w").write("double(x) doubles x\\n")
print(f"did {task} attempt {n}")
"""

TESTS = """\
import unittest
from mathx import double
class T(unittest.TestCase):
    def test_double(self):
        self.assertEqual(double(2), 4)
    def test_double_negative(self):
        self.assertEqual(double(-2), -4)
"""

PLAN = """\
version: 1
name: log-e2e
defaults: {agent: py, max_attempts: 3, timeout: 60}
agents:
  py: {type: shell, command: "python3 tools/agent.py"}
gates:
  - {name: unit, run: "python3 -m unittest -v test_mathx", timeout: 60}
tasks:
  - {id: double, title: Write double(), prompt: Write double(x) in mathx.py., gates: [unit]}
  - {id: doc, title: Document double(), prompt: Describe double() in DOC.md., depends_on: [double], gates: []}
"""

# Waits for the test to let it go, so a follower can be attached while the run is live.
SLOW_AGENT = """\
import os, time
print("waiting for go", flush=True)
go = os.environ["GO_FILE"]
for _ in range(1200):
    if os.path.exists(go):
        break
    time.sleep(0.05)
open("slow.txt", "w").write("done\\n")
print("released by go")
"""


def _repo(base: Path, files: dict[str, str]) -> Path:
    repo = base / "repo"
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    return repo


def _env(base: Path) -> dict[str, str]:
    home = base / "home"
    home.mkdir(exist_ok=True)
    return {**clean_env(home), "OPENAI_API_KEY": SECRET}


def _cli(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(overseer_cmd(*args), cwd=repo, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    base = tmp_path_factory.mktemp("log")
    repo = _repo(base, {"tools/agent.py": AGENT, "test_mathx.py": TESTS, "mathx.py": "", "plan.yaml": PLAN})
    env = _env(base)
    res = _cli(repo, env, "run", "plan.yaml", "--no-wait")
    # Built-in breakpoint rules may stop the run on the way; a person approves.
    for _ in range(5):
        if res.returncode != 3:
            break
        for bp in json.loads(_cli(repo, env, "status", "--json").stdout)["breakpoints"]:
            if bp["state"] == "open":
                assert _cli(repo, env, "approve", bp["id"]).returncode == 0
        res = _cli(repo, env, "resume", "--no-wait")
    assert res.returncode == 0, res.stdout + res.stderr
    return repo, env


def test_log_shows_agent_lines_gates_and_decisions(finished: tuple[Path, dict[str, str]]) -> None:
    repo, env = finished
    res = _cli(repo, env, "log")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "did double attempt 1" in out and "did double attempt 2" in out and "did doc attempt 1" in out
    assert "unit FAILED" in out and "unit passed" in out
    assert "decision    retry: required gate unit failed" in out
    assert "decision    proceed:" in out
    assert "committed" in out and out.rstrip().endswith("completed")
    assert SECRET not in out and "key is sk-***[" in out
    lines = out.splitlines()
    # One stream in the order things happened: attempt 1's output, its decision, attempt 2.
    first = next(i for i, x in enumerate(lines) if "did double attempt 1" in x)
    retry = next(i for i, x in enumerate(lines) if "retry:" in x)
    second = next(i for i, x in enumerate(lines) if "did double attempt 2" in x)
    assert first < retry < second
    assert [x.split()[2] for x in lines if "did double attempt" in x] == ["double#1", "double#2"]


def test_log_task_filter(finished: tuple[Path, dict[str, str]]) -> None:
    repo, env = finished
    res = _cli(repo, env, "log", "--task", "doc")
    assert res.returncode == 0, res.stderr
    assert "did doc attempt 1" in res.stdout and "decision    proceed" in res.stdout
    assert "double" not in res.stdout.replace("Document double()", "")
    bad = _cli(repo, env, "log", "--task", "nope")
    assert bad.returncode == 2 and "no task 'nope'" in bad.stderr and "double, doc" in bad.stderr


def test_follow_on_a_finished_run_returns(finished: tuple[Path, dict[str, str]]) -> None:
    repo, env = finished
    res = _cli(repo, env, "log", "--follow")
    assert res.returncode == 0, res.stderr
    assert res.stdout == _cli(repo, env, "log").stdout


def _read_until(proc: subprocess.Popen[str], needle: str) -> str:
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if needle in line:
            return "".join(seen)
    raise AssertionError(f"{needle!r} never came; got:\n{''.join(seen)}")


def test_follow_tails_a_live_run_until_it_ends(tmp_path: Path) -> None:
    go = tmp_path / "go"
    plan = f"""\
version: 1
name: follow
agents:
  slow: {{type: shell, command: "python3 tools/slow.py", env: {{GO_FILE: "{go}"}}}}
tasks:
  - {{id: slow, prompt: take your time, agent: slow, timeout: 120}}
"""
    repo = _repo(tmp_path, {"tools/slow.py": SLOW_AGENT, "plan.yaml": plan})
    env = _env(tmp_path)
    run = subprocess.Popen(overseer_cmd("run", "plan.yaml"), cwd=repo, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    procs = [run]
    try:
        deadline = time.monotonic() + 60
        while _cli(repo, env, "status", "--json").returncode != 0:
            assert time.monotonic() < deadline and run.poll() is None, "the run never started"
            time.sleep(0.2)
        follower = subprocess.Popen(overseer_cmd("log", "--follow"), cwd=repo, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        quitter = subprocess.Popen(overseer_cmd("log", "--follow"), cwd=repo, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs += [follower, quitter]
        before = _read_until(follower, "waiting for go")

        # Ctrl-C while following a live run: exit 130, no traceback.
        _read_until(quitter, "waiting for go")
        quitter.send_signal(signal.SIGINT)
        _, q_err = quitter.communicate(timeout=60)
        assert quitter.returncode == 130 and "Traceback" not in q_err

        go.write_text("go\n")
        run_out, _ = run.communicate(timeout=120)
        assert run.returncode == 0, run_out
        rest, f_err = follower.communicate(timeout=60)
        assert follower.returncode == 0, f_err
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert "released by go" not in before
    assert "released by go" in rest and "decision    proceed" in rest
    assert rest.rstrip().endswith("completed")
