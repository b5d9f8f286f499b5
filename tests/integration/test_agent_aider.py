"""The aider adapter against the real aider CLI (aider-chat 0.86.2 in .agents/aider-venv) and a
fake OpenAI chat-completions server on 127.0.0.1."""

from __future__ import annotations

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
from tests.fakes import openai_chat as oc
from tests.fakes.openai_chat import FakeOpenAIChat

from overseer.agents.aider import AiderAgent
from realbin import cli

SECRET = "sk-test-never-logged-1234"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return committed_repo(tmp_path / "repo", {"README.md": "# demo\n",
                                              "greet.py": 'def greet():\n    return "Hello"\n'})


Run = Callable[..., Attempt]


@pytest.fixture
def run_aider(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    binary = str(cli("aider"))
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("FAKE_OPENAI_KEY", SECRET)
    run_id = new_run_id()  # a test's attempts belong to one run, as a task's do in the engine

    def run(server: FakeOpenAIChat, prompt: str = "Create hello.txt saying hello", *, timeout: float = 90,
            **keys: Any) -> Attempt:
        config = {"binary": binary, "model": "openai/fake-model", "base_url": server.base_url,
                  "api_key_env": "FAKE_OPENAI_KEY", "env": {"HOME": str(home)}, "map_tokens": 0}
        return run_attempt(AiderAgent, config, repo, prompt=prompt, timeout=timeout, run_id=run_id, **keys)

    return run


def test_writes_a_file_with_tokens_and_cost(repo: Path, run_aider: Run) -> None:
    with FakeOpenAIChat([oc.whole_file("hello.txt", "hello from aider\n")]) as server:
        a = run_aider(server, input_cost_per_mtok=3.0, output_cost_per_mtok=15.0)
    assert a.result.status == "completed", a.result
    assert (repo / "hello.txt").read_text() == "hello from aider\n"
    assert a.result.input_tokens == 1200 and a.result.output_tokens == 80
    assert a.result.cost_usd == pytest.approx(1200 * 3e-6 + 80 * 15e-6, abs=1e-4)
    assert "hello.txt" in a.result.final_message and "applied edits to: hello.txt" in a.result.final_message
    assert [e.data["path"] for e in a.events if e.kind == "file_change"] == ["hello.txt"]
    assert any(e.kind == "usage" for e in a.events) and a.events[-1].kind == "result"
    # What the real CLI sent: one non-streaming chat completion with our key and the prompt.
    assert len(server.chat_requests) == 1
    body = server.chat_requests[0]
    assert body["model"] == "fake-model" and not body.get("stream")
    assert "Create hello.txt saying hello" in body["messages"][-1]["content"]
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    # Nothing of aider's own bookkeeping is left in the tree for the task's commit.
    # (aider stages a file it creates: `git add` of the empty file, then the content: "AM")
    status = git(repo, "status", "--porcelain", "--untracked-files=all")
    assert [line[3:] for line in status.splitlines()] == ["hello.txt"], status
    assert_no_secret(a, SECRET)


def test_a_shell_command_it_suggests_is_not_run(repo: Path, run_aider: Run) -> None:
    # Aider has no tool calls; a model can only *suggest* shell commands in a fenced block.
    # With --yes-always aider still answers "no" to running them (explicit yes is required).
    # Shell suggestions belong to the SEARCH/REPLACE ("diff") format's prompt, so use that one.
    reply = "Run this to create the marker:\n\n```bash\ntouch ran-by-aider.txt\n```\n"
    with FakeOpenAIChat([reply]) as server:
        a = run_aider(server, "Create a marker file with a shell command", edit_format="diff")
    assert a.result.status == "completed", a.texts()
    assert not (repo / "ran-by-aider.txt").exists()
    calls = [e for e in a.events if e.kind == "tool_call"]
    assert calls and calls[0].data["executed"] is False, a.texts()
    assert calls[0].data["commands"] == ["touch ran-by-aider.txt"]
    assert "touch ran-by-aider.txt" in a.texts()


def test_model_400_is_failed(repo: Path, run_aider: Run) -> None:
    with FakeOpenAIChat([oc.bad_request("Invalid value for 'messages': rejected by the fake")]) as server:
        a = run_aider(server)
    assert a.result.status == "failed"
    assert a.result.exit_code == 0  # aider itself reports success; only its output tells
    assert a.result.error and "BadRequestError" in a.result.error and "rejected by the fake" in a.result.error
    assert any(e.kind == "error" and e.data["kind"] == "BadRequestError" for e in a.events)
    assert "applied no edits" in a.result.final_message
    assert len(server.chat_requests) == 1  # a 400 is not retried
    assert_no_secret(a, SECRET)


def test_model_500_fails_after_the_configured_retries(repo: Path, run_aider: Run) -> None:
    # The OpenAI client inside litellm retries a 5xx twice itself before aider sees it; aider
    # then retries for about a minute. max_api_retries=0 ends the attempt at aider's first retry.
    with FakeOpenAIChat([oc.server_error()] * 12) as server:
        a = run_aider(server, max_api_retries=0)
    assert a.result.status == "failed", a.result
    assert a.result.error and "InternalServerError" in a.result.error and "after 0 retries" in a.result.error
    assert any(e.kind == "error" and e.data["kind"] == "InternalServerError" for e in a.events)
    assert not (repo / "hello.txt").exists()
    assert 3 <= len(server.chat_requests) <= 6


def test_rate_limit_ends_the_attempt_with_its_reset_time(repo: Path, run_aider: Run) -> None:
    before = datetime.now(UTC)
    with FakeOpenAIChat([oc.rate_limited(retry_after_s=7200, header=False)] * 6) as server:
        a = run_aider(server)
    assert a.result.status == "rate_limited", a.result
    assert a.result.retry_at is not None
    assert before + timedelta(seconds=7100) < a.result.retry_at < datetime.now(UTC) + timedelta(seconds=7300)
    limits = [e for e in a.events if e.kind == "rate_limit"]
    assert limits and limits[0].data["retry_at"] == a.result.retry_at.isoformat()
    # Parked at the first RateLimitError: aider's minute of retries is not burnt.
    assert len(server.chat_requests) <= 4


def test_overseer_timeout_kills_a_hung_call(repo: Path, run_aider: Run) -> None:
    # Aider has no turn limit of its own (one --message is one exchange); the limit that ends a
    # stuck aider is overseer's timeout, which takes the whole process group down.
    with FakeOpenAIChat([oc.hang()]) as server:
        a = run_aider(server, timeout=12)
        assert server.chat_requests, "aider never reached the server"
    assert a.result.status == "timeout"
    assert a.result.error and "12" in a.result.error
    assert a.pgids and processes_left(a) == []


def test_follow_up_resumes_the_chat(repo: Path, run_aider: Run) -> None:
    with FakeOpenAIChat([oc.whole_file("hello.txt", "hello\n"),
                         oc.whole_file("hello.txt", "hello\nand goodbye\n")]) as server:
        first = run_aider(server, "Create hello.txt saying hello").result
        assert first.status == "completed" and first.session_id
        # (a file the reply edits must be in the chat, else aider adds it and asks the model again)
        a = run_aider(server, "Now add a goodbye line", attempt=2, session_id=first.session_id, files=["hello.txt"])
        second = a.result
        assert second.status == "completed", a.texts()
        assert second.session_id == first.session_id
        follow_up = server.chat_requests[1]["messages"]
    assert (repo / "hello.txt").read_text() == "hello\nand goodbye\n"
    # A file added to the chat (`files`) is sent to the model in full.
    assert any("hello\n" in str(m["content"]) and "hello.txt" in str(m["content"]) for m in follow_up)
    # The second request carries the first exchange: the chat was restored, not started afresh.
    sent = "\n".join(str(m["content"]) for m in follow_up)
    assert "Create hello.txt saying hello" in sent and "Now add a goodbye line" in sent
