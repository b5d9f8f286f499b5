"""Fixtures for the end-to-end tests; the helpers themselves live in e2e_helpers.py (a conftest
module cannot be imported by name once several test folders have one)."""

from e2e_helpers import make_repo, run_overseer  # noqa: F401
