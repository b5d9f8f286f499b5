"""Connecting to the store's database and bringing its schema to the current migration."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.config import Config

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from overseer.errors import StoreError
from overseer.scrub import process_scrubber

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "overseer_alembic_version"
# Any number unique to overseer: the PostgreSQL advisory lock that serialises migrations.
PG_MIGRATION_LOCK = 0x0E5EE7
SQLITE_BUSY_TIMEOUT_MS = 30_000

_HINT_URL = (
    "database.url must look like sqlite:////abs/path/state.db or "
    "postgresql+psycopg://user:password@host:5432/dbname"
)


def redact(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(f"invalid database URL {redact(url)!r}: {exc}", hint=_HINT_URL) from exc
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(
            f"unsupported database {backend!r} in {redact(url)!r}",
            hint="overseer stores its state in SQLite or PostgreSQL; " + _HINT_URL,
        )
    if backend == "postgresql" and parsed.get_driver_name() in ("psycopg2", "postgresql"):
        # psycopg 3 is the driver overseer installs; a bare postgresql:// would pick psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _set_wal(cur: Any) -> None:
    # Switching to WAL can answer "database is locked" at once, without the busy handler,
    # while another process opens the same new file: retry it for as long as busy_timeout.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# The run's copy of its plan: an agent's `env` must reach the agent as the plan wrote it (a
# secret belongs in the environment, `${VAR}` in the plan: then no copy holds it).
_PLAN_COPY = re.compile(r"\b(plan_json|spec_json)\b")
_WRITES = ("INSERT", "UPDATE")


def scrubbing_writes(engine: Engine) -> Engine:
    """Every value an INSERT or UPDATE writes goes through the scrubber first (overseer.scrub):
    the store's one net under all the others, whichever table and code path writes."""

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _scrub(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
               _executemany: bool) -> tuple[str, Any]:
        if not statement.lstrip()[:6].upper().startswith(_WRITES) or _PLAN_COPY.search(statement):
            return statement, parameters
        return statement, process_scrubber().stored(parameters)

    return engine


def _sqlite_engine(url: URL, *, immediate: bool) -> Engine:
    database = url.database or ""
    memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not memory:
        path = Path(database)
        if not path.is_absolute():
            raise StoreError(
                f"SQLite path must be absolute, got {database!r}",
                hint="use four slashes: sqlite:////abs/path/state.db",
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create directory {path.parent} for the state database: {exc}",
                hint="check permissions, or set database.url",
            ) from exc
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if memory:
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself, instead of pysqlite's
        # implicit, deferred one.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if not memory:
            _set_wal(cur)
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    # A writer takes the write lock when its transaction begins, so two writers never both
    # read, then both try to upgrade to a write lock (SQLite's deadlock, which busy_timeout
    # cannot wait out). Readers begin deferred and run alongside writers under WAL.
    begin_sql = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin_sql)

    return engine


def create_engines(url: str) -> tuple[Engine, Engine]:
    """(writer, reader) engines for url. On PostgreSQL they are the same engine."""
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            writer = scrubbing_writes(_sqlite_engine(parsed, immediate=True))
            if parsed.database in (None, "", ":memory:"):
                return writer, writer
            return writer, _sqlite_engine(parsed, immediate=False)
        connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": 10}
        engine = create_engine(
            parsed, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args
        )
        return scrubbing_writes(engine), engine
    except (ArgumentError, NoSuchModuleError) as exc:
        raise StoreError(f"cannot use database URL {redact(url)!r}: {exc}", hint=_HINT_URL) from exc


# The newest migration's revision: a store already there opens without importing Alembic
# (about 70 ms of every command). tests/integration/test_store.py checks it is the scripts' head.
HEAD_REVISION = "0004"


def _alembic_config(engine: Engine | None) -> Config:
    from alembic.config import Config

    cfg = Config()
    # Options are %-interpolated like an ini file; keep the path literal.
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    cfg.attributes["engine"] = engine
    cfg.attributes["version_table"] = VERSION_TABLE
    return cfg


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The store's schema revision; None for a new database (no version table yet)."""
    with engine.connect() as conn:
        try:
            rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        except SQLAlchemyError:
            rows = []
        conn.rollback()
    return rows[0][0] if len(rows) == 1 else None


# Alembic keeps the running migration context in module globals: one upgrade per process at a
# time. Other processes are kept out by the database lock taken in env.py.
_MIGRATE_LOCK = threading.Lock()


def migrate(engine: Engine, url: str) -> None:
    """Upgrade the schema to head. Cheap when it is already there. Safe to run from several
    threads and processes at once: env.py serialises the upgrade in one locked transaction."""
    from alembic.util.exc import CommandError

    try:
        if current_revision(engine) == HEAD_REVISION:
            return
        from alembic import command

        with _MIGRATE_LOCK:
            command.upgrade(_alembic_config(engine), "head")
    except OperationalError as exc:
        raise StoreError(
            f"cannot reach the state database at {redact(url)}: {exc.orig}",
            hint="check that the database server is running and database.url is right",
        ) from exc
    except (SQLAlchemyError, CommandError) as exc:
        raise StoreError(
            f"cannot migrate the state database at {redact(url)}: {exc}",
            hint="the database may belong to a newer overseer, or be damaged; "
            "point database.url at a fresh one to start over",
        ) from exc
