"""A real OpenSSH server on 127.0.0.1 for transport tests: temp host key, temp user key, its own
config; nothing of the machine's own sshd setup is used or changed."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sshd_server import SshServer

from realbin import missing

SSHD = Path(os.environ.get("OVERSEER_TEST_SSHD", "/usr/sbin/sshd"))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "overseer-test", "-f", str(path)],
        check=True, capture_output=True, timeout=30,
    )


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """`/usr/sbin/sshd -D -e` on a free 127.0.0.1 port, logging in the current user by key."""
    if not SSHD.exists():
        missing("OpenSSH server (/usr/sbin/sshd)", "apt-get install openssh-server "
                "(scripts/install-system-deps.sh does)")
    if shutil.which("ssh-keygen") is None:
        missing("ssh-keygen", "apt-get install openssh-client")
    root = tmp_path_factory.mktemp("sshd")
    host_key, user_key = root / "host_ed25519", root / "user_ed25519"
    _keygen(host_key)
    _keygen(user_key)
    authorized = root / "authorized_keys"
    authorized.write_text((root / "user_ed25519.pub").read_text())
    # sshd insists on its privilege-separation directory even with a private config.
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)

    log = root / "sshd.log"
    for _ in range(5):  # the free port can be taken between choosing and binding it
        port = _free_port()
        config = root / "sshd_config"
        config.write_text(
            f"Port {port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {host_key}\n"
            f"PidFile {root / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {authorized}\n"
            "StrictModes no\n"
            "UsePAM no\n"
            "PermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\n"
            "X11Forwarding no\n"
            "PrintMotd no\n"
            "LogLevel VERBOSE\n"
            # Debian's bash sources ~/.bashrc for `bash -c` under sshd unless SHLVL says it is
            # nested; this machine's root .bashrc runs `pyenv rehash`, which can block on a lock
            # for a minute. A remote host for agents is a clean one, so skip it.
            "SetEnv SHLVL=1\n"
        )
        with log.open("ab") as log_fh:
            proc = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)],
                stdout=log_fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None and not _listening(port):
            time.sleep(0.05)
        if proc.poll() is None and _listening(port):
            break
        proc.kill()
        proc.wait()
    else:
        pytest.fail(f"sshd did not start:\n{log.read_text(errors='replace')[-3000:]}", pytrace=False)

    known_hosts = root / "known_hosts"
    host_pub = root / "host_ed25519.pub"
    kind, blob = host_pub.read_text().split()[:2]
    known_hosts.write_text(f"[127.0.0.1]:{port} {kind} {blob}\n")
    try:
        yield SshServer(
            host="127.0.0.1", port=port, user=getpass.getuser(), key=user_key,
            known_hosts=known_hosts, host_pub=host_pub, root=root, pid=proc.pid,
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
