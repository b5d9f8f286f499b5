"""Ready tasks start in order of effective priority — plan priority plus a near deadline's
boost, plus one per task waiting on them — through the real `overseer run --parallel 1`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

AGENT = """\
import os
with open(os.environ["AGENT_LOG"], "a") as f:
    f.write(os.environ["OVERSEER_TASK_ID"] + "\\n")
open(os.environ["OVERSEER_TASK_ID"] + ".txt", "w").write("x\\n")
"""


def _plan(log: Path, tasks: str) -> str:
    return f"""\
version: 1
name: order
defaults: {{agent: py, timeout: 60, max_attempts: 1}}
agents:
  py: {{type: shell, command: "python3 tools/agent.py", env: {{AGENT_LOG: "{log}"}}}}
tasks:
{tasks}"""


def test_deadline_and_blocking_boosts_order_the_ready_tasks(make_repo, run_overseer, tmp_path):
    log = tmp_path / "agent.log"
    repo = make_repo({"tools/agent.py": AGENT})
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat(timespec="seconds")
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="seconds")
    (repo / "plan.yaml").write_text(_plan(log, f"""\
  - {{id: high, prompt: p, priority: 5}}
  - {{id: due, prompt: p, priority: 0, deadline: "{soon}"}}
  - {{id: far, prompt: p, priority: 4, deadline: "{later}"}}
  - {{id: base, prompt: p, priority: 3}}
  - {{id: dep1, prompt: p, priority: -10, depends_on: [base]}}
  - {{id: dep2, prompt: p, priority: -10, depends_on: [dep1]}}
"""))
    res = run_overseer("run", "plan.yaml", "--parallel", "1", cwd=repo)
    assert res.returncode == 0, res.stdout + res.stderr
    # due: 0 + 10 (deadline within a day); base: 3 + 2 (two tasks wait on it); high 5 and
    # base 5 tie, and the plan's priority breaks it; far: 4 (its deadline is a month away).
    assert log.read_text().split() == ["due", "high", "base", "far", "dep1", "dep2"]


def test_boosts_come_from_config(make_repo, run_overseer, tmp_path):
    log = tmp_path / "agent.log"
    repo = make_repo({"tools/agent.py": AGENT})
    (repo / "overseer.yaml").write_text("scheduling: {blocking_boost: 0}\n")
    (repo / "plan.yaml").write_text(_plan(log, """\
  - {id: a, prompt: p, priority: 1}
  - {id: b, prompt: p, priority: 0}
  - {id: c, prompt: p, depends_on: [b]}
  - {id: d, prompt: p, depends_on: [b]}
"""))
    res = run_overseer("run", "plan.yaml", "--parallel", "1", cwd=repo)
    assert res.returncode == 0, res.stdout + res.stderr
    assert log.read_text().split()[:2] == ["a", "b"]
