"""Secret scrubbing for everything a report or log writes.

Two nets, because neither alone is enough: the literal values of secret-looking environment
variables (the run's own, and those its plan handed to agents) catch keys in any shape, and
patterns catch well-known key formats that were never in this process's environment (an agent
printing a key it read from a file, a person pasting one into a note)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from overseer.config import REDACTED, known_secret_values, redact_text

T = TypeVar("T")

# (pattern, replacement). Each keeps whatever names the secret and masks only the value, so a
# reader can still tell what kind of credential was there.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # OpenAI / Anthropic style keys: sk-..., sk-ant-..., sk-proj-...
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), REDACTED),
    (re.compile(r"\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}", re.I), rf"\1 {REDACTED}"),
    (
        re.compile(
            r"""((?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|client[_-]?secret|secret"""
            r"""|password|passwd|token)["']?\s*[:=]\s*["']?)[^\s"',;&}\]]{4,}""",
            re.I,
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), REDACTED),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), REDACTED),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), REDACTED),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), REDACTED),
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        f"-----BEGIN PRIVATE KEY-----{REDACTED}-----END PRIVATE KEY-----",
    ),
]


class Scrubber:
    """Masks secrets in strings and in any JSON-like structure of them."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = frozenset(secrets)

    @classmethod
    def for_run(
        cls, plan_json: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> Scrubber:
        """Secrets of this process's environment plus those the run's plan gave its agents
        (`agents.NAME.env`), which an export in another shell would otherwise not know."""
        found = set(known_secret_values(os.environ if env is None else env))
        for agent_env in _agent_envs(plan_json or {}):
            found |= known_secret_values(agent_env)
        return cls(found)

    def text(self, value: str) -> str:
        value = redact_text(value, self.secrets)
        for pattern, repl in _PATTERNS:
            value = pattern.sub(repl, value)
        return value

    def literal(self, value: str) -> str:
        """Only the known values: safe on rendered JSON/HTML, where patterns could match
        markup rather than content."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            value = value.replace(secret, REDACTED)
        return value

    def deep(self, value: T) -> T:
        return self._deep(value)

    def _deep(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self._deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._deep(v) for v in value]
        return value


def _agent_envs(plan_json: Mapping[str, Any]) -> list[Mapping[str, str]]:
    envs: list[Mapping[str, str]] = []
    plan = plan_json.get("plan") or {}
    for agent in (plan.get("agents") or {}).values():
        if isinstance(agent, Mapping) and isinstance(agent.get("env"), Mapping):
            envs.append({str(k): str(v) for k, v in agent["env"].items()})
    for task in plan_json.get("resolved_tasks") or []:
        agent = task.get("agent") if isinstance(task, Mapping) else None
        if isinstance(agent, Mapping) and isinstance(agent.get("env"), Mapping):
            envs.append({str(k): str(v) for k, v in agent["env"].items()})
    return envs
