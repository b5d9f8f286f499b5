"""Any OpenAI-compatible chat-completions endpoint: OpenAI, Ollama's /v1, llama.cpp server, vLLM,
LM Studio.

Structured output support differs between servers, so the request asks for the strongest form
first and steps down when the server rejects it, remembering what worked:
`json_schema` (OpenAI, Ollama, vLLM) → `json_object` with a `schema` key (llama-cpp-python's
server, which turns it into a grammar) → plain `json_object` → no response_format at all.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Literal

import openai

from overseer.config import SupervisorSettings
from overseer.supervisor.budget import estimate_tokens
from overseer.supervisor.llm import (
    OPENAI_CONTEXT,
    InvalidJSON,
    LLMError,
    LLMUnavailable,
    Message,
    Sleep,
    api_key,
    parse_json_object,
    with_retries,
)
from overseer.supervisor.providers.http_errors import status_error, unreachable

Mode = Literal["json_schema", "json_object+schema", "json_object", "plain"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object+schema", "json_object", "plain")
# Local servers need no key, but the SDK refuses to start without one.
NO_KEY = "not-needed"
DEFAULT_MODEL = "gpt-4o-mini"


def response_format(mode: Mode, schema: dict[str, Any]) -> dict[str, Any] | None:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
    if mode == "json_object+schema":
        return {"type": "json_object", "schema": schema}
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def _error_text(e: openai.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            parts = [str(err.get(k)) for k in ("code", "message") if err.get(k)]
            if parts:
                return ": ".join(parts)
        elif isinstance(err, str):
            return err
    return str(e.message)


class OpenAICompatible:
    def __init__(self, settings: SupervisorSettings, *, sleep: Sleep = time.sleep) -> None:
        self.settings = settings
        self.base_url = settings.base_url
        self.model = settings.model
        self.name = f"openai-compatible:{settings.model or 'default'}"
        self.context_tokens = settings.context_tokens or OPENAI_CONTEXT
        self.mode: Mode = "json_schema"
        self._sleep = sleep
        self._client: openai.OpenAI | None = None

    def _get_client(self) -> openai.OpenAI:
        if self._client is None:
            key = api_key(self.settings, None if self.base_url else "OPENAI_API_KEY")
            # Our own loop retries (bounded, and only on 429/5xx); the SDK's would also retry
            # timeouts, multiplying a dead endpoint's cost.
            self._client = openai.OpenAI(
                base_url=self.base_url,
                api_key=key or NO_KEY,
                timeout=self.settings.timeout,
                max_retries=0,
            )
        return self._client

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def _resolve_model(self) -> str:
        """Unset model: the endpoint's first listed one (a local server serves exactly the
        model it loaded), else the OpenAI default."""
        if self.model:
            return self.model
        try:
            first = next(iter(self._get_client().models.list()), None)
        except openai.APIConnectionError as e:
            raise unreachable(self._where(), e, None) from None
        except openai.APIStatusError:
            first = None
        self.model = first.id if first is not None else DEFAULT_MODEL
        self.name = f"openai-compatible:{self.model}"
        return self.model

    def _where(self) -> str:
        return self.base_url or "the OpenAI API"

    def complete_json(
        self, messages: list[Message], schema: dict[str, Any], *, max_tokens: int
    ) -> dict[str, Any]:
        model = self._resolve_model()
        first_rejection: str | None = None
        start = MODES.index(self.mode)
        for mode in MODES[start:]:
            try:
                raw = with_retries(
                    functools.partial(self._once, model, messages, schema, mode, max_tokens),
                    max_retries=self.settings.max_retries,
                    sleep=self._sleep,
                    name=self._where(),
                )
            except _Rejected as e:
                first_rejection = first_rejection or str(e)
                continue
            self.mode = mode
            return parse_json_object(raw)
        raise LLMError(f"{self._where()} rejected the request: {first_rejection}")

    def _once(
        self, model: str, messages: list[Message], schema: dict[str, Any], mode: Mode, max_tokens: int
    ) -> str:
        kwargs: dict[str, Any] = {}
        fmt = response_format(mode, schema)
        if fmt is not None:
            kwargs["response_format"] = fmt
        try:
            resp = self._get_client().chat.completions.create(
                model=model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens,
                temperature=0,
                **kwargs,
            )
        except openai.APIConnectionError as e:  # a timeout is one too
            timed_out = self.settings.timeout if isinstance(e, openai.APITimeoutError) else None
            raise unreachable(self._where(), e, timed_out) from None
        except openai.APIStatusError as e:
            text = _error_text(e)
            status = e.status_code
            if mode != "plain" and "response_format" in text:
                # A refusal of the format, even one a server reports as a 500 (llama-cpp-python's
                # does), is deterministic: step down rather than retry.
                raise _Rejected(f"HTTP {status}: {text}") from None
            if status == 404:  # before the overflow check: a wrong model name is what to report
                raise LLMUnavailable(f"{self._where()}: HTTP 404 (model {model!r}?): {text}") from None
            error = status_error(self._where(), status, text, e.response.headers.get("retry-after"))
            if error is None and status in (400, 422) and mode != "plain":
                error = _Rejected(f"HTTP {status}: {text}")
            raise error or LLMError(f"{self._where()}: HTTP {status}: {text}") from None
        if not resp.choices:
            raise LLMError(f"{self._where()}: the answer had no choices")
        choice = resp.choices[0]
        content = choice.message.content or ""
        if choice.finish_reason == "length" and not content.rstrip().endswith("}"):
            # The answer was cut at max_tokens; parsing would fail with a misleading message.
            raise InvalidJSON(f"the answer was cut off at max_tokens={max_tokens}", content)
        return content


class _Rejected(LLMError):
    """The server refused this response_format; the next weaker one is tried."""

