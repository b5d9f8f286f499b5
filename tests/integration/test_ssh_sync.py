"""An SSH agent works on the supervised tree, against a real sshd and a separate remote clone:
the clone is brought to the attempt's exact tree (untracked files included) before the
command, and the agent's changes come back into the local workspace after it — through
`overseer run` too, where the local gates, the commit, the checkpoint diff and a rollback see
them exactly as for a local agent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sshd_server import SshServer

from overseer.agents.base import AgentEvent, RunContext
from overseer.agents.shell import ShellAgent, ShellAgentConfig
from overseer.errors import OverseerError

pytestmark = pytest.mark.real

GIT_ID = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
          "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ID}).stdout


def _repos(tmp_path: Path) -> tuple[Path, Path]:
    local = tmp_path / "local"
    local.mkdir()
    git(local, "init", "-q", "-b", "main")
    (local / "a.txt").write_text("a\n")
    (local / "b.txt").write_text("b\n")
    (local / ".gitignore").write_text("*.log\n")
    git(local, "add", "-A")
    git(local, "commit", "-q", "-m", "start")
    remote = tmp_path / "remote-clone"
    git(tmp_path, "clone", "-q", str(local), str(remote))
    return local, remote


def _agent(sshd: SshServer, remote: Path, command: str) -> ShellAgent:
    return ShellAgent(ShellAgentConfig.model_validate({
        "type": "shell", "command": command, "transport": {"ssh": sshd.spec(remote).model_dump()},
    }))


def _run(agent: ShellAgent, local: Path, attempt: int = 1) -> tuple[str, list[str]]:
    events: list[AgentEvent] = []
    prompt = local.parent / f"prompt-{attempt}.md"
    prompt.write_text("work")
    result = agent.run(RunContext(
        workdir=local, prompt="work", prompt_file=prompt, run_id="r1", task_id="t1", attempt=attempt,
        timeout=120, transcript=local.parent / f"t{attempt}.jsonl", on_event=events.append,
    ))
    return result.status, [str(e.data.get("text", "")) for e in events if e.kind == "text"]


def test_the_remote_clone_gets_the_attempts_tree_and_its_changes_come_back(
    sshd: SshServer, tmp_path: Path
) -> None:
    local, remote = _repos(tmp_path)
    (local / "notes.txt").write_text("untracked but part of the attempt\n")
    (local / "build.log").write_text("ignored: stays local\n")
    (local / "a.txt").write_text("a, edited before the attempt\n")
    head = git(local, "rev-parse", "HEAD")
    command = ("cat notes.txt > seen.txt && test ! -f build.log && cat a.txt >> seen.txt && "
               "echo new > f.txt && echo more >> a.txt && rm b.txt && mkdir -p d && echo x > d/y.bin")
    status, lines = _run(_agent(sshd, remote, command), local)
    assert status == "completed", lines

    # Everything the agent did over there is here now, and only that.
    assert (local / "seen.txt").read_text() == "untracked but part of the attempt\na, edited before the attempt\n"
    assert (local / "f.txt").read_text() == "new\n" and (local / "d" / "y.bin").read_text() == "x\n"
    assert (local / "a.txt").read_text() == "a, edited before the attempt\nmore\n"
    assert not (local / "b.txt").exists()
    assert (local / "notes.txt").exists() and (local / "build.log").read_text() == "ignored: stays local\n"
    # Nothing was committed or staged here; no sync ref is left behind.
    assert git(local, "rev-parse", "HEAD") == head
    assert git(local, "diff", "--cached", "--name-only") == ""
    assert git(local, "for-each-ref", "refs/overseer/ssh/") == ""

    # A retry from the checkpoint: the remote clone is reset to the local tree again.
    git(local, "checkout", "-q", "--", ".")
    git(local, "clean", "-fdq")
    status, lines = _run(_agent(sshd, remote, "test ! -f f.txt && test -f b.txt && test ! -f notes.txt && echo clean"),
                         local, attempt=2)
    assert status == "completed" and "clean" in lines, lines
    assert git(local, "status", "--porcelain") == ""


def test_a_remote_that_is_not_a_clone_or_has_changes_of_its_own_is_refused(
    sshd: SshServer, tmp_path: Path
) -> None:
    local, remote = _repos(tmp_path)
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(OverseerError) as exc:
        _run(_agent(sshd, plain, "true"), local)
    assert "is not a git clone" in exc.value.message and "git clone" in (exc.value.hint or "")

    (remote / "a.txt").write_text("someone's work in progress\n")
    with pytest.raises(OverseerError) as exc:
        _run(_agent(sshd, remote, "true"), local)
    assert "has changes overseer did not make" in exc.value.message and "a.txt" in exc.value.message
    assert (remote / "a.txt").read_text() == "someone's work in progress\n"  # not discarded
    assert git(local, "for-each-ref", "refs/overseer/ssh/") == ""


def _env(home: Path) -> dict[str, str]:
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERSEER_") or k == "OVERSEER_REQUIRE_REAL"}
    env.update(GIT_ID, HOME=str(home), XDG_STATE_HOME=str(home / "state"), XDG_CONFIG_HOME=str(home / "config"),
               OVERSEER_SUPERVISOR__PROVIDER="none")
    return env


def _overseer(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "overseer.cli.main", *args], cwd=repo, env=_env(home),
                          capture_output=True, text=True, timeout=300)


def _ssh_plan(local: Path, name: str, ssh: dict[str, object], command: str, gates: str,
              task_gates: str) -> None:
    """A committed plan of one task `make` for a shell agent over SSH."""
    (local / "plan.yaml").write_text(f"""\
