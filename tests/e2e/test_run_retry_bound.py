"""`retries.max_decision_retries_per_run`: once a run has spent its decision retries, a task
that would try again fails instead, whatever attempts it has left."""

from __future__ import annotations

import json


def test_run_wide_decision_retry_bound(make_repo, run_overseer):
    repo = make_repo({"a.txt": "a\n"})
    (repo / "plan.yaml").write_text(
        """\
version: 1
name: bound
defaults: {agent: idle, max_attempts: 4}
agents:
  idle: {type: shell, command: "echo tried >> tries.log"}
tasks:
  - id: one
    prompt: never passes
    gates: [{name: never, run: "false"}]
  - id: two
    prompt: never passes either
    gates: [{name: never2, run: "false"}]
"""
    )
    res = run_overseer("run", "plan.yaml", cwd=repo, env={"OVERSEER_RETRIES__MAX_DECISION_RETRIES_PER_RUN": "1"})
    assert res.returncode == 1, res.stdout + res.stderr
    st = json.loads(run_overseer("status", "--json", cwd=repo).stdout)
    # one: attempt 1 retries (1 of 1 used), attempt 2 would be the second → fails;
    # two: its first retry is past the run's bound → fails after one attempt.
    assert {t["id"]: (t["state"], t["attempts"]) for t in st["tasks"]} == {
        "one": ("failed", 2), "two": ("failed", 1)}
    report = json.loads(run_overseer("export", "--format", "json", cwd=repo).stdout)
    assert "max_decision_retries_per_run" in json.dumps(report)

    # Without the bound the same plan keeps trying task one (until the repeated failure asks
    # a person, where --no-wait returns).
    again = run_overseer("run", "plan.yaml", "--no-wait", cwd=repo)
    assert again.returncode in (1, 3), again.stdout + again.stderr
    st = json.loads(run_overseer("status", "--json", cwd=repo).stdout)
    assert {t["id"]: t["attempts"] for t in st["tasks"]}["one"] >= 3
