"""Plan loading and validation: the real `overseer validate` on every plan under tests/plans, and
load_plan itself on the cases a file on disk does not show well."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import Field
from ruamel.yaml import YAML

from overseer.agents.base import AgentConfig
from overseer.errors import Diagnostic, OverseerError, PlanError
from overseer.plan import load_plan, parse_plan, plan_json_schema, resolve_task

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "tests" / "plans"
INVALID = sorted((PLANS / "invalid").glob("*.yaml"))
VALID = sorted((PLANS / "valid").glob("*.yaml"))


class FakeShellConfig(AgentConfig):
    """Stands in for the shell agent's config so these tests do not depend on the registry."""

    command: str = Field(min_length=1)


class FakeClaudeConfig(AgentConfig):
    model: str | None = None
    permission_mode: str = "default"


CONFIGS: dict[str, type[AgentConfig]] = {"shell": FakeShellConfig, "claude-code": FakeClaudeConfig}


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "NO_COLOR": "1", "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "overseer.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


@pytest.fixture(scope="module")
def cli_results() -> dict[str, subprocess.CompletedProcess[str]]:
    # Each CLI start costs about a second; running them side by side keeps the suite quick while
    # every plan still goes through the real console script.
    paths = [rel(p) for p in [*INVALID, *VALID]]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(zip(paths, pool.map(lambda p: run_cli("validate", p), paths), strict=True))


def registered_types() -> set[str]:
    from overseer.agents.registry import agent_types

    return set(agent_types())


def agent_types_used(path: Path) -> set[str]:
    data = YAML(typ="safe").load(path.read_text())
    found = {a.get("type") for a in (data.get("agents") or {}).values()}
    for holder in [data.get("defaults") or {}, *data.get("tasks", [])]:
        if isinstance(holder.get("agent"), dict):
            found.add(holder["agent"].get("type"))
    return found


# --- the real CLI -------------------------------------------------------------------------


def test_enough_malformed_plans() -> None:
    assert len(INVALID) >= 24
    for plan in INVALID:
        assert plan.with_suffix(".expected").exists(), f"{plan.name} has no .expected file"


