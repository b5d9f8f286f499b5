"""kill -9 of `overseer run` at six points of an attempt, then recovery: issue #6 item 7.

The run process dies by a real SIGKILL — from inside at a crash point (engine/faults.py), or
from outside while the agent works — during the second of three tasks. Recovery (`overseer
resume`, or running the same plan again) must then finish the run with: no completed task
run again, exactly one commit per task, every attempt's gate results and verdict recorded,
and no agent process from before the crash left alive.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from e2e_helpers import alive, clean_env, git, overseer_cmd, wait_for
from tests.fakes.openai_chat import completion
from tests.fakes.server import FakeServer, Request, Response

from overseer.engine.faults import POINTS

pytestmark = pytest.mark.timeout(240)

AGENT = """\
#!/usr/bin/env bash
set -e
echo "$OVERSEER_TASK_ID $OVERSEER_ATTEMPT $$" >> "$AGENT_LOG"
if [ "$OVERSEER_TASK_ID" = two ] && [ -n "$SLEEP_IN_TWO" ] && [ ! -e "$FIRST_LIFE" ]; then
  touch "$FIRST_LIFE"
  echo "half-written" > two.txt
  sleep 300   # the orchestrator is killed while this runs
fi
if [ "$OVERSEER_TASK_ID" = two ] && [ -n "$GO" ]; then
  while [ ! -e "$GO" ]; do sleep 0.1; done
fi
echo "$OVERSEER_TASK_ID done" > "$OVERSEER_TASK_ID.txt"
"""

# A task's gate: passes when the agent's work is there. Task two's sleeps in the run that is
# killed from outside during its gates (GATE_SLEEP), not in the baseline before any task.
GATE = """\
#!/usr/bin/env bash
echo "$1 $$" >> "$GATE_LOG"
if [ "$1" = two ] && [ -n "$GATE_SLEEP" ] && [ -e two.txt ]; then
  sleep 300   # the orchestrator is killed while this runs
fi
grep -q "$1 done" "$1.txt"
"""

TASKS = ("one", "two", "three")

VERDICT = {"complete": True, "score": 0.95, "confidence": 0.95, "unmet_criteria": [], "issues": [],
           "follow_up": None}


def _reviewer(_req: Request) -> Response:
    return completion(json.dumps(VERDICT))


def _plan(log: Path, first_life: Path, sleep_in_two: bool, go: Path | None = None) -> str:
    tasks = "".join(
        f"  - {{id: {t}, prompt: do {t}, {f'depends_on: [{prev}], ' if prev else ''}"
        f"gates: [{{name: made-{t}, run: \"bash tools/gate.sh {t}\"}}]}}\n"
        for prev, t in zip((None, *TASKS), TASKS, strict=False)
    )
    return f"""\
version: 1
name: crash-points
defaults: {{agent: sh, timeout: 600, max_attempts: 1}}
agents:
  sh:
    type: shell
    command: "bash tools/agent.sh"
    env: {{AGENT_LOG: "{log}", FIRST_LIFE: "{first_life}", SLEEP_IN_TWO: "{'1' if sleep_in_two else ''}", GO: "{go or ''}"}}
