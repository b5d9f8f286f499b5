"""`aider`: one instruction through `aider --message`, result read from the working tree.

Aider has no machine-readable output and exits 0 whatever happened, so this adapter reads its
terminal lines: "Applied edit to X" (file changes), "Tokens: … sent, … received. Cost: …"
(usage), "litellm.<Kind>Error: …" (API errors) and "Retrying in …" (its own retry loop).
What it did to the tree is then checked with git in the workdir.

Measured on aider 0.86.2 (see docs/agents.md): a 400 is printed and aider exits 0; 5xx and 429
are retried by aider itself with doubling delays for about a minute. A usage limit should park
the task, not burn that minute, so a rate limit ends the attempt at once, and other retried
errors end it after `max_api_retries`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from overseer.agents.base import AgentConfig, AgentEvent, AgentResult, AgentStatus, RunContext
from overseer.agents.envvars import expand_env
from overseer.agents.process import ATTEMPT_ENV
from overseer.agents.retry_hint import retry_at_from_text
from overseer.agents.transport import transport_for
from overseer.errors import OverseerError

FINAL_MESSAGE_LINES = 30
# Aider writes its repo-map cache into the repository root; it is not the task's work.
TAGS_CACHE_PREFIX = ".aider.tags.cache.v"
# Which variable litellm reads the key from, by the model's provider prefix.
KEY_VARS = {
    "openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY", "openrouter": "OPENROUTER_API_KEY", "groq": "GROQ_API_KEY",
    "mistral": "MISTRAL_API_KEY", "xai": "XAI_API_KEY",
}

_TOKENS = re.compile(r"^Tokens: (?P<sent>[\d.]+[kM]?) sent,(?:.*?) (?P<recv>[\d.]+[kM]?) received\.")
_COST = re.compile(r"Cost: \$(?P<msg>[\d.]+) message(?:, \$(?P<session>[\d.]+) session)?")
_API_ERROR = re.compile(r"^litellm\.(?P<kind>[A-Za-z]+(?:Error|Timeout))\b:?\s*(?P<msg>.*)$")
_RETRYING = re.compile(r"^Retrying in [\d.]+ seconds")
_APPLIED = re.compile(r"^Applied edit to (?P<path>.+?)\s*$")
# With --yes-always the question is answered without being printed; only the chat history
# file records it: "> Run shell command? (Y)es/(N)o/(D)on't ask again [Yes]: n".
_SHELL_ANSWER = re.compile(r"^> Run shell commands?\? .*: (?P<answer>\w)\s*$")


def parse_count(text: str) -> int:
    """Aider prints token counts rounded: 980, 1.2k, 15k, 1.3M."""
    scale = {"k": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return round(float(text.rstrip("kM")) * scale)


class AiderConfig(AgentConfig):
    type: str = "aider"
    binary: str = "aider"
    model: str | None = Field(default=None, description="litellm model name, e.g. openai/NAME")
    base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint (--openai-api-base)")
    api_key_env: str | None = Field(
        default=None, description="variable in overseer's environment holding the API key; passed to aider "
        "as the provider's key variable (OPENAI_API_KEY for openai/…), never on the command line")
    files: list[str] = Field(default_factory=list, description="files added to the chat")
    edit_format: str | None = Field(default=None, description="--edit-format; default: aider's choice for the model")
    map_tokens: int | None = Field(default=None, ge=0, description="--map-tokens; 0 turns the repo map off")
    context_window: int = Field(default=128_000, gt=0, description="written to aider's model metadata")
    input_cost_per_mtok: float | None = Field(default=None, ge=0, description="USD per million input tokens")
    output_cost_per_mtok: float | None = Field(default=None, ge=0, description="USD per million output tokens")
    write_model_metadata: bool = Field(
        default=True, description="give aider metadata for `model` so it does not download litellm's price list; "
        "turn off to use aider's built-in data for a model it knows")
    max_api_retries: int = Field(default=2, ge=0, description="aider's own retries of a 5xx before the attempt ends")
    args: list[str] = Field(default_factory=list, description="extra aider arguments, appended")


class AiderAgent:
    config_class: ClassVar[type[AgentConfig]] = AiderConfig

    def __init__(self, config: AgentConfig) -> None:
        assert isinstance(config, AiderConfig)
        self.config = config

    def _state_dir(self, ctx: RunContext) -> str:
        """Where aider's history files go: the attempt dir, relative to the workdir when inside it
        (so the same path works on a remote host, where the wrapper creates it)."""
        d = ctx.transcript.parent
        try:
            return str(d.resolve().relative_to(ctx.workdir.resolve()))
        except ValueError:
            return str(d)

    def _env(self, ctx: RunContext) -> dict[str, str]:
        c = self.config
        env = {**os.environ, **expand_env(c.env, os.environ), **ctx.extra_env}
        provider = c.model.split("/", 1)[0] if c.model and "/" in c.model else "openai"
        key_var = KEY_VARS.get(provider, "OPENAI_API_KEY")
        if c.api_key_env:
            if c.api_key_env not in os.environ:
                raise OverseerError(
                    f"aider: api_key_env names {c.api_key_env}, which is not set in overseer's environment",
                    hint=f"export {c.api_key_env}=… before running overseer",
                )
            env[key_var] = os.environ[c.api_key_env]
        elif c.base_url and not env.get(key_var):
            # Local OpenAI-compatible servers need no key, but the client refuses to start without one.
            env[key_var] = "overseer-no-key"
        env.update({
            # Rich wraps at 80 columns without a terminal; one message per line keeps parsing sane.
            "COLUMNS": env.get("COLUMNS", "4000"),
            "NO_COLOR": "1",
            "PYTHONUNBUFFERED": "1",
            ATTEMPT_ENV: f"{ctx.run_id}/{ctx.task_id}/{ctx.attempt}",
        })
        return env

    def _metadata_file(self, ctx: RunContext) -> Path | None:
        c = self.config
        # Written here, read by aider: only where both share a filesystem.
        if not (c.model and c.write_model_metadata) or c.transport != "local":
            return None
        info: dict[str, object] = {
            "max_input_tokens": c.context_window, "max_tokens": c.context_window,
            "max_output_tokens": min(c.context_window, 32_000), "mode": "chat",
            "litellm_provider": c.model.split("/", 1)[0] if "/" in c.model else "openai",
            "input_cost_per_token": (c.input_cost_per_mtok or 0) / 1e6,
            "output_cost_per_token": (c.output_cost_per_mtok or 0) / 1e6,
        }
        path = ctx.transcript.parent / "aider.model-metadata.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({c.model: info}, indent=2))
        return path

    def argv(self, ctx: RunContext, state_dir: str, history: str, resume: bool, metadata: Path | None) -> list[str]:
        c = self.config
        argv = [
            c.binary, "--message", ctx.prompt,
            "--yes-always", "--no-stream", "--no-auto-commits", "--no-dirty-commits",
            "--no-check-update", "--no-show-release-notes", "--no-show-model-warnings",
            "--analytics-disable", "--no-gitignore", "--no-pretty", "--no-fancy-input",
            "--no-detect-urls", "--no-notifications",
            "--chat-history-file", history,
            "--input-history-file", f"{state_dir}/aider.input.history",
            "--llm-history-file", f"{state_dir}/aider.llm.history",
            "--restore-chat-history" if resume else "--no-restore-chat-history",
        ]
        if c.model:
            argv += ["--model", c.model]
        if c.base_url:
            argv += ["--openai-api-base", c.base_url]
        if c.edit_format:
            argv += ["--edit-format", c.edit_format]
        if c.map_tokens is not None:
            argv += ["--map-tokens", str(c.map_tokens)]
        if metadata is not None:
            argv += ["--model-metadata-file", str(metadata)]
        return argv + list(c.args) + list(c.files)

    def run(self, ctx: RunContext) -> AgentResult:
        c = self.config
        state_dir = self._state_dir(ctx)
        # The session is aider's chat-history file: resuming restores the chat from it.
        resume = bool(ctx.session_id) and (c.transport != "local" or (ctx.workdir / str(ctx.session_id)).exists())
        history = str(ctx.session_id) if resume else f"{state_dir}/aider.chat.history.md"
        tags_before = {p.name for p in ctx.workdir.glob(TAGS_CACHE_PREFIX + "*")}
        history_path = ctx.workdir / history
        history_size = history_path.stat().st_size if history_path.exists() else 0
        argv = self.argv(ctx, state_dir, history, resume, self._metadata_file(ctx))
        timeout = c.timeout or ctx.timeout
        transport = transport_for(c.transport)
        stop = threading.Event()
        st = _Scan(c.max_api_retries, stop, ctx)
        outcome = transport.run(
            # aider needs its history directory to exist; this also holds on a remote host.
            ["sh", "-c", 'mkdir -p "$1" && shift && exec "$@"', "sh", state_dir, *argv],
            cwd=ctx.workdir, env=self._env(ctx), on_line=st.line, timeout=timeout,
            stall_after=c.stall_after, on_spawn=ctx.on_spawn, cancel=stop,
        )
        if c.transport == "local":
            for p in ctx.workdir.glob(TAGS_CACHE_PREFIX + "*"):
                if p.name not in tags_before:
                    shutil.rmtree(p, ignore_errors=True)
            for commands, answer in shell_suggestions(_read_from(history_path, history_size)):
                # Aider never runs a suggested command under --yes-always (it needs an explicit yes).
                ctx.on_event(AgentEvent(kind="tool_call", data={
                    "tool": "shell", "commands": commands, "executed": answer == "y", "source": "aider suggestion"}))
        tree = self._tree_summary(ctx) if c.transport == "local" else ""
        status: AgentStatus
        error: str | None = None
        retry_at = None
        if outcome.ended_by in ("exit", "cancelled") and st.stop_reason:
            status, error = ("rate_limited" if st.rate_limited else "failed"), st.stop_reason
            retry_at = st.retry_at
        elif outcome.ended_by == "exit":
            if st.pending_error:
                status, error = "failed", st.pending_error
            elif outcome.exit_code != 0:
                status, error = "failed", f"aider exited with {outcome.exit_code}"
            else:
                status = "completed"
        elif outcome.ended_by == "timeout":
            status, error = "timeout", f"no result within {timeout:g}s"
        elif outcome.ended_by == "stalled":
            status, error = "stalled", f"no output for {c.stall_after:g}s"
        else:
            status, error = "cancelled", "cancelled"
        if status == "rate_limited":
            ctx.on_event(AgentEvent(kind="rate_limit", data={
                "message": st.stop_reason, "retry_at": retry_at.isoformat() if retry_at else None}))
        edited = sorted(dict.fromkeys(st.applied))
        note = (f"aider applied edits to: {', '.join(edited)}" if edited else "aider applied no edits")
        if tree:
            note += f"\nworking tree (git status --porcelain):\n{tree}"
        elif c.transport == "local":
            note += "\nworking tree: no changes against HEAD"
        final = "\n".join(outcome.tail[-FINAL_MESSAGE_LINES:]).strip()
        result = AgentResult(
            status=status,
            final_message=f"{final}\n\n{note}" if final else note,
            session_id=history,
            turns=st.calls,
            input_tokens=st.input_tokens,
            output_tokens=st.output_tokens,
            cost_usd=st.cost(),
            duration_s=outcome.duration_s,
            retry_at=retry_at,
            error=error,
            exit_code=outcome.exit_code,
        )
        ctx.on_event(AgentEvent(kind="result", data={
            "status": status, "exit_code": outcome.exit_code, "files_edited": edited,
            "input_tokens": st.input_tokens, "output_tokens": st.output_tokens, "cost_usd": result.cost_usd}))
        return result

    @staticmethod
    def _tree_summary(ctx: RunContext) -> str:
        import subprocess

        try:
            out = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=all"], cwd=ctx.workdir,
                capture_output=True, text=True, timeout=30, check=False,
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return ""
        lines = [ln for ln in out.splitlines() if ".overseer/" not in ln]
        return "\n".join(lines)


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def shell_suggestions(history: str) -> list[tuple[list[str], str]]:
    """(commands, answer) for each shell-command question in a chat-history excerpt."""
    found: list[tuple[list[str], str]] = []
    quoted: list[str] = []
    for raw in history.splitlines():
        line = raw.rstrip()
        if m := _SHELL_ANSWER.match(line):
            found.append((quoted, m["answer"].lower()))
            quoted = []
        elif line.startswith("> ") and not line.startswith("> Tokens:"):
            quoted.append(line[2:].strip())
        else:
            quoted = []
    return found


class _Scan:
    """Reads aider's output as it streams: events out, and the decision to stop it early."""

    def __init__(self, max_retries: int, stop: threading.Event, ctx: RunContext) -> None:
        self.max_retries = max_retries
        self.stop = stop
        self.ctx = ctx
        self.input_tokens = self.output_tokens = self.calls = self.retries = 0
        self.message_costs: list[float] = []
        self.session_cost: float | None = None
        self.applied: list[str] = []
        self.pending_error: str | None = None
        self.stop_reason: str | None = None
        self.rate_limited = False
        self.retry_at: datetime | None = None

    def cost(self) -> float | None:
        if self.session_cost is not None:
            return self.session_cost
        return sum(self.message_costs) if self.message_costs else None

    def line(self, line: str) -> None:
        emit = self.ctx.on_event
        text = line.rstrip()
        emit(AgentEvent(kind="text", data={"text": text}))
        if m := _TOKENS.match(text):
            self.calls += 1
            sent, recv = parse_count(m["sent"]), parse_count(m["recv"])
            self.input_tokens += sent
            self.output_tokens += recv
            data: dict[str, object] = {"input_tokens": sent, "output_tokens": recv}
            if c := _COST.search(text):
                self.message_costs.append(float(c["msg"]))
                if c["session"]:
                    self.session_cost = float(c["session"])
                data["cost_usd"] = float(c["msg"])
            emit(AgentEvent(kind="usage", data=data))
            self.pending_error = None  # a later successful call supersedes an earlier error
        elif m := _APPLIED.match(text):
            self.applied.append(m["path"])
            emit(AgentEvent(kind="file_change", data={"path": m["path"], "source": "aider"}))
        elif m := _API_ERROR.match(text):
            kind, msg = m["kind"], m["msg"]
            self.pending_error = f"{kind}: {msg}"
            emit(AgentEvent(kind="error", data={"kind": kind, "message": msg}))
            if kind == "RateLimitError" and not self.stop.is_set():
                self.rate_limited = True
                self.retry_at = retry_at_from_text(msg)
                self._stop(f"rate limited: {msg}")
        elif _RETRYING.match(text):
            self.retries += 1
            if self.retries > self.max_retries and not self.stop.is_set():
                self._stop(f"{self.pending_error or 'API error'} (still failing after {self.max_retries} retries)")

    def _stop(self, reason: str) -> None:
        self.stop_reason = reason
        self.stop.set()
