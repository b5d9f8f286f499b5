"""The `codex` adapter driving the real Codex CLI against a scripted fake Responses API."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from agent_harness import Attempt, assert_no_secret, git, processes_left, run_attempt
from tests.fakes.openai_responses import (
    FakeResponses,
    Response,
    add_file_patch,
    apply_patch_item,
    error,
    exec_command_item,
    hang,
    rate_limited,
    reply,
    say,
    tool_outputs,
    user_texts,
)
from tests.realbin import cli

from overseer.agents.codex import CodexAgent

pytestmark = pytest.mark.real

KEY_ENV = "OVERSEER_TEST_CODEX_KEY"
SECRET = "sk-test-do-not-leak-4242"
MODEL = "gpt-5.5"  # a slug codex knows, so it declares its apply_patch tool


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    git(ws, "init", "-q", "-b", "main")
    return ws


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)


def run_codex(server: FakeResponses, workspace: Path, **keys: Any) -> Attempt:
    config = {"binary": str(cli("codex")), "model": MODEL, "base_url": server.base_url, "api_key_env": KEY_ENV,
              "pricing": {MODEL: {"input": 1.25, "output": 10.0}}}
    return run_attempt(CodexAgent, config, workspace, **keys)


def test_writes_a_file_with_apply_patch(workspace: Path) -> None:
    with FakeResponses([reply(apply_patch_item(add_file_patch("hello.txt", "hello from codex"))),
                        say("I wrote hello.txt", input_tokens=300, output_tokens=40)]) as server:
        a = run_codex(server, workspace, prompt="create hello.txt")
    assert a.result.status == "completed", a.result.error
    assert (workspace / "hello.txt").read_text() == "hello from codex\n"
    assert a.result.final_message == "I wrote hello.txt"
    (change,) = a.of("file_change")
    assert change["changes"] == [{"path": str(workspace / "hello.txt"), "kind": "add"}]
    assert a.result.session_id and a.result.session_id == a.of("result")[0]["session_id"]
    # Tokens are summed over the turn's two model requests (100 + 300 in, 20 + 40 out).
    assert (a.result.input_tokens, a.result.output_tokens) == (400, 60)
    assert a.result.cost_usd == pytest.approx((400 * 1.25 + 60 * 10.0) / 1e6)
    assert a.result.cost_estimated and a.of("result")[0]["cost_estimated"] is True
    assert a.kinds()[-1] == "result" and "usage" in a.kinds()
    # Overseer's own CODEX_HOME, configured by it; the key is named there, never written.
    home = next((workspace / ".overseer" / "runs").glob("*/t1/1/codex-home"))
    assert f'env_key = "{KEY_ENV}"' in (home / "config.toml").read_text()
    assert SECRET not in (home / "config.toml").read_text()
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    # codex's shell-snapshot helper runs in a session of its own; it must not outlive the attempt.
    assert processes_left(a) == []


def test_tool_call_runs_a_command_and_the_key_stays_out_of_events(workspace: Path) -> None:
    cmd = f"echo made-by-command > cmd.txt; echo key=${KEY_ENV}"
    with FakeResponses([reply(exec_command_item(cmd)), say("ran it")]) as server:
        a = run_codex(server, workspace)
        second = server.model_requests[1]
    assert a.result.status == "completed", a.result.error
    assert (workspace / "cmd.txt").read_text() == "made-by-command\n"
    (call,) = a.of("tool_call")
    assert "echo made-by-command" in call["command"]
    (res,) = a.of("tool_result")
    assert res["exit_code"] == 0 and "key=sk-***[" in res["output"]
    # The command's output went back to the model as the tool result.
    (output,) = tool_outputs(second).values()
    assert "key=" in output
    assert_no_secret(a, SECRET)


@pytest.mark.parametrize(("status", "reply_", "message"), [
    (400, error(400, "Invalid model gpt-nope", code="model_not_found"), "Invalid model gpt-nope"),
    # codex replaces a 500's body with a message of its own
    (500, error(500, "upstream exploded", err_type="server_error"), "high demand"),
])
def test_model_error_fails_the_attempt_without_retries(workspace: Path, status: int, reply_: Response,
                                                       message: str) -> None:
    with FakeResponses([reply_, say("never reached")]) as server:
        a = run_codex(server, workspace)
        n_requests = len(server.model_requests)
    assert a.result.status == "failed"
    assert a.result.error and message in a.result.error
    assert a.result.exit_code == 1
    assert n_requests == 1  # request_max_retries = 0: retrying is overseer's decision
    assert any(e["fatal"] for e in a.of("error"))
    assert a.result.session_id  # the thread exists and could be resumed


def test_usage_limit_with_reset_time_is_rate_limited(workspace: Path) -> None:
    resets = datetime.now(UTC) + timedelta(hours=2)
    body = {"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached",
                      "plan_type": "pro", "resets_at": int(resets.timestamp())}}
    with FakeResponses([Response.json(body, status=429)]) as server:
        a = run_codex(server, workspace)
    assert a.result.status == "rate_limited", a.result.error
    assert a.result.retry_at is not None
    # codex prints the time to the minute, in the child's local zone
    assert abs((a.result.retry_at - resets).total_seconds()) < 61
    (rl,) = a.of("rate_limit")
    assert rl["retry_at"] == a.result.retry_at.isoformat()


def test_plain_429_is_rate_limited_but_codex_drops_the_reset(workspace: Path) -> None:
    with FakeResponses([rate_limited(120)]) as server:
        a = run_codex(server, workspace)
    assert a.result.status == "rate_limited"
    assert a.result.error and "429" in a.result.error
    # The x-ratelimit-reset-* and retry-after headers never reach codex's output.
    assert a.result.retry_at is None


def test_max_turns_is_overseers_limit(workspace: Path) -> None:
    """codex exec has no turn limit: overseer counts tool calls and ends the attempt."""
    script = [reply(exec_command_item(f"echo step{i} >> steps.txt")) for i in range(6)] + [say("done")]
    # The model answers the turns after the limit slowly, as a real one would: the kill, made
    # as soon as the third call is seen, lands before any of them.
    for r in script[3:]:
        r.delay = 5.0
    with FakeResponses(script) as server:
        a = run_codex(server, workspace, max_turns=2)
    assert a.result.status == "failed"
    assert a.result.error and "max_turns 2" in a.result.error
    assert len(a.of("tool_call")) == 3  # the third call is the one over the limit
    assert len((workspace / "steps.txt").read_text().splitlines()) <= 3
    assert processes_left(a) == []


def test_hung_server_times_out_and_the_process_group_is_gone(workspace: Path) -> None:
    with FakeResponses([hang()]) as server:
        t0 = time.monotonic()
        a = run_codex(server, workspace, timeout=4)
        took = time.monotonic() - t0
    assert a.result.status == "timeout"
    assert a.pgids and processes_left(a) == []
    assert took < 30  # generous: only detects a hang


def test_hung_server_stalls_without_events(workspace: Path) -> None:
    with FakeResponses([hang()]) as server:
        a = run_codex(server, workspace, stall_after=3)
    assert a.result.status == "stalled"
    assert processes_left(a) == []


def test_server_down_ends_as_stalled_despite_reconnect_messages(workspace: Path) -> None:
    """codex retries a refused connection for ever, printing `Reconnecting...` errors at a
    growing interval; they must not count as progress."""
    with FakeResponses() as server:
        down = FakeResponses()
        down.__enter__()
        down.__exit__()  # a port that was ours and now refuses connections
        cfg_url = down.base_url
        # Measured gaps between the messages: ~5 s, then ~10 s; with 12 s the reconnect rule
        # usually ends it, else the plain no-output stall does. Either way: stalled.
        a = run_codex(server, workspace, stall_after=12, base_url=cfg_url)
    assert a.result.status == "stalled"
    assert a.result.error and "unreachable" in a.result.error
    assert any(e.get("transient") for e in a.of("error"))
    assert processes_left(a) == []


def test_reconnect_messages_are_not_progress(workspace: Path, tmp_path: Path) -> None:
    """A stand-in for codex replaying its measured down-server output at a rate that never
    trips the plain no-output stall: only the adapter's reconnect rule can end it."""
    fake = tmp_path / "codex-reconnecting"
    fake.write_text(
        "#!/bin/sh\n"
        "echo '{\"type\":\"thread.started\",\"thread_id\":\"t-down\"}'\n"
        "echo '{\"type\":\"turn.started\"}'\n"
        "while :; do echo '{\"type\":\"error\",\"message\":\"Reconnecting... waiting for network\"}'; "
        "sleep 0.3; done\n")
    fake.chmod(0o755)
    with FakeResponses() as server:
        a = run_codex(server, workspace, stall_after=2, binary=str(fake))
    assert a.result.status == "stalled"
    assert a.result.error and a.result.error.startswith("model server unreachable for over 2s")
    assert a.result.session_id == "t-down"
    assert processes_left(a) == []


