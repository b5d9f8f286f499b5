"""The migrations build exactly the schema the models describe, on both backends: a model
change without its migration (or the reverse) fails here, not on a user's database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from overseer.store import Store
from overseer.store import models as m
from overseer.store.db import VERSION_TABLE


def test_migrated_schema_matches_the_models(store_url: str) -> None:
    Store.open(store_url).close()  # migrates a new database to head
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={
                "include_object": lambda _obj, name, kind, _reflected, _to: not (
                    kind == "table" and name == VERSION_TABLE)})
            diff = compare_metadata(ctx, m.Base.metadata)
    finally:
        engine.dispose()
    # Type-only differences between a dialect's reflected types and ours are not drift.
    drift = [d for d in diff if not (isinstance(d, list) and d and d[0][0] == "modify_type")]
    assert drift == []
