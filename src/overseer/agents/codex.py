"""`codex`: OpenAI's Codex CLI, run as `codex exec --json` in the workspace.

Each attempt gets its own `CODEX_HOME` whose `config.toml` overseer writes from the agent
keys, so nothing from the user's `~/.codex` leaks in and nothing leaks out. A resumed attempt
reuses the home that holds its thread, because codex finds threads only there.

Facts about codex 0.169 this relies on (measured, see AGENT-CLIS.md):
- it has no turn limit and no cost; tokens come from `turn.completed.usage`, which after a
  resume is the whole thread's running total, not this run's;
- a model server that is down makes it print `Reconnecting...` errors for ever, even with
  retries at 0; those lines are not progress, so they do not count against stall detection;
- a 429 reaches the JSONL only as text: "try again at 5:33 AM" (local time of the child)
  for a usage limit, and "last status: 429" without any reset time for a plain rate limit.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from overseer.agents.base import AgentConfig, AgentEvent, AgentResult, AgentStatus, RunContext
from overseer.agents.envvars import expand, expand_env
from overseer.agents.process import ATTEMPT_ENV
from overseer.agents.transport import transport_for

OUTPUT_TAIL = 4000  # characters of a command's output kept in a tool_result event
PROVIDER = "overseer"
# Linux refuses a single argv string over 128 KiB; longer prompts go through stdin instead.
MAX_ARGV_PROMPT = 100_000


class Price(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0, description="default: the input price")


class CodexConfig(AgentConfig):
    type: str = "codex"
    binary: str = "codex"
    model: str | None = None
    base_url: str = Field(default="https://api.openai.com/v1", description="an OpenAI Responses API endpoint")
    wire_api: str = "responses"
    api_key_env: str = Field(default="OPENAI_API_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                             description="name of the env var holding the API key (its value never leaves the child's env)")
    sandbox: Literal["read-only", "workspace-write", "danger-full-access"] = "workspace-write"
    args: list[str] = Field(default_factory=list, description="extra `codex exec` arguments")
    max_turns: int | None = Field(default=None, gt=0, description="tool calls before overseer ends the attempt; codex has no limit of its own")
    pricing: dict[str, Price] = Field(default_factory=dict, description="per model; cost is estimated from tokens")

    @field_validator("wire_api")
    @classmethod
    def _responses_only(cls, v: str) -> str:
        if v != "responses":
            raise ValueError(
                f"wire_api {v!r} is not supported: codex 0.169 speaks only the OpenAI Responses API "
                "(`wire_api = \"chat\"` is rejected by the CLI); use \"responses\" and an endpoint serving /v1/responses"
            )
        return v

    @field_validator("transport")
    @classmethod
    def _local_only(cls, v: Any) -> Any:
        if v != "local":
            raise ValueError("codex runs only with transport: local for now (overseer writes CODEX_HOME on this host)")
        return v


# -- the JSONL stream: pure functions ----------------------------------------------------------

Tokens = tuple[int, int, int]  # input, cached input, output


@dataclass
class CodexRun:
    """What a run's JSONL has said so far."""

    thread_id: str | None = None
    final_message: str = ""
    usage: Tokens | None = None  # from turn.completed: the thread's running total
    failure: str | None = None  # turn.failed's message
    tool_ids: set[str] = field(default_factory=set)
    last_error: str | None = None

    @property
    def tool_calls(self) -> int:
        return len(self.tool_ids)


TOOL_ITEMS = ("command_execution", "file_change", "mcp_tool_call", "web_search")


def parse_line(line: str) -> dict[str, Any] | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) and isinstance(obj.get("type"), str) else None


def is_reconnecting(message: str) -> bool:
    return message.startswith("Reconnecting")


def _tail(text: str) -> str:
    return text if len(text) <= OUTPUT_TAIL else "…" + text[-OUTPUT_TAIL:]


