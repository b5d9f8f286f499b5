"""Reviewers that are installed agent CLIs (`claude-code`, `codex`), asked for a verdict in a
fresh, read-only session per review.

Each review runs overseer's own agent adapter (overseer.agents: binary lookup, environment,
process group, timeout, output parsing, secret scrubbing) with settings that cannot change
anything, measured on claude-code 2.1.330 and codex 0.169:
- claude-code: `claude -p --output-format stream-json --verbose --permission-mode dontAsk
  --tools "" --no-session-persistence --json-schema SCHEMA --system-prompt-file FILE`, the
  prompt on stdin. With `--tools ""` the model has no tool to read or write with; the CLI adds
  one of its own, `StructuredOutput`, validates its input against the schema (re-asking the
  model when it does not match) and returns it as the result's `structured_output`.
- codex: `codex exec --json --skip-git-repo-check --output-schema FILE --sandbox read-only
  PROMPT`; the schema reaches the Responses API as a strict `json_schema` text format and the
  final agent_message is the JSON.

The session's working directory is an empty temporary directory, never the workspace: the
diff is in the prompt. HOME, CLAUDE_CONFIG_DIR and CODEX_HOME live beside it, so nothing of
the user's own configuration or sessions is read or written, and all of it is removed after
the review. Authentication therefore comes from the environment or the supervisor settings
(an API key, or CLAUDE_CODE_OAUTH_TOKEN), not from a login stored in ~/.claude or ~/.codex.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ValidationError

from overseer.agents.base import AgentConfig, AgentEvent, AgentResult, RunContext
from overseer.agents.claude_code import ClaudeCodeAgent, ClaudeCodeConfig
from overseer.agents.codex import CodexAgent, CodexConfig, Price
from overseer.agents.envvars import expand
from overseer.config import SupervisorSettings
from overseer.errors import OverseerError
from overseer.supervisor.budget import estimate_tokens
from overseer.supervisor.llm import (
    ContextOverflow,
    LLMError,
    LLMUnavailable,
    Message,
    api_key,
    is_overflow_message,
    parse_json_object,
)

# Both bill per token and take a whole diff happily: a review's prompt is bounded by cost, not
# by the model's window (supervisor.context_tokens raises it).
AGENT_CLI_CONTEXT = 32_000
# codex cannot be given no tools; a reviewer has the diff in its prompt and needs none, so a
# session that keeps calling them is ended rather than left to run up the bill.
CODEX_MAX_TOOL_CALLS = 3


def _literal(value: str) -> str:
    # The adapters expand ${VAR} in these settings; a resolved path is meant as written.
    return value.replace("$", "$$")


def prompt_text(messages: list[Message]) -> tuple[str, str]:
    """(system prompt, the conversation as one prompt). The re-ask's earlier answer is quoted,
    as a one-shot CLI session has no turns to put it in."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    parts = [f"Your previous answer was:\n{m['content']}" if m["role"] == "assistant" else m["content"]
             for m in messages if m["role"] != "system"]
    return system, "\n\n".join(parts)


class AgentCLIReviewer(ABC):
    """One agent CLI as the supervisor's LLM. `spent_usd()` is what reviews in the calling
    thread have cost so far (reviews of parallel tasks run in threads of their own)."""

    kind: ClassVar[str]
    default_binary: ClassVar[str]
    install_hint: ClassVar[str]

    def __init__(self, settings: SupervisorSettings) -> None:
        self.settings = settings
        self.model = settings.model
        self.name = f"{self.kind}:{settings.model or 'default'}"
        self.context_tokens = settings.context_tokens or AGENT_CLI_CONTEXT
        self.binary = self._find_binary(settings.binary or self.default_binary)
        self._spent = threading.local()

    def _find_binary(self, configured: str) -> str:
        try:
            name = expand(configured, os.environ, where="supervisor.binary")
        except OverseerError as e:
            raise LLMUnavailable(f"{self.kind}: {e.message}") from None
        found = shutil.which(name)
        if found is None:
            raise LLMUnavailable(
                f"{self.kind}: {name!r} not found; {self.install_hint}, or set supervisor.binary to its path")
        return found

    def describe(self) -> str:
        return f"{self.binary}, model {self.model or 'the CLI default'}"

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def spent_usd(self) -> float | None:
        return getattr(self._spent, "usd", None)

    def complete_json(
        self, messages: list[Message], schema: dict[str, Any], *, max_tokens: int
    ) -> dict[str, Any]:
        # max_tokens: neither CLI has a flag for it; the schema bounds the answer instead.
        system, prompt = prompt_text(messages)
        raw: dict[str, Any] = {}

        def on_event(ev: AgentEvent) -> None:
            if ev.kind == "result" and isinstance(ev.data.get("raw"), dict):
                raw.update(ev.data["raw"])

        with tempfile.TemporaryDirectory(prefix="overseer-review-") as tmp:
            root = Path(tmp)
            work, home = root / "work", root / "home"
            work.mkdir()
            home.mkdir()
            config, extra_env, prompt = self._session(root, home, system, prompt, schema)
            ctx = RunContext(
                workdir=work, prompt=prompt, prompt_file=root / "prompt.md",
                # Unique: the process runner kills whatever carries this id when a run ends,
                # and reviews of parallel tasks must not end each other's sessions.
                run_id=f"review-{uuid.uuid4().hex[:12]}", task_id="review", attempt=1,
                timeout=self.settings.timeout, transcript=root / "transcript.jsonl",
                on_event=on_event, extra_env={"HOME": str(home), **extra_env},
            )
            result = self._agent(config).run(ctx)
        if result.cost_usd is not None:
            self._spent.usd = (self.spent_usd() or 0.0) + result.cost_usd
        if result.status != "completed":
            raise self._failure(result)
        return self._answer(result, raw)

    def _failure(self, result: AgentResult) -> LLMError:
        why = result.error or result.status
        if is_overflow_message(why):
            return ContextOverflow(f"{self.kind}: {why}")
        return LLMUnavailable(f"{self.kind}: review session {result.status}: {why}")

    @abstractmethod
    def _session(self, root: Path, home: Path, system: str, prompt: str,
                 schema: dict[str, Any]) -> tuple[AgentConfig, dict[str, str], str]:
        """(the adapter's settings, environment for the child, the prompt it is given)."""

    @abstractmethod
    def _agent(self, config: AgentConfig) -> ClaudeCodeAgent | CodexAgent: ...

    def _answer(self, result: AgentResult, raw: dict[str, Any]) -> dict[str, Any]:
        return parse_json_object(result.final_message)


