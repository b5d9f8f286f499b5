"""`overseer pause` from another terminal: running work finishes, no new task starts until
`overseer continue`."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from e2e_helpers import clean_env, overseer_cmd, status_json, wait_for


def _states(repo: Path, env: dict[str, str]) -> dict[str, str]:
    return {t["id"]: t["state"] for t in status_json(repo, env)["tasks"]}


def test_pause_holds_new_tasks_until_continue(make_repo, tmp_path):
    go = tmp_path / "go"
    repo = make_repo({"a.txt": "a\n"})
    (repo / "plan.yaml").write_text(
        f"""\
version: 1
name: p
defaults: {{timeout: 300}}
agents:
  waits: {{type: shell, command: "while [ ! -f {go} ]; do sleep 0.1; done; echo one > one.txt"}}
  quick: {{type: shell, command: "echo two > two.txt"}}
tasks:
  - {{id: one, prompt: wait for go, agent: waits}}
  - {{id: two, prompt: write two, agent: quick}}
"""
    )
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    run = subprocess.Popen(overseer_cmd("run", "plan.yaml"), cwd=repo, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: (repo / ".overseer").exists() and _states(repo, env).get("one") == "running", 90)
        res = subprocess.run(overseer_cmd("pause"), cwd=repo, env=env, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "paused" in res.stdout
        go.touch()
        wait_for(lambda: _states(repo, env)["one"] == "completed", 90)
        # Paused: the run process waits, and task two stays where it was.
        for _ in range(10):
            time.sleep(0.2)
            assert _states(repo, env)["two"] == "pending"
            assert run.poll() is None
        assert not (repo / "two.txt").exists()
        res = subprocess.run(overseer_cmd("continue"), cwd=repo, env=env, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stdout + res.stderr
        out, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, out
    assert _states(repo, env) == {"one": "completed", "two": "completed"}
    assert (repo / "two.txt").read_text() == "two\n"


def test_pause_of_a_finished_run_is_refused(make_repo, run_overseer):
    repo = make_repo({"a.txt": "a\n"})
    (repo / "plan.yaml").write_text(
        """\
version: 1
name: p
agents:
  quick: {type: shell, command: "echo x > x.txt"}
tasks:
  - {id: one, prompt: write x, agent: quick}
"""
    )
    assert run_overseer("run", "plan.yaml", cwd=repo).returncode == 0
    res = run_overseer("pause", cwd=repo)
    assert res.returncode != 0
    assert "completed" in res.stderr and "Traceback" not in res.stderr