def item_events(phase: str, item: dict[str, Any]) -> list[AgentEvent]:
    kind, iid = item.get("type"), item.get("id")
    if kind == "command_execution":
        if phase == "started":
            return [AgentEvent(kind="tool_call", data={"id": iid, "tool": "command", "command": item.get("command")})]
        if phase == "completed":
            return [AgentEvent(kind="tool_result", data={
                "id": iid, "tool": "command", "exit_code": item.get("exit_code"), "status": item.get("status"),
                "output": _tail(str(item.get("aggregated_output") or ""))})]
    elif kind == "file_change" and phase == "completed":
        return [AgentEvent(kind="file_change", data={"id": iid, "status": item.get("status"),
                                                     "changes": item.get("changes", [])})]
    elif kind == "mcp_tool_call":
        base = {"id": iid, "tool": "mcp", "server": item.get("server"), "name": item.get("tool")}
        if phase == "started":
            return [AgentEvent(kind="tool_call", data={**base, "arguments": item.get("arguments")})]
        if phase == "completed":
            return [AgentEvent(kind="tool_result", data={**base, "status": item.get("status"), "error": item.get("error")})]
    elif kind == "web_search" and phase == "completed":
        return [AgentEvent(kind="tool_call", data={"id": iid, "tool": "web_search", "query": item.get("query")})]
    elif kind == "todo_list":
        return [AgentEvent(kind="tool_call", data={"id": iid, "tool": "todo_list", "phase": phase,
                                                   "items": item.get("items", [])})]
    elif kind == "agent_message" and phase == "completed":
        return [AgentEvent(kind="text", data={"id": iid, "text": item.get("text", "")})]
    elif kind == "reasoning" and phase == "completed":
        return [AgentEvent(kind="text", data={"id": iid, "text": item.get("text", ""), "reasoning": True})]
    elif kind == "error" and phase == "completed":
        # Non-fatal (e.g. "Model metadata for `x` not found"): the turn goes on.
        return [AgentEvent(kind="error", data={"id": iid, "message": item.get("message", ""), "fatal": False})]
    return []


def usage_tokens(usage: dict[str, Any]) -> Tokens:
    return (int(usage.get("input_tokens") or 0), int(usage.get("cached_input_tokens") or 0),
            int(usage.get("output_tokens") or 0))


def events_for(obj: dict[str, Any], baseline: Tokens = (0, 0, 0), *, tz: tzinfo | None = None,
               now: datetime | None = None) -> list[AgentEvent]:
    """The AgentEvents one JSONL object stands for; `baseline` is the thread's usage before this run."""
    t = obj["type"]
    if t.startswith("item."):
        return item_events(t.removeprefix("item."), obj.get("item") or {})
    if t == "turn.completed":
        i, c, o = (max(0, a - b) for a, b in zip(usage_tokens(obj.get("usage") or {}), baseline, strict=True))
        return [AgentEvent(kind="usage", data={"input_tokens": i, "cached_input_tokens": c, "output_tokens": o})]
    if t == "turn.failed":
        message = str((obj.get("error") or {}).get("message", ""))
        out = [AgentEvent(kind="error", data={"message": message, "fatal": True})]
        if is_rate_limit(message):
            at = retry_at_from(message, tz, now)
            out.append(AgentEvent(kind="rate_limit", data={"message": message,
                                                           "retry_at": at.isoformat() if at else None}))
        return out
    if t == "error":
        message = str(obj.get("message", ""))
        return [AgentEvent(kind="error", data={"message": message, "fatal": False,
                                               "transient": is_reconnecting(message)})]
    return []  # thread.started, turn.started: state only


def observe(run: CodexRun, obj: dict[str, Any]) -> None:
    t = obj["type"]
    item = obj.get("item") or {}
    if t == "thread.started":
        run.thread_id = obj.get("thread_id") or run.thread_id
    elif t == "item.completed" and item.get("type") == "agent_message":
        run.final_message = str(item.get("text", ""))
    elif t in ("item.started", "item.completed") and item.get("type") in TOOL_ITEMS:
        run.tool_ids.add(str(item.get("id")))
    elif t == "turn.completed":
        run.usage = usage_tokens(obj.get("usage") or {})
    elif t == "turn.failed":
        run.failure = str((obj.get("error") or {}).get("message", "turn failed"))
    elif t == "error":
        run.last_error = str(obj.get("message", ""))


_RATE = re.compile(r"usage limit|last status: 429|too many requests|rate limit", re.IGNORECASE)
_TRY_AGAIN = re.compile(
    r"try again at (?:(?P<mon>[A-Z][a-z]{2}) (?P<day>\d{1,2})(?:st|nd|rd|th)?, (?P<year>\d{4}) )?"
    r"(?P<h>\d{1,2}):(?P<m>\d{2}) ?(?P<ampm>[AP]M)", re.IGNORECASE)
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


def is_rate_limit(message: str) -> bool:
    return bool(_RATE.search(message))


