"""Which files an attempt may not change without saying so: the tests and the gates' own files.

Test files are found by path patterns (the built-in ones below, plus the plan's
`test_patterns`). Gate files are the scripts a gate's `run` names, and the configuration test
runners read: conftest.py, pytest.ini, tox.ini, the test sections of setup.cfg, pyproject.toml
and package.json, and jest/vitest/mocha configs. For the shared files only the test sections
count, so a task that adds a dependency to pyproject.toml is not accused of anything.
"""

from __future__ import annotations

import configparser
import json
import shlex
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath
from typing import Any

from overseer.gates.kinds import path_matches
from overseer.plan.schema import GateSpec

DEFAULT_TEST_PATTERNS: tuple[str, ...] = (
    # Python
    "test_*.py", "*_test.py", "**/tests/**/*.py", "**/test/**/*.py", "conftest.py",
    # JS / TS
    "*.test.js", "*.test.mjs", "*.test.cjs", "*.test.jsx", "*.test.ts", "*.test.tsx",
    "*.spec.js", "*.spec.mjs", "*.spec.cjs", "*.spec.jsx", "*.spec.ts", "*.spec.tsx",
    "**/__tests__/**", "**/test/**/*.js", "**/test/**/*.mjs", "**/test/**/*.ts",
    "**/tests/**/*.js", "**/tests/**/*.mjs", "**/tests/**/*.ts",
    # Go
    "*_test.go",
    # Rust: integration tests (unit tests live beside the code, in #[cfg(test)] modules)
    "**/tests/**/*.rs",
    # Java / Kotlin
    "**/src/test/**", "*Test.java", "*Tests.java", "*IT.java",
)

# Files whose whole content is test configuration.
CONFIG_FILES = ("conftest.py", "pytest.ini", "tox.ini", ".coveragerc", "noxfile.py")
CONFIG_PATTERNS = ("jest.config.*", "vitest.config.*", "vitest.workspace.*", ".mocharc*",
                   "karma.conf.*", "playwright.config.*", "cypress.config.*")
# Shared files: only these sections count.
PYPROJECT_SECTIONS = (("tool", "pytest"), ("tool", "tox"), ("tool", "nox"), ("tool", "coverage", "run"))
SETUP_CFG_SECTIONS = ("tool:pytest", "pytest", "coverage:run")
PACKAGE_JSON_KEYS = ("scripts", "jest", "mocha", "ava", "c8", "nyc")


def is_test_file(path: str, extra: Iterable[str] = ()) -> bool:
    return any(path_matches(path, g) for g in (*DEFAULT_TEST_PATTERNS, *extra))


def is_config_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return name in CONFIG_FILES or any(path_matches(path, g) for g in CONFIG_PATTERNS)


def is_shared_config(path: str) -> bool:
    return PurePosixPath(path).name in ("pyproject.toml", "setup.cfg", "package.json")


# Words after which the next argument is a script the command runs.
INTERPRETERS = frozenset({"bash", "sh", "zsh", "dash", "ksh", "python", "python3", "node", "deno",
                          "bun", "ruby", "perl", "php", "pwsh", "tclsh", "Rscript"})
_MAKES = frozenset({"make", "gmake"})


def gate_scripts(specs: Sequence[GateSpec]) -> set[str]:
    """Workspace paths (POSIX, relative to the root) of the files the gates' commands execute:
    `./check.sh`, `bash scripts/test.sh`, `python tests/run.py`, the Makefile of `make test`.
    A file a command only reads as data (`grep -q ok out.txt`, `test -f done.flag`) is the
    task's output, not the gate's: it is not protected."""
    found: set[str] = set()
    for spec in specs:
        if spec.kind != "command" or spec.run is None:
            continue
        cwd = PurePosixPath(spec.cwd or "")
        for command in _commands(spec.run):
            words = list(command)
            # Leading VAR=value assignments are not the command.
            while words and "=" in words[0] and not words[0].startswith(("./", "/")):
                words.pop(0)
            if not words:
                continue
            head = PurePosixPath(words[0]).name
            if head in _MAKES:
                names = [words[i + 1] for i, w in enumerate(words[:-1]) if w in ("-f", "--file")]
                for name in names or ["Makefile", "makefile", "GNUmakefile"]:
                    found.add(_rel(cwd, name))
            elif head in INTERPRETERS:
                args = [w for w in words[1:] if not w.startswith("-")]
                if args and "-c" not in words and "-m" not in words and "-e" not in words:
                    found.add(_rel(cwd, args[0]))
            elif "/" in words[0]:
                found.add(_rel(cwd, words[0]))
    return {p for p in found if p and not p.startswith(("/", "../"))}


def _rel(cwd: PurePosixPath, word: str) -> str:
    p = PurePosixPath(word)
    if p.is_absolute() or ".." in p.parts:
        return "/" + word  # outside the workspace: filtered out
    return str(cwd / p)


def _commands(command: str) -> list[list[str]]:
    """The simple commands of a shell line, split at ;, &&, ||, | and parentheses."""
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError:
        words = command.split()
    out: list[list[str]] = [[]]
    for w in words:
        if w and set(w) <= set("&|;()"):
            out.append([])
        elif not (w and set(w) <= set("<>")):
            out[-1].append(w)
    return [c for c in out if c]


def config_sections(path: str, text: str | None) -> Any:
    """The part of a shared file that configures the tests, comparable between two versions;
    None when the file is absent or unreadable (then any change to it is a change)."""
    if text is None:
        return None
    name = PurePosixPath(path).name
    try:
        if name == "pyproject.toml":
            data = tomllib.loads(text)
            return {".".join(keys): _dig(data, keys) for keys in PYPROJECT_SECTIONS}
        if name == "package.json":
            data = json.loads(text)
            return {k: data.get(k) for k in PACKAGE_JSON_KEYS} if isinstance(data, dict) else data
        if name == "setup.cfg":
            cp = configparser.ConfigParser(interpolation=None)
            cp.read_string(text)
            return {s: dict(cp[s]) if cp.has_section(s) else None for s in SETUP_CFG_SECTIONS}
    except (ValueError, configparser.Error, tomllib.TOMLDecodeError):
        return ("unparsable", text)
    return text


def _dig(data: Any, keys: Sequence[str]) -> Any:
    for k in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(k)
    return data
