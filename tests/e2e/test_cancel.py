"""`overseer cancel` from another terminal stops the agents and cancels what is unfinished."""

from __future__ import annotations

import json
import subprocess
import time

from e2e_helpers import alive, clean_env, overseer_cmd


def test_cancel_kills_agent_and_cancels_tasks(make_repo, tmp_path):
    pidfile = tmp_path / "agent.pid"
    repo = make_repo({"a.txt": "a\n"})
    (repo / "plan.yaml").write_text(
        f"""\
version: 1
name: c
defaults: {{agent: slow, timeout: 600}}
agents:
  slow: {{type: shell, command: "echo $$ > {pidfile}; sleep 300"}}
tasks:
  - {{id: one, prompt: take long}}
  - {{id: two, prompt: never starts, depends_on: [one]}}
"""
    )
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    run = subprocess.Popen(overseer_cmd("run", "plan.yaml"), cwd=repo, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (pidfile.exists() and pidfile.read_text().strip()):
            time.sleep(0.1)
        agent_pid = int(pidfile.read_text())
        assert alive(agent_pid)
        st = json.loads(subprocess.run(overseer_cmd("status", "--json"), cwd=repo, env=env,
                                       capture_output=True, text=True).stdout)
        res = subprocess.run(overseer_cmd("cancel", st["run_id"]), cwd=repo, env=env,
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stdout + res.stderr
        out, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 1, out
    assert not alive(agent_pid)
    st = json.loads(subprocess.run(overseer_cmd("status", "--json"), cwd=repo, env=env,
                                   capture_output=True, text=True).stdout)
    assert st["state"] == "cancelled"
    assert {t["id"]: t["state"] for t in st["tasks"]} == {"one": "cancelled", "two": "cancelled"}


def test_cancelling_a_parked_run_closes_its_breakpoints(make_repo, tmp_path):
    repo = make_repo({"a.txt": "a\n"})
    (repo / "plan.yaml").write_text(
        """\
version: 1
name: c
defaults: {agent: sh, timeout: 60}
agents:
  sh: {type: shell, command: "echo done > b.txt"}
tasks:
  - {id: one, prompt: write b, breakpoint: after}
"""
    )
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)

    def overseer(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(overseer_cmd(*args), cwd=repo, env=env, capture_output=True, text=True,
                              timeout=120)

    parked = overseer("run", "plan.yaml", "--no-wait")
    assert parked.returncode == 3, parked.stdout + parked.stderr
    st = json.loads(overseer("status", "--json").stdout)
    assert [b["state"] for b in st["breakpoints"]] == ["open"]

    res = overseer("cancel", st["run_id"], "--reason", "plan changed")
    assert res.returncode == 0, res.stdout + res.stderr
    st = json.loads(overseer("status", "--json").stdout)
    assert st["state"] == "cancelled"
    [bp] = st["breakpoints"]
    assert bp["state"] == "cancelled"
    stats = json.loads(overseer("stats", "breakpoints", "--json").stdout)
    assert (stats["open"], stats["cancelled"], stats["resolved"]) == (0, 1, 1)
    # A closed breakpoint cannot be answered afterwards.
    late = overseer("approve", bp["id"])
    assert late.returncode == 2 and "already cancelled" in late.stderr, late.stdout + late.stderr
