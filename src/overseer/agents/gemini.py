"""`gemini`: Gemini CLI headless, `gemini -p PROMPT --output-format stream-json`.

Each task gets its own Gemini home (`GEMINI_CLI_HOME`) with a settings file written by
overseer, so nothing of the machine user's ~/.gemini (auth, extensions, MCP servers, policies)
leaks in, and sessions from earlier attempts of the task can be resumed by id.

Measured on Gemini CLI 0.61.0 (see docs/agents.md):
- `GOOGLE_GEMINI_BASE_URL` moves the endpoint, but on its own it selects the "gateway" auth
  type, which headless mode then rejects ("Invalid auth method selected", exit 41); the
  settings must select `gemini-api-key`.
- An untrusted folder silently downgrades `--approval-mode yolo` to `default`; `--skip-trust`.
- API errors exit with the HTTP status as the exit code (400 → 144, i.e. 400 mod 256), so
  the `result` event, not the exit code, says what happened.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field

from overseer.agents.base import AgentConfig, AgentEvent, AgentResult, AgentStatus, RunContext
from overseer.agents.envvars import expand_env
from overseer.agents.process import ATTEMPT_ENV
from overseer.agents.retry_hint import retry_at_from_text
from overseer.agents.transport import transport_for
from overseer.errors import OverseerError

EXIT_TURN_LIMIT = 53
EXIT_BAD_INPUT = 42
EXIT_AUTH = 41
FINAL_MESSAGE_LIMIT = 8000
SETTINGS_ENV = "OVERSEER_GEMINI_SETTINGS"
# Makes the per-task home and tmp dirs absolute, writes the settings, then becomes gemini.
_WRAPPER = r"""
case "$GEMINI_CLI_HOME" in /*) ;; *) GEMINI_CLI_HOME="$PWD/$GEMINI_CLI_HOME" ;; esac
TMPDIR="$GEMINI_CLI_HOME/tmp"
export GEMINI_CLI_HOME TMPDIR
mkdir -p "$GEMINI_CLI_HOME/.gemini" "$TMPDIR" || exit 1
printf '%s' "$OVERSEER_GEMINI_SETTINGS" > "$GEMINI_CLI_HOME/.gemini/settings.json" || exit 1
unset OVERSEER_GEMINI_SETTINGS
exec "$@"
"""


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class GeminiConfig(AgentConfig):
    type: str = "gemini"
    binary: str = "gemini"
    model: str | None = Field(default=None, description="-m; default: the CLI's auto routing")
    approval_mode: Literal["default", "auto_edit", "yolo", "plan"] = "yolo"
    base_url: str | None = Field(default=None, description="Gemini API endpoint (GOOGLE_GEMINI_BASE_URL)")
    api_key_env: str | None = Field(
        default=None, description="variable in overseer's environment holding the key; passed as GEMINI_API_KEY")
    max_turns: int | None = Field(default=None, gt=0, description="settings model.maxSessionTurns; exit 53 when hit")
    max_attempts: int | None = Field(default=None, ge=1, le=10,
                                     description="settings general.maxAttempts: the CLI's own API retries")
    settings: dict[str, Any] = Field(default_factory=dict, description="merged into the generated settings.json")
    home_dir: str | None = Field(default=None, description="GEMINI_CLI_HOME; default: per task under .overseer/")
    args: list[str] = Field(default_factory=list, description="extra gemini arguments, appended")


class GeminiAgent:
    config_class: ClassVar[type[AgentConfig]] = GeminiConfig

    def __init__(self, config: AgentConfig) -> None:
        assert isinstance(config, GeminiConfig)
        self.config = config

    def settings(self) -> dict[str, Any]:
        c = self.config
        s: dict[str, Any] = {
            "security": {"auth": {"selectedType": "gemini-api-key"}},
            "privacy": {"usageStatisticsEnabled": False},
            "telemetry": {"enabled": False},
            "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
        }
        if c.max_attempts is not None:
            s["general"]["maxAttempts"] = c.max_attempts
        if c.max_turns is not None:
            s["model"] = {"maxSessionTurns": c.max_turns}
        return _merge(s, c.settings)

    def _home(self, ctx: RunContext) -> str:
        if self.config.home_dir:
            return self.config.home_dir
        # Per task, not per attempt: a later attempt resumes a session stored here.
        d = ctx.transcript.parent.parent / "gemini-home"
        try:
            return str(d.resolve().relative_to(ctx.workdir.resolve()))
        except ValueError:
            return str(d)

    def _env(self, ctx: RunContext) -> dict[str, str]:
        c = self.config
        env = {**os.environ, **expand_env(c.env, os.environ), **ctx.extra_env}
        if c.api_key_env:
            if c.api_key_env not in os.environ:
                raise OverseerError(
                    f"gemini: api_key_env names {c.api_key_env}, which is not set in overseer's environment",
                    hint=f"export {c.api_key_env}=… before running overseer",
                )
            env["GEMINI_API_KEY"] = os.environ[c.api_key_env]
            env.pop("GOOGLE_API_KEY", None)  # the CLI prefers it over GEMINI_API_KEY
        elif c.base_url and not env.get("GEMINI_API_KEY"):
            env["GEMINI_API_KEY"] = "overseer-no-key"
        if c.base_url:
            env["GOOGLE_GEMINI_BASE_URL"] = c.base_url
        env.setdefault("GEMINI_CLI_NO_RELAUNCH", "1")  # one node process, not two: faster start
        env.update({
            "GEMINI_CLI_HOME": self._home(ctx),
            SETTINGS_ENV: json.dumps(self.settings()),
            ATTEMPT_ENV: f"{ctx.run_id}/{ctx.task_id}/{ctx.attempt}",
        })
        return env

    def argv(self, ctx: RunContext) -> list[str]:
        c = self.config
        argv = [c.binary, "-p", ctx.prompt, "--output-format", "stream-json",
                f"--approval-mode={c.approval_mode}", "--skip-trust"]
        if c.model:
            argv += ["-m", c.model]
        if ctx.session_id:
            argv += ["--resume", ctx.session_id]
        return argv + list(c.args)

    def run(self, ctx: RunContext) -> AgentResult:
        c = self.config
        timeout = c.timeout or ctx.timeout
        scan = _Stream(ctx)
        outcome = transport_for(c.transport).run(
            ["sh", "-c", _WRAPPER, "sh", *self.argv(ctx)],
            cwd=ctx.workdir, env=self._env(ctx), on_line=scan.line, timeout=timeout,
            stall_after=c.stall_after, on_spawn=ctx.on_spawn,
        )
        status: AgentStatus
        error: str | None = None
        retry_at: datetime | None = None
        res = scan.result
        if outcome.ended_by == "timeout":
            status, error = "timeout", f"no result within {timeout:g}s"
        elif outcome.ended_by == "stalled":
            status, error = "stalled", f"no output for {c.stall_after:g}s"
        elif outcome.ended_by == "cancelled":
            status, error = "cancelled", "cancelled"
        elif res is not None and res.get("status") == "success":
            status = "completed"
        else:
            err = (res or {}).get("error") or {}
            message = str(err.get("message") or scan.last_error or "") or "\n".join(outcome.tail[-5:])
            status, error = "failed", message
            if outcome.exit_code == EXIT_TURN_LIMIT:
                error = f"turn limit reached (max_turns={c.max_turns}): {message}"
            elif outcome.exit_code in (EXIT_BAD_INPUT, EXIT_AUTH) and res is None:
                error = f"gemini exited with {outcome.exit_code}: {message}"
            elif _is_quota(err, message):
                status = "rate_limited"
                retry_at = retry_at_from_text(message) or _retry_delay(message)
                ctx.on_event(AgentEvent(kind="rate_limit", data={
                    "message": message, "retry_at": retry_at.isoformat() if retry_at else None}))
        stats = (res or {}).get("stats") or {}
        result = AgentResult(
            status=status,
            final_message="".join(scan.assistant_text)[-FINAL_MESSAGE_LIMIT:] or (error or ""),
            session_id=scan.session_id or ctx.session_id,
            turns=scan.turns,
            input_tokens=int(stats.get("input_tokens") or stats.get("input") or 0),
            output_tokens=int(stats.get("output_tokens") or 0),
            cost_usd=None,  # the CLI reports tokens only
            duration_s=outcome.duration_s,
            retry_at=retry_at,
            error=error,
            exit_code=outcome.exit_code,
        )
        ctx.on_event(AgentEvent(kind="result", data={
            "status": status, "exit_code": outcome.exit_code, "session_id": result.session_id,
            "input_tokens": result.input_tokens, "output_tokens": result.output_tokens,
            "tool_calls": stats.get("tool_calls")}))
        return result


def _is_quota(err: dict[str, Any], message: str) -> bool:
    text = f"{err.get('type', '')} {message}".lower()
    return bool(re.search(r"quota|resource_exhausted|rate.?limit|\b429\b", text))


def _retry_delay(message: str) -> datetime | None:
    """`"retryDelay": "3600s"` when the CLI passed the API's RetryInfo through verbatim."""
    m = re.search(r'retryDelay"?\s*:\s*"?([\d.]+)s', message)
    return datetime.now(UTC) + timedelta(seconds=float(m.group(1))) if m else None


class _Stream:
    """Turns the CLI's stream-json lines into AgentEvents as they arrive."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.session_id: str | None = None
        self.result: dict[str, Any] | None = None
        self.assistant_text: list[str] = []
        self.turns = 0
        self.last_error: str | None = None
        self._in_reply = False
        self._in_model = False

    def _model_turn(self) -> None:
        """The CLI reports no turn count: a turn starts where model output follows input."""
        if not self._in_model:
            self.turns += 1
        self._in_model = True

    def line(self, line: str) -> None:
        emit = self.ctx.on_event
        try:
            ev = json.loads(line)
        except ValueError:
            ev = None
        if not isinstance(ev, dict) or "type" not in ev:
            # stderr is merged in: warnings and stack traces from the CLI.
            if line.strip():
                emit(AgentEvent(kind="text", data={"text": line, "stream": "log"}))
            return
        kind = ev["type"]
        if kind == "init":
            self.session_id = ev.get("session_id")
            emit(AgentEvent(kind="text", data={"init": True, "session_id": self.session_id, "model": ev.get("model")}))
        elif kind == "message":
            role = ev.get("role")
            if role == "assistant":
                if not self._in_reply:
                    self.assistant_text = []  # the final message is the last reply's text
                self._model_turn()
                self._in_reply = True
                self.assistant_text.append(str(ev.get("content", "")))
                emit(AgentEvent(kind="text", data={"role": "assistant", "text": ev.get("content", "")}))
            else:
                self._in_reply = self._in_model = False
                emit(AgentEvent(kind="text", data={"role": role, "text": ev.get("content", "")}))
        elif kind == "tool_use":
            self._model_turn()
            self._in_reply = False
            params = ev.get("parameters") or {}
            emit(AgentEvent(kind="tool_call", data={
                "tool": ev.get("tool_name"), "id": ev.get("tool_id"), "input": params}))
            if ev.get("tool_name") in ("write_file", "replace") and params.get("file_path"):
                emit(AgentEvent(kind="file_change", data={"path": params["file_path"], "tool": ev.get("tool_name")}))
        elif kind == "tool_result":
            self._in_model = False
            emit(AgentEvent(kind="tool_result", data={
                "id": ev.get("tool_id"), "status": ev.get("status"), "output": ev.get("output"),
                "error": ev.get("error")}))
        elif kind == "error":
            self.last_error = str(ev.get("message", ""))
            emit(AgentEvent(kind="error", data={"severity": ev.get("severity"), "message": self.last_error}))
        elif kind == "result":
            self.result = ev
            stats = ev.get("stats") or {}
            emit(AgentEvent(kind="usage", data={
                "input_tokens": stats.get("input_tokens"), "output_tokens": stats.get("output_tokens"),
                "cached": stats.get("cached"), "models": stats.get("models")}))
            if ev.get("status") == "error":
                emit(AgentEvent(kind="error", data=dict(ev.get("error") or {})))