version: 1
name: {name}
defaults: {{max_attempts: 2, timeout: 120}}
agents:
  remote:
    type: shell
    command: {json.dumps(command)}
    transport: {{ssh: {json.dumps(ssh)}}}
{gates}tasks:
  - id: make
    agent: remote
    prompt: make f.txt
    gates: {task_gates}
""")
    git(local, "add", "plan.yaml")
    git(local, "commit", "-q", "-m", "plan")


def test_overseer_run_with_an_ssh_agent_commits_its_work_and_rolls_it_back(
    sshd: SshServer, tmp_path: Path
) -> None:
    local, remote = _repos(tmp_path)
    _ssh_plan(local, "over-ssh", sshd.spec(remote).model_dump(), "echo made-remotely > f.txt && echo more >> a.txt",
              "", '[{name: made, run: "grep -q made-remotely f.txt && grep -q more a.txt"}]')
    home = tmp_path / "home"
    res = _overseer(local, home, "run", "plan.yaml", "--plain", "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    status = json.loads(_overseer(local, home, "status", "--json").stdout)
    assert [(t["id"], t["state"], t["attempts"]) for t in status["tasks"]] == [("make", "completed", 1)]
    # The task's commit holds exactly the remote agent's change.
    changed = git(local, "show", "--name-status", "--format=", "HEAD").split("\n")
    assert sorted(x for x in changed if x) == ["A\tf.txt", "M\ta.txt"]
    assert git(local, "show", "HEAD:f.txt") == "made-remotely\n"
    assert git(local, "status", "--porcelain") == ""

    res = _overseer(local, home, "rollback", "make")
    assert res.returncode == 0, res.stdout + res.stderr
    assert not (local / "f.txt").exists() and (local / "a.txt").read_text() == "a\n"


def test_a_crash_mid_attempt_over_ssh_resumes_from_the_checkpoint(sshd: SshServer, tmp_path: Path) -> None:
    import signal
    import time

    local, remote = _repos(tmp_path)
    first = tmp_path / "first-life"
    _ssh_plan(local, "ssh-crash", sshd.spec(remote).model_dump(),
              f"echo half > half.txt; if [ ! -f {first} ]; then touch {first}; sleep 60; fi; echo done > f.txt",
              "", '[{name: made, run: "test -f f.txt"}]')
    home = tmp_path / "home"
    env = _env(home)
    proc = subprocess.Popen([sys.executable, "-m", "overseer.cli.main", "run", "plan.yaml", "--plain"],
                            cwd=local, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not first.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert first.exists()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    # The half-done remote work never reached the local tree.
    assert not (local / "half.txt").exists()
    res = _overseer(local, home, "resume", "--plain")
    assert res.returncode == 0, res.stdout + res.stderr
    changed = git(local, "show", "--name-status", "--format=", "HEAD").split("\n")
    assert sorted(x for x in changed if x) == ["A\tf.txt", "A\thalf.txt"]
    assert len(git(local, "log", "--format=%H", "--grep", "Overseer-Task: make").split()) == 1
    assert git(local, "status", "--porcelain") == ""


def test_a_remote_gate_runs_in_the_remote_clone_on_the_tree_being_judged(sshd: SshServer, tmp_path: Path) -> None:
    local, remote = _repos(tmp_path)
    gates = ("gates:\n  - name: there\n    where: remote\n    run: " + json.dumps(
        f'test "$(pwd)" = {remote} && test -f f.txt && test -f fixed.txt && echo gate-output > gate-left.txt')
        + '\n  - {name: here, run: "test -f f.txt"}\n')
    (local / "first-done").write_text("")  # untracked: synced to the remote before each attempt
    _ssh_plan(local, "remote-gate", sshd.spec(remote).model_dump(),
              "echo made > f.txt; if [ -f first-done ]; then echo fixed > fixed.txt; fi", gates, "[there, here]")
    home = tmp_path / "home"
    res = _overseer(local, home, "run", "plan.yaml", "--plain", "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    st = json.loads(_overseer(local, home, "status", "--json").stdout)
    assert [(t["state"], t["attempts"]) for t in st["tasks"]] == [("completed", 1)]
    report = json.loads(_overseer(local, home, "export", "-f", "json").stdout)
    gates = {g["name"]: g for g in report["tasks"][0]["attempts"][0]["gates"]}
    assert gates["there"]["passed"] and gates["here"]["passed"]
    # What the remote gate wrote stayed there: it is not the task's work.
    assert (remote / "gate-left.txt").exists() and not (local / "gate-left.txt").exists()
    assert "gate-left.txt" not in git(local, "show", "--name-only", "--format=", "HEAD")


def test_a_remote_gate_without_an_ssh_agent_fails_with_the_fix(tmp_path: Path) -> None:
    from overseer.gates.runner import run_gate
    from overseer.plan.schema import GateSpec

    r = run_gate(GateSpec(name="there", run="true", where="remote"), tmp_path)
    assert not r.passed and "no ssh transport" in r.output_tail and "transport: {ssh" in r.output_tail
