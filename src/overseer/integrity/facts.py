"""What one test file says about its tests, in a form two versions can be compared in.

Each language has an extractor (`python.py` reads the syntax tree, `generic.py` reads lines
for JS/TS, Go, Rust and Java); `check.py` compares the facts of a file before and after an
attempt. Facts hold normalised text, not positions, so moving code around is not a change,
and a line number only to point the agent at the place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

MarkerKind = Literal["skip", "xfail", "only"]


@dataclass(frozen=True)
class Marker:
    """A skip, expected-failure or focus marker (`@unittest.skip`, `it.only`, `t.Skip()`)."""

    kind: MarkerKind
    line: int  # 1-based, in the version the facts were read from
    text: str  # the marker's source, whitespace-normalised: the key two versions compare by


@dataclass
class TestFacts:
    __test__ = False  # not a pytest class

    # Test id within the file ("TestSlug.test_basic", "test_basic", "TestParse", "adds numbers")
    # -> the line its definition starts on.
    tests: dict[str, int] = field(default_factory=dict)
    markers: list[Marker] = field(default_factory=list)
    # Test id -> the assertions that can run in it, normalised, in source order. An assertion
    # after a `return`, under `if False:` or inside a try that swallows AssertionError is not
    # listed: it can no longer fail the test.
    assertions: dict[str, list[str]] = field(default_factory=dict)
    # Assertions that cannot fail (`assert True`, `assertTrue(1)`, `expect(true).toBe(true)`),
    # as (line, normalised text).
    trivial: list[tuple[int, str]] = field(default_factory=list)
