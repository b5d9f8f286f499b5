"""A whole run through the real CLI: retries with feedback, commits, status, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from e2e_helpers import git

# An agent that writes a buggy answer first and fixes it only when the feedback it is given
# names the failing test: proof that the gate's feedback reaches the agent's prompt.
AGENT = """\
import os, sys
task, prompt = os.environ["OVERSEER_TASK_ID"], os.environ["OVERSEER_PROMPT"]
assert open(os.environ["OVERSEER_PROMPT_FILE"]).read() == prompt
with open(os.environ["AGENT_LOG"], "a") as f:
    f.write(f"{task} {os.environ['OVERSEER_ATTEMPT']}\\n")
if task == "double":
    body = "def double(x):\\n    return x * 2\\n" if "test_double_negative" in prompt else "def double(x):\\n    return abs(x) * 2\\n"
    open("mathx.py", "w").write(body)
elif task == "doc":
    open("DOC.md", "w").write("double(x) doubles x\\n")
elif task == "never":
    sys.exit(3)
print(f"did {task}")
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


def plan_text(log: Path, extra_task: str = "") -> str:
    return f"""\
version: 1
name: e2e
defaults: {{agent: py, max_attempts: 3, timeout: 60}}
agents:
  py: {{type: shell, command: "python3 tools/agent.py", env: {{AGENT_LOG: "{log}"}}}}
gates:
  - {{name: unit, run: "python3 -m unittest -v test_mathx", timeout: 60}}
tasks:
  - id: double
    title: Write double()
    prompt: Write double(x) in mathx.py.
    acceptance: ["test_mathx passes"]
    gates: [unit]
  - id: doc
    title: Document double()
    prompt: Describe double() in DOC.md.
    depends_on: [double]
    gates: []
{extra_task}"""


def test_run_retries_with_feedback_and_commits_each_task(make_repo, run_overseer, tmp_path):
    log = tmp_path / "agent.log"
    repo = make_repo({"tools/agent.py": AGENT, "test_mathx.py": TESTS, "mathx.py": "", "notes.txt": "mine\n"})
    (repo / "plan.yaml").write_text(plan_text(log))
    git(repo, "add", "plan.yaml")
    git(repo, "commit", "-q", "-m", "plan")
    (repo / "untracked-by-user.txt").write_text("leave me alone\n")

    res = run_overseer("run", "plan.yaml", cwd=repo)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Traceback" not in res.stderr

    assert log.read_text().split("\n")[:-1] == ["double 1", "double 2", "doc 1"]
    run_dir = next((repo / ".overseer" / "runs").iterdir())
    retry_prompt = (run_dir / "double" / "2" / "prompt.md").read_text()
    assert "test_double_negative" in retry_prompt
    assert "unit" in retry_prompt

    subjects = git(repo, "log", "--format=%s").splitlines()
    assert subjects == ["doc: Document double()", "double: Write double()", "plan", "start"]
    assert git(repo, "show", "--name-only", "--format=", "HEAD~1").split() == ["mathx.py"]
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["DOC.md"]
    body = git(repo, "log", "-1", "--format=%B", "HEAD~1")
    assert "Overseer-Task: double" in body and f"Overseer-Run: {run_dir.name}" in body
    # The user's untracked file is neither committed nor touched; the tree is clean otherwise.
    assert (repo / "untracked-by-user.txt").read_text() == "leave me alone\n"
    assert git(repo, "status", "--porcelain").splitlines() == ["?? untracked-by-user.txt"]

    st = run_overseer("status", "--json", cwd=repo)
    assert st.returncode == 0, st.stderr
    status = json.loads(st.stdout)
    assert status["run_id"] == run_dir.name and status["state"] == "completed"
    tasks = {t["id"]: t for t in status["tasks"]}
    assert tasks["double"]["attempts"] == 2 and tasks["doc"]["attempts"] == 1
    assert tasks["double"]["state"] == tasks["doc"]["state"] == "completed"
    assert tasks["double"]["last_decision"]["action"] == "proceed"
    assert set(status["totals"]) >= {"cost_usd", "tokens", "duration_s"}


def test_failed_task_cancels_dependents_and_exits_1(make_repo, run_overseer, tmp_path):
    log = tmp_path / "agent.log"
    extra = """\
  - id: never
    title: Always fails
    prompt: Fail.
    max_attempts: 2
    gates: []
  - id: after-never
    title: Needs never
    prompt: Never runs.
    depends_on: [never]
    gates: []
"""
    repo = make_repo({"tools/agent.py": AGENT, "test_mathx.py": TESTS, "mathx.py": ""})
    (repo / "plan.yaml").write_text(plan_text(log, extra))
    res = run_overseer("run", "plan.yaml", cwd=repo)
    assert res.returncode == 1, res.stdout + res.stderr
    status = json.loads(run_overseer("status", "--json", cwd=repo).stdout)
    tasks = {t["id"]: t for t in status["tasks"]}
    assert status["state"] == "failed"
    assert tasks["never"]["state"] == "failed" and tasks["never"]["attempts"] == 2
    assert tasks["after-never"]["state"] == "cancelled" and tasks["after-never"]["attempts"] == 0
    assert tasks["double"]["state"] == "completed"
    assert "never 1" in log.read_text() and "never 2" in log.read_text()
    assert "after-never" not in log.read_text()


def test_invalid_plan_exits_2_before_anything_runs(make_repo, run_overseer):
    repo = make_repo({"a.txt": "a\n"})
    (repo / "plan.yaml").write_text("version: 1\nname: x\ntasks:\n  - id: a\n    prompt: ''\n")
    res = run_overseer("run", "plan.yaml", cwd=repo)
    assert res.returncode == 2
    assert "plan.yaml:5:" in res.stderr and "Traceback" not in res.stderr
    assert not (repo / ".overseer" / "state.db").exists()


def test_not_a_repository_needs_yes(tmp_path, run_overseer):
    d = tmp_path / "proj"
    d.mkdir()
    (d / "plan.yaml").write_text(
        "version: 1\nname: x\nagents: {s: {type: shell, command: 'echo hi > hi.txt'}}\n"
        "tasks:\n  - {id: a, prompt: say hi, agent: s}\n"
    )
    res = run_overseer("run", "plan.yaml", cwd=d)
    assert res.returncode == 2 and "not a git repository" in res.stderr
    res = run_overseer("run", "plan.yaml", "--yes", cwd=d)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (d / "hi.txt").read_text() == "hi\n"
    assert "a: a" in git(d, "log", "--format=%s")


def test_run_branch_must_be_checked_out(make_repo, run_overseer):
    repo = make_repo({"a.txt": "a\n"})
    (repo / "plan.yaml").write_text(
        "version: 1\nname: x\nagents: {s: {type: shell, command: 'touch ran'}}\n"
        "tasks:\n  - {id: a, prompt: p, agent: s}\n"
    )
    res = run_overseer("run", "plan.yaml", cwd=repo, env={"OVERSEER_RUN__BRANCH": "release"})
    assert res.returncode == 2 and "run.branch is 'release'" in res.stderr and "git switch release" in res.stderr
    assert not (repo / "ran").exists()
    res = run_overseer("run", "plan.yaml", cwd=repo, env={"OVERSEER_RUN__BRANCH": "main"})
    assert res.returncode == 0, res.stdout + res.stderr
