"""The `claude-code` adapter driving the real Claude Code CLI against a scripted fake Messages API."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from agent_harness import Attempt, assert_no_secret, new_run_id, processes_left, run_attempt
from tests.fakes.anthropic import FakeAnthropic, Turn
from tests.realbin import cli

from overseer.agents.claude_code import ClaudeCodeAgent

pytestmark = pytest.mark.real

SECRET = "sk-ant-test-do-not-leak-4242"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OVERSEER_TEST_CLAUDE_KEY", SECRET)
    # The CLI's Bash tool starts a login shell that sources ~/.bashrc: keep this machine's out.
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # The CLI must take its credentials from the agent's settings only.
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def run_claude(api: FakeAnthropic, workspace: Path, *, subscription: bool = False, **keys: Any) -> Attempt:
    env = api.env(subscription=subscription)
    if not subscription:
        env["ANTHROPIC_API_KEY"] = "${OVERSEER_TEST_CLAUDE_KEY}"
    config = {"binary": str(cli("claude")), "env": env,
              "config_dir": str(workspace.parent / "claude-config" / "{run_id}")}
    return run_attempt(ClaudeCodeAgent, config, workspace, state=workspace.parent / "state", **keys)


def test_writes_a_file(workspace: Path) -> None:
    target = workspace / "hello.txt"
    with FakeAnthropic([Turn.write(str(target), "hello from claude\n", when="create hello.txt"),
                        Turn.reply("I wrote hello.txt", when="File created", input_tokens=300, output_tokens=40)]) as api:
        a = run_claude(api, workspace, prompt="create hello.txt")
    assert a.result.status == "completed", a.result.error
    assert target.read_text() == "hello from claude\n"
    assert a.result.final_message == "I wrote hello.txt"
    assert [c.turn for c in api.calls] == [0, 1]
    (call,) = [e for e in a.of("tool_call") if e["name"] == "Write"]
    assert call["input"]["file_path"] == str(target)
    assert [c["path"] for c in a.of("file_change")] == [str(target)]
    # Tokens are this run's, over both model requests (100 + 300 in, 20 + 40 out).
    assert (a.result.input_tokens, a.result.output_tokens) == (400, 60)
    assert a.result.cost_usd is not None and a.result.cost_usd > 0
    assert a.result.turns == 2
    assert a.result.session_id and a.result.session_id == a.events[-1].data["session_id"]
    assert a.events[-1].kind == "result" and a.events[-1].data["status"] == "completed"
    # The key reached the API through `${VAR}` in the agent's env, and never an event.
    assert {c.body.get("model") for c in api.calls} and api.server.requests[0].headers["x-api-key"] == SECRET
    assert_no_secret(a, SECRET)
    assert processes_left(a) == []


def test_tool_call_runs_a_command(workspace: Path) -> None:
    with FakeAnthropic([Turn.bash("echo ran > ran.txt && echo out-$((6*7))"),
                        Turn.reply("the command printed out-42", when="out-42")]) as api:
        a = run_claude(api, workspace)
    assert a.result.status == "completed", a.result.error
    assert (workspace / "ran.txt").read_text() == "ran\n"
    assert [c.turn for c in api.calls] == [0, 1]  # the command's output went back to the model
    (call,) = a.of("tool_call")
    (res,) = a.of("tool_result")
    assert call["name"] == "Bash" and res["tool_use_id"] == call["id"] and "out-42" in str(res["content"])


@pytest.mark.parametrize("status", [400, 500])
def test_model_error_fails_fast_with_a_clear_error(workspace: Path, status: int) -> None:
    with FakeAnthropic([Turn.api_error(status, "the model broke", repeat=True)]) as api:
        start = time.monotonic()
        a = run_claude(api, workspace)
        took = time.monotonic() - start
    assert a.result.status == "failed"
    assert a.result.error and f"model API error {status}" in a.result.error and "the model broke" in a.result.error
    assert a.result.retry_at is None
    assert took < 45  # generous; without max_retries the CLI retries a 500 for over 90 s
    if status == 500:
        assert len(api.calls) == 2  # max_retries: 1
        assert any(e.get("subtype") == "api_retry" for e in a.of("error"))


def test_usage_limit_with_reset_time_is_rate_limited(workspace: Path) -> None:
    resets = int(time.time()) + 2 * 3600
    with FakeAnthropic([Turn.rate_limited(resets)]) as api:
        a = run_claude(api, workspace, subscription=True)
    assert a.result.status == "rate_limited", a.result.error
    assert a.result.retry_at == datetime.fromtimestamp(resets, UTC)
    assert a.result.error and "limit" in a.result.error
    (event,) = a.of("rate_limit")
    assert event["status"] == "rejected" and event["resets_at"] == resets
    assert len(api.calls) == 1  # parked, not retried


def test_plain_429_is_rate_limited_with_the_configured_wait(workspace: Path) -> None:
    """With an API key the CLI drops a 429's reset headers: overseer parks for rate_limit_wait."""
    with FakeAnthropic([Turn.rate_limited(int(time.time()) + 3600)]) as api:
        before = datetime.now(UTC)
        a = run_claude(api, workspace, rate_limit_wait=1234)
    assert a.result.status == "rate_limited"
    assert a.result.retry_at is not None
    assert 1200 < (a.result.retry_at - before).total_seconds() < 1300