class ClaudeCodeReviewer(AgentCLIReviewer):
    kind = "claude-code"
    default_binary = "claude"
    install_hint = "install it with npm install @anthropic-ai/claude-code"

    def _session(self, root: Path, home: Path, system: str, prompt: str,
                 schema: dict[str, Any]) -> tuple[AgentConfig, dict[str, str], str]:
        s = self.settings
        args = ["--tools", "", "--no-session-persistence", "--json-schema", json.dumps(schema)]
        if system:
            (root / "system.md").write_text(system)
            args += ["--system-prompt-file", _literal(str(root / "system.md"))]
        config = ClaudeCodeConfig(
            binary=_literal(self.binary), model=self.model,
            # Nothing is pre-approved, so anything that would ask is refused; with no tools
            # nothing would ask. bypassPermissions is refused as root, plan mode adds a plan file.
            permission_mode="dontAsk", args=args,
            config_dir=_literal(str(home / ".claude")), max_retries=s.max_retries,
            timeout=s.timeout, stall_after=s.timeout,
        )
        env: dict[str, str] = {}
        if s.base_url:
            env["ANTHROPIC_BASE_URL"] = s.base_url
        key = api_key(s, None)
        if key:
            env["ANTHROPIC_API_KEY"] = key
        return config, env, prompt

    def _agent(self, config: AgentConfig) -> ClaudeCodeAgent:
        return ClaudeCodeAgent(config)

    def _answer(self, result: AgentResult, raw: dict[str, Any]) -> dict[str, Any]:
        structured = raw.get("structured_output")
        if isinstance(structured, dict):
            return structured
        # The model answered in text instead of calling StructuredOutput.
        return parse_json_object(result.final_message)


class CodexReviewer(AgentCLIReviewer):
    kind = "codex"
    default_binary = "codex"
    install_hint = "install it with npm install @openai/codex"

    def __init__(self, settings: SupervisorSettings) -> None:
        super().__init__(settings)
        try:
            self.pricing = {m: Price.model_validate(p) for m, p in settings.pricing.items()}
        except ValidationError:
            raise LLMUnavailable(
                "codex: supervisor.pricing needs `input` and `output` (USD per million tokens) for "
                "each model listed") from None

    def _session(self, root: Path, home: Path, system: str, prompt: str,
                 schema: dict[str, Any]) -> tuple[AgentConfig, dict[str, str], str]:
        s = self.settings
        (root / "schema.json").write_text(json.dumps(schema))
        keys: dict[str, Any] = {"api_key_env": s.api_key_env or "OPENAI_API_KEY"}
        if s.base_url:
            keys["base_url"] = s.base_url
        config = CodexConfig(
            binary=_literal(self.binary), model=self.model, sandbox="read-only",
            args=["--output-schema", str(root / "schema.json")], max_turns=CODEX_MAX_TOOL_CALLS,
            pricing=self.pricing, timeout=s.timeout, stall_after=s.timeout, **keys,
        )
        env: dict[str, str] = {}
        if s.api_key is not None:
            env[config.api_key_env] = s.api_key.get_secret_value()
        # codex exec has no system prompt of its own to replace: the instructions lead the prompt.
        return config, env, f"{system}\n\n{prompt}" if system else prompt

    def _agent(self, config: AgentConfig) -> CodexAgent:
        return CodexAgent(config)


def agent_cli_reviewer(settings: SupervisorSettings) -> AgentCLIReviewer:
    """The reviewer for `provider: claude-code | codex`; LLMUnavailable when its CLI is missing."""
    if settings.provider == "codex":
        return CodexReviewer(settings)
    return ClaudeCodeReviewer(settings)
