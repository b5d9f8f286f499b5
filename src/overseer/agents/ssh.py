"""`transport: {ssh: ...}`: run an agent's command on another host, with local semantics.

The command runs in `spec.workdir` on the remote host inside a small POSIX-sh wrapper that
gives it what `run_process` gives a local agent:

* its own session and process group (`setsid`), whose id it reports on the first line;
* stdout and stderr merged and streamed back line by line as they come;
* a watchdog holding the channel's stdin: when stdin reaches EOF — we closed it to stop the
  agent (cancel, timeout, stall), or the connection is gone because overseer died — the watchdog
  SIGTERMs the whole remote group and SIGKILLs what is left after the grace period. So a
  `kill -9` of overseer cannot leave a remote agent running either;
* after a normal exit, whatever the command left behind in its group is killed too, and so is
  any process that left the group (its own `setsid`) but carries the attempt id in its
  environment, as `run_process` does locally (Linux /proc on the remote host).

Secrets: the environment never appears on a command line. Only variables whose value differs
from overseer's own environment are sent (the remote host keeps its own PATH, HOME, ...); they
are written over a separate channel's stdin into a 0600 file in the remote workdir, which the
wrapper sources and deletes before the command starts. `stdin_data` travels the same way, so
the agent reads it from a file and the channel's stdin stays free for the watchdog. The SSH
`env` request is not used: servers accept it only for names listed in `AcceptEnv`.

Host keys are always verified, against `spec.known_hosts` or ~/.ssh/known_hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import re
import secrets
import shlex
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncssh

from overseer.agents import ssh_sync
from overseer.agents.process import ATTEMPT_ENV, LiveStdin, ProcessOutcome
from overseer.agents.ssh_errors import connect_error, is_transient
from overseer.agents.ssh_spec import SshSpec
from overseer.errors import OverseerError
from overseer.scrub import process_scrubber

PGID_MARK = "@@overseer-pgid "
LOST = "overseer: the ssh connection ended without the command's exit status"
UNREACHABLE = "overseer: the ssh host could not be reached"
NOT_BACK = "overseer: the agent's changes could not be brought back from the ssh host"
SLOW = "overseer: the ssh host was too slow"
SLOW_HINT = ("a slow login shell delays every command over SSH (its start-up files run each time): "
             "keep the remote ~/.bashrc and ~/.profile quick, or check the host's load")
SYNC_TIMEOUT = 300.0  # a first sync of a large repository sends its whole history
CONNECT_TIMEOUT = 15.0
# Exit code of the setup channel when the remote workdir cannot be entered.
NO_WORKDIR = 97
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# $1 workdir, $2 env file, $3 stdin file or "", $4 grace seconds, $5 "NAME=attempt-id" or "",
# then the argv to run.
_WRAPPER = r"""
wd=$1 envf=$2 inf=$3 grace=$4 mark=$5; shift 5
cd "$wd" || exit 97
exec 2>&1 3<&0
setsid sh -c '
  echo "@@overseer-pgid $$"
  . "./$1"; rm -f "./$1"
  if [ -n "$2" ]; then exec <"./$2"; rm -f "./$2"; else exec </dev/null; fi
  shift 2
  exec "$@"' overseer-agent "$envf" "$inf" "$@" 3<&- &
pg=$!
sweep() {
  [ -n "$mark" ] && [ -d /proc ] || return 0
  for f in $(grep -lsxzF "$mark" /proc/[0-9]*/environ); do
    p=${f#/proc/}; kill -KILL "${p%/environ}" 2>/dev/null
  done
}
stop() {
  if kill -TERM -$pg 2>/dev/null; then
    n=0
    while kill -0 -$pg 2>/dev/null && [ $n -lt $(($1 * 10)) ]; do sleep 0.1; n=$((n + 1)); done
    kill -KILL -$pg 2>/dev/null
  fi
  # Twice: a helper caught between fork and exec can show an empty environ to the first look.
  sweep; sleep 0.2; sweep
  return 0
}
(
  while read -r _; do :; done
  stop "$grace"
) <&3 >/dev/null 2>&1 &
watchdog=$!
exec 3<&-
wait $pg
rc=$?
kill $watchdog 2>/dev/null
stop 1
rm -f "./$envf" ${inf:+"./$inf"}
exit $rc
"""

T = TypeVar("T")


def _in_thread(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a private event loop, whatever loop the caller is in."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(make())
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    thread = threading.Thread(target=target, name="overseer-ssh", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def env_to_send(env: Mapping[str, str], local: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables the adapter set or changed; the remote host keeps its own for the rest."""
    local = os.environ if local is None else local
    return {k: v for k, v in env.items() if local.get(k) != v and _NAME.fullmatch(k)}


def env_file_text(env: Mapping[str, str]) -> bytes:
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items())).encode()


