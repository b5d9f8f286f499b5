"""A scripted fake of the Anthropic Messages API, as the real Claude Code CLI calls it.

Each test gives a list of `Turn`s. Every `POST /v1/messages` takes the first turn not yet used
whose `when` matches the text of the request's last `role == "user"` message (the CLI appends
a `role: "system"` turn after it, so the last message is not the one to look at). A turn
answers with streamed text and tool_use blocks (SSE, the shape the real API streams), with an
API error and its headers, or by hanging.

Facts this mirrors were measured against claude-code 2.1.330 (../shared/AGENT-CLIS.md):
- with `ANTHROPIC_API_KEY`, a 429's reset headers never reach the CLI's output;
- with `CLAUDE_CODE_OAUTH_TOKEN` (a subscription), `anthropic-ratelimit-unified-*` headers make
  the CLI emit `rate_limit_event` with `resetsAt` and "You've hit your … limit · resets …".
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.server import FakeServer, Request, Response

_ids = itertools.count(1)


@dataclass
class ToolUse:
    name: str
    input: dict[str, Any]
    id: str = field(default_factory=lambda: f"toolu_{next(_ids):04d}")


@dataclass
class Turn:
    text: str = ""
    tools: list[ToolUse] = field(default_factory=list)
    # A substring of the last user message, or a predicate on its text; None matches anything.
    when: str | Callable[[str], bool] | None = None
    # Used once, unless repeat (the CLI re-sends some failed requests).
    repeat: bool = False
    input_tokens: int = 100
    output_tokens: int = 20
    # An API error instead of a message: (HTTP status, error type, message).
    error: tuple[int, str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    # Answer only once this event is set (a test holding a turn open while it acts).
    hold: threading.Event | None = None

    @classmethod
    def reply(cls, text: str, **kw: Any) -> Turn:
        return cls(text=text, **kw)

    @classmethod
    def write(cls, path: str, content: str, text: str = "Writing the file.", **kw: Any) -> Turn:
        """The real CLI's Write tool wants an absolute `file_path`."""
        return cls(text=text, tools=[ToolUse("Write", {"file_path": path, "content": content})], **kw)

    @classmethod
    def bash(cls, command: str, text: str = "Running a command.", **kw: Any) -> Turn:
        return cls(text=text, tools=[ToolUse("Bash", {"command": command, "description": "run it"})], **kw)

    @classmethod
    def api_error(cls, status: int, message: str, **kw: Any) -> Turn:
        kind = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error",
                529: "overloaded_error"}.get(status, "api_error")
        return cls(error=(status, kind, message), **kw)

    @classmethod
    def rate_limited(cls, resets_at: int, claim: str = "five_hour", **kw: Any) -> Turn:
        """A 429 with every reset header the real API sends: `retry-after`, the per-request
        `anthropic-ratelimit-requests-reset` (RFC 3339) and the subscription
        `anthropic-ratelimit-unified-*` family (Unix seconds)."""
        window = {"five_hour": "5h", "seven_day": "7d"}.get(claim, claim)
        headers = {
            "retry-after": str(max(1, resets_at - int(time.time()))),
            "anthropic-ratelimit-requests-reset": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(resets_at)),
            "anthropic-ratelimit-unified-status": "rejected",
            "anthropic-ratelimit-unified-reset": str(resets_at),
            "anthropic-ratelimit-unified-representative-claim": claim,
            f"anthropic-ratelimit-unified-{window}-status": "rejected",
            f"anthropic-ratelimit-unified-{window}-reset": str(resets_at),
        }
        return cls(error=(429, "rate_limit_error", "usage limit reached"), headers=headers, **kw)

    @classmethod
    def hung(cls, **kw: Any) -> Turn:
        return cls(hang=True, repeat=True, **kw)

    def matches(self, text: str) -> bool:
        if self.when is None:
            return True
        if isinstance(self.when, str):
            return self.when in text
        return self.when(text)


