"""A scripted fake of the OpenAI Responses API (`POST /v1/responses`, `stream: true`), as the
real Codex CLI 0.169 uses it.

What codex sends and needs, observed against the real binary:
- one `POST /v1/responses` per model turn, `stream: true`, `Authorization: Bearer <env_key>`;
  no other endpoint is called. The whole conversation is resent as `input` each time
  (`store: false`), so a tool's output arrives in the next request as a
  `function_call_output` / `custom_tool_call_output` item with the same `call_id`.
- tools declared: `exec_command` (function, JSON arguments `{"cmd": ...}`), `write_stdin`,
  `view_image`, goal tools, `web_search`; for a model slug codex knows (e.g. `gpt-5.5`) also
  `apply_patch` as a *custom* (freeform, lark grammar) tool, whose call carries the raw patch
  text in `input`. For an unknown slug there is no `apply_patch` and codex emits a
  "Model metadata ... not found" error item, then carries on.
- SSE: `response.created`, `response.output_item.added` / `.done`, `response.output_text.delta`
  and `response.completed` (with `usage`) are enough; a turn ends when a response has no
  tool call in it.

Each test scripts a list of replies, one per request; an unscripted request gets a 500 so a
test that under-scripts fails loudly instead of hanging.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from typing import Any

from tests.fakes.server import FakeServer, Request, Response

Reply = Response | Callable[[Request], Response]
_ids = itertools.count(1)


def _usage(input_tokens: int, output_tokens: int, cached: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def text_item(text: str) -> dict[str, Any]:
    return {"type": "message", "id": f"msg_{next(_ids)}", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def exec_command_item(cmd: str) -> dict[str, Any]:
    """A call of codex's shell tool: the real CLI runs `cmd` in the workspace."""
    n = next(_ids)
    return {"type": "function_call", "id": f"fc_{n}", "call_id": f"call_{n}", "status": "completed",
            "name": "exec_command", "arguments": json.dumps({"cmd": cmd, "yield_time_ms": 2000})}


def apply_patch_item(patch: str) -> dict[str, Any]:
    """A call of codex's freeform `apply_patch` tool (declared for known model slugs only)."""
    n = next(_ids)
    return {"type": "custom_tool_call", "id": f"ctc_{n}", "call_id": f"call_{n}", "status": "completed",
            "name": "apply_patch", "input": patch}


def add_file_patch(path: str, text: str) -> str:
    body = "".join(f"+{line}\n" for line in text.splitlines())
    return f"*** Begin Patch\n*** Add File: {path}\n{body}*** End Patch"


def reply(*items: dict[str, Any], input_tokens: int = 100, output_tokens: int = 20) -> Response:
    """One streamed model response made of the given output items."""
    rid = f"resp_{next(_ids)}"
    events: list[tuple[str | None, Any]] = [
        ("response.created", {"type": "response.created",
                              "response": {"id": rid, "status": "in_progress", "output": []}}),
    ]
    for i, item in enumerate(items):
        events.append(("response.output_item.added", {"type": "response.output_item.added",
                                                      "output_index": i, "item": {**item, "status": "in_progress"}}))
        if item["type"] == "message":
            text = item["content"][0]["text"]
            events.append(("response.output_text.delta", {
                "type": "response.output_text.delta", "item_id": item["id"], "output_index": i,
                "content_index": 0, "delta": text}))
        events.append(("response.output_item.done", {"type": "response.output_item.done",
                                                     "output_index": i, "item": item}))
    events.append(("response.completed", {"type": "response.completed", "response": {
        "id": rid, "status": "completed", "output": list(items),
        "usage": _usage(input_tokens, output_tokens)}}))
    return Response.sse(events)


def say(text: str, **kw: Any) -> Response:
    return reply(text_item(text), **kw)


def error(status: int, message: str, *, code: str | None = None, err_type: str = "invalid_request_error",
          headers: dict[str, str] | None = None) -> Response:
    """An OpenAI-style error body: {"error": {message, type, param, code}}."""
    return Response.json({"error": {"message": message, "type": err_type, "param": None, "code": code}},
                         status=status, headers=headers)


def rate_limited(reset_seconds: int, message: str = "Rate limit reached for requests") -> Response:
    """429 with OpenAI's rate-limit headers (`x-ratelimit-reset-*` are durations like `20s`)."""
    return error(429, message, code="rate_limit_exceeded", err_type="requests", headers={
        "retry-after": str(reset_seconds),
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": f"{reset_seconds}s",
    })


def hang(seconds: float = 3600) -> Response:
    """Accept the request and never answer (until the server stops)."""
    return Response(delay=seconds)


class FakeResponses(FakeServer):
    """The Responses API on 127.0.0.1; `script` replies to successive `POST /v1/responses`."""

    def __init__(self, script: Iterable[Reply] = ()) -> None:
        self.script: list[Reply] = list(script)
        super().__init__(self._answer)

    def __enter__(self) -> FakeResponses:
        super().__enter__()
        return self

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def model_requests(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.requests if r.method == "POST" and r.path.endswith("/responses")]

    def _answer(self, req: Request) -> Response:
        if not (req.method == "POST" and req.path.split("?")[0].endswith("/responses")):
            return error(404, f"no route {req.method} {req.path}", code="not_found")
        if not self.script:
            return error(500, "fake server: no reply scripted for this request", err_type="server_error")
        nxt = self.script.pop(0)
        return nxt(req) if callable(nxt) else nxt


def tool_outputs(body: dict[str, Any]) -> dict[str, str]:
    """call_id → output text of every tool result codex sent back in a request body."""
    out: dict[str, str] = {}
    for item in body.get("input", []):
        if item.get("type") in ("function_call_output", "custom_tool_call_output"):
            o = item.get("output")
            out[item["call_id"]] = o if isinstance(o, str) else json.dumps(o)
    return out


def user_texts(body: dict[str, Any]) -> list[str]:
    """The user's prompts in a request, oldest first (codex's environment context excluded)."""
    texts = []
    for item in body.get("input", []):
        if item.get("type") == "message" and item.get("role") == "user":
            for c in item.get("content", []):
                t = c.get("text", "")
                if c.get("type") == "input_text" and not t.startswith("<environment_context>"):
                    texts.append(t)
    return texts
