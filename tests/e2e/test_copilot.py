"""Copilot mode: a person sees every attempt; approving keeps overseer's decision."""

from __future__ import annotations

import json

from e2e_helpers import git

AGENT = """\
import os
n = int(os.environ["OVERSEER_ATTEMPT"])
open("value.txt", "w").write("good\\n" if n >= 2 else "bad\\n")
"""


def _open_bp(run_overseer, repo) -> dict:
    st = json.loads(run_overseer("status", "--json", cwd=repo).stdout)
    [bp] = [b for b in st["breakpoints"] if b["state"] == "open"]
    return bp


def test_copilot_asks_after_every_attempt(make_repo, run_overseer):
    repo = make_repo({"tools/agent.py": AGENT})
    (repo / "plan.yaml").write_text(
        """\
version: 1
name: co
defaults: {agent: py, timeout: 60, max_attempts: 3}
agents:
  py: {type: shell, command: "python3 tools/agent.py"}
gates:
  - {name: check, run: "grep -q good value.txt"}
tasks:
  - {id: t, prompt: write a good value, gates: [check]}
"""
    )
    env = {"OVERSEER_RUN__MODE": "copilot"}
    res = run_overseer("run", "plan.yaml", "--no-wait", cwd=repo, env=env)
    assert res.returncode == 3, res.stdout + res.stderr
    bp = _open_bp(run_overseer, repo)
    assert bp["kind"] == "copilot_review" and "would retry" in bp["reason"]
    # Approving a failing attempt keeps the decision (retry); it never commits failing work.
    assert run_overseer("approve", bp["id"], cwd=repo).returncode == 0
    res = run_overseer("resume", "--no-wait", cwd=repo, env=env)
    assert res.returncode == 3, res.stdout + res.stderr
    bp2 = _open_bp(run_overseer, repo)
    assert bp2["id"] != bp["id"] and "would proceed" in bp2["reason"]
    assert "t: t" not in git(repo, "log", "--format=%s")
    assert run_overseer("approve", bp2["id"], cwd=repo).returncode == 0
    res = run_overseer("resume", cwd=repo, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert git(repo, "log", "-1", "--format=%s").strip() == "t: t"
    assert (repo / "value.txt").read_text() == "good\n"
