"""regressions(): what a task broke, not what was broken before it."""

from __future__ import annotations

import pytest

from overseer.gates.baseline import regressions
from overseer.gates.result import GateResult, TestCounts


def gate(
    passed: bool,
    failing: list[str] | None = None,
    junit: bool = True,
    name: str = "tests",
) -> GateResult:
    failing = failing or []
    tests = TestCounts(passed=3, failed=len(failing)) if junit else None
    return GateResult(name=name, passed=passed, failing_tests=failing, tests=tests)


CASES = [
    # (description, current, baseline, expected)
    ("all green now", gate(True), gate(False, ["t::a"]), []),
    ("failing before and now", gate(False, ["t::a"]), gate(False, ["t::a"]), []),
    ("passing before, failing now", gate(False, ["t::a"]), gate(True), ["t::a"]),
    (
        "one old failure, one new",
        gate(False, ["t::old", "t::new"]),
        gate(False, ["t::old"]),
        ["t::new"],
    ),
    ("old failure fixed, new one", gate(False, ["t::b"]), gate(False, ["t::a"]), ["t::b"]),
    ("test absent at baseline counts as new", gate(False, ["t::added"]), gate(True), ["t::added"]),
    ("no baseline: every failure is new", gate(False, ["t::a", "t::b"]), None, ["t::a", "t::b"]),
    ("duplicates are reported once", gate(False, ["t::a", "t::a"]), gate(True), ["t::a"]),
    (
        "baseline failed as a whole, no per-test detail",
        gate(False, ["t::a"]),
        gate(False, junit=False),
        [],
    ),
    ("no junit: gate failing now, passing before", gate(False, junit=False), gate(True, junit=False), ["tests"]),
    ("no junit: gate failing before and now", gate(False, junit=False), gate(False, junit=False), []),
    ("no junit: no baseline", gate(False, junit=False), None, ["tests"]),
    ("no junit: passing now", gate(True, junit=False), gate(False, junit=False), []),
    (
        "junit now but no names (exit code only), passing before",
        gate(False, [], junit=True),
        gate(True),
        ["tests"],
    ),
    (
        "junit now, no names, failing before",
        gate(False, [], junit=True),
        gate(False, ["t::x"]),
        [],
    ),
    (
        "baseline with junit failing other tests, now gate-level failure",
        gate(False, junit=False, name="lint"),
        gate(True, junit=False, name="lint"),
        ["lint"],
    ),
]


@pytest.mark.parametrize(
    ("current", "baseline", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_regressions(current: GateResult, baseline: GateResult | None, expected: list[str]) -> None:
    assert regressions(current, baseline) == expected


def test_pure_inputs_not_modified() -> None:
    current, baseline = gate(False, ["t::a"]), gate(True)
    before = (current.model_dump(), baseline.model_dump())
    regressions(current, baseline)
    assert (current.model_dump(), baseline.model_dump()) == before


def test_baseline_key_tells_same_named_gates_apart() -> None:
    from overseer.gates import baseline_key
    from overseer.plan.schema import GateSpec

    a = GateSpec(name="unit", run="pytest tests/a")
    assert baseline_key(a) == baseline_key(GateSpec(name="unit", run="pytest tests/a"))
    others = [GateSpec(name="unit", run="pytest tests/b"), GateSpec(name="unit", run="pytest tests/a", cwd="sub"),
              GateSpec(name="unit", run="pytest tests/a", env={"X": "1"}), GateSpec(name="lint", run="pytest tests/a")]
    assert len({baseline_key(g) for g in [a, *others]}) == 5
