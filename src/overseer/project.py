"""What `overseer init` learns from a repository: the commands that test, lint and type-check
it (as gates), the agent CLIs this user has (as agents), and a name for the plan.

Detection reads files only; it never runs the project's tools, so it is as fast and as safe on
an unknown repository as `ls`. Each finding says which file it came from, so init can tell the
user why it wrote what it wrote.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tomllib
from collections.abc import Mapping
from configparser import ConfigParser
from configparser import Error as IniError
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NPM_PLACEHOLDER = "no test specified"  # `npm init`'s default test script, which always fails


@dataclass(frozen=True)
class Gate:
    name: str
    run: str
    why: str  # the file that says so
    timeout: int = 600


@dataclass(frozen=True)
class AgentCli:
    name: str  # the agent's name in the plan
    type: str  # overseer's agent type
    binary: str  # where it was found
    usable: bool  # logged in, or its API key is set
    why: str


def _read(root: Path, name: str) -> str | None:
    try:
        return (root / name).read_text(errors="replace")
    except OSError:
        return None


def _toml(root: Path, name: str) -> dict[str, Any]:
    text = _read(root, name)
    if text is None:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def _ini_sections(root: Path, name: str) -> set[str]:
    text = _read(root, name)
    if text is None:
        return set()
    parser = ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except IniError:
        return set()
    return set(parser.sections())


def _make_targets(root: Path) -> set[str]:
    text = _read(root, "Makefile") or _read(root, "makefile") or _read(root, "GNUmakefile") or ""
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.M))


def _python_files_mention(root: Path, needle: str, limit: int = 200) -> bool:
    seen = 0
    for folder in ("tests", "test", "."):
        base = root / folder
        if not base.is_dir():
            continue
        for path in base.glob("test*.py") if folder == "." else base.rglob("test*.py"):
            seen += 1
            if seen > limit:
                return False
            try:
                if needle in path.read_text(errors="replace"):
                    return True
            except OSError:
                continue
    return False


def _has_python_tests(root: Path) -> bool:
    return any(root.glob("test_*.py")) or any(
        (root / d).is_dir() and any((root / d).rglob("test*.py")) for d in ("tests", "test"))


def _python_gates(root: Path) -> list[Gate]:
    pyproject = _toml(root, "pyproject.toml")
    tool = pyproject.get("tool", {}) if isinstance(pyproject.get("tool"), dict) else {}
    deps = json.dumps([pyproject.get("project", {}), pyproject.get("dependency-groups", {})])
    setup_cfg = _ini_sections(root, "setup.cfg")
    tox = _ini_sections(root, "tox.ini")
    gates: list[Gate] = []
    pytest_why = next((why for cond, why in (
        ("pytest" in tool, "pyproject.toml [tool.pytest]"),
        ((root / "pytest.ini").is_file(), "pytest.ini"),
        ((root / "conftest.py").is_file() or (root / "tests" / "conftest.py").is_file(), "conftest.py"),
        ("tool:pytest" in setup_cfg, "setup.cfg [tool:pytest]"),
        ("pytest" in tox, "tox.ini [pytest]"),
        ('"pytest' in deps, "pyproject.toml lists pytest"),
        ((root / "requirements-dev.txt").is_file()
         and "pytest" in (_read(root, "requirements-dev.txt") or ""), "requirements-dev.txt"),
        (_has_python_tests(root) and _python_files_mention(root, "import pytest"), "tests import pytest"),
    ) if cond), None)
    if pytest_why:
        gates.append(Gate("tests", "python3 -m pytest -q", pytest_why))
    elif _has_python_tests(root):
        start = "tests" if (root / "tests").is_dir() else "test" if (root / "test").is_dir() else "."
        gates.append(Gate("tests", f"python3 -m unittest discover -s {start} -t .", f"test files under {start}/"))
    if "ruff" in tool or (root / "ruff.toml").is_file() or (root / ".ruff.toml").is_file():
        gates.append(Gate("lint", "ruff check .", "ruff settings", timeout=300))
    elif (root / ".flake8").is_file() or "flake8" in setup_cfg or "flake8" in tox:
        gates.append(Gate("lint", "flake8", "flake8 settings", timeout=300))
    if "mypy" in tool or (root / "mypy.ini").is_file() or "mypy" in setup_cfg:
        files = tool.get("mypy", {}).get("files") if isinstance(tool.get("mypy"), dict) else None
        gates.append(Gate("types", "mypy" if files else "mypy .", "mypy settings", timeout=600))
    elif "pyright" in tool or (root / "pyrightconfig.json").is_file():
        gates.append(Gate("types", "pyright", "pyright settings", timeout=600))
    return gates


def _js_gates(root: Path) -> list[Gate]:
    text = _read(root, "package.json")
    if text is None:
        return []
    try:
        package = json.loads(text)
    except json.JSONDecodeError:
        return []
    scripts = package.get("scripts") if isinstance(package, dict) else None
    scripts = scripts if isinstance(scripts, dict) else {}
    runner = ("pnpm" if (root / "pnpm-lock.yaml").is_file() else
              "yarn" if (root / "yarn.lock").is_file() else
              "bun" if (root / "bun.lockb").is_file() or (root / "bun.lock").is_file() else "npm")
    gates = []
    test = scripts.get("test")
    if isinstance(test, str) and NPM_PLACEHOLDER not in test:
        gates.append(Gate("tests", f"{runner} test", "package.json scripts.test"))
    if isinstance(scripts.get("lint"), str):
        gates.append(Gate("lint", f"{runner} run lint", "package.json scripts.lint", timeout=300))
    typecheck = next((s for s in ("typecheck", "type-check", "tsc", "check-types") if isinstance(scripts.get(s), str)), None)
    if typecheck:
        gates.append(Gate("types", f"{runner} run {typecheck}", f"package.json scripts.{typecheck}"))
    elif (root / "tsconfig.json").is_file():
        gates.append(Gate("types", "npx tsc --noEmit", "tsconfig.json"))
    return gates


def _go_gates(root: Path) -> list[Gate]:
    if not (root / "go.mod").is_file():
        return []
    gates = [Gate("tests", "go test ./...", "go.mod"), Gate("vet", "go vet ./...", "go.mod", timeout=300)]
    if any((root / n).is_file() for n in (".golangci.yml", ".golangci.yaml", ".golangci.toml")):
        gates.append(Gate("lint", "golangci-lint run", ".golangci config", timeout=300))
    return gates


def _rust_gates(root: Path) -> list[Gate]:
    if not (root / "Cargo.toml").is_file():
        return []
    gates = [Gate("tests", "cargo test", "Cargo.toml", timeout=1200)]
    if (root / "clippy.toml").is_file() or (root / ".clippy.toml").is_file():
        gates.append(Gate("lint", "cargo clippy -- -D warnings", "clippy.toml", timeout=1200))
    return gates


def _java_gates(root: Path) -> list[Gate]:
    if (root / "pom.xml").is_file():
        mvn = "./mvnw" if (root / "mvnw").is_file() else "mvn"
        return [Gate("tests", f"{mvn} -q test", "pom.xml", timeout=1800)]
    if (root / "build.gradle").is_file() or (root / "build.gradle.kts").is_file():
        gradle = "./gradlew" if (root / "gradlew").is_file() else "gradle"
        return [Gate("tests", f"{gradle} test", "build.gradle", timeout=1800)]
    return []


DETECTORS = (_python_gates, _js_gates, _go_gates, _rust_gates, _java_gates)


def detect_gates(root: Path) -> list[Gate]:
    """The project's own checks, as gates. `make test` is the project's own word for "run the
    tests" where it has one, so it is the test gate then; lint and type checks still come from
    each ecosystem's settings. Where several ecosystems have tests, each gets its own gate."""
    found = [g for detect in DETECTORS for g in detect(root)]
    targets = _make_targets(root)
    if "test" in targets:
        found = [Gate("tests", "make test", "Makefile target test", timeout=1800)] + [
            g for g in found if g.name != "tests"]
        if "lint" in targets:
            found = [g for g in found if g.name != "lint"] + [Gate("lint", "make lint", "Makefile target lint", 300)]
    return _unique_names(found)


