"""`overseer steer`: a message to a running task, without stopping it — the running attempt goes
on, and the next prompt carries the message (one more attempt when the running one passes)."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest
from e2e_helpers import clean_env, git, overseer_cmd, wait_for
from tests.fakes.anthropic import FakeAnthropic, Turn
from tests.realbin import cli

AGENT = """\
import os, pathlib, time
n = os.environ["OVERSEER_ATTEMPT"]
with open(os.environ["AGENT_LOG"], "a") as f:
    f.write(f"attempt {n}\\n{os.environ['OVERSEER_PROMPT']}\\n@@end\\n")
if n == "1":
    go = pathlib.Path(os.environ["GO"])
    while not go.exists():
        time.sleep(0.05)
open("calc.py", "a").write(f"# attempt {n}\\n")
"""

PLAN = """\
version: 1
name: steer-me
defaults: {agent: py, timeout: 120, max_attempts: 3}
agents:
  py: {type: shell, command: "python3 tools/agent.py"}
tasks:
  - {id: add, prompt: implement add, gates: [{name: made, run: "test -f calc.py"}]}
"""


def test_steer_reaches_the_next_prompt_without_stopping_the_attempt(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"tools/agent.py": AGENT, "plan.yaml": PLAN})
    home = tmp_path / "home"
    home.mkdir()
    log, go = tmp_path / "agent.log", tmp_path / "go"
    env = {**clean_env(home), "AGENT_LOG": str(log), "GO": str(go)}
    proc = subprocess.Popen(overseer_cmd("run", "plan.yaml", "--plain"), cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: log.exists() and "attempt 1" in log.read_text(), timeout=120)
        res = subprocess.run(overseer_cmd("steer", "add", "also handle negative numbers\nand say so"),
                             cwd=repo, env=env, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "queued for task add" in res.stdout and "next prompt" in res.stdout
        shown = subprocess.run(overseer_cmd("show", "add"), cwd=repo, env=env, capture_output=True,
                               text=True, timeout=60).stdout
        assert "waiting for the next prompt" in shown and "also handle negative numbers" in shown
        go.touch()  # attempt 1 finishes as it would have; nothing interrupted it
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    prompts = [p for p in log.read_text().split("@@end\n") if p]
    assert [p.splitlines()[0] for p in prompts] == ["attempt 1", "attempt 2"]
    assert "negative" not in prompts[0]
    assert "> also handle negative numbers\n> and say so" in prompts[1]
    st = json.loads(subprocess.run(overseer_cmd("status", "--json"), cwd=repo, env=env, capture_output=True,
                                   text=True, timeout=60).stdout)
    assert [(t["state"], t["attempts"]) for t in st["tasks"]] == [("completed", 2)]
    # Attempt 2 built on attempt 1's work, and the task's one commit has both.
    assert git(repo, "show", "HEAD:calc.py") == "# attempt 1\n# attempt 2\n"
    page = json.loads(subprocess.run(overseer_cmd("show", "add#2", "--json"), cwd=repo, env=env,
                                     capture_output=True, text=True, timeout=60).stdout)
    assert [s["message"] for s in page["steers"]] == ["also handle negative numbers\nand say so"]
    assert page["steers_waiting"] == []

    late = subprocess.run(overseer_cmd("steer", "add", "one more thing"), cwd=repo, env=env,
                          capture_output=True, text=True, timeout=60)
    assert late.returncode == 2 and "is completed" in late.stderr and "rollback" in late.stderr
    empty = subprocess.run(overseer_cmd("steer", "nope", "x"), cwd=repo, env=env, capture_output=True,
                           text=True, timeout=60)
    assert empty.returncode == 2 and "no task 'nope'" in empty.stderr and "Traceback" not in empty.stderr


@pytest.mark.real
def test_a_running_claude_code_session_takes_the_message_at_the_end_of_its_turn(make_repo, tmp_path: Path) -> None:
    """Claude Code gets a steer in its running session, once the turn it is in ends: no new
    process, no extra attempt, the same conversation."""
    hold = threading.Event()
    turns = [Turn.reply("Wrote nothing yet.", when="Describe the plan", hold=hold),
             Turn.reply("Negative numbers handled too.", when="negative numbers")]
    with FakeAnthropic(turns) as api:
        repo = make_repo({"README.md": "demo\n"})
        (repo / "plan.yaml").write_text(f"""\
version: 1
name: steer-claude
defaults: {{max_attempts: 2, timeout: 120}}
agents:
  cc:
    type: claude-code
    binary: {cli("claude")}
    env: {{ANTHROPIC_BASE_URL: {api.url}, ANTHROPIC_API_KEY: sk-ant-fake}}
tasks:
  - {{id: plan, agent: cc, prompt: Describe the plan.}}
""")
        git(repo, "add", "plan.yaml")
        git(repo, "commit", "-q", "-m", "plan")
        home = tmp_path / "home"
        home.mkdir()
        env = clean_env(home)
        proc = subprocess.Popen(overseer_cmd("run", "plan.yaml", "--plain"), cwd=repo, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_for(lambda: len(api.calls) >= 1, timeout=120)  # the first turn is in progress
            res = subprocess.run(overseer_cmd("steer", "plan", "also handle negative numbers"), cwd=repo,
                                 env=env, capture_output=True, text=True, timeout=60)
            assert res.returncode == 0 and "into the running session" in res.stdout, res.stdout + res.stderr
            hold.set()
            out, _ = proc.communicate(timeout=120)
        finally:
            hold.set()
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, out
        assert [c.turn for c in api.calls] == [0, 1]
        assert "Wrote nothing yet." in json.dumps(api.calls[1].body["messages"])  # same conversation
    st = json.loads(subprocess.run(overseer_cmd("status", "--json"), cwd=repo, env=env, capture_output=True,
                                   text=True, timeout=60).stdout)
    assert [(t["state"], t["attempts"]) for t in st["tasks"]] == [("completed", 1)]
    page = json.loads(subprocess.run(overseer_cmd("show", "plan#1", "--json"), cwd=repo, env=env,
                                     capture_output=True, text=True, timeout=60).stdout)
    assert [(s["message"], s["how"]) for s in page["steers"]] == [("also handle negative numbers", "live")]
    assert page["attempt"]["final_message"] == "Negative numbers handled too."