def _known_hosts_path(spec: SshSpec) -> Path:
    return Path(spec.known_hosts or "~/.ssh/known_hosts").expanduser()


def _login(spec: SshSpec) -> str:
    return spec.user or getpass.getuser()


async def connect(spec: SshSpec) -> asyncssh.SSHClientConnection:
    """Open a connection with the host key verified; every failure is an OverseerError."""
    kh_path = _known_hosts_path(spec)
    try:
        known = (
            asyncssh.read_known_hosts(str(kh_path)) if kh_path.exists()
            else asyncssh.import_known_hosts("")
        )
    except (OSError, ValueError) as exc:
        raise OverseerError(
            f"cannot read known_hosts file {kh_path}: {exc}",
            hint="fix or remove the file, or point `known_hosts:` at another one",
        ) from None
    options: dict[str, Any] = {}
    if spec.key:
        key = Path(spec.key).expanduser()
        if not key.is_file():
            raise OverseerError(
                f"ssh key file not found: {key}",
                hint="set `key:` to a private key file, or leave it out to use ssh-agent / ~/.ssh",
            )
        options["client_keys"] = [str(key)]
        options["agent_path"] = None
    try:
        return await asyncssh.connect(
            spec.host, spec.port, username=_login(spec), known_hosts=known,
            connect_timeout=CONNECT_TIMEOUT, config=None, **options,
        )
    except Exception as exc:
        raise await connect_error(spec, _login(spec), kh_path, known, exc) from None


@dataclass(frozen=True)
class _Call:
    """One command run over SSH: what it was given, and the names its files take there."""

    env: dict[str, str]
    on_line: Callable[[str], None]
    timeout: float
    stall_after: float
    cancel: threading.Event | None
    stdin_data: bytes | None
    sync_root: Path | None  # the local tree the remote clone is brought to, if any
    push_only: bool
    start: float
    tag: str
    command: str
    env_name: str
    in_name: str

    def infrastructure_failure(self, marker: str, exc: OverseerError) -> ProcessOutcome:
        """An outcome the engine retries as an infrastructure failure (engine/infra_retry.py)."""
        line = f"{marker}: {exc.message}"
        self.on_line(line)
        return ProcessOutcome(exit_code=None, ended_by="exit", duration_s=time.monotonic() - self.start,
                              tail=[line])