def test_max_turns_fails_with_a_clear_error(workspace: Path) -> None:
    with FakeAnthropic([Turn.bash("echo again", repeat=True)]) as api:
        a = run_claude(api, workspace, max_turns=2)
    assert a.result.status == "failed"
    assert a.result.error and "max_turns" in a.result.error
    assert len(api.calls) == 2
    assert processes_left(a) == []


def test_budget_exhaustion_is_budget_exceeded(workspace: Path) -> None:
    with FakeAnthropic([Turn.bash("echo again", repeat=True)]) as api:
        a = run_claude(api, workspace, max_budget_usd=0.0001)
    assert a.result.status == "budget_exceeded", a.result.error
    assert a.result.cost_usd is not None and a.result.cost_usd > 0.0001


def test_hung_server_times_out_and_the_process_group_is_gone(workspace: Path) -> None:
    with FakeAnthropic([Turn.hung()]) as api:
        start = time.monotonic()
        a = run_claude(api, workspace, timeout=4)
        took = time.monotonic() - start
        assert api.calls  # it did reach the model, and hung there
    assert a.result.status == "timeout"
    assert a.result.error and "4s" in a.result.error
    assert a.pgids and processes_left(a) == []
    assert took < 30  # generous: only detects a hang


def test_hung_server_without_events_is_stalled(workspace: Path) -> None:
    with FakeAnthropic([Turn.hung()]) as api:
        a = run_claude(api, workspace, timeout=60, stall_after=3)
    assert a.result.status == "stalled"
    assert a.pgids and processes_left(a) == []


def test_resumed_session_continues_with_a_follow_up(workspace: Path) -> None:
    run_id = new_run_id()
    with FakeAnthropic([Turn.reply("first answer", when="first task"),
                        Turn.reply("second answer", when="the follow-up")]) as api:
        first = run_claude(api, workspace, prompt="first task", run_id=run_id)
        assert first.result.status == "completed" and first.result.session_id
        second = run_claude(api, workspace, prompt="the follow-up", run_id=run_id, attempt=2,
                            session_id=first.result.session_id)
    assert second.result.status == "completed", second.result.error
    assert second.result.session_id == first.result.session_id
    assert second.result.final_message == "second answer"
    # The follow-up request carries the first exchange: the same conversation went on.
    history = json.dumps(api.calls[1].body["messages"])
    assert "first task" in history and "first answer" in history
    # Cost is this run's alone, although the CLI's total_cost_usd covers the whole session.
    assert second.result.cost_usd == pytest.approx(first.result.cost_usd)
    assert (workspace.parent / "claude-config" / run_id / "projects").is_dir()


