"""Why an SSH connection failed, said so a user can fix it (never a traceback)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import asyncssh

from overseer.agents.ssh_spec import SshSpec
from overseer.errors import OverseerError

# Marks a failure to reach the host (refused, timed out, network down) as opposed to one that
# needs a change of configuration (host key, login, key file): a run may wait and try again.
TRANSIENT = {"transient": True}


def is_transient(err: OverseerError) -> bool:
    return bool(err.context.get("transient"))


def _where(spec: SshSpec) -> str:
    return f"{spec.host}:{spec.port}"


def _known_hosts_name(spec: SshSpec) -> str:
    # How OpenSSH writes a host in known_hosts: bare on port 22, [host]:port otherwise.
    return spec.host if spec.port == 22 else f"[{spec.host}]:{spec.port}"


async def _offered_fingerprint(spec: SshSpec) -> str:
    """The fingerprint the server presents, so the user can compare it out of band."""
    try:
        key = await asyncio.wait_for(
            asyncssh.get_server_host_key(spec.host, spec.port, config=None), timeout=10
        )
    except (asyncssh.Error, OSError, TimeoutError):
        return ""
    return f"; the server offered {key.get_fingerprint()}" if key is not None else ""


async def host_key_error(spec: SshSpec, kh_path: Path, known: asyncssh.SSHKnownHosts) -> OverseerError:
    try:
        addr = socket.gethostbyname(spec.host)
    except OSError:
        addr = spec.host
    host_keys, ca_keys, *_ = known.match(spec.host, addr, spec.port)
    offered = await _offered_fingerprint(spec)
    name = _known_hosts_name(spec)
    if host_keys or ca_keys:
        return OverseerError(
            f"host key for {_where(spec)} does not match known_hosts ({kh_path}){offered}",
            hint="if the host was re-keyed on purpose, check the new fingerprint out of band, then "
            f"`ssh-keygen -R '{name}' -f {kh_path}` and add the new key; otherwise someone may be "
            "intercepting the connection",
            context={"host": spec.host, "port": spec.port},
        )
    return OverseerError(
        f"host key for {_where(spec)} is not in known_hosts ({kh_path}){offered}",
        hint=f"check the fingerprint, then add it: `ssh-keyscan -p {spec.port} {spec.host} >> "
        f"{kh_path}` (or set `known_hosts:` to a file that has it)",
        context={"host": spec.host, "port": spec.port},
    )


async def connect_error(
    spec: SshSpec, login: str, kh_path: Path, known: asyncssh.SSHKnownHosts, exc: BaseException
) -> OverseerError:
    where = _where(spec)
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return await host_key_error(spec, kh_path, known)
    if isinstance(exc, asyncssh.DisconnectError) and "host key" in str(exc).lower():
        # e.g. known_hosts holds only an RSA key and the server offers none.
        return await host_key_error(spec, kh_path, known)
    if isinstance(exc, asyncssh.PermissionDenied):
        return OverseerError(
            f"ssh authentication failed for {login}@{where}",
            hint="check `user:` and `key:` (its public half must be in the remote "
            "authorized_keys), or load the key into ssh-agent",
        )
    if isinstance(exc, asyncssh.KeyEncryptionError | asyncssh.KeyImportError):
        return OverseerError(
            f"cannot use ssh key {spec.key}: {exc}",
            hint="use an unencrypted key file, or leave `key:` out and load the key into ssh-agent",
        )
    if isinstance(exc, ConnectionRefusedError):
        return OverseerError(
            f"cannot connect to {where}: connection refused",
            hint="is sshd running there, and is `port:` right?", context=dict(TRANSIENT),
        )
    if isinstance(exc, socket.gaierror):
        return OverseerError(
            f"cannot resolve ssh host {spec.host!r}: {exc.strerror or exc}",
            hint="check `host:` in the agent's transport",
        )
    if isinstance(exc, TimeoutError | asyncssh.TimeoutError):
        return OverseerError(
            f"timed out connecting to {where}",
            hint="check that the host is up and that no firewall drops the port", context=dict(TRANSIENT),
        )
    if isinstance(exc, OSError):
        return OverseerError(
            f"cannot connect to {where}: {exc.strerror or exc}",
            hint="check `host:` and `port:` in the agent's transport", context=dict(TRANSIENT),
        )
    if isinstance(exc, asyncssh.Error):
        return OverseerError(
            f"ssh connection to {where} failed: {exc.reason or exc}",
            hint=f"try `ssh -p {spec.port} {login}@{spec.host}` by hand to see the server's side",
        )
    return OverseerError(f"ssh connection to {where} failed: {type(exc).__name__}: {exc}")
