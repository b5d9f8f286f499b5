"""What one gate run found (ARCHITECTURE.md: GateResult)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TestCounts(BaseModel):
    __test__ = False  # not a pytest class

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0


class GateResult(BaseModel):
    name: str
    required: bool = True
    passed: bool
    exit_code: int | None = None
    duration_s: float = 0.0
    tests: TestCounts | None = None
    failing_tests: list[str] = Field(default_factory=list)
    output_tail: str = ""
    output_file: str | None = None
    regressions: list[str] = Field(default_factory=list)
    timed_out: bool = False
