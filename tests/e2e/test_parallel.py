"""--parallel: each task in its own worktree, merged back; a real conflict waits for a person."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from e2e_helpers import clean_env, git, overseer_cmd

AGENT = """\
import os, time
task = os.environ["OVERSEER_TASK_ID"]
with open(os.environ["AGENT_LOG"], "a") as f:
    f.write(f"start {task} {os.getcwd()} {time.time()}\\n")
time.sleep(1.5)
if task.startswith("clash"):
    open("shared.txt", "w").write(f"{task} was here\\n")
else:
    open(f"{task}.txt", "w").write(f"{task}\\n")
with open(os.environ["AGENT_LOG"], "a") as f:
    f.write(f"end {task} {time.time()}\\n")
"""


def _plan(log: Path, tasks: str) -> str:
    return f"""\
version: 1
name: par
defaults: {{agent: py, timeout: 60, max_attempts: 1}}
agents:
  py: {{type: shell, command: "python3 tools/agent.py", env: {{AGENT_LOG: "{log}"}}}}
tasks:
{tasks}"""


def _status(repo: Path, env: dict[str, str]) -> dict:
    return json.loads(subprocess.run(overseer_cmd("status", "--json"), cwd=repo, env=env,
                                     capture_output=True, text=True).stdout)


def test_parallel_tasks_use_worktrees_and_all_merge(make_repo, tmp_path):
    log = tmp_path / "agent.log"
    repo = make_repo({"tools/agent.py": AGENT, "shared.txt": "base\n"})
    (repo / "plan.yaml").write_text(_plan(log, """\
  - {id: a, prompt: a}
  - {id: b, prompt: b}
  - {id: c, prompt: c}
  - {id: d, prompt: d, depends_on: [a, b, c]}
"""))
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    res = subprocess.run(overseer_cmd("run", "plan.yaml", "--parallel", "3"), cwd=repo, env=env,
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stdout + res.stderr
    starts = {p[1]: (p[2], float(p[3])) for p in (line.split() for line in log.read_text().splitlines()) if p[0] == "start"}
    ends = {p[1]: float(p[2]) for p in (line.split() for line in log.read_text().splitlines()) if p[0] == "end"}
    # a, b and c each worked in a separate worktree, not in the repository itself...
    dirs = {starts[t][0] for t in "abc"}
    assert len(dirs) == 3 and all("/.overseer/worktrees/" in d for d in dirs)
    # ...and side by side: each started before the others had finished.
    assert max(starts[t][1] for t in "abc") < min(ends[t] for t in "abc")
    # d started from the merged result of all three.
    for t in "abcd":
        assert (repo / f"{t}.txt").read_text() == f"{t}\n"
    st = _status(repo, env)
    assert st["state"] == "completed"
    assert git(repo, "status", "--porcelain") == "?? plan.yaml\n"
    assert not list((repo / ".overseer" / "worktrees").glob("*/*")), "merged worktrees are removed"


def test_conflicting_pair_opens_merge_conflict_breakpoint(make_repo, tmp_path):
    log = tmp_path / "agent.log"
    repo = make_repo({"tools/agent.py": AGENT, "shared.txt": "base\n"})
    (repo / "plan.yaml").write_text(_plan(log, """\
  - {id: clash1, prompt: edit shared}
  - {id: clash2, prompt: edit shared too}
"""))
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    res = subprocess.run(overseer_cmd("run", "plan.yaml", "--parallel", "2", "--no-wait"), cwd=repo, env=env,
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 3, res.stdout + res.stderr
    st = _status(repo, env)
    [bp] = [b for b in st["breakpoints"] if b["state"] == "open"]
    assert bp["kind"] == "merge_conflict" and "shared.txt" in bp["reason"]
    states = {t["id"]: t["state"] for t in st["tasks"]}
    assert sorted(states.values()) == ["blocked", "completed"]
    # The branch holds exactly one of the two edits, and the tree is clean.
    assert (repo / "shared.txt").read_text() in ("clash1 was here\n", "clash2 was here\n")
    assert git(repo, "status", "--porcelain") == "?? plan.yaml\n"
    loser = next(t for t, s in states.items() if s == "blocked")
    rej = subprocess.run(overseer_cmd("reject", bp["id"], "--note", "keep the first"), cwd=repo, env=env,
                         capture_output=True, text=True, timeout=60)
    assert rej.returncode == 0, rej.stderr
    res = subprocess.run(overseer_cmd("resume"), cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 1, res.stdout + res.stderr
    assert {t["id"]: t["state"] for t in _status(repo, env)["tasks"]}[loser] == "failed"
    # Let slow machines settle the worktree clean-up before tmp_path goes away.
    time.sleep(0.1)