def test_a_steer_reaches_the_running_session_at_the_end_of_its_turn(workspace: Path) -> None:
    """With a person's message waiting when a turn ends, the same process and session take it
    as the next turn (stream-json input); without one, stdin closes and the CLI finishes."""
    asked: list[int] = []

    def take_steers() -> str | None:
        asked.append(1)
        return "A person sent a message:\n\n> also handle negative numbers" if len(asked) == 1 else None

    with FakeAnthropic([Turn.reply("first answer", when="the task", input_tokens=100, output_tokens=10),
                        Turn.reply("negatives handled", when="negative numbers", input_tokens=150,
                                   output_tokens=20)]) as api:
        a = run_claude(api, workspace, prompt="the task", take_steers=take_steers)
    assert a.result.status == "completed", a.result.error
    assert [c.turn for c in api.calls] == [0, 1]  # both turns, one process
    assert len(a.pgids) == 1 and len(asked) == 2  # asked after each turn; nothing the second time
    # The second request continues the first exchange: the same session took the message.
    history = json.dumps(api.calls[1].body["messages"])
    assert "the task" in history and "first answer" in history and "negative numbers" in history
    assert a.result.final_message == "negatives handled"
    assert (a.result.input_tokens, a.result.output_tokens) == (250, 30)  # both turns counted
    assert a.result.turns == 2
    single = a.result.cost_usd
    assert single is not None and single > 0
    assert "a person's message goes into the session" in a.texts()


def test_default_permission_mode_reports_denials(workspace: Path) -> None:
    target = workspace / "denied.txt"
    with FakeAnthropic([Turn.write(str(target), "x\n"), Turn.reply("could not write")]) as api:
        a = run_claude(api, workspace, permission_mode="default")
    # The CLI calls this a success; the denial is there for overseer's review to see.
    assert a.result.status == "completed"
    assert not target.exists()
    assert [d.get("tool_name") for d in a.result.permission_denials] == ["Write"]


def test_bypass_permissions_works_as_root(workspace: Path) -> None:
    with FakeAnthropic([Turn.bash("touch bypassed.txt"), Turn.reply("ok")]) as api:
        a = run_claude(api, workspace, permission_mode="bypassPermissions")
    assert a.result.status == "completed", a.result.error
    assert (workspace / "bypassed.txt").exists()


def test_binary_and_config_dir_values_are_expanded(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_UNDER_TEST", str(cli("claude")))
    monkeypatch.setenv("CLAUDE_CFG_ROOT", str(workspace.parent / "cfg-root"))
    with FakeAnthropic([Turn.reply("ok")]) as api:
        a = run_claude(api, workspace, binary="${CLAUDE_UNDER_TEST}", config_dir="${CLAUDE_CFG_ROOT}/{task_id}")
    assert a.result.status == "completed", a.result.error
    assert (workspace.parent / "cfg-root" / "t1" / "projects").is_dir()


def test_relative_config_dir_is_refused(workspace: Path) -> None:
    with FakeAnthropic([Turn.reply("ok")]) as api:
        a = run_claude(api, workspace, config_dir="claude-config")
    assert a.result.status == "failed" and a.result.error and "absolute" in a.result.error
    assert api.calls == [] and not (workspace / "claude-config").exists()


def test_missing_binary_is_a_clear_failure(workspace: Path) -> None:
    result = run_attempt(ClaudeCodeAgent, {"binary": str(workspace / "no-such-claude")}, workspace, timeout=10).result
    assert result.status == "failed" and result.error and "not found" in result.error


def test_runs_over_ssh_and_writes_in_the_remote_workdir(sshd: Any, tmp_path: Path) -> None:
    """The same adapter through `transport: ssh` (a real sshd on 127.0.0.1): the CLI runs in the
    remote workdir, its events stream back, and the prompt crosses on stdin."""
    remote_wd, local_wd = tmp_path / "remote-ws", tmp_path / "local-ws"
    remote_wd.mkdir()
    local_wd.mkdir()
    target = remote_wd / "remote.txt"
    with FakeAnthropic([Turn.write(str(target), "written over ssh\n", when="write remotely"),
                        Turn.reply("done remotely", when="File created")]) as api:
        a = run_claude(api, local_wd, prompt="write remotely",
                       transport={"ssh": sshd.spec(remote_wd).model_dump()})
    assert a.result.status == "completed", a.result.error
    assert target.read_text() == "written over ssh\n"
    assert not (local_wd / "remote.txt").exists()
    # The CLI tells the model where it runs: the remote workdir, not the local one.
    assert f"Primary working directory: {remote_wd}" in json.dumps(api.calls[0].body)
    assert str(local_wd) not in json.dumps(api.calls[0].body)
    assert a.result.final_message == "done remotely" and a.result.session_id
    assert [c["path"] for c in a.of("file_change")] == [str(target)]