def retry_at_from(message: str, tz: tzinfo | None = None, now: datetime | None = None) -> datetime | None:
    """Codex prints a reset as "5:33 AM" (today) or "Nov 24th, 2026 4:43 AM", in the child's zone."""
    m = _TRY_AGAIN.search(message)
    if not m:
        return None
    zone = tz or datetime.now().astimezone().tzinfo
    now = (now or datetime.now(zone)).astimezone(zone)
    hour = int(m["h"]) % 12 + (12 if m["ampm"].upper() == "PM" else 0)
    if m["mon"]:
        month = _MONTHS.index(m["mon"].lower()) + 1
        return datetime(int(m["year"]), month, int(m["day"]), hour, int(m["m"]), tzinfo=zone)
    at = now.replace(hour=hour, minute=int(m["m"]), second=0, microsecond=0)
    # Minutes are truncated, so a reset within this minute can read as just past.
    return at + timedelta(days=1) if at < now - timedelta(minutes=1) else at


def estimate_cost(pricing: dict[str, Price], model: str | None, tokens: Tokens) -> float | None:
    price = pricing.get(model or "")
    if price is None:
        return None
    i, c, o = tokens
    cached = price.cached_input if price.cached_input is not None else price.input
    return ((i - c) * price.input + c * cached + o * price.output) / 1_000_000


# -- CODEX_HOME --------------------------------------------------------------------------------


def _toml(v: str) -> str:
    # A JSON string without \u escapes for non-ASCII is a valid TOML basic string.
    return json.dumps(v, ensure_ascii=False)


def config_toml(cfg: CodexConfig) -> str:
    lines = [f"model_provider = {_toml(PROVIDER)}", f"sandbox_mode = {_toml(cfg.sandbox)}",
             'approval_policy = "never"']
    if cfg.model:
        lines.insert(0, f"model = {_toml(cfg.model)}")
    lines += [
        "", f"[model_providers.{PROVIDER}]", f"name = {_toml(PROVIDER)}", f"base_url = {_toml(cfg.base_url)}",
        f"wire_api = {_toml(cfg.wire_api)}", f"env_key = {_toml(cfg.api_key_env)}",
        # Retrying is overseer's decision (park on a rate limit, retry with feedback), not codex's.
        "request_max_retries = 0", "stream_max_retries = 0",
    ]
    return "\n".join(lines) + "\n"


def rollout_for(home: Path, thread_id: str) -> Path | None:
    found = sorted(home.glob(f"sessions/*/*/*/rollout-*-{thread_id}.jsonl"))
    return found[-1] if found else None


def home_for(ctx: RunContext) -> tuple[Path, bool]:
    """(CODEX_HOME, whether it holds ctx.session_id): a resume looks in the task's earlier attempts."""
    if ctx.session_id and re.fullmatch(r"[0-9A-Za-z-]+", ctx.session_id):
        for home in sorted(ctx.transcript.parent.parent.glob("*/codex-home"), reverse=True):
            if rollout_for(home, ctx.session_id):
                return home, True
    return ctx.transcript.parent / "codex-home", False


def thread_usage(rollout: Path) -> Tokens:
    """The thread's running token total as its rollout last recorded it."""
    total: Tokens = (0, 0, 0)
    with rollout.open(errors="replace") as f:
        for line in f:
            if '"token_count"' not in line:
                continue
            info = (parse_line(line) or {}).get("payload", {}).get("info") or {}
            if info.get("total_token_usage"):
                total = usage_tokens(info["total_token_usage"])
    return total


def _child_tz(env: dict[str, str]) -> tzinfo | None:
    name = env.get("TZ", "").lstrip(":")
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


# -- the adapter -------------------------------------------------------------------------------


