"""Shared fixtures. Real components (PostgreSQL, ...) are started here; when one is missing the
test skips, unless OVERSEER_REQUIRE_REAL=1 (CI), where it fails instead."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRE_REAL = os.environ.get("OVERSEER_REQUIRE_REAL") == "1"
PG_USER = "overseer"
PG_DB = "overseer"


def missing_component(what: str, hint: str) -> None:
    """Skip the test, or fail it when real components are required."""
    message = f"{what} not available: {hint}"
    if REQUIRE_REAL:
        pytest.fail(message + " (OVERSEER_REQUIRE_REAL=1)", pytrace=False)
    pytest.skip(message)


# -- PostgreSQL -------------------------------------------------------------------------------


def _pg_bindir() -> Path | None:
    """Directory holding initdb, pg_ctl and postgres, newest major version first."""
    candidates: list[str] = []
    if os.environ.get("OVERSEER_PG_BIN"):
        candidates.append(os.environ["OVERSEER_PG_BIN"])
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
        reverse=True,
    )
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).resolve().parent))
    for c in candidates:
        d = Path(c)
        if all((d / b).is_file() for b in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def _unprivileged_prefix() -> tuple[list[str], int | None, int | None]:
    """PostgreSQL refuses to run as root. When we are root, run its binaries as the `postgres`
    user (the Debian package creates it) or else `nobody`, via runuser or setpriv.
    Returns (command prefix, uid, gid) — an empty prefix when no switch is needed."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return ["runuser", "-u", name, "--"], pw.pw_uid, pw.pw_gid
        if shutil.which("setpriv"):
            return (
                ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", "--"],
                pw.pw_uid,
                pw.pw_gid,
            )
    return [], None, None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (initdb in a temp dir) for the session;
    yields the URL of an empty database in it."""
    bindir = _pg_bindir()
    if bindir is None:
        missing_component("PostgreSQL server (initdb, pg_ctl, postgres)", "apt-get install postgresql")
    assert bindir is not None
    prefix, uid, gid = _unprivileged_prefix()
    if os.geteuid() == 0 and not prefix:
        missing_component("an unprivileged user to run PostgreSQL as", "no postgres/nobody user")

    root = Path(tempfile.mkdtemp(prefix="overseer-pg-"))
    if uid is not None and gid is not None:
        os.chown(root, uid, gid)
    data, log = root / "data", root / "server.log"
    started = False
    try:
        init = _run(
            prefix + [str(bindir / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust",
                      "--encoding=UTF8", "--no-sync", "--no-instructions"],
            root,
        )
        if init.returncode != 0:
            pytest.fail(f"initdb failed:\n{init.stdout}\n{init.stderr}", pytrace=False)
        for _ in range(5):  # the free port can be taken between choosing it and binding it
            port = _free_port()
            opts = (
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
            )
            start = _run(
                prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts,
                          "-w", "-t", "60", "start"],
                root,
            )
            if start.returncode == 0:
                started = True
                break
        if not started:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            pytest.fail(f"PostgreSQL did not start:\n{start.stderr}\n{tail}", pytrace=False)

        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=port, user=PG_USER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{PG_DB}"')
        yield f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/{PG_DB}"
    finally:
        if started:
            _run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], root)
        shutil.rmtree(root, ignore_errors=True)


def _pg_admin(url: str, sql: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    with psycopg.connect(
        host=u.host, port=u.port, user=u.username, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(sql.encode())  # DDL from our own generated names, no user input


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """A new, empty database in the session's cluster, dropped after the test."""
    from sqlalchemy.engine import make_url

    name = f"t_{uuid.uuid4().hex[:12]}"
    _pg_admin(postgres_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE: a test that failed may have left connections open.
        _pg_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.real)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database, once per backend: tests using it run on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'overseer' / 'state.db'}"
    return str(request.getfixturevalue("fresh_postgres_url"))


@pytest.fixture
def backend(store_url: str) -> str:
    return "sqlite" if store_url.startswith("sqlite") else "postgresql"

