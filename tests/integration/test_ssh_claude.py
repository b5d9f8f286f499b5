"""The claude-code adapter through the SSH transport: the real CLI, run by the real sshd on
127.0.0.1 (so the fake Anthropic server's URL works from the "remote" side too)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sshd_server import SshServer

from fakes.anthropic import FakeAnthropic, Turn
from overseer.agents.base import AgentEvent, RunContext
from overseer.agents.claude_code import ClaudeCodeAgent, ClaudeCodeConfig
from realbin import cli

pytestmark = pytest.mark.real


def test_claude_code_over_ssh_writes_in_the_remote_workdir(sshd: SshServer, tmp_path: Path) -> None:
    claude = cli("claude")
    remote, local = tmp_path / "remote", tmp_path / "local"
    remote.mkdir()
    local.mkdir()
    target = remote / "hello.txt"
    events: list[AgentEvent] = []
    (tmp_path / "prompt.md").write_text("write hello.txt")
    ctx = RunContext(
        workdir=local, prompt="write hello.txt", prompt_file=tmp_path / "prompt.md", run_id="r1",
        task_id="t1", attempt=1, timeout=180, transcript=tmp_path / "t.jsonl",
        on_event=events.append,
    )
    with FakeAnthropic([Turn.write(str(target), "hi from claude\n"), Turn.reply("Done.")]) as api:
        config = ClaudeCodeConfig.model_validate({
            "type": "claude-code", "binary": str(claude), "env": api.env(),
            "permission_mode": "acceptEdits", "config_dir": str(tmp_path / "claude-config"),
            "transport": {"ssh": sshd.spec(remote).model_dump()},
        })
        result = ClaudeCodeAgent(config).run(ctx)
        calls = list(api.calls)

    assert result.status == "completed", (result, [e.data for e in events][-5:])
    assert target.read_text() == "hi from claude\n"
    assert not (local / "hello.txt").exists()
    assert len(calls) >= 2 and "write hello.txt" in calls[0].last_user
    assert result.session_id and result.final_message == "Done."
    assert any(e.kind == "tool_call" for e in events)
    # The API key went through the 0600 env file, which is gone; nothing was left behind.
    assert not [p.name for p in remote.iterdir() if p.name.startswith(".overseer-")]
    assert "sk-ant-fake" not in (sshd.root / "sshd.log").read_text(errors="replace")