@dataclass
class Call:
    last_user: str
    turn: int | None  # index into the script; None when nothing matched
    body: dict[str, Any]


def last_user_text(body: dict[str, Any]) -> str:
    """Text of the last user message: its text blocks and tool results, joined."""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    if not users:
        return ""
    content = users[-1].get("content")
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content or []:
        if block.get("type") == "text":
            parts.append(block.get("text", ""))
        elif block.get("type") == "tool_result":
            inner = block.get("content")
            if isinstance(inner, str):
                parts.append(inner)
            elif isinstance(inner, list):
                parts.extend(b.get("text", "") for b in inner if isinstance(b, dict))
    return "\n".join(parts)


def message_events(turn: Turn, model: str) -> list[tuple[str | None, Any]]:
    msg_id = f"msg_{next(_ids):04d}"
    events: list[tuple[str | None, Any]] = [("message_start", {"type": "message_start", "message": {
        "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": turn.input_tokens, "output_tokens": 1}}})]
    index = 0
    if turn.text:
        events += [
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": turn.text}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ]
        index = 1
    for i, tool in enumerate(turn.tools, start=index):
        events += [
            ("content_block_start", {"type": "content_block_start", "index": i, "content_block": {
                "type": "tool_use", "id": tool.id, "name": tool.name, "input": {}}}),
            ("content_block_delta", {"type": "content_block_delta", "index": i, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(tool.input)}}),
            ("content_block_stop", {"type": "content_block_stop", "index": i}),
        ]
    stop = "tool_use" if turn.tools else "end_turn"
    events += [
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                           "usage": {"output_tokens": turn.output_tokens}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


class FakeAnthropic:
    """`with FakeAnthropic([...]) as api:` serves the script on 127.0.0.1; `api.env()` points
    the CLI at it. `api.calls` records each Messages request, `api.other` everything else."""

    def __init__(self, turns: list[Turn]) -> None:
        self.turns = turns
        self.used: set[int] = set()
        self.calls: list[Call] = []
        self.other: list[Request] = []
        self._lock = threading.Lock()
        self.server = FakeServer(self.handle)

    def __enter__(self) -> FakeAnthropic:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.__exit__(*exc)

    @property
    def url(self) -> str:
        return self.server.url

    def env(self, *, subscription: bool = False) -> dict[str, str]:
        """Environment for the CLI. `subscription` authenticates as a Claude subscriber (OAuth
        token), the only mode in which the CLI reports usage limits with their reset time."""
        auth = {"CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-fake"} if subscription else {"ANTHROPIC_API_KEY": "sk-ant-fake"}
        return {"ANTHROPIC_BASE_URL": self.url, **auth}

    def handle(self, req: Request) -> Response:
        path = req.path.split("?", 1)[0]
        if req.method != "POST" or path != "/v1/messages":
            self.other.append(req)
            if path == "/v1/messages/count_tokens":
                return Response.json({"input_tokens": 100})
            return Response.json({"type": "error", "error": {"type": "not_found_error", "message": path}}, status=404)
        body = req.json()
        text = last_user_text(body)
        with self._lock:
            index = next((i for i, t in enumerate(self.turns)
                          if (t.repeat or i not in self.used) and t.matches(text)), None)
            if index is not None:
                self.used.add(index)
            self.calls.append(Call(text, index, body))
        if index is None:
            return _error(400, "invalid_request_error", f"fake: no scripted turn for {text[-200:]!r}", {})
        turn = self.turns[index]
        if turn.hang:
            return Response(delay=3600)
        if turn.hold is not None:
            turn.hold.wait(120)
        if turn.error:
            return _error(*turn.error, turn.headers)
        resp = Response.sse(message_events(turn, str(body.get("model", "claude-fake"))))
        resp.headers.update(turn.headers)
        return resp


def _error(status: int, kind: str, message: str, headers: dict[str, str]) -> Response:
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}
    return Response.json(body, status=status, headers={"request-id": "req_fake", **headers})
