"""What the `sshd` fixture yields (importable by tests, unlike conftest)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from overseer.agents.ssh_spec import SshSpec


@dataclass(frozen=True)
class SshServer:
    host: str
    port: int
    user: str
    key: Path
    known_hosts: Path
    host_pub: Path
    root: Path
    pid: int

    def spec(self, workdir: Path, *, known_hosts: Path | None = None) -> SshSpec:
        return SshSpec(
            host=self.host, port=self.port, user=self.user, key=str(self.key),
            known_hosts=str(known_hosts or self.known_hosts), workdir=str(workdir),
        )
