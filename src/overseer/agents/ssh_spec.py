"""Where an SSH agent runs: the settings of `transport: {ssh: ...}`. Apart from the transport
that uses them (agents/ssh.py), so the settings can be read (plans, gates, the engine's task
spec) without the transport, and the transport needs nothing of `transport.py`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SshSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str
    port: int = Field(default=22, ge=1, le=65535)
    user: str | None = None
    key: str | None = Field(default=None, description="private key file")
    known_hosts: str | None = Field(default=None, description="known_hosts file; default ~/.ssh/known_hosts")
    workdir: str = Field(description="the workspace on the remote host: a clone of the repository")
    sync: bool = Field(default=True, description=(
        "bring the remote clone to each attempt's tree before it and its changes back after it "
        "(agents/ssh_sync.py); false only where both hosts share the workspace's disk"))


class SshTransportSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ssh: SshSpec


__all__ = ["SshSpec", "SshTransportSpec"]
