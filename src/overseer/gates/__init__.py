"""Verification gates: the project's real commands, run after every attempt, and built-in
kinds (python-syntax, diff-limits) that judge the attempt's change list."""

from overseer.gates.baseline import baseline_key, regressions
from overseer.gates.result import GateResult, TestCounts
from overseer.gates.runner import run_gate, run_gates

__all__ = ["GateResult", "TestCounts", "baseline_key", "regressions", "run_gate", "run_gates"]
