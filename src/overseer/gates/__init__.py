"""Verification gates: the project's real commands, run after every attempt."""

from overseer.gates.result import GateResult, TestCounts

__all__ = ["GateResult", "TestCounts"]
