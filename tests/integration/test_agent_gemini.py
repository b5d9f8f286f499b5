"""The gemini adapter against the real Gemini CLI (@google/gemini-cli 0.61.0 in .agents/) and a
fake Gemini API server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from agent_harness import (
    Attempt,
    assert_no_secret,
    committed_repo,
    git,
    new_run_id,
    processes_left,
    run_attempt,
)
from tests.fakes import gemini as gm
from tests.fakes.gemini import FakeGemini

from overseer.agents.gemini import GeminiAgent
from realbin import cli

SECRET = "gemini-test-key-never-logged-5678"
MODEL = "gemini-2.5-flash"
USER_MARKER = "MARKER-FROM-THE-USERS-OWN-GEMINI-HOME"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return committed_repo(tmp_path / "repo", {"README.md": "# demo\n"})


Run = Callable[..., Attempt]


@pytest.fixture
def run_gemini(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    binary = str(cli("gemini"))
    monkeypatch.setenv("FAKE_GEMINI_KEY", SECRET)
    # A machine user's own Gemini home must not be read: HOME points at one whose global memory
    # file (which the CLI puts into every system prompt) carries a marker.
    trap = tmp_path / "user-home"
    (trap / ".gemini").mkdir(parents=True)
    (trap / ".gemini" / "GEMINI.md").write_text(f"Always mention {USER_MARKER}.\n")
    monkeypatch.setenv("HOME", str(trap))
    run_id = new_run_id()  # one run: the CLI keeps sessions per task, where a follow-up resumes them

    def run(server: FakeGemini, prompt: str = "Create hello.txt saying hello", **keys: Any) -> Attempt:
        config = {"binary": binary, "model": MODEL, "base_url": server.url, "api_key_env": "FAKE_GEMINI_KEY",
                  "max_attempts": 1}
        return run_attempt(GeminiAgent, config, repo, prompt=prompt, run_id=run_id, **keys)

    return run


def function_responses(body: dict[str, object]) -> list[dict[str, object]]:
    out = []
    for content in body["contents"]:  # type: ignore[attr-defined]
        for part in content.get("parts", []):
            if "functionResponse" in part:
                out.append(part["functionResponse"])
    return out


def test_writes_a_file(repo: Path, run_gemini: Run) -> None:
    target = str(repo / "hello.txt")
    with FakeGemini([gm.reply(gm.write_file(target, "hello from gemini\n")), gm.text("I created hello.txt.")]) as server:
        a = run_gemini(server)
    assert a.result.status == "completed", a.result
    assert (repo / "hello.txt").read_text() == "hello from gemini\n"
    assert a.result.final_message == "I created hello.txt."
    assert a.result.session_id and a.result.exit_code == 0
    assert a.result.input_tokens > 0 and a.result.output_tokens > 0 and a.result.cost_usd is None
    kinds = [e.kind for e in a.events]
    assert "tool_call" in kinds and "tool_result" in kinds and "file_change" in kinds and kinds[-1] == "result"
    call = next(e for e in a.events if e.kind == "tool_call")
    assert call.data["tool"] == "write_file" and call.data["input"]["file_path"] == target
    # What the real CLI sent: our key, our model, the prompt; the tool result in the second turn.
    assert len(server.turn_requests) == 2
    assert all(r.headers.get("x-goog-api-key") == SECRET for r in server.requests)
    assert f"/models/{MODEL}:streamGenerateContent" in server.requests[-1].path
    assert "Create hello.txt saying hello" in json.dumps(server.turn_requests[0]["contents"])
    assert function_responses(server.turn_requests[1])
    # Nothing from the machine user's ~/.gemini was used.
    assert all(USER_MARKER.encode() not in r.body for r in server.requests)
    assert git(repo, "status", "--porcelain", "--untracked-files=all").split() == ["??", "hello.txt"]
    assert_no_secret(a, SECRET)


def test_the_user_home_would_leak_without_isolation(tmp_path: Path, run_gemini: Run) -> None:
    # Control for the check above: with the user's home as the CLI's home, the marker is sent.
    with FakeGemini([gm.text("ok")]) as server:
        a = run_gemini(server, "hi", home_dir=str(tmp_path / "user-home"))
    assert a.result.status == "completed"
    assert any(USER_MARKER.encode() in r.body for r in server.requests)


def test_runs_a_shell_command(repo: Path, run_gemini: Run) -> None:
    with FakeGemini([gm.reply(gm.run_shell("echo ran-by-gemini > marker.txt && echo done")),
                     gm.text("The command ran.")]) as server:
        a = run_gemini(server, "Run the marker command")
    assert a.result.status == "completed", a.result
    assert (repo / "marker.txt").read_text().strip() == "ran-by-gemini"
    results = [e for e in a.events if e.kind == "tool_result"]
    assert results and results[0].data["status"] == "success"
    assert "done" in json.dumps(function_responses(server.turn_requests[1]))


@pytest.mark.parametrize(("reply", "expect"), [
    (gm.bad_request("Request contains an invalid argument: rejected by the fake"), "rejected by the fake"),
    (gm.server_error("Internal error encountered in the fake"), "Internal error encountered in the fake"),
])
def test_model_errors_fail(repo: Path, run_gemini: Run, reply: gm.Response, expect: str) -> None:
    with FakeGemini([reply] * 3) as server:
        a = run_gemini(server)
    assert a.result.status == "failed", a.result
    assert a.result.error and expect in a.result.error
    assert a.result.exit_code not in (0, None)
    assert any(e.kind == "error" for e in a.events)
    assert len(server.turn_requests) == 1  # max_attempts: 1, so the CLI does not retry
    assert_no_secret(a, SECRET)


def test_rate_limit_with_reset_time(repo: Path, run_gemini: Run) -> None:
    before = datetime.now(UTC)
    with FakeGemini([gm.rate_limited(retry_delay_s=3600)] * 3) as server:
        a = run_gemini(server, max_attempts=None)
    assert a.result.status == "rate_limited", a.result
    assert a.result.retry_at is not None
    assert before + timedelta(seconds=3500) < a.result.retry_at < datetime.now(UTC) + timedelta(seconds=3700)
    assert any(e.kind == "rate_limit" for e in a.events)
    # A delay over 300 s is terminal for the CLI: it parks instead of burning retries.
    assert len(server.turn_requests) == 1


def test_turn_limit(repo: Path, run_gemini: Run) -> None:
    # The model keeps calling tools; the CLI stops at maxSessionTurns and exits 53.
    replies = [gm.reply(gm.run_shell(f"echo step {i}")) for i in range(6)]
    with FakeGemini(replies) as server:
        a = run_gemini(server, max_turns=2)
    assert a.result.status == "failed", a.result
    assert a.result.exit_code == 53
    assert a.result.error and "turn limit" in a.result.error
    assert a.result.turns == 2
    assert len(server.turn_requests) <= 3


def test_hung_server_times_out_and_leaves_no_process(repo: Path, run_gemini: Run) -> None:
    with FakeGemini([gm.hang()]) as server:
        a = run_gemini(server, timeout=15)
        assert server.turn_requests, "the CLI never reached the server"
    assert a.result.status == "timeout"
    assert a.pgids and processes_left(a) == []


def test_follow_up_resumes_the_session(repo: Path, run_gemini: Run) -> None:
    with FakeGemini([gm.text("The answer is 42."), gm.text("You asked about the answer.")]) as server:
        first = run_gemini(server, "What is the answer?").result
        assert first.status == "completed" and first.session_id
        second = run_gemini(server, "What did I ask before?", attempt=2, session_id=first.session_id).result
        follow_up = json.dumps(server.turn_requests[1]["contents"])
    assert second.status == "completed", second
    assert second.session_id == first.session_id
    assert "What is the answer?" in follow_up and "The answer is 42." in follow_up
    assert "What did I ask before?" in follow_up
