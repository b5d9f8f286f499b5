"""`shell`: any command as an agent. The prompt arrives in the environment; exit 0 means done."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field

from overseer.agents.base import AgentConfig, AgentEvent, AgentResult, AgentStatus, RunContext
from overseer.agents.process import ATTEMPT_ENV
from overseer.agents.transport import transport_for

FINAL_MESSAGE_LINES = 20
# EX_TEMPFAIL: how a wrapped command says "usage limit, try later" (docs/agents.md), with an
# optional `retry-at: <ISO 8601>` line in its output.
EXIT_RATE_LIMITED = 75
_RETRY_AT = re.compile(r"^retry-at:\s*(\S+)\s*$", re.I)
# A line that is exactly a JSON object of these keys reports usage (docs/agents.md); a command
# that calls a model several times prints one per call, and they add up.
USAGE_KEYS = frozenset({"input_tokens", "output_tokens", "cost_usd"})


class Usage:
    """Usage reported on the command's stdout, summed."""

    def __init__(self) -> None:
        self.input_tokens = self.output_tokens = 0
        self.cost_usd: float | None = None

    def read(self, line: str) -> dict[str, Any] | None:
        """Add the usage on line if it is a usage line, and return it."""
        text = line.strip()
        if not (text.startswith("{") and text.endswith("}")):
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict) or not data or not set(data) <= USAGE_KEYS:
            return None
        tokens = [data.get(k, 0) for k in ("input_tokens", "output_tokens")]
        cost = data.get("cost_usd")
        if any(type(t) is not int or t < 0 for t in tokens) or (
                cost is not None and (type(cost) not in (int, float) or cost < 0)):
            return None
        self.input_tokens += tokens[0]
        self.output_tokens += tokens[1]
        if cost is not None:
            self.cost_usd = (self.cost_usd or 0.0) + float(cost)
        return data


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
        usage = Usage()

        def on_line(line: str) -> None:
            reported = usage.read(line)
            ctx.on_event(AgentEvent(kind="usage", data=reported) if reported is not None
                         else AgentEvent(kind="text", data={"text": line}))

        outcome = transport_for(self.config.transport).run(
            ["bash", "-c", self.config.command],
            cwd=ctx.workdir,
            env=env,
            on_line=on_line,
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
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cost_usd=usage.cost_usd,
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
