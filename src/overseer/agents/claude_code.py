"""`claude-code`: the Claude Code CLI, headless (`claude -p … --output-format stream-json`).

Facts this relies on were measured with claude-code 2.1.330 (../shared/AGENT-CLIS.md): success
is `is_error` in the final `result` line, not the exit code; a 500 is retried by the CLI for
over 90 s unless CLAUDE_CODE_MAX_RETRIES is low; `bypassPermissions` is refused as root unless
IS_SANDBOX=1; sessions live under CLAUDE_CONFIG_DIR (else ~/.claude) keyed by the cwd.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from overseer.agents.base import AgentConfig, AgentEvent, AgentResult, RunContext
from overseer.agents.claude_stream import ClaudeStream, combined, cost_of, usage_of, user_message
from overseer.agents.envvars import expand, expand_env
from overseer.agents.process import ATTEMPT_ENV, LiveStdin
from overseer.agents.transport import transport_for
from overseer.errors import OverseerError

PermissionMode = Literal["default", "acceptEdits", "plan", "auto", "dontAsk", "bypassPermissions"]


class ClaudeCodeConfig(AgentConfig):
    type: str = "claude-code"
    binary: str = Field(default="claude", description="the claude executable: a name on PATH or a path; may use ${VAR}")
    model: str | None = Field(default=None, description="--model")
    fallback_model: str | None = Field(default=None, description="--fallback-model")
    permission_mode: PermissionMode = Field(
        default="acceptEdits",
        description="--permission-mode; bypassPermissions also sets IS_SANDBOX=1 (required as root)")
    allowed_tools: list[str] = Field(default_factory=list, description="--allowedTools")
    disallowed_tools: list[str] = Field(default_factory=list, description="--disallowedTools")
    max_turns: int | None = Field(default=None, gt=0, description="--max-turns; reaching it fails the attempt")
    max_budget_usd: float | None = Field(default=None, gt=0, description="--max-budget-usd; reaching it ends the attempt as budget_exceeded")
    args: list[str] = Field(default_factory=list, description="extra arguments, appended as given")
    config_dir: str | None = Field(
        default=None,
        description="CLAUDE_CONFIG_DIR for the CLI (settings, sessions); may use ${VAR}, ~, {run_id} and "
        "{task_id}. Isolates runs from the user's ~/.claude; a resumed session must find the same one")
    max_retries: int = Field(
        default=1, ge=0,
        description="CLAUDE_CODE_MAX_RETRIES: the CLI's own retries of a failed API call (it retries a 500 "
        "for over 90 s by default); overseer's attempts are the retries that count")
    rate_limit_wait: float = Field(
        default=300, gt=0,
        description="seconds to park after a rate limit whose reset time the CLI did not report")


class ClaudeCodeAgent:
    config_class: ClassVar[type[AgentConfig]] = ClaudeCodeConfig

    def __init__(self, config: AgentConfig) -> None:
        assert isinstance(config, ClaudeCodeConfig)
        self.config = config

    def live(self, ctx: RunContext) -> bool:
        """Whether a person's messages can reach the running session between its turns: the
        prompt then goes in as a stream-json user message and stdin stays open (local only;
        over SSH the channel's stdin is the remote watchdog's)."""
        return ctx.take_steers is not None and self.config.transport == "local"

    def argv(self, ctx: RunContext) -> list[str]:
        c = self.config
        # The prompt goes on stdin: no argv length limit, and a prompt starting with "-" is
        # never taken for a flag.
        argv = [expand(c.binary, os.environ, where="binary"), "-p", "--output-format", "stream-json", "--verbose",
                "--permission-mode", c.permission_mode]
        if self.live(ctx):
            argv += ["--input-format", "stream-json"]
        if ctx.session_id:
            argv += ["--resume", ctx.session_id]
        for flag, value in (("--model", c.model), ("--fallback-model", c.fallback_model),
                            ("--max-turns", c.max_turns), ("--max-budget-usd", c.max_budget_usd)):
            if value is not None:
                argv += [flag, str(value)]
        if c.allowed_tools:
            argv += ["--allowedTools", ",".join(c.allowed_tools)]
        if c.disallowed_tools:
            argv += ["--disallowedTools", ",".join(c.disallowed_tools)]
        return argv + list(c.args)

    def env(self, ctx: RunContext, environ: dict[str, str] | None = None) -> dict[str, str]:
        base = dict(os.environ if environ is None else environ)
        c = self.config
        defaults = {
            "DISABLE_TELEMETRY": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "CLAUDE_CODE_MAX_RETRIES": str(c.max_retries),
        }
        if c.permission_mode == "bypassPermissions":
            defaults["IS_SANDBOX"] = "1"
        env = {**base, **defaults, **expand_env(c.env, base), **ctx.extra_env}
        if c.config_dir:
            env["CLAUDE_CONFIG_DIR"] = self.config_dir(ctx, base)
        env[ATTEMPT_ENV] = f"{ctx.run_id}/{ctx.task_id}/{ctx.attempt}"
        return env

    def config_dir(self, ctx: RunContext, environ: dict[str, str]) -> str:
        assert self.config.config_dir
        raw = expand(self.config.config_dir, environ, where="config_dir")
        raw = raw.replace("{run_id}", ctx.run_id).replace("{task_id}", ctx.task_id)
        path = Path(raw).expanduser()
        if not path.is_absolute():
            raise OverseerError(
                f"claude-code config_dir must be an absolute path, not {raw!r}",
                hint="e.g. config_dir: ~/.cache/overseer/claude/{run_id}; inside the repository it would be committed")
        return str(path)

    def run(self, ctx: RunContext) -> AgentResult:
        c = self.config
        timeout = c.timeout or ctx.timeout
        stream = ClaudeStream()
        try:
            argv, env = self.argv(ctx), self.env(ctx)
        except OverseerError as exc:
            return self._finish(ctx, None, AgentResult(status="failed", error="; ".join(filter(None, [exc.message, exc.hint]))))

        stdin: bytes | LiveStdin = ctx.prompt.encode()
        if self.live(ctx):
            stdin = LiveStdin(user_message(ctx.prompt))

        def on_line(line: str) -> None:
            turns = len(stream.results)
            for ev in stream.feed(line):
                ctx.on_event(ev)
            if isinstance(stdin, LiveStdin) and len(stream.results) > turns:
                # A turn ended. A person's message that came meanwhile starts the next turn of
                # the same session; without one, EOF lets the CLI finish.
                steer = ctx.take_steers() if ctx.take_steers and stream.results[-1].get("subtype") == "success" else None
                if steer:
                    ctx.on_event(AgentEvent(kind="text", data={
                        "text": "overseer: a person's message goes into the session", "stream": "overseer"}))
                    stdin.write(user_message(steer))
                else:
                    stdin.close()

        try:
            outcome = transport_for(c.transport).run(
                argv, cwd=ctx.workdir, env=env, on_line=on_line, timeout=timeout,
                stall_after=c.stall_after, on_spawn=ctx.on_spawn, stdin_data=stdin,
            )
        except FileNotFoundError:
            return self._finish(ctx, None, AgentResult(
                status="failed",
                error=f"claude-code binary {c.binary!r} not found; install @anthropic-ai/claude-code "
                "or set the agent's `binary` key"))
        ending = stream.outcome(outcome.ended_by, outcome.exit_code, now=datetime.now(UTC),
                                rate_limit_wait=c.rate_limit_wait, tail=outcome.tail)
        error = ending.error
        if ending.status == "timeout":
            error = f"no result within {timeout:g}s"
        elif ending.status == "stalled":
            error = f"no output for {c.stall_after:g}s"
        elif ending.status == "cancelled":
            error = "cancelled"
        r = combined(stream.results)
        tokens = usage_of(r)
        return self._finish(ctx, stream.result, AgentResult(
            status=ending.status,
            final_message=r.get("result") or stream.last_text,
            # A resumed run that died before saying anything is still in the session it resumed.
            session_id=stream.session_id or ctx.session_id,
            turns=int(r.get("num_turns") or 0),
            input_tokens=tokens["input_tokens"],
            output_tokens=tokens["output_tokens"],
            cost_usd=cost_of(r) if r else None,
            duration_s=outcome.duration_s,
            retry_at=ending.retry_at,
            error=error,
            permission_denials=list(r.get("permission_denials") or []),
            exit_code=outcome.exit_code,
        ))

    @staticmethod
    def _finish(ctx: RunContext, raw: dict[str, Any] | None, result: AgentResult) -> AgentResult:
        ctx.on_event(AgentEvent(kind="result", data={
            "status": result.status, "error": result.error, "session_id": result.session_id,
            "retry_at": result.retry_at.isoformat() if result.retry_at else None, "raw": raw}))
        return result
