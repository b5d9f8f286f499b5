"""Test counts read from a runner's summary: the count integrity compares for gates without JUnit.

The files in runner_output/ are real outputs of the runners, captured on this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from overseer.gates.counts import clean, counts_from_output
from overseer.gates.result import TestCounts

OUT = Path(__file__).parent / "runner_output"


@pytest.mark.parametrize(("name", "expected"), [
    # 1 failed, 1 passed, 1 skipped, wrapped in colour codes
    ("pytest-color.txt", TestCounts(passed=1, failed=1, skipped=1)),
    # Ran 6: failures=1, errors=1, skipped=1, expected failures=1, unexpected successes=1
    ("unittest-failed.txt", TestCounts(passed=1, failed=2, errors=1, skipped=2)),
    ("unittest-ok-skipped.txt", TestCounts(passed=3, skipped=2)),
    # node --test: tests 4, pass 1, fail 1, skipped 1, todo 1
    ("node-tap-failed.txt", TestCounts(passed=1, failed=1, skipped=2)),
    ("node-spec-failed.txt", TestCounts(passed=1, failed=1, skipped=2)),
    # two test binaries: 2 passed + 1 ignored, and a doc-test run of 0
    ("cargo-ok-ignored.txt", TestCounts(passed=2, skipped=1)),
])
def test_real_runner_output(name: str, expected: TestCounts) -> None:
    assert counts_from_output((OUT / name).read_text()) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("===== 3 passed, 2 warnings in 0.12s =====", TestCounts(passed=3)),
    ("== 1 passed, 1 xfailed, 1 xpassed, 2 deselected in 0.1s ==", TestCounts(passed=2, skipped=3)),
    ("== 2 errors in 0.30s ==", TestCounts(errors=2)),
    ("============ no tests ran in 0.01s ============", TestCounts()),
    ("3 passed in 0.05s", TestCounts(passed=3)),  # pytest -q
    ("Ran 0 tests in 0.000s\n\nNO TESTS RAN", TestCounts()),
    ("Ran 2 tests in 0.001s\n\nOK", TestCounts(passed=2)),
    ("Tests:       1 failed, 2 skipped, 1 todo, 3 passed, 7 total",
     TestCounts(passed=3, failed=1, skipped=3)),
    (" Test Files  1 passed (1)\n      Tests  4 passed | 1 skipped (5)", TestCounts(passed=4, skipped=1)),
    ("=== RUN   TestA\n--- PASS: TestA (0.00s)\n=== RUN   TestB\n--- SKIP: TestB (0.00s)\n"
     "=== RUN   TestC\n    --- FAIL: TestC/sub (0.00s)\nFAIL", TestCounts(passed=1, skipped=1, failed=1)),
])
def test_summary_lines(text: str, expected: TestCounts) -> None:
    assert counts_from_output(text) == expected


@pytest.mark.parametrize("text", [
    "",
    "all good\n",
    "Ran 3 tests in 0.01s\n",  # the report was cut off before OK/FAILED: not a finished run
    "--- FAIL: TestA (0.00s)\nFAIL\tpkg 0.01s\n",  # go test without -v prints failures only
    "3 passed",  # no duration: prose, not a pytest summary
])
def test_no_summary_is_none(text: str) -> None:
    assert counts_from_output(text) is None


def test_last_summary_wins_whole() -> None:
    # A gate that runs two suites: the later one is the count, never a sum of both runners.
    text = "Ran 4 tests in 0.01s\n\nOK\n" + "===== 2 passed, 1 skipped in 0.1s =====\n"
    assert counts_from_output(text) == TestCounts(passed=2, skipped=1)
    text = "===== 2 passed in 0.1s =====\n" + "Ran 4 tests in 0.01s\n\nOK (skipped=1)\n"
    assert counts_from_output(text) == TestCounts(passed=3, skipped=1)


def test_truncated_output_drops_per_binary_sums() -> None:
    # With the start of the output gone a cargo sum would miss binaries and read as lost tests.
    text = "test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0s\n"
    assert counts_from_output(text) == TestCounts(passed=2)
    assert counts_from_output(text, truncated=True) is None
    # A one-line summary of the whole run is still whole at the end of a truncated output.
    assert counts_from_output("...\n== 5 passed in 1s ==\n", truncated=True) == TestCounts(passed=5)


def test_clean_strips_escapes_and_carriage_returns() -> None:
    assert clean("\x1b[32mok\x1b[0m\r\nnext\rover\x1b]0;title\x07") == "ok\nnext\nover"
