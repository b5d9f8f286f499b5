"""Claude Code stream-json → events and verdicts, against lines recorded from the real CLI
(claude-code 2.1.330 and tests/fakes/anthropic.py; init lines trimmed to their identity)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from overseer.agents.claude_stream import ClaudeStream, cost_of, parse_reset_time

RECORDED = Path(__file__).parent / "claude_stream"
NOW = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)
RESET = datetime.fromtimestamp(1795330800, UTC)  # the reset the recordings were made with


def replay(name: str) -> tuple[ClaudeStream, list[str]]:
    stream = ClaudeStream()
    kinds = [e.kind for line in (RECORDED / f"{name}.jsonl").read_text().splitlines() for e in stream.feed(line)]
    return stream, kinds


@pytest.mark.parametrize(
    ("name", "kinds", "status", "error_has", "retry_at"),
    [
        ("write_and_bash",
         ["text", "usage", "tool_call", "tool_result", "file_change", "text", "usage", "tool_call",
          "tool_result", "text", "usage", "usage"], "completed", None, None),
        ("api_400", ["error", "usage"], "failed", "model API error 400 (invalid_request_error): API Error: 400 bad request body", None),
        ("api_500_retried", ["error", "error", "usage"], "failed", "model API error 500", None),
        ("usage_limit_subscription", ["rate_limit", "error", "usage"], "rate_limited", "You've hit your 5-hour limit", RESET),
        ("plain_429", ["error", "usage"], "rate_limited", "429", NOW + timedelta(seconds=300)),
        ("max_turns", ["text", "usage", "tool_call", "tool_result", "usage"], "failed", "max_turns limit", None),
        ("budget", ["text", "usage", "tool_call", "usage"], "budget_exceeded", "Reached maximum budget", None),
        ("permission_denied", ["text", "usage", "tool_call", "error", "tool_result", "text", "usage", "usage"],
         "completed", None, None),
    ],
)
def test_recorded_streams(name: str, kinds: list[str], status: str, error_has: str | None,
                          retry_at: datetime | None) -> None:
    stream, got = replay(name)
    assert got == kinds
    assert stream.session_id and stream.result is not None
    ending = stream.outcome("exit", 1 if status != "completed" else 0, now=NOW, rate_limit_wait=300)
    assert ending.status == status
    if error_has is None:
        assert ending.error is None
    else:
        assert ending.error and error_has in ending.error
    assert ending.retry_at == retry_at


def test_success_is_judged_by_is_error_not_the_exit_code() -> None:
    stream, _ = replay("write_and_bash")
    assert stream.outcome("exit", 1, now=NOW, rate_limit_wait=1).status == "completed"
    stream, _ = replay("api_400")
    assert stream.outcome("exit", 0, now=NOW, rate_limit_wait=1).status == "failed"


@pytest.mark.parametrize("ended_by", ["timeout", "stalled", "cancelled"])
def test_a_killed_run_ends_by_its_limit(ended_by: str) -> None:
    stream, _ = replay("write_and_bash")
    assert stream.outcome(ended_by, -15, now=NOW, rate_limit_wait=1).status == ended_by


def test_no_result_line_fails_with_what_the_cli_said() -> None:
    stream = ClaudeStream()
    (event,) = stream.feed("Error: Invalid API key · Please run /login")
    assert event.kind == "text" and event.data["text"].startswith("Error: Invalid API key")
    ending = stream.outcome("exit", 1, now=NOW, rate_limit_wait=1, tail=["Error: Invalid API key"])
    assert ending.status == "failed" and ending.error and "Invalid API key" in ending.error and "exited with 1" in ending.error


def test_events_keep_the_raw_object() -> None:
    stream = ClaudeStream()
    lines = (RECORDED / "write_and_bash.jsonl").read_text().splitlines()
    events = [e for line in lines for e in stream.feed(line)]
    # Per-message usage is read off an assistant line whose raw object its text or tool_call carries.
    assert all("raw" in e.data for e in events if e.kind != "file_change" and e.data.get("total") is not False)
    (write,) = [e for e in events if e.kind == "tool_call" and e.data["name"] == "Write"]
    assert write.data["input"]["content"] == "hi\n"
    totals = [e.data for e in events if e.kind == "usage" and e.data["total"]]
    assert [(t["input_tokens"], t["output_tokens"]) for t in totals] == [(300, 60)]


def test_usage_is_counted_once_per_message() -> None:
    line = {"type": "assistant", "session_id": "s", "message": {"id": "m1", "usage": {"input_tokens": 5, "output_tokens": 2},
                                                                "content": [{"type": "text", "text": "a"}]}}
    stream = ClaudeStream()
    first = stream.feed(json.dumps(line))
    line["message"]["content"] = [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]  # type: ignore[index]
    second = stream.feed(json.dumps(line))
    assert [e.kind for e in first] == ["text", "usage"] and [e.kind for e in second] == ["tool_call"]


def test_cost_after_resume_is_this_runs_not_the_sessions() -> None:
    result = {"total_cost_usd": 0.00028, "model_usage_since_last_result": {"m": {"costUSD": 0.00014}}}
    assert cost_of(result) == pytest.approx(0.00014)
    assert cost_of({"total_cost_usd": 0.5}) == 0.5
    assert cost_of({}) is None


def test_rate_limit_event_allowed_is_only_a_warning() -> None:
    stream = ClaudeStream()
    (event,) = stream.feed(json.dumps({"type": "rate_limit_event", "session_id": "s", "rate_limit_info": {
        "status": "allowed", "resetsAt": 1795327304, "rateLimitType": "five_hour"}}))
    assert event.kind == "rate_limit" and event.data["status"] == "allowed"
    stream.feed(json.dumps({"type": "result", "subtype": "success", "is_error": False, "result": "ok", "session_id": "s"}))
    assert stream.outcome("exit", 0, now=NOW, rate_limit_wait=1).status == "completed"


def test_usage_limit_text_without_429_is_rate_limited() -> None:
    stream = ClaudeStream()
    stream.feed(json.dumps({"type": "result", "subtype": "success", "is_error": True, "session_id": "s",
                            "result": "Claude AI usage limit reached|1795330800"}))
    ending = stream.outcome("exit", 1, now=NOW, rate_limit_wait=1)
    assert ending.status == "rate_limited" and ending.retry_at == RESET


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Claude AI usage limit reached|1795330800", RESET),
        ("usage limit reached, resets at 2026-11-22T07:30:00Z", datetime(2026, 11, 22, 7, 30, tzinfo=UTC)),
        ("limit reached · resets 2026-11-22 08:00:00+01:00", datetime(2026, 11, 22, 7, 0, tzinfo=UTC)),
        ("You've hit your 5-hour limit · resets 6:01am (UTC)", datetime(2026, 11, 22, 6, 1, tzinfo=UTC)),
        # Already past today: the next one is tomorrow.
        ("You've hit your limit · resets 4am (UTC)", datetime(2026, 11, 23, 4, 0, tzinfo=UTC)),
        ("You've hit your limit · resets 3pm (Europe/Paris)", datetime(2026, 11, 22, 14, 0, tzinfo=UTC)),
        ("weekly limit · resets Nov 25, 9am (UTC)", datetime(2026, 11, 25, 9, 0, tzinfo=UTC)),
        ("You've hit your limit · resets 6am (Not/AZone)", datetime(2026, 11, 22, 6, 0, tzinfo=UTC)),
        ("API Error: Request rejected (429) · slow down", None),
        ("", None),
    ],
)
def test_parse_reset_time(text: str, expected: datetime | None) -> None:
    assert parse_reset_time(text, NOW) == expected
