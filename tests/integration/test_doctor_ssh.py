"""`overseer doctor` rows for an agent whose transport is SSH, against the real sshd fixture."""

from __future__ import annotations

from pathlib import Path

import pytest
from sshd_server import SshServer

from overseer.cli.doctor_cmd import run_checks

pytestmark = pytest.mark.real


def _plan(tmp_path: Path, ssh: dict[str, object], command: str) -> Path:
    import json

    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "version: 1\nname: remote\n"
        f"agents:\n  far:\n    type: shell\n    command: {command}\n"
        f"    transport: {{ssh: {json.dumps(ssh)}}}\n"
        "tasks:\n  - id: one\n    prompt: do it\n    agent: far\n"
    )
    return plan


def test_remote_command_found_over_ssh(sshd: SshServer, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    spec = sshd.spec(remote).model_dump()
    rows = {c.name: c for c in run_checks(_plan(tmp_path, spec, "sh -c true"), tmp_path)}
    assert rows["agent far (shell) transport"].status == "ok"
    assert rows["agent far (shell)"].status == "ok"
    assert f"ssh {sshd.user}@127.0.0.1:{sshd.port}:{remote}" in rows["agent far (shell)"].detail

    missing = {c.name: c for c in run_checks(_plan(tmp_path, spec, "no-such-tool-xyz"), tmp_path)}
    row = missing["agent far (shell)"]
    assert row.status == "problem" and "no-such-tool-xyz not found (ssh " in row.detail


def test_unreachable_or_untrusted_host_is_a_problem(sshd: SshServer, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    spec = sshd.spec(tmp_path, known_hosts=empty).model_dump()
    rows = {c.name: c for c in run_checks(_plan(tmp_path, spec, "sh -c true"), tmp_path)}
    row = rows["agent far (shell) transport"]
    assert row.status == "problem" and "is not in known_hosts" in row.detail
    assert "ssh-keyscan" in row.fix
    assert "agent far (shell)" not in rows  # no binary check through a host we cannot trust