@pytest.mark.parametrize("plan", INVALID, ids=lambda p: p.stem)
def test_validate_reports_exact_diagnostics(
    plan: Path, cli_results: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    result = cli_results[rel(plan)]
    expected = plan.with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    lines = result.stderr.splitlines()
    diagnostics = [line for line in lines if line.startswith(f"{rel(plan)}:")]

    assert result.returncode == 2, result.stderr
    assert diagnostics == expected
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
    others = [line for line in lines if line not in diagnostics]
    assert all(line.startswith("hint: ") or line.endswith(" errors") for line in others), others


@pytest.mark.parametrize("plan", VALID, ids=lambda p: p.stem)
def test_validate_accepts_valid_plans(
    plan: Path, cli_results: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    missing = agent_types_used(plan) - registered_types()
    if missing:
        pytest.skip(f"agent type(s) {sorted(missing)} not registered; covered by load_plan below")
    result = cli_results[rel(plan)]
    assert result.returncode == 0, result.stderr
    n = len(YAML(typ="safe").load(plan.read_text())["tasks"])
    assert result.stdout.strip() == f"{rel(plan)}: valid ({n} task{'' if n == 1 else 's'})"
    assert result.stderr == ""


def test_validate_missing_file() -> None:
    result = run_cli("validate", "tests/plans/no-such-plan.yaml")
    assert result.returncode == 2
    assert "error: plan file not found: tests/plans/no-such-plan.yaml" in result.stderr
    assert "Traceback" not in result.stderr


def test_schema_plan_prints_json_schema() -> None:
    result = run_cli("schema", "plan")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert schema == plan_json_schema()
    assert schema["required"] == ["version", "name", "tasks"]
    assert schema["additionalProperties"] is False
    assert set(schema["$defs"]["Task"]["properties"]) >= {"id", "prompt", "depends_on", "agent"}


# --- load_plan ----------------------------------------------------------------------------


def errors(text: str, configs: dict[str, type[AgentConfig]] | None = CONFIGS) -> list[str]:
    with pytest.raises(PlanError) as info:
        parse_plan(text, "p.yaml", configs)
    return [str(d) for d in info.value.diagnostics]


HEAD = "version: 1\nname: t\nagents:\n  sh: {type: shell, command: run}\n"


@pytest.mark.parametrize("plan", VALID, ids=lambda p: p.stem)
def test_valid_plans_load(plan: Path) -> None:
    loaded = load_plan(plan, CONFIGS)
    for task in loaded.tasks:
        resolved = resolve_task(loaded, task)
        assert resolved.agent["type"] in CONFIGS


def test_issue_example_fields() -> None:
    plan = load_plan(PLANS / "valid" / "issue2_example.yaml", CONFIGS)
    assert (plan.name, plan.workspace, plan.defaults.agent) == ("calc", "./repo", "coder")
    (task,) = plan.tasks
    assert (task.id, task.priority, task.milestone, task.breakpoint) == ("add", 5, "core", "never")
    resolved = resolve_task(plan, task)
    assert resolved.agent == {"type": "shell", "command": "python3 tools/step.py"}
    assert [g.name for g in resolved.gates] == ["tests"] and resolved.timeout == 1800


def test_diagnostic_names_the_file_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "p.yaml").write_text(HEAD + "tasks:\n  - {id: a, prompt: x, agent: s}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PlanError) as info:
        load_plan(Path("plans/p.yaml"), CONFIGS)
    assert info.value.diagnostics == [
        Diagnostic("plans/p.yaml", 6, 31, "unknown agent 's' in task 'a'; did you mean 'sh'?")
    ]


def test_every_error_in_one_pass_sorted_by_line() -> None:
    found = errors(
        HEAD
        + "tasks:\n"
        + "  - {id: a, prompt: x, agent: sh, depends_on: [b]}\n"
        + "  - {id: b, prompt: x, agent: sh, depends_on: [a], priority: x}\n"
        + "  - {id: c, prompt: '', agent: nope, flavour: 1}\n"
    )
    assert found == [
        "p.yaml:6:48: dependency cycle: a → b → a",
        "p.yaml:7:62: priority: expected an integer, got 'x'",
        "p.yaml:8:21: empty prompt in task 'c'; say what the agent should do",
        "p.yaml:8:32: unknown agent 'nope' in task 'c'; known agents: sh",
        "p.yaml:8:38: unknown key 'flavour' in task 'c'; known keys: id, title, prompt, "
        "acceptance, depends_on, priority, deadline, milestone, agent, fallback_agents, gates, max_attempts, "
        "timeout, "
        "breakpoint, may_edit_tests",
    ]


def test_agent_types_unchecked_without_configs() -> None:
    text = "version: 1\nname: t\ntasks:\n  - {id: a, prompt: x, agent: {type: anything, k: 1}}\n"
    assert parse_plan(text, "p.yaml", None).tasks[0].agent == {"type": "anything", "k": 1}
    assert errors(text, {}) == [
        "p.yaml:4:38: unknown agent type 'anything' in the agent of task 'a'; "
        "no agent types are installed"
    ]


def test_agent_keys_checked_through_merge_keys() -> None:
    found = errors(
        "version: 1\nname: t\ndefaults: {agent: b}\nagents:\n"
        "  a: &base {type: shell, command: run}\n"
        "  b:\n    <<: *base\n    comand: x\n"
        "tasks:\n  - {id: t, prompt: x}\n"
    )
    assert found == ["p.yaml:8:5: unknown key 'comand' in agent 'b'; did you mean 'command'?"]


def test_strict_types() -> None:
    found = errors(
        HEAD + "gates:\n  - {name: g, run: x, timeout: '60', required: yes}\n"
        "tasks:\n  - {id: 1, prompt: x, agent: sh, timeout: 5, gates: [g]}\n"
    )
    assert found == [
        "p.yaml:6:32: timeout: expected a number, got '60'",
        "p.yaml:6:48: required: expected true or false, got 'yes'",
        "p.yaml:8:10: id: expected a string, got 1; quote it",
    ]


def test_null_value_points_at_its_key() -> None:
    found = errors(HEAD + "tasks:\n  - id: a\n    agent: sh\n    prompt:\n    title:\n")
    assert found == [
        "p.yaml:8:5: empty prompt in task 'a'; say what the agent should do",
        "p.yaml:9:5: title: expected a string, got null",
    ]


def test_missing_task_key_points_at_task_and_typo_is_not_reported_twice() -> None:
    found = errors(HEAD + "tasks:\n  - id: a\n    agent: sh\n    promt: x\n")
    assert found == ["p.yaml:8:5: unknown key 'promt' in task 'a'; did you mean 'prompt'?"]
    found = errors(HEAD + "tasks:\n  - id: a\n    agent: sh\n")
    assert found == ["p.yaml:6:5: missing required key 'prompt' in task 'a'"]


def test_tasks_without_ids_are_numbered() -> None:
    found = errors(HEAD + "tasks:\n  - {prompt: x, agent: sh}\n  - {id: b, prompt: x}\n")
    assert found == [
        "p.yaml:6:5: missing required key 'id' in task #1",
        "p.yaml:7:5: task 'b' has no agent; set agent: in the task or under defaults",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]\n", "plan must be a mapping of keys (version, name, tasks, ...), got a list"),
        (
            "just words\n",
            "plan must be a mapping of keys (version, name, tasks, ...), got 'just words'",
        ),
        ("# only a comment\n", "plan is empty; it needs at least version: 1, name: and tasks:"),
    ],
)
def test_not_a_plan(text: str, message: str) -> None:
    assert errors(text) == [f"p.yaml:1:1: {message}"]


def test_recursive_alias_does_not_hang() -> None:
    assert errors(HEAD + "x: &a [*a]\ntasks:\n  - {id: a, prompt: p, agent: sh}\n") == [
        "p.yaml:5:1: unknown key 'x' in the plan; known keys: version, name, workspace, "
        "defaults, agents, gates, milestones, test_patterns, tasks"
    ]


def test_unreadable_files_are_overseer_errors(tmp_path: Path) -> None:
    with pytest.raises(OverseerError, match="plan file not found"):
        load_plan(tmp_path / "nope.yaml")
    with pytest.raises(OverseerError, match="is a directory"):
        load_plan(tmp_path)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00name")
    with pytest.raises(OverseerError, match="not UTF-8") as info:
        load_plan(binary)
    assert not isinstance(info.value, PlanError)


def test_quoted_version_says_how_to_fix() -> None:
    assert errors(
        'version: "1"\nname: t\ntasks: [{id: a, prompt: p, agent: {type: shell, command: x}}]\n'
    ) == ["p.yaml:1:10: version: expected the number 1, got '1'; write it without quotes"]
