"""Anthropic's Messages API. Structured output through a forced tool call: the tool's
input_schema is the answer's schema, so the model has to fill it in rather than write prose."""

from __future__ import annotations

import functools
import time
from typing import Any

import anthropic

from overseer.config import SupervisorSettings
from overseer.supervisor.budget import estimate_tokens
from overseer.supervisor.llm import (
    ANTHROPIC_CONTEXT,
    ContextOverflow,
    InvalidJSON,
    LLMError,
    LLMUnavailable,
    Message,
    Retryable,
    Sleep,
    api_key,
    is_overflow_message,
    with_retries,
)

DEFAULT_MODEL = "claude-sonnet-4-5"
TOOL = "submit_answer"


def _error_text(e: anthropic.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        return f"{err.get('type', 'error')}: {err.get('message', '')}"
    return str(e.message)


class Anthropic:
    def __init__(self, settings: SupervisorSettings, *, sleep: Sleep = time.sleep) -> None:
        self.settings = settings
        self.model = settings.model or DEFAULT_MODEL
        self.name = f"anthropic:{self.model}"
        self.context_tokens = settings.context_tokens or ANTHROPIC_CONTEXT
        self._sleep = sleep
        self._client: anthropic.Anthropic | None = None

    def _where(self) -> str:
        return self.settings.base_url or "the Anthropic API"

    def _get_client(self) -> anthropic.Anthropic:
        if self._client is None:
            self._client = anthropic.Anthropic(
                api_key=api_key(self.settings, "ANTHROPIC_API_KEY"),
                base_url=self.settings.base_url,
                timeout=self.settings.timeout,
                max_retries=0,
            )
        return self._client

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def complete_json(
        self, messages: list[Message], schema: dict[str, Any], *, max_tokens: int
    ) -> dict[str, Any]:
        return with_retries(
            functools.partial(self._once, messages, schema, max_tokens),
            max_retries=self.settings.max_retries,
            sleep=self._sleep,
            name=self._where(),
        )

    def _once(self, messages: list[Message], schema: dict[str, Any], max_tokens: int) -> dict[str, Any]:
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        turns = [m for m in messages if m["role"] != "system"]
        # Built as a plain dict: the SDK's typed overloads change between releases (newer ones
        # dropped `temperature`, which newer models reject anyway).
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "system": system,
            "messages": turns,
            "tools": [{"name": TOOL, "description": "Submit the answer.", "input_schema": schema}],
            "tool_choice": {"type": "tool", "name": TOOL},
        }
        try:
            resp = self._get_client().messages.create(**request)
        except anthropic.APITimeoutError:
            raise LLMUnavailable(
                f"{self._where()}: no answer within {self.settings.timeout:g}s"
            ) from None
        except anthropic.APIConnectionError as e:
            raise LLMUnavailable(f"{self._where()}: cannot connect ({type(e).__name__})") from None
        except anthropic.APIStatusError as e:
            text, status = _error_text(e), e.status_code
            if status == 429 or status >= 500:  # 529 is Anthropic's "overloaded"
                raise Retryable(f"HTTP {status}: {text}", e.response.headers.get("retry-after")) from None
            if status in (401, 403):
                raise LLMUnavailable(f"{self._where()}: HTTP {status}, the API key was refused") from None
            if status == 413 or is_overflow_message(text):
                raise ContextOverflow(f"{self._where()}: {text}") from None
            raise LLMError(f"{self._where()}: HTTP {status}: {text}") from None
        for block in resp.content:
            if block.type == "tool_use" and isinstance(block.input, dict):
                return dict(block.input)
        texts = "".join(getattr(b, "text", "") for b in resp.content)
        raise InvalidJSON(f"no {TOOL} tool call in the answer (stop: {resp.stop_reason})", texts)
