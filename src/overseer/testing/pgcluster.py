"""A throwaway PostgreSQL cluster on 127.0.0.1 (initdb in a temporary directory, durability
off), for the test suite and the benchmarks alike."""

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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PG_USER = "overseer"


class ClusterError(RuntimeError):
    """initdb or pg_ctl failed; the message carries their output."""


def bindir() -> Path | None:
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


def unprivileged_prefix() -> tuple[list[str], int | None, int | None]:
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


def missing() -> tuple[str, str] | None:
    """(what is missing, how to get it) when a cluster cannot be started here, else None."""
    if bindir() is None:
        return "PostgreSQL server (initdb, pg_ctl, postgres)", "apt-get install postgresql"
    if os.geteuid() == 0 and not unprivileged_prefix()[0]:
        return "an unprivileged user to run PostgreSQL as", "no postgres/nobody user"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg", "pip install 'psycopg[binary]'"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Cluster:
    port: int

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """One statement on the `postgres` database, outside a transaction (CREATE/DROP DATABASE)."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=PG_USER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql.encode())  # DDL from our own generated names, no user input

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database (a generated name unless given); returns its SQLAlchemy URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self.admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        # FORCE: a test that failed may have left connections open.
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def cluster(prefix: str = "overseer-pg-") -> Iterator[Cluster]:
    """Start a cluster, yield it, stop it and delete its files. Check `missing()` first;
    raises ClusterError when initdb or the server fails."""
    binaries = bindir()
    if binaries is None:
        raise ClusterError("no PostgreSQL server binaries (initdb, pg_ctl, postgres)")
    run_as, uid, gid = unprivileged_prefix()
    root = Path(tempfile.mkdtemp(prefix=prefix))
    if uid is not None and gid is not None:
        os.chown(root, uid, gid)
    data, log = root / "data", root / "server.log"

    def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(run_as + cmd, cwd=root, capture_output=True, text=True, timeout=120, check=False)

    started = False
    try:
        init = run([str(binaries / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust",
                    "--encoding=UTF8", "--no-sync", "--no-instructions"])
        if init.returncode != 0:
            raise ClusterError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        stderr = ""
        for _ in range(5):  # the free port can be taken between choosing it and binding it
            port = free_port()
            opts = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
            start = run([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts,
                         "-w", "-t", "60", "start"])
            if start.returncode == 0:
                started = True
                break
            stderr = start.stderr
        if not started:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise ClusterError(f"PostgreSQL did not start:\n{stderr}\n{tail}")
        yield Cluster(port)
    finally:
        if started:
            run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(root, ignore_errors=True)
