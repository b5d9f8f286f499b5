"""`overseer run` with a `type: codex` task: the real Codex CLI against a fake Responses API."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from e2e_helpers import git
from tests.fakes.openai_responses import FakeResponses, add_file_patch, apply_patch_item, reply, say
from tests.realbin import cli

pytestmark = pytest.mark.real


def test_codex_task_completes_with_estimated_cost_in_status(make_repo, run_overseer, monkeypatch) -> None:
    codex = cli("codex")
    repo: Path = make_repo({"README.md": "demo\n"})
    with FakeResponses([reply(apply_patch_item(add_file_patch("hello.txt", "hello"))),
                        say("wrote hello.txt", input_tokens=500, output_tokens=50)]) as server:
        (repo / "plan.yaml").write_text(textwrap.dedent(f"""\
            version: 1
            name: codex-e2e
            defaults: {{agent: cx, max_attempts: 1, timeout: 60}}
            agents:
              cx:
                type: codex
                binary: {codex}
                model: gpt-5.5
                base_url: {server.base_url}
                api_key_env: E2E_CODEX_KEY
                env: {{E2E_CODEX_KEY: "${{E2E_CODEX_SOURCE}}"}}
                pricing: {{gpt-5.5: {{input: 1.25, output: 10}}}}
            tasks:
              - id: hello
                title: Write hello
                prompt: Create hello.txt saying hello.
                gates: []
            """))
        git(repo, "add", "plan.yaml")
        git(repo, "commit", "-q", "-m", "plan")
        monkeypatch.setenv("E2E_CODEX_SOURCE", "sk-e2e-secret")
        res = run_overseer("run", "plan.yaml", "--yes", "--supervisor", "none", cwd=repo)
        assert res.returncode == 0, res.stdout + res.stderr
        assert server.requests[0].headers["authorization"] == "Bearer sk-e2e-secret"

    assert (repo / "hello.txt").read_text() == "hello\n"
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["hello.txt"]
    status = json.loads(run_overseer("status", "--json", cwd=repo).stdout)
    (task,) = status["tasks"]
    assert task["state"] == "completed"
    assert (task["input_tokens"], task["output_tokens"]) == (600, 70)
    assert task["cost_usd"] == pytest.approx((600 * 1.25 + 70 * 10) / 1e6)
    transcript = next((repo / ".overseer" / "runs").glob("*/hello/1/transcript.jsonl")).read_text()
    assert "sk-e2e-secret" not in transcript
    assert '"cost_estimated": true' in transcript
