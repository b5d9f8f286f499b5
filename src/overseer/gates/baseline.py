"""Regressions: what a task broke, as opposed to what was already broken before it ran."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from overseer.gates.result import GateResult
from overseer.plan.schema import GateSpec


def baseline_key(spec: GateSpec) -> str:
    """Which baseline a gate compares against: two tasks' gates may share a name and differ in
    what they run, so the key is the name plus what the command depends on."""
    holdout = spec.holdout.model_dump() if spec.holdout else None
    what = json.dumps([spec.run, spec.cwd, spec.junit, sorted(spec.env.items()), holdout])
    return f"{spec.name}@{hashlib.sha256(what.encode()).hexdigest()[:12]}"


def regressions(current: GateResult, baseline: GateResult | None) -> list[str]:
    """Names of failures in `current` that are new relative to `baseline`.

    - Per test (JUnit on the current run): a failing test is a regression unless it failed at
      baseline too. A test absent at baseline counts as new (added by this task, or by an
      earlier task after the baseline ran), so its failure is blamed here. No baseline at all
      (None) means nothing is known to have failed before.
    - A baseline that failed as a whole without per-test detail (timed out, no JUnit) says
      nothing about single tests: then no test is blamed.
    - Without per-test names on the current run, the gate itself is the unit: failing now and
      passing at baseline (or no baseline) → the regression is named by the gate.
    """
    if current.failing_tests:
        if baseline is None:
            return _unique(current.failing_tests)
        if not baseline.passed and baseline.tests is None and not baseline.failing_tests:
            return []
        before = set(baseline.failing_tests)
        return _unique(t for t in current.failing_tests if t not in before)
    if current.passed:
        return []
    if baseline is None or baseline.passed:
        return [current.name]
    return []


def _unique(names: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for n in names:
        seen.setdefault(n, None)
    return list(seen)
