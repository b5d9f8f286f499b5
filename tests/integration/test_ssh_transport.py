"""The SSH transport against a real sshd on 127.0.0.1: the same semantics as a local process."""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sshd_server import SshServer

from overseer.agents.base import AgentEvent, RunContext
from overseer.agents.process import ATTEMPT_ENV
from overseer.agents.shell import ShellAgent, ShellAgentConfig
from overseer.agents.ssh import UNREACHABLE, SshTransport, check, check_error
from overseer.engine.infra_retry import is_infrastructure_failure
from overseer.errors import OverseerError

pytestmark = pytest.mark.real

HANG = 60.0  # generous: only catches a hang, never measures speed


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _gone_soon(pid: int, within: float = 20.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def remote_wd(tmp_path: Path) -> Path:
    d = tmp_path / "remote-workspace"
    d.mkdir()
    return d


@pytest.fixture
def local_wd(tmp_path: Path) -> Path:
    d = tmp_path / "local-workspace"
    d.mkdir()
    return d


def _ctx(local_wd: Path, events: list[AgentEvent], on_event=None, timeout: float = HANG) -> RunContext:  # type: ignore[no-untyped-def]
    def record(e: AgentEvent) -> None:
        events.append(e)
        if on_event is not None:
            on_event(e)

    prompt_file = local_wd.parent / "prompt.md"
    prompt_file.write_text("write the file")
    return RunContext(
        workdir=local_wd, prompt="write the file", prompt_file=prompt_file, run_id="r1",
        task_id="t1", attempt=1, timeout=timeout, transcript=local_wd.parent / "t.jsonl",
        on_event=record,
    )


def _shell(sshd: SshServer, remote_wd: Path, command: str, **extra: object) -> ShellAgent:
    config = ShellAgentConfig.model_validate({
        "type": "shell", "command": command,
        "transport": {"ssh": sshd.spec(remote_wd).model_dump()}, **extra,
    })
    return ShellAgent(config)


def test_shell_agent_writes_in_the_remote_workdir_and_streams(
    sshd: SshServer, remote_wd: Path, local_wd: Path
) -> None:
    # The command waits for a file the test creates only after seeing the first line: it
    # can only finish if that line streamed back while the command was still running.
    command = (
        'echo "first in $PWD"; while [ ! -f go ]; do sleep 0.05; done; '
        'printf "%s\\n" "$OVERSEER_TASK_ID" > out.txt; echo second >&2'
    )
    events: list[AgentEvent] = []

    def on_event(e: AgentEvent) -> None:
        if e.kind == "text" and e.data["text"].startswith("first"):
            (remote_wd / "go").touch()

    result = _shell(sshd, remote_wd, command).run(_ctx(local_wd, events, on_event))

    assert result.status == "completed", result
    assert (remote_wd / "out.txt").read_text() == "t1\n"
    assert not (local_wd / "out.txt").exists()
    texts = [e.data["text"] for e in events if e.kind == "text"]
    assert texts == [f"first in {remote_wd}", "second"]
    assert events[-1].kind == "result"
    assert not [p.name for p in remote_wd.iterdir() if p.name.startswith(".overseer-")]


def test_exit_code_stdin_and_describe(sshd: SshServer, remote_wd: Path, local_wd: Path) -> None:
    t = SshTransport(sshd.spec(remote_wd))
    assert t.describe() == f"ssh {sshd.user}@127.0.0.1:{sshd.port}:{remote_wd}"
    lines: list[str] = []
    out = t.run(["sh", "-c", "cat; exit 3"], cwd=local_wd, env=dict(os.environ),
                on_line=lines.append, timeout=HANG, stall_after=HANG, stdin_data=b"hello\nworld\n")
    assert (out.ended_by, out.exit_code) == ("exit", 3)
    assert lines == ["hello", "world"] == out.tail


def _spawn_child(sshd: SshServer, remote_wd: Path, local_wd: Path, **limits: object) -> tuple[str, int]:
    """Run a command that leaves a `sleep` child in its group; return how it ended and the pid."""
    pids: list[int] = []

    def on_line(line: str) -> None:
        if line.startswith("child "):
            pids.append(int(line.split()[1]))

    out = SshTransport(sshd.spec(remote_wd), kill_grace=1).run(
        ["bash", "-c", "sleep 300 & echo child $!; wait"], cwd=local_wd, env=dict(os.environ),
        on_line=on_line, **{"timeout": HANG, "stall_after": HANG, **limits},  # type: ignore[arg-type]
    )
    assert pids, out
    return out.ended_by, pids[0]


def test_timeout_kills_the_remote_group(sshd: SshServer, remote_wd: Path, local_wd: Path) -> None:
    ended_by, pid = _spawn_child(sshd, remote_wd, local_wd, timeout=1.5)
    assert ended_by == "timeout"
    assert _gone_soon(pid)


def test_stall_kills_the_remote_group(sshd: SshServer, remote_wd: Path, local_wd: Path) -> None:
    ended_by, pid = _spawn_child(sshd, remote_wd, local_wd, stall_after=1.0)
    assert ended_by == "stalled"
    assert _gone_soon(pid)


def test_cancel_kills_the_remote_group(sshd: SshServer, remote_wd: Path, local_wd: Path) -> None:
    cancel = threading.Event()
    pids: list[int] = []

    def on_line(line: str) -> None:
        if line.startswith("child "):
            pids.append(int(line.split()[1]))
            cancel.set()

    out = SshTransport(sshd.spec(remote_wd), kill_grace=1).run(
        ["bash", "-c", "trap '' TERM; sleep 300 & echo child $!; wait"], cwd=local_wd,
        env=dict(os.environ), on_line=on_line, timeout=HANG, stall_after=HANG, cancel=cancel,
    )
    # The command ignores SIGTERM: only the SIGKILL after the grace period ends it.
    assert out.ended_by == "cancelled"
    assert pids and _gone_soon(pids[0])


def test_leftovers_of_a_finished_command_are_killed(
    sshd: SshServer, remote_wd: Path, local_wd: Path
) -> None:
    lines: list[str] = []
    out = SshTransport(sshd.spec(remote_wd), kill_grace=1).run(
        ["bash", "-c", "sleep 300 & echo child $!"], cwd=local_wd, env=dict(os.environ),
        on_line=lines.append, timeout=HANG, stall_after=HANG,
    )
    assert (out.ended_by, out.exit_code) == ("exit", 0)
    assert _gone_soon(int(lines[0].split()[1]))


def test_helpers_that_left_the_group_are_killed_by_attempt_id(
    sshd: SshServer, remote_wd: Path, local_wd: Path
) -> None:
    lines: list[str] = []
    env = {**os.environ, ATTEMPT_ENV: f"run-{secrets.token_hex(4)}/t1/1"}
    out = SshTransport(sshd.spec(remote_wd), kill_grace=1).run(
        ["bash", "-c", "setsid sleep 300 >/dev/null 2>&1 < /dev/null & echo child $!"],
        cwd=local_wd, env=env, on_line=lines.append, timeout=HANG, stall_after=HANG,
    )
    assert (out.ended_by, out.exit_code) == ("exit", 0)
    assert _gone_soon(int(lines[0].split()[1]))


def test_remote_group_dies_with_a_killed_overseer(sshd: SshServer, remote_wd: Path) -> None:
    # No cancel, no timeout: the local process just vanishes (kill -9) mid-run.
    script = textwrap.dedent(f"""
        import os, sys
        from overseer.agents.ssh_spec import SshSpec
        from overseer.agents.ssh import SshTransport
        spec = SshSpec.model_validate_json({sshd.spec(remote_wd).model_dump_json()!r})
        SshTransport(spec).run(["bash", "-c", "sleep 300 & echo child $!; wait"], cwd=".",
            env=dict(os.environ), on_line=lambda l: print(l, flush=True), timeout=600,
            stall_after=600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("child "), line
        pid = int(line.split()[1])
        assert _alive(pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert _gone_soon(pid)


def test_env_reaches_the_command_but_never_a_command_line(
    sshd: SshServer, remote_wd: Path, local_wd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = f"sk-test-{secrets.token_hex(12)}"
    # Set in overseer's own environment too: the remote host keeps its own value for those.
    monkeypatch.setenv("OVERSEER_TEST_LOCAL_ONLY", "local")
    env = {**os.environ, "OVERSEER_TEST_SECRET": secret, "OVERSEER_TEST_QUOTES": "it's \"$x\"\n2"}
    seen_in_cmdline: list[str] = []
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        if line == "ready":
            for proc in Path("/proc").iterdir():
                try:
                    cmdline = (proc / "cmdline").read_bytes()
                except OSError:
                    continue
                if secret.encode() in cmdline:
                    seen_in_cmdline.append(f"{proc.name}: {cmdline!r}")
            (remote_wd / "go").touch()

    command = (
        'printf "%s" "$OVERSEER_TEST_SECRET" | sha256sum | cut -c1-64; '
        'printf "%s|%s|%s\\n" "$OVERSEER_TEST_SECRET" "${OVERSEER_TEST_LOCAL_ONLY-unset}" '
        '"$OVERSEER_TEST_QUOTES"; echo ready; while [ ! -f go ]; do sleep 0.05; done'
    )
    out = SshTransport(sshd.spec(remote_wd)).run(
        ["sh", "-c", command], cwd=local_wd, env=env, on_line=on_line, timeout=HANG,
        stall_after=HANG,
    )
    assert out.exit_code == 0, out
    # The secret reached the command (its digest says so), and what came back has it masked.
    digest = hashlib.sha256(secret.encode()).hexdigest()
    assert lines[0] == digest and lines[1].startswith("sk-***[") and secret not in "".join(lines)
    assert lines[1].endswith("|unset|it's \"$x\"") and lines[2:] == ["2", "ready"]
    assert seen_in_cmdline == []
    assert secret not in (sshd.root / "sshd.log").read_text(errors="replace")
    assert not [p.name for p in remote_wd.iterdir() if p.name.startswith(".overseer-")]


def _error(spec_kwargs: dict[str, object], sshd: SshServer, remote_wd: Path) -> OverseerError:
    spec = sshd.spec(remote_wd).model_copy(update=spec_kwargs)
    with pytest.raises(OverseerError) as info:
        SshTransport(spec).run(["true"], cwd=remote_wd, env={}, on_line=print, timeout=HANG,
                               stall_after=HANG)
    return info.value


def test_wrong_host_key_is_refused(sshd: SshServer, remote_wd: Path, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    kind, blob = Path(f"{other}.pub").read_text().split()[:2]
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:{sshd.port} {kind} {blob}\n")
    err = _error({"known_hosts": str(kh)}, sshd, remote_wd)
    assert f"host key for 127.0.0.1:{sshd.port} does not match known_hosts ({kh})" in err.message
    assert "SHA256:" in err.message
    assert err.hint and "ssh-keygen -R" in err.hint
    assert check(sshd.spec(remote_wd, known_hosts=kh)) == err.message


def test_unknown_host_is_refused(sshd: SshServer, remote_wd: Path, tmp_path: Path) -> None:
    kh = tmp_path / "empty_known_hosts"
    kh.write_text("")
    err = _error({"known_hosts": str(kh)}, sshd, remote_wd)
    assert f"host key for 127.0.0.1:{sshd.port} is not in known_hosts ({kh})" in err.message
    assert err.hint and f"ssh-keyscan -p {sshd.port} 127.0.0.1" in err.hint
    missing_file = _error({"known_hosts": str(tmp_path / "nope")}, sshd, remote_wd)
    assert "is not in known_hosts" in missing_file.message


def test_auth_failure_refused_port_and_missing_workdir(
    sshd: SshServer, remote_wd: Path, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    err = _error({"key": str(stranger)}, sshd, remote_wd)
    assert err.message == f"ssh authentication failed for {sshd.user}@127.0.0.1:{sshd.port}"

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    # Nobody listening is not a configuration error: the attempt fails as an infrastructure
    # failure (the engine retries it with backoff), saying why; doctor still reports it.
    events: list[AgentEvent] = []
    local = tmp_path / "local"
    local.mkdir()
    unreachable = ShellAgent(ShellAgentConfig.model_validate({
        "type": "shell", "command": "touch never",
        "transport": {"ssh": {**sshd.spec(remote_wd).model_dump(), "port": closed_port}},
    }))
    result = unreachable.run(_ctx(local, events))
    refused = f"cannot connect to 127.0.0.1:{closed_port}: connection refused"
    assert result.status == "failed" and f"{UNREACHABLE}: {refused}" in result.final_message
    assert is_infrastructure_failure(result) == f"the agent's SSH host could not be reached ({refused})"
    assert [e.data.get("text") for e in events if e.kind == "text"] == [f"{UNREACHABLE}: {refused}"]
    assert not (remote_wd / "never").exists()
    assert check(sshd.spec(remote_wd).model_copy(update={"port": closed_port})) == refused

    err = _error({"workdir": str(tmp_path / "no-such-dir")}, sshd, remote_wd)
    assert "remote workdir" in err.message and "cannot be entered" in err.message

    assert check(sshd.spec(remote_wd)) is None
    problem = check_error(sshd.spec(tmp_path / "no-such-dir"))
    assert problem is not None and problem.hint
