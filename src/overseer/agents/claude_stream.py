"""Claude Code's `--output-format stream-json` → AgentEvents, and the final verdict on a run.

No I/O here: `ClaudeStream.feed` turns one output line into events and remembers what the
verdict needs; `ClaudeStream.outcome` judges the run from that and from how the process ended.
Shapes are those of claude-code 2.1.330, measured (../shared/AGENT-CLIS.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from overseer.agents.base import AgentEvent, AgentStatus

# Tools whose results name a file they changed.
_FILE_TOOLS = {"Write", "Edit", "MultiEdit", "NotebookEdit"}
_LIMIT_TEXT = re.compile(r"(usage|rate|spend|session|weekly|5-hour)[ -]?limit|hit your .*limit", re.I)


@dataclass
class Ending:
    status: AgentStatus
    error: str | None = None
    retry_at: datetime | None = None


@dataclass
class ClaudeStream:
    session_id: str | None = None
    result: dict[str, Any] | None = None
    # Every turn's result: a session that took a person's message mid-attempt has several.
    results: list[dict[str, Any]] = field(default_factory=list)
    last_text: str = ""
    # The latest refusal the CLI reported with its reset time (`rate_limit_event` or an
    # assistant error's `api_error_params.rate_limit_info`).
    rejected: dict[str, Any] | None = None
    api_error_status: int | None = None
    _seen_usage: set[str] = field(default_factory=set)

    def feed(self, line: str) -> list[AgentEvent]:
        line = line.strip()
        if not line:
            return []
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            # stderr is merged into the stream: keep what the CLI said, as text.
            return [AgentEvent(kind="text", data={"text": line, "stream": "output"})]
        self.session_id = obj.get("session_id") or self.session_id
        kind = obj.get("type")
        if kind == "assistant":
            return self._assistant(obj)
        if kind == "user":
            return self._user(obj)
        if kind == "rate_limit_event":
            info = obj.get("rate_limit_info") or {}
            if info.get("status") == "rejected":
                self.rejected = info
            return [AgentEvent(kind="rate_limit", data={
                "status": info.get("status"), "resets_at": info.get("resetsAt"),
                "limit": info.get("rateLimitType"), "raw": obj})]
        if kind == "system":
            sub = obj.get("subtype")
            if sub == "api_retry":
                return [AgentEvent(kind="error", data={
                    "subtype": sub, "message": f"API error {obj.get('error_status')}, retry "
                    f"{obj.get('attempt')}/{obj.get('max_retries')}", "raw": obj})]
            if sub == "permission_denied":
                return [AgentEvent(kind="error", data={
                    "subtype": sub, "tool": obj.get("tool_name"),
                    "message": obj.get("message") or "permission denied", "raw": obj})]
            return []  # init and status lines: session_id is kept above
        if kind == "result":
            self.result = obj
            self.results.append(obj)
            # The adapter's own `result` event, sent once the process is gone, carries the
            # verdict and this object; here it counts as the run's usage.
            return [AgentEvent(kind="usage", data={
                **usage_of(obj), "cost_usd": cost_of(obj), "total": True, "raw": obj})]
        return []

    def _assistant(self, obj: dict[str, Any]) -> list[AgentEvent]:
        msg = obj.get("message") or {}
        events: list[AgentEvent] = []
        if obj.get("is_api_error_message") or obj.get("error"):
            self.api_error_status = obj.get("api_error_status") or self.api_error_status
            info = (obj.get("api_error_params") or {}).get("rate_limit_info")
            if isinstance(info, dict) and info.get("status") == "rejected":
                self.rejected = info
            text = "".join(b.get("text", "") for b in msg.get("content") or [] if b.get("type") == "text")
            return [AgentEvent(kind="error", data={
                "message": text, "status": obj.get("api_error_status"), "error": obj.get("error"), "raw": obj})]
        for block in msg.get("content") or []:
            btype = block.get("type")
            if btype == "text":
                self.last_text = block.get("text", "")
                events.append(AgentEvent(kind="text", data={"text": self.last_text, "raw": obj}))
            elif btype == "thinking":
                events.append(AgentEvent(kind="text", data={"text": block.get("thinking", ""), "thinking": True, "raw": obj}))
            elif btype == "tool_use":
                events.append(AgentEvent(kind="tool_call", data={
                    "id": block.get("id"), "name": block.get("name"), "input": block.get("input"), "raw": obj}))
        # Every content block of one message repeats that message's usage: count it once.
        mid, usage = msg.get("id"), msg.get("usage")
        if mid and usage and mid not in self._seen_usage:
            self._seen_usage.add(mid)
            events.append(AgentEvent(kind="usage", data={"message_id": mid, **_tokens(usage), "total": False}))
        return events

    def _user(self, obj: dict[str, Any]) -> list[AgentEvent]:
        events: list[AgentEvent] = []
        content = (obj.get("message") or {}).get("content")
        detail = obj.get("tool_use_result")
        for block in content if isinstance(content, list) else []:
            if block.get("type") != "tool_result":
                continue
            events.append(AgentEvent(kind="tool_result", data={
                "tool_use_id": block.get("tool_use_id"), "is_error": bool(block.get("is_error")),
                "content": block.get("content"), "raw": obj}))
        if isinstance(detail, dict) and detail.get("filePath"):
            events.append(AgentEvent(kind="file_change", data={
                "path": detail["filePath"], "change": detail.get("type") or "update"}))
        return events

    def outcome(self, ended_by: str, exit_code: int | None, *, now: datetime,
                rate_limit_wait: float, tail: list[str] | None = None) -> Ending:
        """Judge the run: by the result object's `is_error` and fields, never the exit code alone."""
        if ended_by in ("timeout", "stalled", "cancelled"):
            return Ending(status=ended_by)  # type: ignore[arg-type]
        r = self.result
        text = (r or {}).get("result") or self.last_text or ""
        if r is not None and not r.get("is_error"):
            return Ending(status="completed")
        if self._rate_limited(r, text):
            when = _epoch(self.rejected.get("resetsAt")) if self.rejected else None
            when = when or parse_reset_time(text, now) or now + timedelta(seconds=rate_limit_wait)
            return Ending("rate_limited", f"usage or rate limit: {text or 'HTTP 429'}".strip(), when)
        if r is None:
            said = "; ".join(line for line in (tail or [])[-5:] if line.strip())
            return Ending("failed", f"claude exited with {exit_code} and no result" + (f": {said}" if said else ""))
        subtype = r.get("subtype")
        errors = "; ".join(str(e) for e in r.get("errors") or [])
        if subtype == "error_max_budget_usd":
            return Ending("budget_exceeded", errors or "max_budget_usd reached")
        if subtype == "error_max_turns":
            return Ending("failed", f"stopped at the max_turns limit after {r.get('num_turns')} turns"
                           + (f" ({errors})" if errors else "") + "; raise max_turns or split the task")
        status = r.get("api_error_status")
        if status:
            return Ending("failed", f"model API error {status} ({r.get('api_error_type') or 'error'}): {text}")
        return Ending("failed", errors or text or f"claude reported an error ({subtype})")

    def _rate_limited(self, r: dict[str, Any] | None, text: str) -> bool:
        if self.rejected is not None:
            return True
        status = (r or {}).get("api_error_status") or self.api_error_status
        if status == 429 or (r or {}).get("api_error") == "usage_limit_reached":
            return True
        return bool(_LIMIT_TEXT.search(text) and ("reset" in text.lower() or _PIPE_EPOCH.search(text)))


