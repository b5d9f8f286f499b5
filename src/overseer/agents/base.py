"""The Agent protocol and the data every agent produces (ARCHITECTURE.md: contracts)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from overseer.agents.transport import TransportSpec

AgentStatus = Literal[
    "completed", "failed", "timeout", "stalled", "rate_limited", "budget_exceeded", "cancelled"
]
EventKind = Literal[
    "text", "tool_call", "tool_result", "file_change", "usage", "rate_limit", "error", "result"
]


class AgentEvent(BaseModel):
    kind: EventKind
    ts: float = Field(default_factory=time.time)
    data: dict[str, Any] = Field(default_factory=dict)


class AgentResult(BaseModel):
    status: AgentStatus
    final_message: str = ""
    session_id: str | None = None
    turns: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    # True when cost_usd is computed from tokens and a price table rather than reported by the agent.
    cost_estimated: bool = False
    duration_s: float = 0.0
    retry_at: datetime | None = None
    error: str | None = None
    permission_denials: list[dict[str, Any]] = Field(default_factory=list)
    exit_code: int | None = None


class AgentConfig(BaseModel):
    """Keys every agent accepts; each agent type extends this with its own."""

    model_config = ConfigDict(extra="forbid")

    type: str
    env: dict[str, str] = Field(default_factory=dict)
    timeout: float | None = Field(default=None, gt=0, description="seconds; default: the task's timeout")
    stall_after: float = Field(default=600, gt=0, description="seconds without an event before the attempt is ended as stalled")
    transport: TransportSpec = Field(default="local", description="`local`, or {ssh: {host, port, user, key, known_hosts, workdir}}")


@dataclass
class RunContext:
    """What one attempt gives the agent: where to work, what to say, where to report."""

    workdir: Path
    prompt: str
    prompt_file: Path
    run_id: str
    task_id: str
    attempt: int
    timeout: float
    transcript: Path
    on_event: Callable[[AgentEvent], None] = lambda _e: None
    # Called with the agent's process-group id as soon as it exists, so a crashed
    # orchestrator can kill leftovers on resume.
    on_spawn: Callable[[int], None] = lambda _pgid: None
    session_id: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    # What a person sent with `overseer steer` since the attempt started, as a message for the
    # running session (marked delivered when taken), or None. Agents that can take a message
    # between turns of a running session call it at the end of each turn (claude-code).
    take_steers: Callable[[], str | None] | None = None


class Agent(Protocol):
    """One coding agent. Implementations are small classes registered under `overseer.agents`."""

    config_class: ClassVar[type[AgentConfig]]

    def __init__(self, config: AgentConfig) -> None: ...

    def run(self, ctx: RunContext) -> AgentResult: ...