def _unique_names(gates: list[Gate]) -> list[Gate]:
    out: list[Gate] = []
    seen: dict[str, int] = {}
    for g in gates:
        if any(o.run == g.run for o in out):
            continue
        n = seen.get(g.name, 0)
        seen[g.name] = n + 1
        out.append(g if n == 0 else Gate(f"{g.name}-{n + 1}", g.run, g.why, g.timeout))
    return out


# -- agents ------------------------------------------------------------------------------------

# (plan name, agent type, binary, files under $HOME that mean "logged in", env keys that work)
KNOWN_CLIS: tuple[tuple[str, str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("claude", "claude-code", "claude", (".claude/.credentials.json",), ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN")),
    ("codex", "codex", "codex", (".codex/auth.json",), ("OPENAI_API_KEY",)),
    ("gemini", "gemini", "gemini", (".gemini/oauth_creds.json",), ("GEMINI_API_KEY", "GOOGLE_API_KEY")),
    ("aider", "aider", "aider", (), ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")),
)


def detect_agents(path: str | None, home: Path, env: Mapping[str, str]) -> list[AgentCli]:
    """The agent CLIs on `path`, the usable ones (logged in, or an API key set) first."""
    found = []
    for name, type_, binary, logins, keys in KNOWN_CLIS:
        where = shutil.which(binary, path=path)
        if where is None:
            continue
        login = next((f for f in logins if (home / f).is_file()), None)
        key = next((k for k in keys if env.get(k)), None)
        why = f"logged in (~/{login})" if login else f"${key} is set" if key else "not logged in, no API key set"
        found.append(AgentCli(name, type_, where, bool(login or key), why))
    return sorted(found, key=lambda a: not a.usable)


def plan_name(root: Path) -> str:
    """The repository's name, as a plan name: its folder, in lower case, dashes for the rest."""
    name = re.sub(r"[^a-z0-9_.-]+", "-", root.resolve().name.lower()).strip("-.")
    return name or "project"


def default_env() -> tuple[str | None, Path, Mapping[str, str]]:
    return os.environ.get("PATH"), Path.home(), os.environ
