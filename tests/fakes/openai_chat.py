"""A scripted fake of the OpenAI chat-completions API (`POST /v1/chat/completions`), as the real
aider 0.86 uses it through litellm.

What aider sends and needs, observed against the real binary:
- one `POST /v1/chat/completions` per model call; with `--no-stream` the body has no
  `stream: true` and a plain JSON completion is expected (an SSE answer is given when a client
  does ask to stream, so a test that forgets `--no-stream` still works);
- `Authorization: Bearer <OPENAI_API_KEY>`; no other endpoint is called when update checks and
  analytics are off;
- the reply's `content` is parsed for aider's edit format: for a model aider does not know
  (`openai/<anything>`) that is the *whole-file* format — a path line, then the complete new
  file in a fenced block. `usage` is read for the "Tokens: … sent, … received." line.
- errors come back as litellm exceptions printed to the terminal: 400 → `BadRequestError`
  (not retried), 500 → `InternalServerError` and 429 → `RateLimitError` (both retried by aider
  with doubling delays for about a minute).

Each test scripts a list of replies, one per request; an unscripted request gets a 500 so a
test that under-scripts fails loudly instead of hanging.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from tests.fakes.server import FakeServer, Request, Response

Reply = Response | str | Callable[[Request], Response]
_ids = itertools.count(1)


def whole_file(path: str, content: str, intro: str = "Here is the file:") -> str:
    """An answer in aider's whole-file edit format: aider writes `content` to `path`."""
    if not content.endswith("\n"):
        content += "\n"
    return f"{intro}\n\n{path}\n```\n{content}```\n"


def search_replace(path: str, search: str, replace: str) -> str:
    """An answer in aider's SEARCH/REPLACE (`diff`) edit format."""
    return (f"{path}\n```\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n```\n")


def completion(content: str, *, model: str = "fake-model", prompt_tokens: int = 1200,
               completion_tokens: int = 80) -> Response:
    return Response.json({
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    })


def _streamed(content: str, model: str) -> Response:
    cid = f"chatcmpl-{next(_ids)}"

    def chunk(delta: dict[str, Any], finish: str | None) -> tuple[None, Any]:
        return (None, {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                       "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    events: list[tuple[str | None, Any]] = [chunk({"role": "assistant", "content": content}, None),
                                            chunk({}, "stop"), (None, "[DONE]")]
    return Response.sse(events)


def error(status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None,
          headers: dict[str, str] | None = None) -> Response:
    return Response.json({"error": {"message": message, "type": type_, "param": None, "code": code}},
                         status=status, headers=headers)


def bad_request(message: str = "Invalid value for 'messages': this model rejects the request.") -> Response:
    return error(400, message)


def server_error(message: str = "The server had an error while processing your request.") -> Response:
    return error(500, message, type_="server_error")


def rate_limited(retry_after_s: int = 20, *, header: bool = True) -> Response:
    """A 429 the way OpenAI words it: the reset time is in the message (and in `retry-after`).

    The OpenAI client inside litellm waits out a `retry-after` header itself (twice) before
    aider sees the error; `header=False` leaves the wait to whoever reads the message.
    """
    headers = {"retry-after": str(retry_after_s), "x-ratelimit-reset-requests": f"{retry_after_s}s"}
    return error(
        429,
        f"Rate limit reached for fake-model on requests per min (RPM): Limit 3, Used 3, "
        f"Requested 1. Please try again in {retry_after_s}s.",
        type_="requests", code="rate_limit_exceeded", headers=headers if header else None,
    )


def hang() -> Response:
    return Response(delay=3600)


class FakeOpenAIChat(FakeServer):
    """Answers chat completions from `replies` in order; records every request."""

    def __init__(self, replies: Iterable[Reply], *, model: str = "fake-model") -> None:
        self.replies: list[Reply] = list(replies)
        self.model = model
        self._next = 0
        super().__init__(self._handle)

    def __enter__(self) -> FakeOpenAIChat:
        super().__enter__()
        return self

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.requests if r.path.rstrip("/").endswith("/chat/completions")]

    def _handle(self, req: Request) -> Response:
        if req.method == "GET" and req.path.rstrip("/").endswith("/models"):
            return Response.json({"object": "list", "data": [{"id": self.model, "object": "model"}]})
        if not req.path.rstrip("/").endswith("/chat/completions"):
            return error(404, f"no route {req.method} {req.path}")
        if self._next >= len(self.replies):
            return server_error(f"fake server: request {self._next + 1} was not scripted")
        reply = self.replies[self._next]
        self._next += 1
        if callable(reply) and not isinstance(reply, Response):
            return reply(req)
        if isinstance(reply, str):
            if json.loads(req.body or b"{}").get("stream"):
                return _streamed(reply, self.model)
            return completion(reply, model=self.model)
        return reply
