"""The planner's pure parts: test-command detection, the answer's schema, composing the plan."""

from __future__ import annotations

import json

import pytest
import yaml

from overseer.plan import plan_json_schema
from overseer.supervisor.planner import (
    compose_plan,
    detect_test_command,
    draft_schema,
    summarize_repo,
    validation_errors,
)

PYPROJECT_PYTEST = "[tool.pytest.ini_options]\ntestpaths = ['tests']\n"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, None),
        ({"README.md": "hi"}, None),
        ({"Makefile": "build:\n\tcc x.c\ntest: build\n\t./x\n", "package.json": '{"scripts": {"test": "jest"}}'}, "make test"),
        ({"Makefile": "build:\n\tcc x.c\n", "package.json": '{"scripts": {"test": "jest"}}'}, "npm test"),
        ({"package.json": '{"scripts": {"test": "echo \\"Error: no test specified\\" && exit 1"}}'}, None),
        ({"package.json": "not json"}, None),
        ({"pyproject.toml": PYPROJECT_PYTEST}, "python3 -m pytest -q"),
        ({"pyproject.toml": "[project]\nname = 'x'\n"}, None),
        ({"pyproject.toml": "[project]\n", "tests/": ""}, "python3 -m pytest -q"),
        ({"tox.ini": ""}, "python3 -m pytest -q"),
        ({"Cargo.toml": "[package]\n"}, "cargo test"),
        ({"go.mod": "module x\n"}, "go test ./..."),
    ],
)
def test_detect_test_command(files: dict[str, str], expected: str | None) -> None:
    assert detect_test_command(set(files), files.get) == expected


def test_summary_lists_top_level_files_but_not_state(tmp_path) -> None:
    for name in ("b.py", "A.md"):
        (tmp_path / name).write_text("")
    for d in ("src", ".git", ".overseer", "node_modules"):
        (tmp_path / d).mkdir()
    s = summarize_repo(tmp_path)
    assert s.files == ["A.md", "b.py", "src/"] and s.left_out == 0 and s.test_command is None


def _keys(schema: dict) -> set[str]:
    return set(schema["properties"])


def test_draft_schema_is_a_part_of_the_plan_schema() -> None:
    plan, draft = plan_json_schema(), draft_schema()
    assert _keys(draft) <= _keys(plan)
    task, gate = draft["properties"]["tasks"]["items"], draft["properties"]["gates"]["items"]
    assert _keys(task) <= _keys(plan["$defs"]["Task"])
    assert _keys(gate) <= _keys(plan["$defs"]["GateSpec"])
    assert "$ref" not in json.dumps(draft)  # grammar converters handle refs poorly


DRAFT = {
    "version": 1, "name": "demo",
    "gates": [{"name": "tests", "run": "make test"}],
    "tasks": [{"id": "one", "title": "One", "prompt": "Do one.", "acceptance": ["done"], "depends_on": []}],
}


def test_composed_plan_is_valid_and_says_where_it_came_from() -> None:
    text = compose_plan(DRAFT, "Build it\nwell", "aider")
    assert text.splitlines()[:3] == ["# Drafted by `overseer plan` from this goal:", "#   Build it", "#   well"]
    assert validation_errors(text, "p.yaml") == []
    plan = yaml.safe_load(text)
    assert plan["defaults"] == {"agent": "coder", "max_attempts": 3, "gates": ["tests"]}
    assert plan["agents"] == {"coder": {"type": "aider"}}
    assert plan["tasks"] == DRAFT["tasks"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tasks": []}, "tasks"),
        ({"version": 2}, "version"),
        ({"tasks": [{**DRAFT["tasks"][0], "depends_on": ["zero"]}]}, "unknown task 'zero'"),
        ({"tasks": [{**DRAFT["tasks"][0], "id": "Bad id!"}]}, "Bad id!"),
        ({"gates": [{"name": "tests"}]}, "needs `run`"),
        ({"tasks": "one"}, "tasks"),
    ],
)
def test_the_real_loader_judges_the_draft(change: dict, message: str) -> None:
    errors = validation_errors(compose_plan({**DRAFT, **change}, "g", "claude-code"), "p.yaml")
    assert errors and all(e.startswith("p.yaml:") for e in errors)
    assert any(message in e for e in errors), errors
