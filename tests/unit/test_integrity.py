"""Test integrity: each way of gaming a Python test suite is a major finding at file:line;
adding tests, or editing with `may_edit_tests`, is not refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from overseer.gates.result import GateResult, TestCounts
from overseer.integrity import IntegrityPolicy, check_integrity, find_placeholders
from overseer.integrity.protected import gate_scripts
from overseer.plan.schema import GateSpec
from overseer.workspace.git import FileChange

BASE = '''\
import unittest

from text import slugify


class TestSlug(unittest.TestCase):
    def test_basic(self):
        self.assertEqual(slugify("Hello World"), "hello-world")

    def test_trim(self):
        self.assertEqual(slugify("  a  "), "a")
'''

PYTEST_BASE = '''\
from text import slugify


def test_basic():
    assert slugify("Hello World") == "hello-world"


def test_trim():
    assert slugify("  a  ") == "a"
'''

GATE = GateSpec(name="tests", run="python -m pytest -q")


def run_check(tmp_path: Path, before: dict[str, str | None], after: dict[str, str | None],
              *, specs: list[GateSpec] | None = None, policy: IntegrityPolicy | None = None,
              results: list[GateResult] | None = None, baseline: dict | None = None):
    changes = []
    for path in sorted(set(before) | set(after)):
        was, now = before.get(path), after.get(path)
        if was == now:
            continue
        status = "A" if was is None else "D" if now is None else "M"
        changes.append(FileChange(path, status, 1, 1))
        if now is not None:
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_text(now)
    return check_integrity(root=tmp_path, before=before.get, changes=changes,
                           specs=specs or [GATE], results=results or [], baseline=baseline or {},
                           policy=policy or IntegrityPolicy())


GAMED = [
    # (description, original, gamed, finding kind, line)
    ("skip on the class", BASE, BASE.replace("class TestSlug", '@unittest.skip("later")\nclass TestSlug'),
     "skip_added", 6),
    ("skipTest in a test", BASE, BASE.replace('    def test_basic(self):\n',
                                              '    def test_basic(self):\n        self.skipTest("x")\n'),
     "skip_added", 8),
    ("expectedFailure", BASE, BASE.replace("    def test_trim", "    @unittest.expectedFailure\n    def test_trim"),
     "xfail_added", 10),
    ("pytest skip mark", PYTEST_BASE, "import pytest\n" + PYTEST_BASE.replace(
        "def test_basic", "@pytest.mark.skip(reason='wip')\ndef test_basic"), "skip_added", 5),
    ("pytest xfail mark", PYTEST_BASE, "import pytest\n" + PYTEST_BASE.replace(
        "def test_trim", "@pytest.mark.xfail\ndef test_trim"), "xfail_added", 9),
    ("module-wide skip", PYTEST_BASE, "import pytest\npytestmark = pytest.mark.skip\n" + PYTEST_BASE,
     "skip_added", 2),
    ("assertTrue(True)", BASE, BASE.replace('self.assertEqual(slugify("Hello World"), "hello-world")',
                                            "self.assertTrue(True)"), "assertion_changed", 7),
    ("expected value changed", PYTEST_BASE, PYTEST_BASE.replace('== "a"', '== "  a  "'),
     "assertion_changed", 8),
    ("test deleted", PYTEST_BASE, PYTEST_BASE.split("\n\ndef test_trim")[0] + "\n", "test_deleted", None),
    ("early return", PYTEST_BASE, PYTEST_BASE.replace('def test_basic():\n', 'def test_basic():\n    return\n'),
     "assertion_changed", 4),
    ("assertion swallowed", PYTEST_BASE, PYTEST_BASE.replace(
        '    assert slugify("Hello World") == "hello-world"',
        '    try:\n        assert slugify("Hello World") == "hello-world"\n    except AssertionError:\n        pass'),
     "assertion_changed", 4),
    ("if False around it", PYTEST_BASE, PYTEST_BASE.replace(
        '    assert slugify("  a  ") == "a"', '    if False:\n        assert slugify("  a  ") == "a"'),
     "assertion_changed", 8),
    ("trivial assert added beside", PYTEST_BASE, PYTEST_BASE.replace(
        '    assert slugify("  a  ") == "a"', '    assert True'), "assertion_neutralised", 9),
]


@pytest.mark.parametrize(("what", "before", "after", "kind", "line"), GAMED, ids=[g[0] for g in GAMED])
def test_each_way_of_gaming_is_a_major_finding_at_its_line(tmp_path, what, before, after, kind, line):
    found = run_check(tmp_path, {"tests/test_text.py": before}, {"tests/test_text.py": after})
    hits = [f for f in found if f.kind == kind]
    assert hits, f"{what}: no {kind} in {[f.text() for f in found]}"
    assert all(f.severity == "major" and f.path == "tests/test_text.py" for f in hits)
    if line is not None:
        assert hits[0].line == line
    assert hits[0].fix


def test_a_commented_or_string_mention_of_skip_is_no_marker(tmp_path):
    after = PYTEST_BASE.replace("def test_trim():", "# TODO: skip this later?\ndef test_trim():")
    after = after.replace('assert slugify("  a  ") == "a"', 'assert slugify("  a  ") == "a", "skip"')
    found = run_check(tmp_path, {"test_text.py": PYTEST_BASE}, {"test_text.py": after})
    assert [f.kind for f in found] == ["assertion_changed"]  # the message is part of the assertion


@pytest.mark.parametrize("after", [
    PYTEST_BASE + '\n\ndef test_more():\n    assert slugify("a b") == "a-b"\n',
    PYTEST_BASE.replace("def test_trim():", "def test_trim():\n    s = '  a  '").replace('slugify("  a  ")', 'slugify("  a  ")'),
    PYTEST_BASE.replace("from text import slugify", "from text import slugify  # the module under test"),
])
def test_adding_tests_or_touching_nothing_that_asserts_is_fine(tmp_path, after):
    assert run_check(tmp_path, {"test_text.py": PYTEST_BASE}, {"test_text.py": after}) == []


def test_a_new_test_file_is_fine(tmp_path):
    assert run_check(tmp_path, {}, {"tests/test_new.py": PYTEST_BASE}) == []


def test_deleting_the_test_file_names_its_tests(tmp_path):
    found = run_check(tmp_path, {"test_text.py": PYTEST_BASE}, {"test_text.py": None})
    assert [f.kind for f in found] == ["test_deleted"]
    assert "test_basic" in found[0].message and "deleted" in found[0].message


def test_renaming_a_test_file_away_from_the_runner_is_a_deletion(tmp_path):
    (tmp_path / "text_checks.py").write_text(PYTEST_BASE)
    change = FileChange("text_checks.py", "R", 0, 0, old_path="test_text.py")
    found = check_integrity(root=tmp_path, before={"test_text.py": PYTEST_BASE}.get, changes=[change],
                            specs=[GATE], results=[], baseline={})
    assert [f.kind for f in found] == ["test_deleted"]
    assert "renamed to text_checks.py" in found[0].message


@pytest.mark.parametrize(("path", "before", "after", "run"), [
    ("run_tests.sh", "python -m pytest -q\n", "exit 0\n", "bash run_tests.sh"),
    ("scripts/check.sh", "pytest\n", "true\n", "./scripts/check.sh && echo ok"),
    ("conftest.py", None, "import pytest\ncollect_ignore = ['tests']\n", "python -m pytest"),
    ("pytest.ini", "[pytest]\n", "[pytest]\naddopts = -k 'not trim'\n", "python -m pytest"),
    ("pyproject.toml", "[project]\nname='x'\n", "[project]\nname='x'\n[tool.pytest.ini_options]\naddopts='-x -k basic'\n",
     "python -m pytest"),
    ("package.json", '{"scripts": {"test": "node --test"}}', '{"scripts": {"test": "exit 0"}}', "npm test"),
    ("Makefile", "test:\n\tpytest\n", "test:\n\ttrue\n", "make test"),
])
def test_editing_a_gates_files_is_refused(tmp_path, path, before, after, run):
    found = run_check(tmp_path, {path: before}, {path: after},
                      specs=[GateSpec(name="tests", run=run)])
    assert [f.kind for f in found] == ["gate_file_edited"]
    assert found[0].path == path


@pytest.mark.parametrize(("run", "scripts"), [
    ("grep -q good value.txt", set()),
    ("test -f ok.flag && cat ok.flag", set()),
    ("bash tools/gate.sh t1", {"tools/gate.sh"}),
    ("CI=1 ./check.sh --fast | tee log", {"check.sh"}),
    ("python3 -c 'import calc'", set()),
    ("python -m pytest -q tests", set()),
    ("cd sub && make -f build.mk test", {"build.mk"}),
    ("python3 ../outside.py", set()),
])
def test_only_what_a_gate_executes_is_its_script(run, scripts):
    assert gate_scripts([GateSpec(name="g", run=run)]) == scripts


def test_a_file_the_gate_only_reads_is_the_tasks_output(tmp_path):
    found = run_check(tmp_path, {}, {"value.txt": "good\n"},
                      specs=[GateSpec(name="check", run="grep -q good value.txt")])
    assert found == []


def test_a_shared_file_outside_its_test_sections_is_free_to_change(tmp_path):
    found = run_check(tmp_path, {"pyproject.toml": "[project]\nname='x'\n[tool.pytest.ini_options]\nx=1\n"},
                      {"pyproject.toml": "[project]\nname='x'\ndependencies=['a']\n[tool.pytest.ini_options]\nx=1\n"})
    assert found == []


def test_may_edit_tests_records_the_same_findings_as_information(tmp_path):
    after = BASE.replace("class TestSlug", '@unittest.skip("later")\nclass TestSlug')
    found = run_check(tmp_path, {"test_text.py": BASE}, {"test_text.py": after},
                      policy=IntegrityPolicy(may_edit_tests=True))
    assert [(f.kind, f.severity) for f in found] == [("skip_added", "info")]


@pytest.mark.parametrize(("now", "kinds"), [
    (TestCounts(passed=5), []),
    (TestCounts(passed=6, failed=1), []),  # more tests is fine
    (TestCounts(passed=3), ["fewer_tests"]),
    (TestCounts(passed=3, skipped=2), ["fewer_tests", "more_skipped"]),
    (TestCounts(passed=4, failed=1, skipped=1), ["more_skipped"]),
])
def test_counts_against_the_baseline(tmp_path, now, kinds):
    base = GateResult(name="tests", passed=False, tests=TestCounts(passed=0, failed=5))
    got = GateResult(name="tests", passed=True, tests=now)
    found = run_check(tmp_path, {}, {}, results=[got], baseline={"tests": base})
    assert [f.kind for f in found] == kinds


def test_placeholders_left_or_added_in_touched_code(tmp_path):
    code = ('from abc import ABC, abstractmethod\n\n\n'
            'def slugify(s):\n    """Slug."""\n    raise NotImplementedError\n\n\n'
            'def hook():\n    pass\n\n\n'
            'class Base(ABC):\n    @abstractmethod\n    def run(self):\n        raise NotImplementedError\n\n\n'
            'def done():\n    return 1  # TODO: handle unicode\n')
    (tmp_path / "text.py").write_text(code)
    found = find_placeholders(root=tmp_path, before={"text.py": ""}.get,
                              changes=[FileChange("text.py", "M", 10, 0)])
    got = {(f.kind, f.severity, f.line) for f in found}
    assert got == {("placeholder", "medium", 4), ("placeholder", "minor", 9), ("todo_added", "minor", 20)}


def test_placeholders_ignore_untouched_files_and_tests(tmp_path):
    (tmp_path / "test_x.py").write_text("def test_a():\n    pass\n")
    found = find_placeholders(root=tmp_path, before=lambda p: "", changes=[FileChange("test_x.py", "M", 1, 0)])
    assert found == []
