"""The HTTP-failure policy the Anthropic and OpenAI-compatible providers share."""

from __future__ import annotations

import pytest

from overseer.supervisor.llm import ContextOverflow, LLMUnavailable, Retryable
from overseer.supervisor.providers.http_errors import status_error, unreachable

WHERE = "http://127.0.0.1:9/v1"


@pytest.mark.parametrize(("status", "text", "kind", "message"), [
    (429, "rate_limit_error: slow down", Retryable, "HTTP 429: rate_limit_error: slow down"),
    (500, "boom", Retryable, "HTTP 500: boom"),
    (529, "overloaded_error: Overloaded", Retryable, "HTTP 529: overloaded_error: Overloaded"),
    # A 5xx that talks about the context is still the server's trouble: retried.
    (503, "context window busy", Retryable, "HTTP 503: context window busy"),
    (401, "invalid x-api-key", LLMUnavailable, f"{WHERE}: HTTP 401, the API key was refused"),
    (403, "forbidden", LLMUnavailable, f"{WHERE}: HTTP 403, the API key was refused"),
    (413, "request_too_large", ContextOverflow, f"{WHERE}: request_too_large"),
    (400, "prompt is too long: 250000 tokens > 200000 maximum", ContextOverflow,
     f"{WHERE}: prompt is too long: 250000 tokens > 200000 maximum"),
    (400, "context_length_exceeded: too long", ContextOverflow, f"{WHERE}: context_length_exceeded: too long"),
    (400, "invalid_request_error: bad tool", None, None),
    (404, "not_found_error: model", None, None),
    (422, "unprocessable", None, None),
])
def test_status_error(status: int, text: str, kind: type[Exception] | None, message: str | None) -> None:
    error = status_error(WHERE, status, text, "7")
    if kind is None:
        assert error is None
        return
    assert type(error) is kind and str(error) == message


def test_retry_after_is_kept_for_the_backoff() -> None:
    error = status_error(WHERE, 429, "slow down", "12")
    assert isinstance(error, Retryable) and error.retry_after == "12"
    error = status_error(WHERE, 502, "bad gateway", None)
    assert isinstance(error, Retryable) and error.retry_after is None


@pytest.mark.parametrize(("timed_out_after", "message"), [
    (30.0, f"{WHERE}: no answer within 30s"),
    (2.5, f"{WHERE}: no answer within 2.5s"),
    (None, f"{WHERE}: cannot connect (ConnectionRefusedError)"),
])
def test_unreachable(timed_out_after: float | None, message: str) -> None:
    error = unreachable(WHERE, ConnectionRefusedError(), timed_out_after)
    assert type(error) is LLMUnavailable and str(error) == message
