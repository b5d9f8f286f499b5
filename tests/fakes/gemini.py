"""A scripted fake of the Gemini API (`generativelanguage` v1beta), as the real Gemini CLI 0.61
uses it when `GOOGLE_GEMINI_BASE_URL` points here.

What the CLI sends and needs, observed against the real binary:
- each model turn is `POST /v1beta/models/<model>:streamGenerateContent?alt=sse` with
  `x-goog-api-key: <GEMINI_API_KEY>`; the whole conversation is resent as `contents` each time,
  so a tool's result arrives in the next request as a `functionResponse` part;
- utility calls (routing with model "auto", JSON checks) use `:generateContent` (not
  streamed); with an explicit `-m MODEL` a plain run makes none;
- SSE: `data: {candidates:[{content:{role:"model", parts:[...]}, finishReason}], usageMetadata}`
  per chunk; a part is `{"text": ...}` or `{"functionCall": {"name", "args"}}`. Tools the CLI
  declares include `write_file` {file_path, content}, `run_shell_command` {command},
  `replace`, `read_file`, `list_directory`.
- errors are Google RPC JSON: `{"error": {code, message, status, details}}`. A 429 whose
  `RetryInfo.retryDelay` is over 300 s is a terminal quota error for the CLI (no retries);
  5xx and short 429s are retried up to `general.maxAttempts` times (default 10).

Each test scripts a list of replies, one per streamed request; an unscripted request gets a
500 so a test that under-scripts fails loudly instead of hanging.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from typing import Any

from tests.fakes.server import FakeServer, Request, Response

Reply = Response | Callable[[Request], Response]
_ids = itertools.count(1)


def text_part(text: str) -> dict[str, Any]:
    return {"text": text}


def call_part(name: str, **args: Any) -> dict[str, Any]:
    return {"functionCall": {"name": name, "args": args}}


def write_file(path: str, content: str) -> dict[str, Any]:
    return call_part("write_file", file_path=path, content=content)


def run_shell(command: str) -> dict[str, Any]:
    return call_part("run_shell_command", command=command, description="run a command")


def _usage(prompt: int, output: int) -> dict[str, Any]:
    return {"promptTokenCount": prompt, "candidatesTokenCount": output, "totalTokenCount": prompt + output}


def _candidate_chunk(parts: list[dict[str, Any]], finish: str | None, usage: dict[str, Any] | None,
                     model: str) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    chunk: dict[str, Any] = {"candidates": [cand], "modelVersion": model, "responseId": f"resp-{next(_ids)}"}
    if usage:
        chunk["usageMetadata"] = usage
    return chunk


def reply(*parts: dict[str, Any], prompt_tokens: int = 900, output_tokens: int = 40,
          model: str = "gemini-2.5-flash") -> Response:
    """One streamed model turn: text parts are split over two chunks, calls come whole."""
    events: list[tuple[str | None, Any]] = []
    for part in parts[:-1]:
        events.append((None, _candidate_chunk([part], None, None, model)))
    events.append((None, _candidate_chunk(list(parts[-1:]), "STOP", _usage(prompt_tokens, output_tokens), model)))
    return Response.sse(events)


def text(message: str, **kw: Any) -> Response:
    return reply(text_part(message), **kw)


def error(code: int, message: str, status: str, details: list[dict[str, Any]] | None = None) -> Response:
    return Response.json({"error": {"code": code, "message": message, "status": status, "details": details or []}},
                         status=code)


def bad_request(message: str = "Request contains an invalid argument.") -> Response:
    return error(400, message, "INVALID_ARGUMENT")


def server_error(message: str = "Internal error encountered.") -> Response:
    return error(500, message, "INTERNAL")


def rate_limited(retry_delay_s: int = 3600) -> Response:
    """A quota 429 the way the Gemini API words it, with `RetryInfo` saying when to come back."""
    return error(
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        "RESOURCE_EXHAUSTED",
        [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
             "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
                             "quotaId": "GenerateRequestsPerHourPerProjectPerModel"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_delay_s}s"},
        ],
    )


def hang() -> Response:
    return Response(delay=3600)


class FakeGemini(FakeServer):
    """Answers streamed turns from `replies` in order; utility calls get `utility` (JSON text)."""

    def __init__(self, replies: Iterable[Reply], *, utility: dict[str, Any] | None = None) -> None:
        self.replies: list[Reply] = list(replies)
        self.utility = utility or {"reasoning": "the model answered", "next_speaker": "user"}
        self._next = 0
        super().__init__(self._handle)

    def __enter__(self) -> FakeGemini:
        super().__enter__()
        return self

    @property
    def turn_requests(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.requests if ":streamGenerateContent" in r.path]

    def _handle(self, req: Request) -> Response:
        if ":countTokens" in req.path:
            return Response.json({"totalTokens": max(1, len(req.body) // 4)})
        if ":generateContent" in req.path:
            return Response.json({"candidates": [{"content": {"role": "model", "parts": [
                {"text": json.dumps(self.utility)}]}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": _usage(100, 10)})
        if ":streamGenerateContent" not in req.path:
            return error(404, f"no route {req.method} {req.path}", "NOT_FOUND")
        if self._next >= len(self.replies):
            return server_error(f"fake server: request {self._next + 1} was not scripted")
        r = self.replies[self._next]
        self._next += 1
        return r if isinstance(r, Response) else r(req)
