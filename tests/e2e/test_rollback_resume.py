"""Rollback of a finished run, then resume: the re-opened tasks run again as new attempts."""

from __future__ import annotations

import json
from pathlib import Path

from e2e_helpers import git

AGENT = """\
import os
task, n = os.environ["OVERSEER_TASK_ID"], os.environ["OVERSEER_ATTEMPT"]
open(f"{task}.txt", "w").write(f"{task} attempt {n}\\n")
with open(os.environ["AGENT_LOG"], "a") as f:
    f.write(f"{task} {n}\\n")
"""


def test_resume_after_rollback_reruns_reopened_tasks(make_repo, run_overseer, tmp_path: Path):
    log = tmp_path / "agent.log"
    repo = make_repo({"tools/agent.py": AGENT})
    (repo / "plan.yaml").write_text(
        f"""\
version: 1
name: rr
defaults: {{agent: py, timeout: 60}}
agents:
  py: {{type: shell, command: "python3 tools/agent.py", env: {{AGENT_LOG: "{log}"}}}}
tasks:
  - {{id: one, prompt: one}}
  - {{id: two, prompt: two, depends_on: [one]}}
"""
    )
    git(repo, "add", "plan.yaml")
    git(repo, "commit", "-q", "-m", "plan")
    assert run_overseer("run", "plan.yaml", cwd=repo).returncode == 0
    rb = run_overseer("rollback", "one", cwd=repo)
    assert rb.returncode == 0, rb.stdout + rb.stderr
    assert not (repo / "one.txt").exists()

    res = run_overseer("resume", cwd=repo)
    assert res.returncode == 0, res.stdout + res.stderr
    assert log.read_text().splitlines() == ["one 1", "two 1", "one 2", "two 2"]
    assert (repo / "one.txt").read_text() == "one attempt 2\n"
    assert git(repo, "log", "--format=%s").splitlines() == ["two: two", "one: one", "plan", "start"]
    st = json.loads(run_overseer("status", "--json", cwd=repo).stdout)
    assert st["state"] == "completed"
    assert {t["id"]: t["attempts"] for t in st["tasks"]} == {"one": 2, "two": 2}
