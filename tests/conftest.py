"""Shared fixtures. Real components (PostgreSQL, ...) are started here; when one is missing the
test skips, unless OVERSEER_REQUIRE_REAL=1 (CI), where it fails instead."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from overseer.testing import pgcluster

REQUIRE_REAL = os.environ.get("OVERSEER_REQUIRE_REAL") == "1"
PG_DB = "overseer"


def missing_component(what: str, hint: str) -> None:
    """Skip the test, or fail it when real components are required."""
    message = f"{what} not available: {hint}"
    if REQUIRE_REAL:
        pytest.fail(message + " (OVERSEER_REQUIRE_REAL=1)", pytrace=False)
    pytest.skip(message)


# -- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[pgcluster.Cluster]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (initdb in a temp dir) for the session."""
    lacking = pgcluster.missing()
    if lacking:
        missing_component(*lacking)
    try:
        with pgcluster.cluster() as cluster:
            yield cluster
    except pgcluster.ClusterError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: pgcluster.Cluster) -> str:
    """The URL of an empty database in the session's cluster."""
    return postgres_cluster.create_database(PG_DB)


@pytest.fixture
def fresh_postgres_url(postgres_cluster: pgcluster.Cluster, postgres_url: str) -> Iterator[str]:
    """A new, empty database in the session's cluster, dropped after the test."""
    url = postgres_cluster.create_database()
    try:
        yield url
    finally:
        postgres_cluster.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.real)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database, once per backend: tests using it run on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'overseer' / 'state.db'}"
    return str(request.getfixturevalue("fresh_postgres_url"))


@pytest.fixture
def backend(store_url: str) -> str:
    return "sqlite" if store_url.startswith("sqlite") else "postgresql"



@pytest.fixture(autouse=True)
def reviewer_figures(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Reviewer reliability figures of this test alone: a measurement made on this machine must
    not change which reviewer a test's run chooses or how much its verdicts weigh."""
    path = tmp_path_factory.mktemp("figures") / "reviewers.json"
    monkeypatch.setenv("OVERSEER_REVIEWER_FIGURES", str(path))
    # Nor may a test's run join this user's list of repositories with runs (store/known.py).
    monkeypatch.setenv("XDG_STATE_HOME", str(path.parent / "state"))
    return path
