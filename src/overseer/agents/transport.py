"""Where an agent's process runs: here (`local`) or on another host over SSH (`ssh`).

Adapters build an argv and call `transport.run(...)`; limits, streaming and kill semantics
are the transport's job, so every adapter gets them the same way on every host.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol

from overseer.agents.process import LiveStdin, ProcessOutcome, run_process
from overseer.agents.ssh_spec import SshTransportSpec

TransportSpec = Literal["local"] | SshTransportSpec


class Transport(Protocol):
    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        on_line: Callable[[str], None],
        timeout: float,
        stall_after: float,
        on_spawn: Callable[[int], None] = ...,
        cancel: threading.Event | None = None,
        stdin_data: bytes | LiveStdin | None = None,
    ) -> ProcessOutcome: ...

    def describe(self) -> str: ...


class LocalTransport:
    # Bound, not wrapped: a wrapper would restate run_process's signature and could drift from
    # it. mypy checks run_process against `Transport.run` where transport_for returns this.
    run = staticmethod(run_process)

    def describe(self) -> str:
        return "local"


def transport_for(spec: TransportSpec) -> Transport:
    if spec == "local":
        return LocalTransport()
    from overseer.agents.ssh import SshTransport  # asyncssh is only needed when used

    assert isinstance(spec, SshTransportSpec)
    return SshTransport(spec.ssh)