class CodexAgent:
    config_class: ClassVar[type[AgentConfig]] = CodexConfig

    def __init__(self, config: AgentConfig) -> None:
        assert isinstance(config, CodexConfig)
        self.config = config

    def run(self, ctx: RunContext) -> AgentResult:
        cfg = self.config
        started = time.monotonic()
        home, resuming = home_for(ctx)
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.toml").write_text(config_toml(cfg))
        env = {**os.environ, **expand_env(cfg.env, os.environ), **ctx.extra_env,
               "CODEX_HOME": str(home), ATTEMPT_ENV: f"{ctx.run_id}/{ctx.task_id}/{ctx.attempt}"}
        secret = env.get(cfg.api_key_env, "")
        if not secret:
            msg = f"${cfg.api_key_env} is not set: codex needs the API key for {cfg.base_url} in it"
            ctx.on_event(AgentEvent(kind="error", data={"message": msg, "fatal": True}))
            ctx.on_event(AgentEvent(kind="result", data={"status": "failed"}))
            return AgentResult(status="failed", error=msg, duration_s=time.monotonic() - started)

        baseline: Tokens = (0, 0, 0)
        if ctx.session_id and not resuming:
            ctx.on_event(AgentEvent(kind="error", data={
                "message": f"session {ctx.session_id} not found in this task's CODEX_HOME; starting a new one",
                "fatal": False}))
        if resuming and ctx.session_id:
            rollout = rollout_for(home, ctx.session_id)
            baseline = thread_usage(rollout) if rollout else baseline
        big = len(ctx.prompt.encode()) > MAX_ARGV_PROMPT
        prompt_arg = "-" if big else ctx.prompt
        argv = [expand(cfg.binary, os.environ, where="binary"), "exec", "--json", "--skip-git-repo-check", *cfg.args]
        if resuming and ctx.session_id:
            argv += ["resume", "--", ctx.session_id, prompt_arg]
        else:
            argv += ["--sandbox", cfg.sandbox, "--", prompt_arg]

        run = CodexRun(thread_id=ctx.session_id if resuming else None)
        tz = _child_tz(env)
        cancel = threading.Event()
        stop_reason: list[tuple[AgentStatus, str]] = []
        last_progress = [time.monotonic()]

        def stop(status: AgentStatus, why: str) -> None:
            if not cancel.is_set():
                stop_reason.append((status, why))
                cancel.set()

        def on_line(line: str) -> None:
            # A placeholder key such as "x" (local servers need none) must not mangle the output.
            if len(secret) >= 8:
                line = line.replace(secret, "***")
            obj = parse_line(line)
            if obj is None:
                if line.strip():
                    ctx.on_event(AgentEvent(kind="text", data={"text": line, "stream": "log"}))
                return
            observe(run, obj)
            events = events_for(obj, baseline, tz=tz)
            for ev in events:
                ctx.on_event(ev)
            if obj["type"] == "error" and is_reconnecting(str(obj.get("message", ""))):
                if time.monotonic() - last_progress[0] > cfg.stall_after:
                    stop("stalled", f"model server unreachable for over {cfg.stall_after:g}s: {obj.get('message')}")
            else:
                last_progress[0] = time.monotonic()
            if cfg.max_turns is not None and run.tool_calls > cfg.max_turns:
                stop("failed", f"max_turns {cfg.max_turns} reached (tool calls)")

        timeout = cfg.timeout or ctx.timeout
        outcome = transport_for(cfg.transport).run(
            argv, cwd=ctx.workdir, env=env, on_line=on_line, timeout=timeout, stall_after=cfg.stall_after,
            on_spawn=ctx.on_spawn, cancel=cancel, stdin_data=ctx.prompt.encode() if big else None,
        )

        status: AgentStatus
        error: str | None = None
        retry_at: datetime | None = None
        if outcome.ended_by == "cancelled":
            status, error = stop_reason[0] if stop_reason else ("cancelled", "cancelled")
        elif outcome.ended_by in ("timeout", "stalled"):
            status = "timeout" if outcome.ended_by == "timeout" else "stalled"
            error = f"no result within {timeout:g}s" if status == "timeout" else f"no output for {cfg.stall_after:g}s"
            if run.last_error and is_reconnecting(run.last_error):
                error += f"; model server unreachable ({run.last_error})"
        elif run.failure is not None:
            status, error = "failed", run.failure
            if is_rate_limit(run.failure):
                status, retry_at = "rate_limited", retry_at_from(run.failure, tz)
        elif run.usage is not None and outcome.exit_code == 0:
            status = "completed"
        else:
            status = "failed"
            error = run.last_error or f"codex exited with {outcome.exit_code}: " + " | ".join(outcome.tail[-3:])

        tokens: Tokens = (0, 0, 0)
        if run.usage is not None:
            tokens = (max(0, run.usage[0] - baseline[0]), max(0, run.usage[1] - baseline[1]),
                      max(0, run.usage[2] - baseline[2]))
        cost = estimate_cost(cfg.pricing, cfg.model, tokens)
        result = AgentResult(
            status=status, final_message=run.final_message, session_id=run.thread_id,
            turns=run.tool_calls + 1 if run.usage or run.tool_calls else 0,
            input_tokens=tokens[0], output_tokens=tokens[2], cost_usd=cost, cost_estimated=cost is not None,
            duration_s=time.monotonic() - started, retry_at=retry_at, error=error, exit_code=outcome.exit_code,
        )
        ctx.on_event(AgentEvent(kind="result", data={
            "status": status, "session_id": run.thread_id, "exit_code": outcome.exit_code, "error": error,
            "input_tokens": tokens[0], "cached_input_tokens": tokens[1], "output_tokens": tokens[2],
            "cost_usd": cost, "cost_estimated": cost is not None,
            "retry_at": retry_at.isoformat() if retry_at else None}))
        return result