def _tokens(usage: dict[str, Any]) -> dict[str, int]:
    cached = int(usage.get("cache_creation_input_tokens") or 0) + int(usage.get("cache_read_input_tokens") or 0)
    return {"input_tokens": int(usage.get("input_tokens") or 0) + cached,
            "output_tokens": int(usage.get("output_tokens") or 0)}


def usage_of(result: dict[str, Any]) -> dict[str, int]:
    """This run's tokens; cache reads and writes count as input."""
    return _tokens(result.get("usage") or {})


_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def combined(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One result for all of a process's turns: the last one's message and state, with tokens,
    turns, cost (each turn's own, `model_usage_since_last_result`) and denials summed."""
    if len(results) <= 1:
        return results[0] if results else {}
    last = results[-1]
    costs = [cost_of(r) for r in results]
    usage = {k: sum(int((r.get("usage") or {}).get(k) or 0) for r in results) for k in _USAGE_KEYS}
    merged = {k: v for k, v in last.items() if k != "model_usage_since_last_result"}
    merged.update(
        usage=usage, num_turns=sum(int(r.get("num_turns") or 0) for r in results),
        total_cost_usd=sum(c for c in costs if c is not None) if all(c is not None for c in costs) else None,
        permission_denials=[d for r in results for d in (r.get("permission_denials") or [])],
    )
    return merged


def user_message(text: str) -> bytes:
    """A user turn as `--input-format stream-json` reads it: one JSON line."""
    return (json.dumps({"type": "user", "message": {"role": "user", "content": text}}) + "\n").encode()


def cost_of(result: dict[str, Any]) -> float | None:
    """This run's cost. After `--resume`, `total_cost_usd` is the whole session's, while
    `model_usage_since_last_result` holds this run's alone."""
    since = result.get("model_usage_since_last_result")
    if isinstance(since, dict) and since:
        costs = [m.get("costUSD") for m in since.values() if isinstance(m, dict)]
        if costs and all(isinstance(c, int | float) for c in costs):
            return float(sum(costs))  # type: ignore[arg-type]
    total = result.get("total_cost_usd")
    return float(total) if isinstance(total, int | float) else None


def _epoch(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), tz=UTC) if value else None
    except (TypeError, ValueError, OverflowError):
        return None


_PIPE_EPOCH = re.compile(r"\|(\d{10})\b")
_ISO = re.compile(r"resets?\s+(?:at\s+)?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)", re.I)
_CLOCK = re.compile(
    r"resets?\s+(?:at\s+)?(?:(?P<mon>[A-Z][a-z]{2})\s+(?P<day>\d{1,2}),?\s+(?:at\s+)?)?"
    r"(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ap>am|pm)\s*(?:\((?P<tz>[^)]+)\))?", re.I)
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


def parse_reset_time(text: str, now: datetime) -> datetime | None:
    """The reset time in a limit message: "…|1795327300", "resets at 2026-11-22T06:00:00Z",
    "resets 6:01am (UTC)", "resets Nov 23, 6am (Europe/Paris)". A bare clock time is the next
    such time after `now` in its zone (UTC when none is named)."""
    if m := _PIPE_EPOCH.search(text):
        return _epoch(m.group(1))
    if m := _ISO.search(text):
        try:
            dt = datetime.fromisoformat(m.group(1).replace(" ", "T").replace("Z", "+00:00"))
        except ValueError:
            return None
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)
    if m := _CLOCK.search(text):
        try:
            tz = ZoneInfo(m["tz"].strip()) if m["tz"] else UTC
        except (ZoneInfoNotFoundError, ValueError):
            tz = UTC
        hour = int(m["h"]) % 12 + (12 if m["ap"].lower() == "pm" else 0)
        local_now = now.astimezone(tz)
        day: date = local_now.date()
        if m["mon"] and m["mon"].lower() in _MONTHS:
            day = date(local_now.year, _MONTHS.index(m["mon"].lower()) + 1, int(m["day"]))
            if day < local_now.date() - timedelta(days=1):
                day = day.replace(year=day.year + 1)
        when = datetime(day.year, day.month, day.day, hour, int(m["m"] or 0), tzinfo=tz)
        if not m["mon"] and when <= local_now:
            when += timedelta(days=1)
        return when.astimezone(UTC)
    return None
