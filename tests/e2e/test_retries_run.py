"""Infrastructure failures and the time limit, through the real `overseer run` and shell agent:
a crashing agent gets the same attempt again after a backoff, without costing a try, up to
its bound; an attempt that runs too long is stopped and retried with feedback (or asks a
person, with `time_threshold_exceeded` in human mode)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from e2e_helpers import clean_env, git, overseer_cmd

# Crashes (SIGSEGV) on its first CRASHES runs, after leaving a half-written file behind.
CRASHER = """\
import os, resource, signal
log = os.environ["AGENT_LOG"]
runs = len(open(log).read().splitlines()) if os.path.exists(log) else 0
with open(log, "a") as f:
    f.write(f"{os.environ['OVERSEER_ATTEMPT']}\\n")
if runs < int(os.environ["CRASHES"]):
    open(f"half-{runs}.txt", "w").write("half\\n")
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file in the workspace
    os.kill(os.getpid(), signal.SIGSEGV)
open("done.txt", "w").write("done\\n")
"""

# Sleeps past the task's timeout on its first attempt; then finishes at once. Each attempt's
# prompt is kept, so the test can read what the retry was told.
SLOW = """\
import os, time
n = os.environ["OVERSEER_ATTEMPT"]
open(os.environ["AGENT_LOG"] + "." + n, "w").write(os.environ["OVERSEER_PROMPT"])
if n == "1":
    print("thinking", flush=True)
    time.sleep(60)
open("done.txt", "w").write("done\\n")
"""


def _setup(make_repo, tmp_path: Path, agent: str, env: str, timeout: int = 60):
    log = tmp_path / "agent.log"
    repo = make_repo({"tools/agent.py": agent})
    (repo / "plan.yaml").write_text(f"""\
version: 1
name: infra
defaults: {{agent: py, timeout: {timeout}, max_attempts: 1}}
agents:
  py: {{type: shell, command: "python3 tools/agent.py", env: {{AGENT_LOG: "{log}", {env}}}}}
tasks:
  - {{id: t, prompt: make done.txt}}
