"""`overseer run` with `type: claude-code` tasks: the real Claude Code CLI against a fake Messages API."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from e2e_helpers import git
from tests.fakes.anthropic import FakeAnthropic, Turn
from tests.realbin import cli

pytestmark = pytest.mark.real

SECRET = "sk-ant-e2e-secret-7731"


def test_claude_code_plan_completes_with_cost_and_tokens_in_status(make_repo, run_overseer, monkeypatch) -> None:
    claude = cli("claude")
    repo: Path = make_repo({"README.md": "demo\n"})
    turns = [
        Turn.write(str(repo / "hello.txt"), "hello from claude\n", when="Create hello.txt"),
        Turn.reply("Wrote hello.txt.", when="File created", input_tokens=300, output_tokens=40),
        Turn.bash("cat hello.txt | tr a-z A-Z > SHOUT.txt && echo shouted", when="Write SHOUT.txt"),
        Turn.reply("SHOUT.txt is there.", when="shouted"),
    ]
    with FakeAnthropic(turns) as api:
        (repo / "plan.yaml").write_text(textwrap.dedent(f"""\
            version: 1
            name: claude-e2e
            defaults: {{agent: cc, max_attempts: 1, timeout: 90}}
            agents:
              cc:
                type: claude-code
                binary: {claude}
                env:
                  ANTHROPIC_BASE_URL: {api.url}
                  ANTHROPIC_API_KEY: "${{E2E_CLAUDE_KEY}}"
            tasks:
              - id: hello
                title: Write hello
                prompt: Create hello.txt saying hello.
                gates: [{{name: exists, run: "test -f hello.txt"}}]
              - id: shout
                title: Shout it
                prompt: Write SHOUT.txt, hello.txt in capitals.
                depends_on: [hello]
                gates: [{{name: shouted, run: "grep -q 'HELLO FROM CLAUDE' SHOUT.txt"}}]
            """))
        git(repo, "add", "plan.yaml")
        git(repo, "commit", "-q", "-m", "plan")
        monkeypatch.setenv("E2E_CLAUDE_KEY", SECRET)
        res = run_overseer("run", "plan.yaml", "--yes", "--supervisor", "none", cwd=repo)
        assert res.returncode == 0, res.stdout + res.stderr
        assert [c.turn for c in api.calls] == [0, 1, 2, 3]
        assert {r.headers.get("x-api-key") for r in api.server.requests} == {SECRET}

    # Each task's commit holds exactly what the real CLI wrote for it.
    assert (repo / "SHOUT.txt").read_text() == "HELLO FROM CLAUDE\n"
    assert git(repo, "show", "--name-only", "--format=", "HEAD~1").split() == ["hello.txt"]
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["SHOUT.txt"]
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""

    status = json.loads(run_overseer("status", "--json", cwd=repo).stdout)
    assert status["state"] == "completed"
    tasks = {t["id"]: t for t in status["tasks"]}
    assert {t["state"] for t in tasks.values()} == {"completed"}
    assert (tasks["hello"]["input_tokens"], tasks["hello"]["output_tokens"]) == (400, 60)
    assert (tasks["shout"]["input_tokens"], tasks["shout"]["output_tokens"]) == (200, 40)
    assert all(t["cost_usd"] and t["cost_usd"] > 0 for t in tasks.values())
    assert status["totals"]["cost_usd"] == pytest.approx(sum(t["cost_usd"] for t in tasks.values()))
    transcript = next((repo / ".overseer" / "runs").glob("*/hello/1/transcript.jsonl")).read_text()
    kinds = [json.loads(line)["kind"] for line in transcript.splitlines()]
    assert "tool_call" in kinds and "file_change" in kinds and kinds[-1] == "result"
    assert SECRET not in transcript
