"""The `claude-code` and `codex` reviewers: the real CLIs, in a read-only session each, against
fake model APIs that speak the real wire protocols."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.anthropic import FakeAnthropic, ToolUse, Turn
from tests.fakes.openai_responses import FakeResponses, say
from tests.realbin import cli

from overseer.config import SupervisorSettings
from overseer.supervisor.llm import LLMUnavailable, choose_provider, spent_usd
from overseer.supervisor.reviewer import verdict_schema

pytestmark = pytest.mark.real

SECRET = "sk-review-do-not-leak-4242"
VERDICT = {"issues": [{"severity": "major", "description": "sub() still adds"}],
           "unmet_criteria": ["sub subtracts"], "complete": False, "score": 0.2, "confidence": 0.9,
           "follow_up": "make sub subtract"}
MESSAGES = [{"role": "system", "content": "You review a colleague's change."},
            {"role": "user", "content": "Task: sub subtracts.\n\nDiff:\n-    return a - b\n+    return a + b"}]


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    home = tmp_path / "user-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OVERSEER_TEST_REVIEW_KEY", SECRET)
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_BASE_URL",
                 "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return home


def _settings(provider: str, binary: Path, base_url: str, **kw: Any) -> SupervisorSettings:
    return SupervisorSettings(provider=provider, binary=str(binary), base_url=base_url,  # type: ignore[arg-type]
                              api_key_env="OVERSEER_TEST_REVIEW_KEY", timeout=120, **kw)


def test_claude_code_reviews_with_no_tools_and_answers_through_the_schema(isolated: Path) -> None:
    with FakeAnthropic([Turn(tools=[ToolUse("StructuredOutput", VERDICT)], text=""),
                        Turn.reply("Done.", repeat=True)]) as api:
        settings = _settings("claude-code", cli("claude"), api.url)
        llm, why = choose_provider(settings)
        assert why.startswith("configured: claude-code") and str(cli("claude")) in why
        answer = llm.complete_json(MESSAGES, verdict_schema(), max_tokens=512)
    assert answer == VERDICT
    first = api.calls[0].body
    # Read-only by construction: the model is offered no tool but the CLI's StructuredOutput.
    # (The CLI also sends a placeholder that is never loaded and has no input.)
    callable_tools = [t["name"] for t in first.get("tools", []) if not t.get("defer_loading")]
    assert callable_tools == ["StructuredOutput"]
    system = json.dumps(first.get("system"))
    assert "You review a colleague's change." in system
    assert "sub subtracts" in api.calls[0].last_user
    assert api.server.requests[0].headers["x-api-key"] == SECRET
    cost = spent_usd(llm)
    assert cost is not None and cost > 0
    # The user's own configuration and sessions are neither read nor written.
    assert list(isolated.iterdir()) == []


def test_codex_reviews_in_a_read_only_sandbox_with_a_strict_schema(isolated: Path) -> None:
    with FakeResponses([say(json.dumps(VERDICT), input_tokens=1000, output_tokens=100)]) as server:
        settings = _settings("codex", cli("codex"), server.base_url, model="gpt-5.5",
                             pricing={"gpt-5.5": {"input": 1.25, "output": 10.0}})
        llm, _ = choose_provider(settings)
        answer = llm.complete_json(MESSAGES, verdict_schema(), max_tokens=512)
        (body,) = server.model_requests
        headers = server.requests[-1].headers
    assert answer == VERDICT
    fmt = body["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt.get("strict") is True
    assert set(fmt["schema"]["properties"]) == set(verdict_schema()["properties"])
    assert "You review a colleague's change." in json.dumps(body["input"])
    assert headers["authorization"] == f"Bearer {SECRET}"
    # 1000 in × 1.25 + 100 out × 10 per million tokens.
    assert spent_usd(llm) == pytest.approx(0.00225)
    assert list(isolated.iterdir()) == []


def test_a_missing_cli_says_how_to_install_it(tmp_path: Path) -> None:
    settings = SupervisorSettings(provider="codex", binary=str(tmp_path / "no-codex"))
    with pytest.raises(LLMUnavailable, match="not found; install it with npm install @openai/codex"):
        choose_provider(settings)


def test_a_failed_session_is_unavailable_not_a_verdict(isolated: Path) -> None:
    with FakeAnthropic([Turn.api_error(401, "invalid x-api-key", repeat=True)]) as api:
        llm, _ = choose_provider(_settings("claude-code", cli("claude"), api.url, max_retries=0))
        with pytest.raises(LLMUnavailable, match="claude-code: review session"):
            llm.complete_json(MESSAGES, verdict_schema(), max_tokens=512)
