"""Coding agents overseer drives: the protocol, the results, and the built-in adapters."""

from overseer.agents.base import (
    Agent,
    AgentConfig,
    AgentEvent,
    AgentResult,
    AgentStatus,
    EventKind,
    RunContext,
)
from overseer.agents.registry import agent_types, get_agent_type

__all__ = [
    "Agent",
    "AgentConfig",
    "AgentEvent",
    "AgentResult",
    "AgentStatus",
    "EventKind",
    "RunContext",
    "agent_types",
    "get_agent_type",
]
