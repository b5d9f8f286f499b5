"""Helpers for the test suite and the benchmarks (real components they start, not fakes)."""
