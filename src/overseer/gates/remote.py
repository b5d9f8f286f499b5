"""`where: remote`: a command gate run on the host of the task's SSH agent, in its clone,
brought to the local tree being judged first (agents/ssh_sync.py, push only: what the gate
writes there is not the task's work and never comes back). Tests are counted from the runner's
summary line, as for a local gate without JUnit."""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Mapping
from pathlib import Path

from overseer.agents.ssh_spec import SshSpec
from overseer.gates.counts import counts_from_output
from overseer.gates.result import GateResult
from overseer.plan.schema import GateSpec

TAIL_KEPT = 400  # lines of output kept to count tests from and to show


def run_remote(
    spec: GateSpec, workdir: Path, ssh: SshSpec | None, *, output_dir: Path | None,
    env: Mapping[str, str] | None, tail_lines: int,
) -> GateResult:
    if ssh is None:
        return GateResult(name=spec.name, required=spec.required, passed=False, output_tail=(
            f"[overseer] gate {spec.name} runs `where: remote`, but the task's agent has no ssh "
            "transport: give the agent `transport: {ssh: ...}`, or run the gate locally"))
    from overseer.agents.ssh import SshTransport

    assert spec.run is not None
    command = spec.run if not spec.cwd else f"cd {shlex.quote(spec.cwd)} && {spec.run}"
    full_env = {**os.environ, **spec.env, **(env or {})}
    lines: list[str] = []
    log = None
    output_file = None
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        output_file = str(output_dir / f"{spec.name}.log")
        log = open(output_file, "w")  # noqa: SIM115 - closed below, written line by line

    def on_line(line: str) -> None:
        lines.append(line)
        del lines[:-TAIL_KEPT]
        if log is not None:
            log.write(line + "\n")

    start = time.monotonic()
    try:
        outcome = SshTransport(ssh).run(
            ["bash", "-c", command], cwd=workdir, env=full_env, on_line=on_line, timeout=spec.timeout,
            stall_after=spec.timeout, push_only=True,
        )
    finally:
        if log is not None:
            log.close()
    timed_out = outcome.ended_by == "timeout"
    text = "\n".join(lines)
    notes = [f"[overseer] gate {spec.name} timed out after {spec.timeout:g}s on {ssh.host}"] if timed_out else []
    return GateResult(
        name=spec.name, required=spec.required, passed=outcome.exit_code == 0 and not timed_out,
        exit_code=outcome.exit_code, duration_s=round(time.monotonic() - start, 3),
        tests=None if timed_out else counts_from_output(text, truncated=len(lines) >= TAIL_KEPT),
        output_tail="\n".join([*lines[-tail_lines:], *notes]), output_file=output_file, timed_out=timed_out,
    )
