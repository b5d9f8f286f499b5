"""What `overseer init` detects from a repository's files: its checks as gates, the agent CLIs
on PATH (usable first), and the plan's name."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from overseer.project import detect_agents, detect_gates, plan_name

PKG_TEST = json.dumps({"scripts": {"test": "vitest run", "lint": "eslint .", "typecheck": "tsc -p ."}})
NPM_INIT = json.dumps({"scripts": {"test": 'echo "Error: no test specified" && exit 1'}})


@pytest.mark.parametrize(("files", "expected"), [
    ({}, []),
    ({"go.mod": "module x\n"}, [("tests", "go test ./..."), ("vet", "go vet ./...")]),
    ({"Cargo.toml": "[package]\nname='x'\n"}, [("tests", "cargo test")]),
    ({"pom.xml": "<project/>"}, [("tests", "mvn -q test")]),
    ({"pom.xml": "<project/>", "mvnw": "#!/bin/sh\n"}, [("tests", "./mvnw -q test")]),
    ({"build.gradle.kts": "", "gradlew": ""}, [("tests", "./gradlew test")]),
    ({"package.json": PKG_TEST}, [("tests", "npm test"), ("lint", "npm run lint"), ("types", "npm run typecheck")]),
    ({"package.json": PKG_TEST, "pnpm-lock.yaml": ""},
     [("tests", "pnpm test"), ("lint", "pnpm run lint"), ("types", "pnpm run typecheck")]),
    ({"package.json": NPM_INIT}, []),  # npm's placeholder script fails by design: not a gate
    ({"package.json": NPM_INIT, "tsconfig.json": "{}"}, [("types", "npx tsc --noEmit")]),
    ({"pyproject.toml": "[tool.pytest.ini_options]\n[tool.ruff]\n[tool.mypy]\nfiles=['src']\n"},
     [("tests", "python3 -m pytest -q"), ("lint", "ruff check ."), ("types", "mypy")]),
    ({"tests/test_a.py": "import unittest\n"}, [("tests", "python3 -m unittest discover -s tests -t .")]),
    ({"tests/test_a.py": "import pytest\n"}, [("tests", "python3 -m pytest -q")]),
    ({"setup.cfg": "[tool:pytest]\n[flake8]\n", "mypy.ini": "[mypy]\n"},
     [("tests", "python3 -m pytest -q"), ("lint", "flake8"), ("types", "mypy .")]),
    ({"pyproject.toml": "not = [valid toml"}, []),
    # The project's own entry point wins for tests; the ecosystems still give lint and types.
    ({"Makefile": "test:\n\tgo test ./...\n", "go.mod": "module x\n"},
     [("tests", "make test"), ("vet", "go vet ./...")]),
    ({"Makefile": "VAR := 1\nbuild:\n\ttrue\n"}, []),
    # Two ecosystems: each keeps its own test gate.
    ({"go.mod": "module x\n", "package.json": PKG_TEST},
     [("tests", "npm test"), ("lint", "npm run lint"), ("types", "npm run typecheck"),
      ("tests-2", "go test ./..."), ("vet", "go vet ./...")]),
])
def test_gates_from_the_files(tmp_path: Path, files: dict[str, str], expected: list[tuple[str, str]]) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    gates = detect_gates(tmp_path)
    assert [(g.name, g.run) for g in gates] == expected
    assert all(g.why for g in gates)


def _bin(folder: Path, *names: str) -> str:
    folder.mkdir(exist_ok=True)
    for n in names:
        (folder / n).write_text("#!/bin/sh\n")
        os.chmod(folder / n, 0o755)
    return str(folder)


def test_agents_on_path_usable_first(tmp_path: Path) -> None:
    path = _bin(tmp_path / "bin", "claude", "codex", "aider")
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "auth.json").write_text("{}")
    agents = detect_agents(path, home, {})
    assert [(a.name, a.type, a.usable) for a in agents] == [
        ("codex", "codex", True), ("claude", "claude-code", False), ("aider", "aider", False)]
    assert "logged in" in agents[0].why and agents[0].binary.endswith("/codex")
    with_key = detect_agents(path, home, {"ANTHROPIC_API_KEY": "k"})
    assert [a.name for a in with_key if a.usable] == ["claude", "codex", "aider"]
    assert detect_agents(str(tmp_path / "empty"), home, {}) == []


@pytest.mark.parametrize(("folder", "name"), [("My Service", "my-service"), ("api_v2", "api_v2"), ("---", "project")])
def test_plan_name_is_the_repository(tmp_path: Path, folder: str, name: str) -> None:
    (tmp_path / folder).mkdir()
    assert plan_name(tmp_path / folder) == name