def test_resumed_session_keeps_the_thread(workspace: Path) -> None:
    with FakeResponses([reply(apply_patch_item(add_file_patch("a.txt", "one"))),
                        say("first done", input_tokens=1000, output_tokens=100),
                        say("follow-up done", input_tokens=7, output_tokens=3)]) as server:
        first = run_codex(server, workspace, attempt=1, prompt="write a.txt", run_id="r-resume")
        second = run_codex(server, workspace, attempt=2, prompt="now explain it", session_id=first.result.session_id,
                           run_id="r-resume")
        last = server.model_requests[-1]
    assert first.result.status == "completed" and second.result.status == "completed", second.result.error
    assert second.result.session_id == first.result.session_id
    assert second.result.final_message == "follow-up done"
    # The model sees the whole conversation, old prompt and tool result included.
    assert user_texts(last) == ["write a.txt", "now explain it"]
    assert tool_outputs(last)
    # codex reports the thread's running total after a resume; the attempt gets only its share.
    assert (second.result.input_tokens, second.result.output_tokens) == (7, 3)
    assert not (workspace / ".overseer" / "runs" / "r-resume" / "t1" / "2" / "codex-home").exists()


def test_resume_of_an_unknown_session_starts_a_new_one(workspace: Path) -> None:
    with FakeResponses([say("fresh start")]) as server:
        a = run_codex(server, workspace, session_id="01a20188-0000-7000-8000-000000000000")
    assert a.result.status == "completed"
    assert a.result.session_id != "01a20188-0000-7000-8000-000000000000"
    assert any("not found" in e["message"] for e in a.of("error"))


def test_missing_api_key_fails_before_starting(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    with FakeResponses() as server:
        a = run_codex(server, workspace)
        assert server.requests == []
    assert a.result.status == "failed" and a.result.error and KEY_ENV in a.result.error
    assert a.pgids == []


def test_env_and_binary_values_are_expanded(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    monkeypatch.setenv("OVERSEER_TEST_SOURCE_KEY", SECRET)
    monkeypatch.setenv("OVERSEER_TEST_CODEX_DIR", str(cli("codex").parent))
    with FakeResponses([say("ok")]) as server:
        a = run_codex(server, workspace, env={KEY_ENV: "${OVERSEER_TEST_SOURCE_KEY}"},
                      binary="${OVERSEER_TEST_CODEX_DIR}/codex")
        auth = server.requests[0].headers["authorization"]
    assert a.result.status == "completed", a.result.error
    assert auth == f"Bearer {SECRET}"
    assert os.environ.get(KEY_ENV) is None
