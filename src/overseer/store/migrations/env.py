"""Alembic environment for the overseer store. Normally driven by `Store.open` (which passes its
engine in `config.attributes`); developers may also run the alembic CLI with
`-c src/overseer/store/alembic.ini -x url=sqlite:////tmp/dev.db`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, text

from overseer.store.db import PG_MIGRATION_LOCK, VERSION_TABLE, create_engines
from overseer.store.models import Base

config = context.config


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("pass the database with -x url=sqlite:////abs/path/state.db")
    return create_engines(url)[0]


def run_migrations_offline() -> None:
    url = context.get_x_argument(as_dictionary=True).get("url") or "sqlite://"
    context.configure(
        url=url,
        target_metadata=Base.metadata,
        version_table=config.attributes.get("version_table", VERSION_TABLE),
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # One transaction for the whole upgrade, taken with the write lock (SQLite: BEGIN
    # IMMEDIATE; PostgreSQL: an advisory lock), so a second process opening the store waits,
    # then finds the schema at head instead of racing to create the same tables.
    with _engine().begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
        context.configure(
            connection=conn,
            target_metadata=Base.metadata,
            version_table=config.attributes.get("version_table", VERSION_TABLE),
            transactional_ddl=True,
            render_as_batch=conn.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
