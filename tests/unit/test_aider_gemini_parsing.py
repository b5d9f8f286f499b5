"""Text the aider and gemini adapters read, in isolation: reset times in rate-limit messages,
aider's usage lines and chat-history answers, gemini's generated settings and argv."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from overseer.agents.aider import _Scan, parse_count, shell_suggestions
from overseer.agents.base import AgentEvent, RunContext
from overseer.agents.gemini import GeminiAgent, GeminiConfig
from overseer.agents.retry_hint import retry_at_from_text

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("text", "seconds"), [
    ("Please try again in 20s.", 20),
    ("try again in 1m30s", 90),
    ("Please retry in 6h12m0.5s", 6 * 3600 + 12 * 60 + 0.5),
    ("retry after 30 seconds", 30),
    ("Suggested retry after 3600s.", 3600),
    ("try again in 500ms", 0.5),
    ("Try again in 2 minutes.", 120),
])
def test_reset_time_after_a_delay(text: str, seconds: float) -> None:
    assert retry_at_from_text(text, NOW) == NOW + timedelta(seconds=seconds)


def test_reset_time_at_a_moment_or_unknown() -> None:
    assert retry_at_from_text("usage limit reached, resets at 2026-11-22T05:00:00Z", NOW) == datetime(
        2026, 11, 22, 5, tzinfo=UTC)
    assert retry_at_from_text("rate limited, sorry", NOW) is None


@pytest.mark.parametrize(("text", "count"), [("980", 980), ("1.2k", 1200), ("15k", 15000), ("1.3M", 1_300_000)])
def test_aider_token_counts(text: str, count: int) -> None:
    assert parse_count(text) == count


def _ctx(events: list[AgentEvent], tmp_path: Path) -> RunContext:
    return RunContext(workdir=tmp_path, prompt="p", prompt_file=tmp_path / "p", run_id="r", task_id="t",
                      attempt=1, timeout=10, transcript=tmp_path / "t.jsonl", on_event=events.append)


def test_aider_usage_cost_and_errors(tmp_path: Path) -> None:
    events: list[AgentEvent] = []
    stop = threading.Event()
    scan = _Scan(1, stop, _ctx(events, tmp_path))
    for line in [
        "Tokens: 2.1k sent, 1.0k cache write, 80 received. Cost: $0.01 message, $0.01 session.",
        "Applied edit to src/app.py",
        "litellm.InternalServerError: InternalServerError: OpenAIException - boom",
        "Retrying in 0.2 seconds...",
        "litellm.InternalServerError: InternalServerError: OpenAIException - boom",
        "Retrying in 0.5 seconds...",
    ]:
        scan.line(line)
    assert (scan.input_tokens, scan.output_tokens, scan.cost()) == (2100, 80, 0.01)
    assert scan.applied == ["src/app.py"]
    assert stop.is_set() and scan.stop_reason and "after 1 retries" in scan.stop_reason
    assert not scan.rate_limited


def test_aider_rate_limit_stops_at_once(tmp_path: Path) -> None:
    stop = threading.Event()
    scan = _Scan(5, stop, _ctx([], tmp_path))
    scan.line("litellm.RateLimitError: RateLimitError: OpenAIException - Limit 3. Please try again in 20s.")
    assert stop.is_set() and scan.rate_limited and scan.retry_at is not None


def test_aider_shell_answers_from_the_chat_history() -> None:
    history = ("> Tokens: 1.2k sent, 80 received.  \n> touch a.txt  \n> ls  \n"
               "> Run shell commands? (Y)es/(N)o/(D)on't ask again [Yes]: n  \n")
    assert shell_suggestions(history) == [(["touch a.txt", "ls"], "n")]


def test_gemini_settings_and_argv(tmp_path: Path) -> None:
    agent = GeminiAgent(GeminiConfig(model="m", max_turns=3, max_attempts=1,
                                     settings={"general": {"vimMode": True}}))
    s = agent.settings()
    assert s["security"]["auth"]["selectedType"] == "gemini-api-key"
    assert s["privacy"]["usageStatisticsEnabled"] is False and s["telemetry"]["enabled"] is False
    assert s["general"]["maxAttempts"] == 1 and s["general"]["vimMode"] is True
    assert s["general"]["enableAutoUpdate"] is False and s["model"]["maxSessionTurns"] == 3
    ctx = _ctx([], tmp_path)
    ctx.session_id = "abc"
    argv = agent.argv(ctx)
    assert argv[:3] == ["gemini", "-p", "p"] and "--skip-trust" in argv
    assert argv[argv.index("--resume") + 1] == "abc" and "--approval-mode=yolo" in argv