""")
    home = tmp_path / "home"
    home.mkdir()
    return repo, log, clean_env(home)


def _json(repo: Path, env: dict[str, str], *args: str) -> dict:
    res = subprocess.run(overseer_cmd(*args), cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout)


def _export(repo: Path, env: dict[str, str]) -> dict:
    return _json(repo, env, "export", _json(repo, env, "status", "--json")["run_id"], "--format", "json")


def _export_task(repo: Path, env: dict[str, str]) -> dict:
    [task] = _export(repo, env)["tasks"]
    return task


def test_two_crashes_are_retried_without_costing_a_try(make_repo, tmp_path):
    repo, log, env = _setup(make_repo, tmp_path, CRASHER, 'CRASHES: "2"')
    env["OVERSEER_RETRIES__INFRA_BACKOFF"] = "0.2"
    res = subprocess.run(overseer_cmd("run", "plan.yaml"), cwd=repo, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "the agent process crashed (SIGSEGV): infrastructure retry 1 of 3" in res.stdout

    st = _json(repo, env, "status", "--json")
    # max_attempts is 1, yet the agent ran three times and the task completed: the two
    # crashed runs are repeats of attempt 1, which costs no attempt and takes no number.
    assert [(t["id"], t["state"], t["attempts"]) for t in st["tasks"]] == [("t", "completed", 1)]
    assert [(b["kind"], b["state"]) for b in st["breakpoints"]] == [("infrastructure_failure", "auto")] * 2
    assert "infrastructure retry 2 of 3" in st["breakpoints"][1]["reason"]
    assert log.read_text().split() == ["1", "2", "3"]

    task = _export_task(repo, env)
    # One decision (the completed attempt's); the crashed attempts are recorded with their
    # status and no decision.
    assert [(a["status"], a["decision"]["action"] if a["decision"] else None) for a in task["attempts"]] == [
        ("failed", None), ("failed", None), ("completed", "proceed")]
    # Each retry started from the same tree: the crashed attempts' half-written files are gone.
    assert sorted(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == ["done.txt"]
    assert not (repo / "half-0.txt").exists()


def test_an_agent_that_always_crashes_fails_at_the_bound_with_the_reason(make_repo, tmp_path):
    repo, log, env = _setup(make_repo, tmp_path, CRASHER, 'CRASHES: "99"')
    env["OVERSEER_RETRIES__INFRA_BACKOFF"] = "0.1"
    env["OVERSEER_RETRIES__MAX_INFRA_RETRIES"] = "2"
    res = subprocess.run(overseer_cmd("run", "plan.yaml"), cwd=repo, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stdout + res.stderr
    st = _json(repo, env, "status", "--json")
    # Three runs of the agent, all repeats of attempt 1 (an infrastructure retry is no attempt).
    assert [(t["state"], t["attempts"]) for t in st["tasks"]] == [("failed", 1)]
    assert [b["kind"] for b in st["breakpoints"]] == ["infrastructure_failure"] * 2
    task = _export_task(repo, env)
    assert task["state_reason"] == (
        "the agent process crashed (SIGSEGV); the task already had 2 infrastructure retries "
        "(retries.max_infra_retries: 2)")
    assert all(a["decision"] is None for a in task["attempts"])
    assert log.read_text().split() == ["1", "2", "3"]


def test_an_attempt_past_its_time_limit_is_stopped_and_retried_with_feedback(make_repo, tmp_path):
    repo, log, env = _setup(make_repo, tmp_path, SLOW, 'X: "1"', timeout=2)
    # A timeout is the agent's own outcome, not an infrastructure failure: it costs a try.
    (repo / "plan.yaml").write_text((repo / "plan.yaml").read_text().replace("max_attempts: 1", "max_attempts: 2"))
    res = subprocess.run(overseer_cmd("run", "plan.yaml"), cwd=repo, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    st = _json(repo, env, "status", "--json")
    assert [(t["state"], t["attempts"]) for t in st["tasks"]] == [("completed", 2)]
    assert len(st["breakpoints"]) == 1, st["breakpoints"]
    [bp] = st["breakpoints"]
    assert (bp["kind"], bp["state"]) == ("time_threshold_exceeded", "auto")
    assert bp["reason"] == "task t attempt 1 ran out of time and was stopped (decision: retry)"
    second = Path(f"{log}.2").read_text()
    assert "Your previous attempt ran out of time and was stopped (no result within 2s)" in second
    # Attempt 1 may have been stopped before it wrote its prompt on a loaded machine.
    first = Path(f"{log}.1")
    assert not first.exists() or "ran out of time" not in first.read_text()
    task = _export_task(repo, env)
    assert [a["status"] for a in task["attempts"]] == ["timeout", "completed"]
    assert [a["decision"]["action"] for a in task["attempts"]] == ["retry", "proceed"]


def test_time_threshold_exceeded_in_human_mode_asks_a_person(make_repo, tmp_path):
    repo, log, env = _setup(make_repo, tmp_path, SLOW, 'X: "1"', timeout=2)
    env["OVERSEER_BREAKPOINTS__TIME_THRESHOLD_EXCEEDED"] = '{"mode": "human", "severity": "critical"}'
    (repo / "plan.yaml").write_text((repo / "plan.yaml").read_text().replace("max_attempts: 1", "max_attempts: 2"))
    res = subprocess.run(overseer_cmd("run", "plan.yaml", "--no-wait"), cwd=repo, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 3, res.stdout + res.stderr
    st = _json(repo, env, "status", "--json")
    [bp] = st["breakpoints"]
    assert (bp["kind"], bp["state"]) == ("time_threshold_exceeded", "open")
    assert [t["state"] for t in st["tasks"]] == ["blocked"]


def test_the_run_wide_bound_stops_retries_across_tasks(make_repo, tmp_path):
    repo, log, env = _setup(make_repo, tmp_path, CRASHER, 'CRASHES: "99"')
    (repo / "plan.yaml").write_text((repo / "plan.yaml").read_text()
                                    + "  - {id: u, prompt: make done.txt, depends_on: []}\n")
    env.update({"OVERSEER_RETRIES__INFRA_BACKOFF": "0.1", "OVERSEER_RETRIES__MAX_INFRA_RETRIES": "5",
                "OVERSEER_RETRIES__MAX_INFRA_RETRIES_PER_RUN": "2"})
    res = subprocess.run(overseer_cmd("run", "plan.yaml", "--parallel", "1"), cwd=repo, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stdout + res.stderr
    st = _json(repo, env, "status", "--json")
    # The first task spends the run's two retries (repeats of its attempt 1, which cost no
    # attempt); then each task fails at its next crash.
    assert sorted((t["id"], t["state"], t["attempts"]) for t in st["tasks"]) == [
        ("t", "failed", 1), ("u", "failed", 1)]
    assert [b["task"] for b in st["breakpoints"]] == ["t", "t"]
    reasons = {t["id"]: t["state_reason"] for t in _export(repo, env)["tasks"]}
    assert reasons == {tid: "the agent process crashed (SIGSEGV); the run already had 2 infrastructure "
                            "retries (retries.max_infra_retries_per_run: 2)" for tid in ("t", "u")}
