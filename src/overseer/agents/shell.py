"""`shell`: any command as an agent. The prompt arrives in the environment; exit 0 means done."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import Field

from overseer.agents.base import AgentConfig, AgentEvent, AgentResult, AgentStatus, RunContext
from overseer.agents.process import ATTEMPT_ENV
from overseer.agents.transport import transport_for

FINAL_MESSAGE_LINES = 20
# EX_TEMPFAIL: how a wrapped command says "usage limit, try later" (docs/agents.md), with an
# optional `retry-at: <ISO 8601>` line in its output.
EXIT_RATE_LIMITED = 75
_RETRY_AT = re.compile(r"^retry-at:\s*(\S+)\s*$", re.I)


class ShellAgentConfig(AgentConfig):
    type: str = "shell"
    command: str = Field(min_length=1, description="run with bash -c in the workspace")


class ShellAgent:
    config_class: ClassVar[type[AgentConfig]] = ShellAgentConfig

    def __init__(self, config: AgentConfig) -> None:
        assert isinstance(config, ShellAgentConfig)
        self.config = config

    def run(self, ctx: RunContext) -> AgentResult:
        env = {
            **os.environ,
            **self.config.env,
            **ctx.extra_env,
            "OVERSEER_PROMPT": ctx.prompt,
            "OVERSEER_PROMPT_FILE": str(ctx.prompt_file),
            "OVERSEER_TASK_ID": ctx.task_id,
            "OVERSEER_ATTEMPT": str(ctx.attempt),
            "OVERSEER_RUN_ID": ctx.run_id,
            ATTEMPT_ENV: f"{ctx.run_id}/{ctx.task_id}/{ctx.attempt}",
        }
        outcome = transport_for(self.config.transport).run(
            ["bash", "-c", self.config.command],
            cwd=ctx.workdir,
            env=env,
            on_line=lambda line: ctx.on_event(AgentEvent(kind="text", data={"text": line})),
            timeout=self.config.timeout or ctx.timeout,
            stall_after=self.config.stall_after,
            on_spawn=ctx.on_spawn,
        )
        status: AgentStatus
        error = None
        retry_at = None
        if outcome.ended_by == "exit" and outcome.exit_code == EXIT_RATE_LIMITED:
            status, error = "rate_limited", "command reported a usage limit (exit 75)"
            retry_at = _retry_at(outcome.tail)
        elif outcome.ended_by == "exit":
            status = "completed" if outcome.exit_code == 0 else "failed"
            if status == "failed":
                error = f"command exited with {outcome.exit_code}"
        elif outcome.ended_by == "timeout":
            status, error = "timeout", f"no result within {self.config.timeout or ctx.timeout:g}s"
        elif outcome.ended_by == "stalled":
            status, error = "stalled", f"no output for {self.config.stall_after:g}s"
        else:
            status, error = "cancelled", "cancelled"
        result = AgentResult(
            status=status,
            final_message="\n".join(outcome.tail[-FINAL_MESSAGE_LINES:]),
            duration_s=outcome.duration_s,
            error=error,
            exit_code=outcome.exit_code,
            turns=1,
            retry_at=retry_at,
        )
        ctx.on_event(AgentEvent(kind="result", data={"status": status, "exit_code": outcome.exit_code}))
        return result


def _retry_at(lines: list[str]) -> datetime | None:
    for line in reversed(lines):
        m = _RETRY_AT.match(line.strip())
        if m:
            try:
                when = datetime.fromisoformat(m.group(1))
            except ValueError:
                return None
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    return None
