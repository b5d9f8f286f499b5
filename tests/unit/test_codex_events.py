"""The codex JSONL parser, line by line. Input lines are verbatim from codex 0.169 runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from overseer.agents.base import RunContext
from overseer.agents.codex import (
    CodexConfig,
    CodexRun,
    Price,
    config_toml,
    estimate_cost,
    events_for,
    home_for,
    observe,
    parse_line,
    retry_at_from,
    thread_usage,
)

CMD_STARTED = ('{"type":"item.started","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc '
               '\'echo hi > a.txt\'","aggregated_output":"","exit_code":null,"status":"in_progress"}}')
CMD_DONE = ('{"type":"item.completed","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc '
            '\'echo hi\'","aggregated_output":"hi\\n","exit_code":0,"status":"completed"}}')
PATCH_STARTED = ('{"type":"item.started","item":{"id":"item_1","type":"file_change","changes":'
                 '[{"path":"/w/b.txt","kind":"add"}],"status":"in_progress"}}')
PATCH_DONE = ('{"type":"item.completed","item":{"id":"item_1","type":"file_change","changes":'
              '[{"path":"/w/b.txt","kind":"add"}],"status":"completed"}}')
MESSAGE = '{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"done"}}'
REASONING = '{"type":"item.completed","item":{"id":"item_3","type":"reasoning","text":"**Thinking**"}}'
META_WARNING = ('{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for '
                '`gpt-test` not found. Defaulting to fallback metadata; this can degrade performance and cause issues."}}')
MCP_STARTED = ('{"type":"item.started","item":{"id":"item_4","type":"mcp_tool_call","server":"docs","tool":"search",'
               '"arguments":{"q":"x"},"status":"in_progress"}}')
TODO = ('{"type":"item.updated","item":{"id":"item_5","type":"todo_list","items":'
        '[{"text":"write tests","completed":true}]}}')
TURN_DONE = ('{"type":"turn.completed","usage":{"input_tokens":1012,"cached_input_tokens":12,'
             '"cache_write_input_tokens":0,"output_tokens":105,"reasoning_output_tokens":0}}')
FAILED_400 = '{"type":"turn.failed","error":{"message":"Invalid model gpt-x"}}'
FAILED_429 = '{"type":"turn.failed","error":{"message":"exceeded retry limit, last status: 429 Too Many Requests"}}'
FAILED_USAGE = ('{"type":"turn.failed","error":{"message":"You\\u2019ve hit your usage limit. Visit '
                'https://chatgpt.com/settings/usage to purchase more credits or try again at 5:33 AM."}}')
RECONNECTING = ('{"type":"error","message":"Reconnecting... waiting for network (Connection failed: error '
                'sending request)"}')

NOW = datetime(2026, 11, 22, 4, 33, 32, tzinfo=UTC)


@pytest.mark.parametrize(("line", "expected"), [
    ('{"type":"thread.started","thread_id":"t-1"}', []),
    ('{"type":"turn.started"}', []),
    (CMD_STARTED, [("tool_call", {"tool": "command", "command": "/bin/bash -lc 'echo hi > a.txt'"})]),
    (CMD_DONE, [("tool_result", {"tool": "command", "exit_code": 0, "output": "hi\n"})]),
    (PATCH_STARTED, []),
    (PATCH_DONE, [("file_change", {"changes": [{"path": "/w/b.txt", "kind": "add"}]})]),
    (MESSAGE, [("text", {"text": "done"})]),
    (REASONING, [("text", {"text": "**Thinking**", "reasoning": True})]),
    (META_WARNING, [("error", {"fatal": False})]),
    (MCP_STARTED, [("tool_call", {"tool": "mcp", "server": "docs", "name": "search", "arguments": {"q": "x"}})]),
    (TODO, [("tool_call", {"tool": "todo_list", "phase": "updated"})]),
    (TURN_DONE, [("usage", {"input_tokens": 1012, "cached_input_tokens": 12, "output_tokens": 105})]),
    (FAILED_400, [("error", {"message": "Invalid model gpt-x", "fatal": True})]),
    (FAILED_429, [("error", {"fatal": True}), ("rate_limit", {"retry_at": None})]),
    (FAILED_USAGE, [("error", {"fatal": True}), ("rate_limit", {"retry_at": "2026-11-22T05:33:00+00:00"})]),
    (RECONNECTING, [("error", {"fatal": False, "transient": True})]),
    ('{"type":"item.started","item":{"id":"x","type":"some_future_item"}}', []),
])
def test_events_for_each_line(line: str, expected: list[tuple[str, dict[str, Any]]]) -> None:
    obj = parse_line(line)
    assert obj is not None
    events = events_for(obj, tz=UTC, now=NOW)
    assert [e.kind for e in events] == [k for k, _ in expected]
    for ev, (_, data) in zip(events, expected, strict=True):
        assert {k: ev.data.get(k) for k in data} == data


def test_usage_after_resume_subtracts_what_the_thread_had_used() -> None:
    obj = parse_line(TURN_DONE)
    assert obj is not None
    (ev,) = events_for(obj, baseline=(1000, 10, 100))
    assert ev.data == {"input_tokens": 12, "cached_input_tokens": 2, "output_tokens": 5}


@pytest.mark.parametrize("line", ["", "Reading additional input from stdin...", "[1,2]", '{"no_type":1}', "{"])
def test_non_event_lines(line: str) -> None:
    assert parse_line(line) is None


def test_observe_folds_a_whole_run() -> None:
    run = CodexRun()
    for line in ['{"type":"thread.started","thread_id":"t-1"}', '{"type":"turn.started"}', CMD_STARTED, CMD_DONE,
                 PATCH_STARTED, PATCH_DONE, MESSAGE, TURN_DONE]:
        obj = parse_line(line)
        assert obj is not None
        observe(run, obj)
    assert (run.thread_id, run.final_message, run.usage, run.failure) == ("t-1", "done", (1012, 12, 105), None)
    assert run.tool_calls == 2  # started and completed of one item count once


def test_observe_failure_and_last_error() -> None:
    run = CodexRun()
    for line in [RECONNECTING, FAILED_400]:
        obj = parse_line(line)
        assert obj is not None
        observe(run, obj)
    assert run.failure == "Invalid model gpt-x"
    assert run.last_error is not None and run.last_error.startswith("Reconnecting")


@pytest.mark.parametrize(("message", "tz", "expected"), [
    ("or try again at 5:33 AM.", UTC, datetime(2026, 11, 22, 5, 33, tzinfo=UTC)),
    ("or try again at 12:05 PM.", UTC, datetime(2026, 11, 22, 12, 5, tzinfo=UTC)),
    ("or try again at 12:05 AM.", UTC, datetime(2026, 11, 23, 0, 5, tzinfo=UTC)),  # past today: tomorrow
    ("or try again at 4:33 AM.", UTC, datetime(2026, 11, 22, 4, 33, tzinfo=UTC)),  # this minute, truncated
    ("try again at Nov 24th, 2026 4:43 AM.", UTC, datetime(2026, 11, 24, 4, 43, tzinfo=UTC)),
    ("try again at Dec 1st, 2026 11:00 PM.", UTC, datetime(2026, 12, 1, 23, 0, tzinfo=UTC)),
    # The child's local zone: 5:33 AM at UTC+2 is 3:33 UTC, which is before 4:33 UTC, so tomorrow.
    ("try again at 5:33 AM.", timezone(timedelta(hours=2)),
     datetime(2026, 11, 23, 3, 33, tzinfo=UTC)),
    ("exceeded retry limit, last status: 429 Too Many Requests", UTC, None),
])
def test_retry_at(message: str, tz: timezone, expected: datetime | None) -> None:
    assert retry_at_from(message, tz, NOW) == expected


def test_cost_is_estimated_from_the_price_table() -> None:
    pricing = {"m": Price(input=2.0, output=10.0, cached_input=0.5)}
    assert estimate_cost(pricing, "m", (1_000_000, 200_000, 100_000)) == pytest.approx(1.6 + 0.1 + 1.0)
    assert estimate_cost({"m": Price(input=2.0, output=10.0)}, "m", (1_000_000, 0, 0)) == pytest.approx(2.0)
    assert estimate_cost(pricing, "other", (1, 0, 1)) is None
    assert estimate_cost(pricing, None, (1, 0, 1)) is None


def test_config_rejects_chat_wire_api_with_a_reason() -> None:
    with pytest.raises(ValidationError, match="only the OpenAI Responses API"):
        CodexConfig(wire_api="chat")
    with pytest.raises(ValidationError):
        CodexConfig(sandbox="yolo")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        CodexConfig(unknown_key=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="transport: local"):
        CodexConfig.model_validate({"transport": {"ssh": {"host": "h", "workdir": "/w"}}})


def test_config_toml_names_the_key_variable_never_the_key() -> None:
    import tomllib

    cfg = CodexConfig(model='we"ird', base_url="http://127.0.0.1:9/v1", api_key_env="MY_KEY", sandbox="read-only")
    doc = tomllib.loads(config_toml(cfg))
    assert doc["model"] == 'we"ird'
    assert doc["sandbox_mode"] == "read-only"
    provider = doc["model_providers"][doc["model_provider"]]
    assert provider == {"name": "overseer", "base_url": "http://127.0.0.1:9/v1", "wire_api": "responses",
                        "env_key": "MY_KEY", "request_max_retries": 0, "stream_max_retries": 0}


def _ctx(tmp_path: Path, attempt: int, session_id: str | None = None) -> RunContext:
    d = tmp_path / "runs" / "t" / str(attempt)
    return RunContext(workdir=tmp_path, prompt="p", prompt_file=d / "prompt.md", run_id="r", task_id="t",
                      attempt=attempt, timeout=10, transcript=d / "transcript.jsonl", session_id=session_id)


def test_resume_finds_the_home_holding_the_thread(tmp_path: Path) -> None:
    old = tmp_path / "runs" / "t" / "1" / "codex-home"
    rollout = old / "sessions" / "2026" / "11" / "22" / "rollout-2026-11-22T04-34-07-abc-123.jsonl"
    rollout.parent.mkdir(parents=True)
    rollout.write_text(
        '{"type":"session_meta","payload":{}}\n'
        '{"type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":'
        '{"input_tokens":1000,"cached_input_tokens":3,"output_tokens":100}}}}\n'
        '{"type":"event_msg","payload":{"type":"token_count","info":null}}\n')
    assert home_for(_ctx(tmp_path, 2, "abc-123")) == (old, True)
    assert thread_usage(rollout) == (1000, 3, 100)
    fresh = tmp_path / "runs" / "t" / "2" / "codex-home"
    assert home_for(_ctx(tmp_path, 2, "other")) == (fresh, False)
    assert home_for(_ctx(tmp_path, 2, "../../x")) == (fresh, False)
    assert home_for(_ctx(tmp_path, 2)) == (fresh, False)
