"""The gemini adapter against the real Gemini CLI (@google/gemini-cli 0.61.0 in .agents/) and a
fake Gemini API server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.fakes import gemini as gm
from tests.fakes.gemini import FakeGemini

from overseer.agents.base import AgentEvent, AgentResult, RunContext
from overseer.agents.gemini import GeminiAgent, GeminiConfig
from realbin import cli

SECRET = "gemini-test-key-never-logged-5678"
MODEL = "gemini-2.5-flash"
USER_MARKER = "MARKER-FROM-THE-USERS-OWN-GEMINI-HOME"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e.invalid", *args], cwd=repo,
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    (r / "README.md").write_text("# demo\n")
    git(r, "init", "-q", "-b", "main")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "start")
    (r / ".git" / "info" / "exclude").write_text(".overseer/\n")
    return r


Run = Callable[..., tuple[AgentResult, list[AgentEvent]]]


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
    run_id = f"r-{uuid.uuid4().hex[:8]}"

    def run(server: FakeGemini, prompt: str = "Create hello.txt saying hello", *, attempt: int = 1,
            session_id: str | None = None, timeout: float = 60,
            on_spawn: Callable[[int], None] = lambda _p: None, **keys: object) -> tuple[AgentResult, list[AgentEvent]]:
        config = GeminiConfig.model_validate({
            "binary": binary, "model": MODEL, "base_url": server.url, "api_key_env": "FAKE_GEMINI_KEY",
            "max_attempts": 1, **keys,
        })
        adir = repo / ".overseer" / "runs" / run_id / "t1" / str(attempt)
        adir.mkdir(parents=True, exist_ok=True)
        (adir / "prompt.md").write_text(prompt)
        events: list[AgentEvent] = []
        ctx = RunContext(workdir=repo, prompt=prompt, prompt_file=adir / "prompt.md", run_id=run_id, task_id="t1",
                         attempt=attempt, timeout=timeout, transcript=adir / "transcript.jsonl",
                         on_event=events.append, on_spawn=on_spawn, session_id=session_id)
        return GeminiAgent(config).run(ctx), events

    return run


def no_secret(result: AgentResult, events: list[AgentEvent]) -> None:
    assert SECRET not in result.model_dump_json()
    assert all(SECRET not in e.model_dump_json() for e in events)


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
        result, events = run_gemini(server)
    assert result.status == "completed", result
    assert (repo / "hello.txt").read_text() == "hello from gemini\n"
    assert result.final_message == "I created hello.txt."
    assert result.session_id and result.exit_code == 0
    assert result.input_tokens > 0 and result.output_tokens > 0 and result.cost_usd is None
    kinds = [e.kind for e in events]
    assert "tool_call" in kinds and "tool_result" in kinds and "file_change" in kinds and kinds[-1] == "result"
    call = next(e for e in events if e.kind == "tool_call")
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
    no_secret(result, events)


def test_the_user_home_would_leak_without_isolation(tmp_path: Path, run_gemini: Run) -> None:
    # Control for the check above: with the user's home as the CLI's home, the marker is sent.
    with FakeGemini([gm.text("ok")]) as server:
        result, _ = run_gemini(server, "hi", home_dir=str(tmp_path / "user-home"))
    assert result.status == "completed"
    assert any(USER_MARKER.encode() in r.body for r in server.requests)


def test_runs_a_shell_command(repo: Path, run_gemini: Run) -> None:
    with FakeGemini([gm.reply(gm.run_shell("echo ran-by-gemini > marker.txt && echo done")),
                     gm.text("The command ran.")]) as server:
        result, events = run_gemini(server, "Run the marker command")
    assert result.status == "completed", result
    assert (repo / "marker.txt").read_text().strip() == "ran-by-gemini"
    results = [e for e in events if e.kind == "tool_result"]
    assert results and results[0].data["status"] == "success"
    assert "done" in json.dumps(function_responses(server.turn_requests[1]))


@pytest.mark.parametrize(("reply", "expect"), [
    (gm.bad_request("Request contains an invalid argument: rejected by the fake"), "rejected by the fake"),
    (gm.server_error("Internal error encountered in the fake"), "Internal error encountered in the fake"),
])
def test_model_errors_fail(repo: Path, run_gemini: Run, reply: gm.Response, expect: str) -> None:
    with FakeGemini([reply] * 3) as server:
        result, events = run_gemini(server)
    assert result.status == "failed", result
    assert result.error and expect in result.error
    assert result.exit_code not in (0, None)
    assert any(e.kind == "error" for e in events)
    assert len(server.turn_requests) == 1  # max_attempts: 1, so the CLI does not retry
    no_secret(result, events)


def test_rate_limit_with_reset_time(repo: Path, run_gemini: Run) -> None:
    before = datetime.now(UTC)
    with FakeGemini([gm.rate_limited(retry_delay_s=3600)] * 3) as server:
        result, events = run_gemini(server, max_attempts=None)
    assert result.status == "rate_limited", result
    assert result.retry_at is not None
    assert before + timedelta(seconds=3500) < result.retry_at < datetime.now(UTC) + timedelta(seconds=3700)
    assert any(e.kind == "rate_limit" for e in events)
    # A delay over 300 s is terminal for the CLI: it parks instead of burning retries.
    assert len(server.turn_requests) == 1


def test_turn_limit(repo: Path, run_gemini: Run) -> None:
    # The model keeps calling tools; the CLI stops at maxSessionTurns and exits 53.
    replies = [gm.reply(gm.run_shell(f"echo step {i}")) for i in range(6)]
    with FakeGemini(replies) as server:
        result, _ = run_gemini(server, max_turns=2)
    assert result.status == "failed", result
    assert result.exit_code == 53
    assert result.error and "turn limit" in result.error
    assert result.turns == 2
    assert len(server.turn_requests) <= 3


def test_hung_server_times_out_and_leaves_no_process(repo: Path, run_gemini: Run) -> None:
    pgids: list[int] = []
    with FakeGemini([gm.hang()]) as server:
        result, _ = run_gemini(server, timeout=15, on_spawn=pgids.append)
        assert server.turn_requests, "the CLI never reached the server"
    assert result.status == "timeout"
    assert pgids and _group_members(pgids[0]) == []


def test_follow_up_resumes_the_session(repo: Path, run_gemini: Run) -> None:
    with FakeGemini([gm.text("The answer is 42."), gm.text("You asked about the answer.")]) as server:
        first, _ = run_gemini(server, "What is the answer?")
        assert first.status == "completed" and first.session_id
        second, _ = run_gemini(server, "What did I ask before?", attempt=2, session_id=first.session_id)
        follow_up = json.dumps(server.turn_requests[1]["contents"])
    assert second.status == "completed", second
    assert second.session_id == first.session_id
    assert "What is the answer?" in follow_up and "The answer is 42." in follow_up
    assert "What did I ask before?" in follow_up


def _group_members(pgid: int) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(pid))
    return found