tasks:
{tasks}"""


def _cli(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(overseer_cmd(*args), cwd=repo, env=env, capture_output=True, text=True, timeout=180)


# (crash point, how recovery starts, times task two's agent is expected to have started).
# during_agent and during_gate_command are kills from outside while that process works;
# "parallel" runs each task in a worktree of its own, merged back into the branch.
CASES = [
    ("before_agent", "resume", 1),    # died before spawning: the agent never ran
    ("during_agent", "resume", 2),    # the dead run's agent was killed and the attempt redone
    ("during_gate_command", "resume", 1),
    ("after_agent", "resume", 1),     # the agent's recorded result is kept, not thrown away
    ("during_gates", "resume", 1),
    ("during_review", "resume", 1),
    ("during_commit", "resume", 1),
    ("during_commit", "run-again", 1),  # running the same plan again finds the unfinished run
    ("during_commit", "parallel", 1),
    ("during_merge", "parallel", 1),
]


def test_every_crash_point_is_tested():
    assert set(POINTS) <= {point for point, _, _ in CASES}


@pytest.mark.parametrize(("point", "recover", "two_runs"), CASES, ids=[f"{p}-{r}" for p, r, _ in CASES])
def test_crash_then_recover_keeps_every_invariant(make_repo, tmp_path, point, recover, two_runs):
    log, gate_log, first_life = tmp_path / "agent.log", tmp_path / "gates.log", tmp_path / "first-life"
    repo = make_repo({"tools/agent.sh": AGENT, "tools/gate.sh": GATE})
    (repo / "plan.yaml").write_text(_plan(log, first_life, sleep_in_two=point == "during_agent"))
    home = tmp_path / "home"
    home.mkdir()
    with FakeServer(_reviewer) as llm:
        env = {**clean_env(home), "GATE_LOG": str(gate_log), "OVERSEER_SUPERVISOR__PROVIDER": "openai-compatible",
               "OVERSEER_SUPERVISOR__BASE_URL": f"{llm.url}/v1", "OVERSEER_SUPERVISOR__MODEL": "fake"}
        crash_env = {
            "during_agent": env, "during_gate_command": {**env, "GATE_SLEEP": "1"},
        }.get(point, {**env, "OVERSEER_CRASH_AT": f"{point}:2"})
        parallel = ("--parallel", "2" if recover == "parallel" else "1")
        proc = subprocess.Popen(overseer_cmd("run", "plan.yaml", *parallel), cwd=repo, env=crash_env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            if point == "during_agent":
                wait_for(lambda: (repo / "two.txt").exists())
                os.kill(proc.pid, signal.SIGKILL)
            if point == "during_gate_command":
                wait_for(lambda: gate_log.exists() and gate_log.read_text().count("two ") == 2)
                os.kill(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL, out
        reviews_before = len(llm.requests)
        pids_before = [int(line.split()[2]) for line in log.read_text().splitlines()]
        gate_pids_before = [int(line.split()[1]) for line in gate_log.read_text().splitlines()]
        # The watchdog takes the killed run's agent or gate down with it, within a second.
        if point == "during_agent":
            wait_for(lambda: not alive(pids_before[-1]), timeout=1.0)
        if point == "during_gate_command":
            wait_for(lambda: not alive(gate_pids_before[-1]), timeout=1.0)

        args = ("run", "plan.yaml", *parallel) if recover == "run-again" else ("resume",)
        res = _cli(repo, env, *args)
        assert res.returncode == 0, res.stdout + res.stderr
        assert len(llm.requests) > reviews_before, "the reviewer must have been asked after the crash"

    # No completed task re-ran; the interrupted one ran again only if its agent had not finished.
    starts = [line.split()[0] for line in log.read_text().splitlines()]
    assert (starts.count("one"), starts.count("two"), starts.count("three")) == (1, two_runs, 1), starts
    # No process from before the crash is left.
    assert not [p for p in pids_before if alive(p)], "an agent from before the crash is still alive"
    assert not [p for p in gate_pids_before if alive(p)], "a gate from before the crash is still alive"

    # Exactly one commit per task (and one merge of it, from a worktree), with the agent's work.
    subjects = git(repo, "log", "--first-parent", "--format=%s").splitlines()
    merged = recover == "parallel"
    assert subjects == [f"{'merge ' if merged else ''}{t}: {t}" for t in reversed(TASKS)] + ["start"]
    for t in TASKS:
        assert len(git(repo, "log", "--format=%H", "--grep", f"Overseer-Task: {t}").split()) == 1
        assert len(git(repo, "log", "--format=%H", "--grep", f"Overseer-Merge: {t}").split()) == merged
        assert (repo / f"{t}.txt").read_text() == f"{t} done\n"
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    assert len(git(repo, "worktree", "list").splitlines()) == 1, "a task's worktree was left behind"

    st = json.loads(_cli(repo, env, "status", "--json").stdout)
    assert st["state"] == "completed"
    assert [(t["id"], t["state"], t["attempts"]) for t in st["tasks"]] == [(t, "completed", 1) for t in TASKS]
    report = json.loads(_cli(repo, env, "export", "--format", "json").stdout)
    assert report["run"]["id"] == st["run_id"]
    for task in report["tasks"]:
        [attempt] = task["attempts"]
        assert [(g["name"], g["passed"]) for g in attempt["gates"]] == [(f"made-{task['id']}", True)]
        assert attempt["verdict"]["complete"] is True, task["id"]
        assert attempt["verdict"]["reviewer"] == "openai-compatible:fake", task["id"]
        assert attempt["decision"]["action"] == "proceed", task["id"]
    # A completed task's gates did not run again (each also ran once on the tree before any task).
    gate_runs = [line.split()[0] for line in gate_log.read_text().splitlines()]
    assert gate_runs.count("one") == 2 and gate_runs.count("three") == 2, gate_runs


def test_a_run_still_executing_is_neither_joined_nor_robbed_of_its_agents(make_repo, tmp_path):
    """Continuing a run kills its leftover agents — which must only ever be a dead process's."""
    log, go = tmp_path / "agent.log", tmp_path / "go"
    repo = make_repo({"tools/agent.sh": AGENT, "tools/gate.sh": GATE})
    (repo / "plan.yaml").write_text(_plan(log, tmp_path / "first-life", sleep_in_two=False, go=go))
    home = tmp_path / "home"
    home.mkdir()
    env = {**clean_env(home), "GATE_LOG": str(tmp_path / "gates.log")}
    proc = subprocess.Popen(overseer_cmd("run", "plan.yaml"), cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: log.exists() and "two" in log.read_text())
        agent_pid = int(log.read_text().splitlines()[-1].split()[2])
        for args in (("run", "plan.yaml"), ("resume",)):
            res = _cli(repo, env, *args)
            assert res.returncode == 2, res.stdout + res.stderr
            assert f"is being executed by another process (pid {proc.pid})" in res.stderr, res.stderr
            assert alive(agent_pid), f"`overseer {args[0]}` killed the live run's agent"
        go.touch()
        out, _ = proc.communicate(timeout=120)
    finally:
        go.touch()  # even when the test fails: no agent is left waiting
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert [line.split()[0] for line in log.read_text().splitlines()] == list(TASKS)
    assert git(repo, "log", "--format=%s").splitlines() == ["three: three", "two: two", "one: one", "start"]
