"""Human breakpoints: parked tasks, answers from another process, notes reaching the agent."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from e2e_helpers import clean_env, git, overseer_cmd

AGENT = """\
import os
task, n = os.environ["OVERSEER_TASK_ID"], os.environ["OVERSEER_ATTEMPT"]
open(f"{task}.txt", "w").write(f"{task} attempt {n}\\n")
with open(os.environ["AGENT_LOG"], "a") as f:
    f.write(f"{task} {n} {os.environ['OVERSEER_PROMPT']!r}\\n")
"""


def _plan(log: Path, first_breakpoint: str = "after") -> str:
    return f"""\
version: 1
name: bp
defaults: {{agent: py, timeout: 60, max_attempts: 3}}
agents:
  py: {{type: shell, command: "python3 tools/agent.py", env: {{AGENT_LOG: "{log}"}}}}
tasks:
  - {{id: first, prompt: write first, breakpoint: {first_breakpoint}}}
  - {{id: second, prompt: write second, depends_on: [first]}}
  - {{id: side, prompt: write side}}
"""


def _status(repo: Path, env: dict[str, str]) -> dict:
    res = subprocess.run(overseer_cmd("status", "--json"), cwd=repo, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return clean_env(home)


def test_no_wait_parks_then_approve_and_resume(make_repo, tmp_path):
    log = tmp_path / "agent.log"
    repo = make_repo({"tools/agent.py": AGENT})
    (repo / "plan.yaml").write_text(_plan(log))
    env = _env(tmp_path)

    res = subprocess.run(overseer_cmd("run", "plan.yaml", "--no-wait"), cwd=repo, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 3, res.stdout + res.stderr
    st = _status(repo, env)
    assert st["state"] == "waiting"
    [bp] = [b for b in st["breakpoints"] if b["state"] == "open"]
    assert bp["task"] == "first" and bp["kind"] == "after_task"
    tasks = {t["id"]: t["state"] for t in st["tasks"]}
    # Only the task at the breakpoint is parked: the independent one went on and finished.
    assert tasks == {"first": "blocked", "second": "pending", "side": "completed"}
    assert f"overseer approve {bp['id']}" in res.stdout
    assert "first: write first" not in git(repo, "log", "--format=%s")

    ok = subprocess.run(overseer_cmd("approve", bp["id"], "--note", "looks right"), cwd=repo, env=env,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    again = subprocess.run(overseer_cmd("reject", bp["id"], "--note", "changed my mind"), cwd=repo, env=env,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "already approved" in again.stderr

    res = subprocess.run(overseer_cmd("resume"), cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    st = _status(repo, env)
    assert st["state"] == "completed"
    assert [b["state"] for b in st["breakpoints"]] == ["approved"]
    assert sorted(git(repo, "log", "--format=%s").splitlines()) == sorted(
        ["first: first", "second: second", "side: side", "start"]
    )
    # The first task's agent ran once: approval commits the attempt that was reviewed.
    assert [line.split()[:2] for line in log.read_text().splitlines()].count(["first", "1"]) == 1


def test_reject_sends_note_to_the_agent_while_run_is_attached(make_repo, tmp_path):
    log = tmp_path / "agent.log"
    repo = make_repo({"tools/agent.py": AGENT})
    (repo / "plan.yaml").write_text(_plan(log))
    env = _env(tmp_path)
    run = subprocess.Popen(overseer_cmd("run", "plan.yaml"), cwd=repo, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        bp = _wait_open_breakpoint(repo, env)
        rej = subprocess.run(overseer_cmd("reject", bp, "--note", "use capital letters"), cwd=repo, env=env,
                             capture_output=True, text=True, timeout=60)
        assert rej.returncode == 0, rej.stderr
        bp2 = _wait_open_breakpoint(repo, env, not_id=bp)
        ok = subprocess.run(overseer_cmd("approve", bp2), cwd=repo, env=env, capture_output=True, text=True, timeout=60)
        assert ok.returncode == 0, ok.stderr
        out, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, out
    lines = log.read_text().splitlines()
    second_attempt = [line for line in lines if line.startswith("first 2 ")]
    assert second_attempt and "use capital letters" in second_attempt[0]
    assert (repo / "first.txt").read_text() == "first attempt 2\n"


def _wait_open_breakpoint(repo: Path, env: dict[str, str], not_id: str | None = None, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (repo / ".overseer" / "state.db").exists():
            try:
                st = _status(repo, env)
            except (AssertionError, json.JSONDecodeError):
                st = {"breakpoints": []}
            for b in st["breakpoints"]:
                if b["state"] == "open" and b["id"] != not_id:
                    return str(b["id"])
        time.sleep(0.3)
    raise AssertionError("no open breakpoint appeared")