class SshTransport:
    def __init__(self, spec: SshSpec, *, kill_grace: float = 3.0) -> None:
        self.spec = spec
        self.kill_grace = kill_grace

    def describe(self) -> str:
        s = self.spec
        return f"ssh {_login(s)}@{s.host}:{s.port}:{s.workdir}"

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,  # the local workspace; the command runs in spec.workdir instead
        env: Mapping[str, str],
        on_line: Callable[[str], None],
        timeout: float,
        stall_after: float,
        on_spawn: Callable[[int], None] = lambda _pgid: None,
        cancel: threading.Event | None = None,
        stdin_data: bytes | LiveStdin | None = None,
        push_only: bool = False,
    ) -> ProcessOutcome:
        """`push_only`: bring the remote clone to the local tree, and bring nothing back (a
        gate's command judges the tree; what it writes is not the task's work)."""
        # Over SSH the channel's stdin belongs to the remote watchdog: a live stdin sends its
        # first data, as a file, and takes nothing more.
        if isinstance(stdin_data, LiveStdin):
            stdin_data.close()
            stdin_data = stdin_data.first
        # on_spawn is not called: it records a *local* process group that a resumed run may
        # kill, and a remote pgid there would name an unrelated local group. Remote leftovers
        # are the watchdog's job (see the module docstring).
        del on_spawn
        process_scrubber().learn(env)  # its secret-looking values are masked in what comes back
        # An attempt's command works on the attempt's tree (ssh_sync); a probe (doctor) does not.
        attempt = env.get(ATTEMPT_ENV, "")
        wanted = self.spec.sync and (attempt or push_only)
        sync_root = Path(cwd) if wanted and ssh_sync.is_git_tree(Path(cwd)) else None
        return _in_thread(
            lambda: self._run(list(argv), env_to_send(env), attempt, on_line,
                              timeout, stall_after, cancel, stdin_data, sync_root, push_only)
        )

    async def _push(self, conn: asyncssh.SSHClientConnection, root: Path, tag: str) -> ssh_sync.Snapshot:
        """Bring the remote clone to the local working tree (ssh_sync)."""
        snap = ssh_sync.snapshot(root, tag)
        try:
            await self._push_snapshot(conn, snap, tag)
        except BaseException:
            ssh_sync.forget(snap)
            raise
        return snap

    async def _push_snapshot(self, conn: asyncssh.SSHClientConnection, snap: ssh_sync.Snapshot, tag: str) -> None:
        where = f"remote workdir {self.spec.workdir} on {self.spec.host}"
        probe = await self._within("checking the remote clone", CONNECT_TIMEOUT * 4, conn.run(shlex.join(
            ["sh", "-c", ssh_sync.PROBE_SCRIPT, "overseer-probe", self.spec.workdir, snap.head or "", snap.sha]),
            check=False))
        code, said = probe.exit_status, str(probe.stdout or "").split()
        if code == NO_WORKDIR:
            raise OverseerError(f"{where} cannot be entered",
                                hint="create it there as a clone of the repository (git clone URL DIR)")
        if code == ssh_sync.NOT_A_CLONE:
            raise OverseerError(f"{where} is not a git clone: the agent's changes could not come back",
                                hint=f"on {self.spec.host}: git clone <this repository> {self.spec.workdir}")
        if code == ssh_sync.FOREIGN_CHANGES:
            shown = "; ".join(str(probe.stdout or "").splitlines()[:5])
            raise OverseerError(
                f"{where} has changes overseer did not make ({shown}): syncing would discard them",
                hint="commit, stash or discard them there; from then on overseer resets it to each attempt's tree")
        if code != 0:
            raise OverseerError(f"{where}: checking the clone failed (exit {code}): "
                                f"{str(probe.stderr or '').strip()[:200]}")
        data = None if "snapshot" in said else ssh_sync.bundle(snap, tag, remote_has_head="head" in said)
        proc = await conn.create_process(shlex.join(
            ["sh", "-c", ssh_sync.PUSH_SCRIPT, "overseer-push", self.spec.workdir, snap.sha,
             "1" if data is not None else ""]), encoding=None)
        if data is not None:
            proc.stdin.write(data)
        proc.stdin.write_eof()
        done = await self._within("bringing the remote clone to the attempt's tree", SYNC_TIMEOUT,
                                  proc.wait(check=False))
        if done.exit_status != 0:
            err = (done.stderr or b"").decode(errors="replace").strip()[:300] if isinstance(done.stderr, bytes) else ""
            raise OverseerError(f"{where}: bringing it to the attempt's tree failed (exit {done.exit_status}): {err}",
                                hint="check the remote clone (git status there) and its free disk space")

    async def _pull(self, conn: asyncssh.SSHClientConnection, snap: ssh_sync.Snapshot, tag: str) -> None:
        """Bring what the agent changed in the remote clone into the local working tree."""
        done = await self._within("collecting the agent's changes", SYNC_TIMEOUT, conn.run(shlex.join(
            ["sh", "-c", ssh_sync.PULL_SCRIPT, "overseer-pull", self.spec.workdir]), encoding=None, check=False))
        if done.exit_status == ssh_sync.UNCHANGED:
            return
        if done.exit_status != 0 or not isinstance(done.stdout, bytes):
            err = done.stderr.decode(errors="replace").strip()[:300] if isinstance(done.stderr, bytes) else ""
            raise OverseerError(f"collecting the agent's changes in {self.spec.workdir} on {self.spec.host} "
                                f"failed (exit {done.exit_status}): {err}")
        ssh_sync.apply_result(snap, tag, done.stdout)

    async def _within(self, what: str, seconds: float, aw: Awaitable[T]) -> T:
        """`aw`, or an OverseerError saying what did not finish, where, and how long it waited
        (transient: the engine tries the attempt again)."""
        start = time.monotonic()
        try:
            return await asyncio.wait_for(aw, timeout=seconds)
        except TimeoutError:
            waited = time.monotonic() - start
            raise OverseerError(
                f"{what} on {self.spec.host}:{self.spec.port} did not finish within {seconds:g}s "
                f"(waited {waited:.1f}s)", hint=SLOW_HINT, context={"transient": True},
            ) from None

    async def _put(self, conn: asyncssh.SSHClientConnection, name: str, data: bytes) -> None:
        # The content travels on stdin; only the file name is on the command line.
        wd = shlex.quote(self.spec.workdir)
        proc = await conn.create_process(
            f"cd {wd} || exit {NO_WORKDIR}; umask 077 && cat > {shlex.quote(name)}", encoding=None
        )
        # Not conn.run(input=...): it sends no EOF for empty input, and cat would wait forever.
        proc.stdin.write(data)
        proc.stdin.write_eof()
        done = await self._within("writing a file into the remote workdir (the command's start)",
                                  CONNECT_TIMEOUT * 4, proc.wait(check=False))
        if done.exit_status == NO_WORKDIR:
            raise OverseerError(
                f"remote workdir {self.spec.workdir} cannot be entered on {self.spec.host}",
                hint="create it on the remote host (a clone of the repository), or fix `workdir:`",
            )
        if done.exit_status != 0:
            raise OverseerError(
                f"cannot write to remote workdir {self.spec.workdir} on {self.spec.host} "
                f"(exit {done.exit_status})",
                hint="check the remote user's permissions and free disk space",
            )

    async def _run(
        self,
        argv: list[str],
        env: dict[str, str],
        attempt: str,
        on_line: Callable[[str], None],
        timeout: float,
        stall_after: float,
        cancel: threading.Event | None,
        stdin_data: bytes | None,
        sync_root: Path | None = None,
        push_only: bool = False,
    ) -> ProcessOutcome:
        tag = secrets.token_hex(8)
        env_name = f".overseer-env-{tag}"
        in_name = f".overseer-stdin-{tag}" if stdin_data is not None else ""
        grace = max(1, round(self.kill_grace))
        command = shlex.join(
            ["sh", "-c", _WRAPPER, "overseer-remote", self.spec.workdir, env_name, in_name,
             str(grace), f"{ATTEMPT_ENV}={attempt}" if attempt else "", *argv]
        )
        call = _Call(env, on_line, timeout, stall_after, cancel, stdin_data, sync_root, push_only,
                     time.monotonic(), tag, command, env_name, in_name)
        try:
            opened = await connect(self.spec)
        except OverseerError as exc:
            if not is_transient(exc):
                raise  # the configuration needs fixing: trying again would fail the same way
            # The host may be back soon: an outcome the engine retries as an infrastructure
            # failure, the same as a connection lost mid-command.
            return call.infrastructure_failure(UNREACHABLE, exc)
        try:
            return await self._on(opened, call)
        except OverseerError as exc:
            if not is_transient(exc):
                raise
            return call.infrastructure_failure(SLOW, exc)

    async def _on(self, opened: asyncssh.SSHClientConnection, c: _Call) -> ProcessOutcome:
        """The command on an open connection: sync, environment, the command, the way back."""
        tail: deque[str] = deque(maxlen=200)
        last_output = time.monotonic()
        pgid: int | None = None
        async with opened as conn:
            snap = await self._push(conn, c.sync_root, c.tag) if c.sync_root is not None else None
            await self._put(conn, c.env_name, env_file_text(c.env))
            if c.stdin_data is not None:
                await self._put(conn, c.in_name, c.stdin_data)
            try:
                proc = await self._within("starting the command", CONNECT_TIMEOUT * 4,
                                          conn.create_process(c.command, encoding=None))
            except BaseException:
                # The wrapper, which deletes the env file, never started: delete it here.
                with contextlib.suppress(Exception):
                    names = " ".join(shlex.quote(n) for n in (c.env_name, c.in_name) if n)
                    await conn.run(f"cd {shlex.quote(self.spec.workdir)} && rm -f {names}")
                raise

            async def pump() -> None:
                nonlocal last_output, pgid
                while raw := await proc.stdout.readline():
                    line = raw.decode("utf-8", errors="replace").rstrip("\n")
                    last_output = time.monotonic()
                    if pgid is None and line.startswith(PGID_MARK):
                        pgid = int(line[len(PGID_MARK):])
                        continue
                    line = process_scrubber().text(line)  # before anything keeps it
                    tail.append(line)
                    c.on_line(line)

            reader = asyncio.create_task(pump())
            ended_by = "exit"
            try:
                while not reader.done():
                    await asyncio.wait({reader}, timeout=0.2)
                    if reader.done():
                        break
                    now = time.monotonic()
                    if c.cancel is not None and c.cancel.is_set():
                        ended_by = "cancelled"
                    elif now - c.start > c.timeout:
                        ended_by = "timeout"
                    elif now - last_output > c.stall_after:
                        ended_by = "stalled"
                    else:
                        continue
                    await self._stop(conn, proc, reader, pgid)
                    break
                with contextlib.suppress(asyncssh.Error, OSError, TimeoutError):
                    # Bounded: after a failed stop the channel may never deliver EOF.
                    await asyncio.wait_for(reader, timeout=self.kill_grace + 10)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait_closed(), timeout=10)
            except (asyncssh.Error, OSError):
                tail.append(LOST)
                c.on_line(LOST)
            finally:
                if not reader.done():
                    reader.cancel()
            exit_code = proc.exit_status
            if exit_code is not None and exit_code < 0:
                exit_code = None  # asyncssh's "ended by a signal": the wrapper itself was killed
            if exit_code is None and ended_by == "exit" and (not tail or tail[-1] != LOST):
                tail.append(LOST)
                c.on_line(LOST)
            if snap is not None:
                try:
                    if not c.push_only and (not tail or tail[-1] != LOST):
                        await self._pull(conn, snap, c.tag)
                except (OverseerError, asyncssh.Error, OSError, TimeoutError) as exc:
                    # The work is not in the local tree: an infrastructure failure, retried.
                    line = f"{NOT_BACK}: {getattr(exc, 'message', None) or exc}"
                    tail.append(line)
                    c.on_line(line)
                    exit_code = None
                finally:
                    ssh_sync.forget(snap)
        return ProcessOutcome(
            exit_code=exit_code, ended_by=ended_by, duration_s=time.monotonic() - c.start,
            tail=list(tail),
        )

    async def _stop(
        self,
        conn: asyncssh.SSHClientConnection,
        proc: asyncssh.SSHClientProcess[bytes],
        reader: asyncio.Task[None],
        pgid: int | None,
    ) -> None:
        """EOF on stdin wakes the remote watchdog, which kills the group with the grace period."""
        with contextlib.suppress(asyncssh.Error, OSError):
            proc.stdin.write_eof()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), timeout=self.kill_grace + 10)
            return
        # The watchdog did not finish the job (it should); kill the group from a new channel.
        if pgid is not None:
            with contextlib.suppress(asyncssh.Error, OSError):
                await conn.run(f"kill -KILL -{pgid}", check=False)
        proc.close()


def check_error(spec: SshSpec) -> OverseerError | None:
    """Can an agent run there? Connects, enters the workdir, looks for `setsid`."""

    async def probe() -> OverseerError | None:
        try:
            async with await connect(spec) as conn:
                wd = shlex.quote(spec.workdir)
                done = await conn.run(
                    f"cd {wd} || exit {NO_WORKDIR}; command -v setsid >/dev/null || exit 98",
                    check=False,
                )
        except OverseerError as exc:
            return exc
        if done.exit_status == NO_WORKDIR:
            return OverseerError(
                f"remote workdir {spec.workdir} cannot be entered on {spec.host}",
                hint="create it on the remote host, or fix `workdir:`",
            )
        if done.exit_status == 98:
            return OverseerError(
                f"`setsid` not found on {spec.host}",
                hint="install util-linux on the remote host",
            )
        if done.exit_status != 0:
            return OverseerError(f"remote check failed on {spec.host} (exit {done.exit_status})")
        return None

    return _in_thread(probe)


def check(spec: SshSpec) -> str | None:
    """None when an agent can run over this SSH transport, else what is wrong."""
    err = check_error(spec)
    return None if err is None else err.message
