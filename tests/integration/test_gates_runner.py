"""Gates on real commands: a real pytest project with JUnit output, timeouts, env and cwd."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import pytest

from overseer.gates.runner import TAIL_MAX_BYTES, parse_junit, run_gate, run_gates
from overseer.plan.schema import GateSpec

PY = shlex.quote(sys.executable)


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(ln for ln in status.splitlines() if ln.startswith("State:"))
    return "zombie" not in state and "\tZ" not in state


@pytest.fixture
def pyproject(tmp_path: Path) -> Path:
    """A small real project: 3 passing, 1 failing, 1 erroring, 1 skipped test."""
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return a + b\n")
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "test_calc.py").write_text(
        "import pytest\n"
        "from calc import add, sub\n\n"
        "def test_add():\n    assert add(1, 2) == 3\n\n"
        "def test_sub():\n    assert sub(3, 1) == 2\n\n"
        "@pytest.mark.skip(reason='later')\n"
        "def test_later():\n    pass\n\n"
        "class TestMore:\n"
        "    def test_zero(self):\n        assert add(0, 0) == 0\n\n"
        "    @pytest.mark.parametrize('n', [1, 2])\n"
        "    def test_param(self, n):\n        assert add(n, 0) == n\n\n"
        "@pytest.fixture\n"
        "def broken():\n    raise RuntimeError('fixture broke')\n\n"
        "def test_error(broken):\n    pass\n"
    )
    return root


def test_pytest_junit_counts_and_failing_names(pyproject: Path, tmp_path: Path) -> None:
    spec = GateSpec(
        name="tests",
        run=f"{PY} -m pytest -q -p no:cacheprovider --junitxml=report.xml",
        junit="report.xml",
    )
    # A stale report from an earlier run must not be read.
    (pyproject / "report.xml").write_text("<testsuite><testcase name='stale'/></testsuite>")
    result = run_gate(spec, pyproject, output_dir=tmp_path / "logs")
    assert result.exit_code == 1
    assert not result.passed
    assert result.tests is not None
    assert result.tests.model_dump() == {"passed": 4, "failed": 1, "skipped": 1, "errors": 1}
    assert sorted(result.failing_tests) == [
        "tests/test_calc.py::test_error",
        "tests/test_calc.py::test_sub",
    ]
    assert result.output_file == str(tmp_path / "logs" / "tests.log")
    full = Path(result.output_file).read_text()
    assert "1 failed, 4 passed, 1 skipped, 1 error" in full
    assert "1 failed, 4 passed, 1 skipped, 1 error" in result.output_tail
    assert result.duration_s > 0


def test_pytest_all_green_passes(pyproject: Path) -> None:
    (pyproject / "calc.py").write_text("def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return a - b\n")
    spec = GateSpec(
        name="tests",
        run=f"{PY} -m pytest -q -p no:cacheprovider --junitxml=out/report.xml -k 'not error'",
        junit="out/report.xml",
    )
    result = run_gate(spec, pyproject)
    assert result.passed, result.output_tail
    assert result.tests is not None and result.tests.failed == 0 and result.tests.passed == 5
    assert result.failing_tests == []
    assert result.output_file is None


def test_exit_zero_but_junit_failures_fails(tmp_path: Path) -> None:
    xml = (
        '<?xml version="1.0"?><testsuites><testsuite name="s" tests="2">'
        '<testcase classname="pkg.mod.Case" name="ok"/>'
        '<testcase classname="pkg.mod.Case" name="bad"><failure message="boom"/></testcase>'
        "</testsuite></testsuites>"
    )
    (tmp_path / "r.xml").write_text(xml)
    spec = GateSpec(name="g", run="cp r.xml out.xml", junit="out.xml")
    result = run_gate(spec, tmp_path)
    assert result.exit_code == 0
    assert not result.passed
    assert result.failing_tests == ["pkg.mod.Case::bad"]


def test_missing_or_garbled_junit_keeps_exit_code_verdict(tmp_path: Path) -> None:
    missing = run_gate(GateSpec(name="m", run="true", junit="none.xml"), tmp_path)
    assert missing.passed and missing.tests is None
    assert "junit" in missing.output_tail and "was not written" in missing.output_tail

    garbled = run_gate(GateSpec(name="g", run="echo '<testsuite><oops' > r.xml", junit="r.xml"), tmp_path)
    assert garbled.passed and garbled.tests is None
    assert "could not parse" in garbled.output_tail

    failing = run_gate(GateSpec(name="f", run="exit 3", junit="none.xml"), tmp_path)
    assert not failing.passed and failing.exit_code == 3


def test_timeout_kills_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    spec = GateSpec(
        name="slow",
        # The background child ignores SIGTERM: only the SIGKILL after the grace stops it.
        run=f"(trap '' TERM; exec sleep 300) & echo $! > {pidfile}; echo started; sleep 300",
        timeout=1,
    )
    start = time.monotonic()
    result = run_gate(spec, tmp_path, kill_grace=0.5)
    elapsed = time.monotonic() - start
    assert result.timed_out and not result.passed
    assert "started" in result.output_tail and "timed out" in result.output_tail
    assert elapsed < 30
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_leftover_background_process_does_not_hang_gate(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    spec = GateSpec(name="bg", run=f"sleep 300 & echo $! > {pidfile}; echo done", timeout=60)
    start = time.monotonic()
    result = run_gate(spec, tmp_path)
    assert time.monotonic() - start < 10
    assert result.passed and result.exit_code == 0 and not result.timed_out
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_output_tail_lines_and_byte_cap(tmp_path: Path) -> None:
    spec = GateSpec(name="many", run="for i in $(seq 1 500); do echo line $i; done; echo err >&2")
    result = run_gate(spec, tmp_path, tail_lines=10, output_dir=tmp_path / "logs")
    lines = result.output_tail.splitlines()
    assert lines == [f"line {i}" for i in range(492, 501)] + ["err"]
    assert len(Path(result.output_file or "").read_text().splitlines()) == 501

    # 200 lines of 100 "é" (2 bytes each) → the cap cuts inside the text, never inside a char.
    spec = GateSpec(name="wide", run=f"{PY} -c \"print(('é' * 100 + chr(10)) * 200, end='')\"")
    result = run_gate(spec, tmp_path, tail_lines=60)
    raw = result.output_tail.encode()
    assert len(raw) <= TAIL_MAX_BYTES
    assert "\ufffd" not in result.output_tail
    assert set(result.output_tail.replace("\n", "")) == {"é"}


def test_env_and_cwd(tmp_path: Path) -> None:
    (tmp_path / "sub" / "dir").mkdir(parents=True)
    os.environ["OVERSEER_TEST_INHERITED"] = "from-os"
    try:
        spec = GateSpec(
            name="envcwd",
            run='echo "$PWD|$OVERSEER_TEST_INHERITED|$FROM_SPEC|$FROM_CALL|$BOTH"',
            cwd="sub/dir",
            env={"FROM_SPEC": "spec", "BOTH": "spec"},
        )
        result = run_gate(spec, tmp_path, env={"FROM_CALL": "call", "BOTH": "call"})
    finally:
        del os.environ["OVERSEER_TEST_INHERITED"]
    assert result.passed
    assert result.output_tail.strip() == f"{tmp_path / 'sub' / 'dir'}|from-os|spec|call|call"


def test_missing_cwd_is_a_failed_gate(tmp_path: Path) -> None:
    result = run_gate(GateSpec(name="x", run="true", cwd="nope"), tmp_path)
    assert not result.passed and "does not exist" in result.output_tail


def test_run_gates_runs_all_after_a_failure(tmp_path: Path) -> None:
    specs = [
        GateSpec(name="first", run="exit 1"),
        GateSpec(name="second", run="echo ran", required=False),
    ]
    results = run_gates(specs, tmp_path)
    assert [(r.name, r.passed, r.required) for r in results] == [
        ("first", False, True),
        ("second", True, False),
    ]


def test_parse_junit_bare_testsuite_root(tmp_path: Path) -> None:
    (tmp_path / "t.xml").write_text(
        '<testsuite name="x"><testcase classname="A" name="one"><error message="e"/></testcase>'
        '<testcase classname="A" name="two"><skipped/></testcase></testsuite>'
    )
    report, problem = parse_junit(tmp_path / "t.xml")
    assert problem is None and report is not None
    assert report.counts.model_dump() == {"passed": 0, "failed": 0, "skipped": 1, "errors": 1}
    assert report.failing == ["A::one"]


def test_pytest_without_junit_counts_from_its_summary(pyproject: Path) -> None:
    # No junit: the count integrity compares comes from pytest's own summary line.
    result = run_gate(GateSpec(name="tests", run=f"{PY} -m pytest -p no:cacheprovider --color=yes"), pyproject)
    assert not result.passed
    assert result.tests is not None
    assert result.tests.model_dump() == {"passed": 4, "failed": 1, "skipped": 1, "errors": 1}


def test_unittest_gate_counts_skips(tmp_path: Path) -> None:
    (tmp_path / "test_m.py").write_text(
        "import unittest\n\n"
        "class T(unittest.TestCase):\n"
        "    def test_a(self):\n        self.assertEqual(1, 1)\n\n"
        "    @unittest.skip('later')\n"
        "    def test_b(self):\n        self.fail()\n\n"
        "    @unittest.expectedFailure\n"
        "    def test_c(self):\n        self.assertEqual(1, 2)\n"
    )
    result = run_gate(GateSpec(name="unit", run=f"{PY} -m unittest -v"), tmp_path)
    assert result.passed, result.output_tail
    assert result.tests is not None
    assert result.tests.model_dump() == {"passed": 1, "failed": 0, "skipped": 2, "errors": 0}


@pytest.mark.skipif(shutil.which("node") is None and os.environ.get("OVERSEER_REQUIRE_REAL") != "1",
                    reason="node is not installed")
def test_node_test_runner_gate_counts(tmp_path: Path) -> None:
    (tmp_path / "a.test.mjs").write_text(
        "import test from 'node:test';\nimport assert from 'node:assert';\n"
        "test('adds', () => assert.equal(1 + 1, 2));\n"
        "test('later', { skip: true }, () => {});\n"
        "test('wrong', () => assert.equal(1, 2));\n"
    )
    result = run_gate(GateSpec(name="js", run="node --test"), tmp_path)
    assert not result.passed
    assert result.tests is not None
    assert result.tests.model_dump() == {"passed": 1, "failed": 1, "skipped": 1, "errors": 0}


def test_timed_out_gate_has_no_counts(tmp_path: Path) -> None:
    # A summary printed before the kill is not the run's count.
    spec = GateSpec(name="slow", run="echo '== 3 passed in 0.1s =='; sleep 30", timeout=1)
    result = run_gate(spec, tmp_path, kill_grace=0.5)
    assert result.timed_out and result.tests is None
