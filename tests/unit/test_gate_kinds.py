"""Built-in gate kinds: python-syntax and diff-limits, the GateSpec rules, and dispatch by kind."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import ValidationError

from overseer.gates import regressions, run_gate, run_gates
from overseer.gates.kinds import diff_limits, path_matches, python_syntax
from overseer.plan.schema import GateSpec


@dataclass(frozen=True)
class Change:
    path: str
    status: str = "M"
    added: int = 1
    removed: int = 0
    old_path: str | None = None


# ---- python-syntax ---------------------------------------------------------------------------

SYNTAX_CASES = [
    # (files written, changed paths, passed, failing_tests)
    ({"a.py": "x = 1\n"}, ["a.py"], True, []),
    ({"a.py": "def f(:\n    pass\n"}, ["a.py"], False, ["a.py:1"]),
    ({"a.py": "x = 1\nif x\n    y = 2\n"}, ["a.py"], False, ["a.py:2"]),
    ({"a.py": "def f():\n  x = 1\n    y = 2\n"}, ["a.py"], False, ["a.py:3"]),  # IndentationError
    ({"a.py": "x = 1\n\tif x:\n        pass\n"}, ["a.py"], False, ["a.py:2"]),
    ({"a.py": b"x = 1\x00\n"}, ["a.py"], False, ["a.py:0"]),  # NUL byte
    ({"a.py": "s = '\\d'\n"}, ["a.py"], True, []),  # a SyntaxWarning is not a failure
    ({"a.py": "# -*- coding: latin-1 -*-\ns = 'caf\xe9'\n".encode("latin-1")}, ["a.py"], True, []),
    ({"bad.py": "def (\n"}, [], True, []),  # unchanged files are not judged
    ({"notes.txt": "def (\n"}, ["notes.txt"], True, []),  # only .py files
    ({}, ["gone.py"], True, []),  # deleted since: nothing to compile
    (
        {"pkg/ok.py": "import os\n", "pkg/b.py": "return 1 +\n", "pkg/c.py": "class:\n"},
        ["pkg/ok.py", "pkg/b.py", "pkg/c.py"],
        False,
        ["pkg/b.py:1", "pkg/c.py:1"],
    ),
    ({"a.py": "import os; os.system('touch RAN')\n"}, ["a.py"], True, []),  # compiled, never run
]


@pytest.mark.parametrize(("files", "changed", "passed", "failing"), SYNTAX_CASES)
def test_python_syntax(tmp_path: Path, files: dict[str, str | bytes], changed: list[str], passed: bool, failing: list[str]) -> None:
    for rel, content in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = python_syntax(changed, tmp_path)
    assert result.passed is passed
    assert result.failing_tests == failing
    assert result.tests is not None and result.tests.failed == len(failing)
    for name in failing:
        assert name in result.output_tail
    assert not (tmp_path / "RAN").exists()


def test_python_syntax_output_shows_the_line_and_a_caret(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("x = (1,\ny = 2\n")
    result = python_syntax(["m.py"], tmp_path, name="syntax", required=False)
    assert result.name == "syntax" and result.required is False and not result.passed
    assert "m.py:1: SyntaxError" in result.output_tail
    assert "^" in result.output_tail


# ---- diff-limits -----------------------------------------------------------------------------


def limits(**kw: object) -> GateSpec:
    return GateSpec.model_validate({"name": "limits", "kind": "diff-limits", **kw})


DIFF_CASES = [
    # (spec fields, changes, failing_tests)
    ({"max_files": 2}, [Change("a"), Change("b")], []),
    ({"max_files": 2}, [Change("a"), Change("b"), Change("c")], ["max_files"]),
    ({"max_files": 0}, [], []),
    ({"max_lines": 10}, [Change("a", added=6, removed=4)], []),
    ({"max_lines": 10}, [Change("a", added=6, removed=5)], ["max_lines"]),
    ({"max_lines": 10}, [Change("a", added=6), Change("b", removed=5)], ["max_lines"]),
    ({"max_lines": 0}, [Change("img.png", status="A", added=0, removed=0)], []),  # binary: 0/0
    ({"forbidden": ["secrets/*"]}, [Change("secrets/key.pem", "A")], ["forbidden:secrets/key.pem"]),
    ({"forbidden": ["secrets/*"]}, [Change("src/secrets.py")], []),
    ({"forbidden": ["*.lock"]}, [Change("deep/dir/poetry.lock")], ["forbidden:deep/dir/poetry.lock"]),
    ({"forbidden": [".github/"]}, [Change(".github/workflows/ci.yml", "D")], ["forbidden:.github/workflows/ci.yml"]),
    (
        {"forbidden": ["migrations/"]},
        [Change("old.py", "R", old_path="migrations/0001.py")],
        ["forbidden:migrations/0001.py"],  # moving a file out of a forbidden place touches it
    ),
    (
        {"max_files": 1, "max_lines": 1, "forbidden": ["x"]},
        [Change("x", added=5), Change("y")],
        ["max_files", "max_lines", "forbidden:x"],
    ),
]


@pytest.mark.parametrize(("fields", "changes", "failing"), DIFF_CASES)
def test_diff_limits(fields: dict[str, object], changes: list[Change], failing: list[str]) -> None:
    result = diff_limits(limits(**fields), changes)
    assert result.failing_tests == failing
    assert result.passed is (not failing)
    assert result.name == "limits"


GLOB_CASES = [
    ("a/b/c.pem", "*.pem", True),
    ("c.pem", "*.pem", True),
    ("a/b/c.pem", "/*.pem", False),
    ("secrets/a", "secrets/*", True),
    ("secrets/a/b", "secrets/*", True),
    ("x/secrets/a", "secrets/*", False),
    ("x/secrets/a", "**/secrets/*", True),
    ("secrets/a", "**/secrets/*", True),
    ("build/out.o", "build/", True),
    ("src/build/out.o", "build/", True),
    ("src/build/out.o", "/build/", False),
    ("build", "build/", False),  # a file named build is not the folder
    ("docs/api/x.md", "docs/api/", True),
    ("other/docs/api/x.md", "docs/api/", False),
    ("README.md", "README.md", True),
    ("sub/README.md", "README.md", True),
    ("sub/README.md", "/README.md", False),
]


@pytest.mark.parametrize(("path", "glob", "expected"), GLOB_CASES)
def test_path_matches(path: str, glob: str, expected: bool) -> None:
    assert path_matches(path, glob) is expected


# ---- GateSpec --------------------------------------------------------------------------------

SPEC_ERRORS = [
    ({"name": "t"}, "needs `run`"),
    ({"name": "t", "kind": "python-syntax", "run": "x"}, "only for kind command"),
    ({"name": "t", "kind": "diff-limits"}, "needs max_files, max_lines or forbidden"),
    ({"name": "t", "run": "true", "max_files": 3}, "max_files only apply to kind diff-limits"),
    ({"name": "t", "kind": "diff-limits", "max_lines": -1}, "greater than or equal to 0"),
    ({"name": "t", "kind": "lint"}, "command"),
]


@pytest.mark.parametrize(("data", "message"), SPEC_ERRORS)
def test_gate_spec_rejects(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        GateSpec.model_validate(data)


def test_gate_spec_accepts_each_kind() -> None:
    assert GateSpec.model_validate({"name": "t", "run": "true"}).kind == "command"
    assert GateSpec.model_validate({"name": "s", "kind": "python-syntax"}).run is None
    spec = limits(forbidden=["a/"])
    assert spec.max_files is None and spec.forbidden == ["a/"]


# ---- dispatch --------------------------------------------------------------------------------


def test_run_gates_dispatches_by_kind_and_writes_logs(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("def (\n")
    specs = [
        GateSpec(name="cmd", run="echo from-the-command"),
        GateSpec(name="syntax", kind="python-syntax"),
        limits(max_files=0),
    ]
    changes = [Change("bad.py", "A", added=1)]
    out_dir = tmp_path / "logs"
    cmd, syntax, lim = run_gates(specs, tmp_path, changes=changes, output_dir=out_dir)
    assert cmd.passed and "from-the-command" in cmd.output_tail
    assert not syntax.passed and syntax.failing_tests == ["bad.py:1"]
    assert not lim.passed and lim.failing_tests == ["max_files"]
    assert syntax.output_file and Path(syntax.output_file).read_text().startswith("bad.py:1")
    assert (out_dir / "limits.log").is_file()


def test_builtin_kinds_without_a_change_list_judge_nothing(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("def (\n")
    result = run_gate(GateSpec(name="s", kind="python-syntax"), tmp_path)
    assert result.passed and "no changed .py files" in result.output_tail
    assert run_gate(limits(max_files=0), tmp_path).passed


def test_deleted_python_file_is_not_compiled(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("def (\n")  # a leftover on disk the change list says is gone
    result = run_gate(GateSpec(name="s", kind="python-syntax"), tmp_path, changes=[Change("bad.py", "D")])
    assert result.passed


def test_syntax_failure_already_at_baseline_is_not_a_regression(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("def (\n")
    (tmp_path / "b.py").write_text("class:\n")
    spec = GateSpec(name="s", kind="python-syntax")
    baseline = run_gate(spec, tmp_path, changes=[Change("a.py")])
    now = run_gate(spec, tmp_path, changes=[Change("a.py"), Change("b.py")])
    assert regressions(now, baseline) == ["b.py:1"]


@pytest.mark.parametrize(
    ("path", "glob", "expected"),
    [
        ("a/x1.txt", "a/x?.txt", True),
        ("a/x12.txt", "a/x?.txt", False),
        ("a/b/c/d.py", "a/**/d.py", True),
        ("a/d.py", "a/**/d.py", True),
        ("keys/id_rsa", "id_[!x]sa", True),
        ("keys/id_xsa", "id_[!x]sa", False),
        ("src/a.py", "src/*.py", True),
        ("src/sub/a.py", "src/*.py", False),
        ("src/sub/a.py", "src/**", True),
    ],
)
def test_path_matches_segments_and_classes(path: str, glob: str, expected: bool) -> None:
    assert path_matches(path, glob) is expected
