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
    InvalidJSON,
    LLMError,
    Message,
    Sleep,
    api_key,
    with_retries,
)
from overseer.supervisor.providers.http_errors import status_error, unreachable

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
        except anthropic.APIConnectionError as e:  # a timeout is one too
            timed_out = self.settings.timeout if isinstance(e, anthropic.APITimeoutError) else None
            raise unreachable(self._where(), e, timed_out) from None
        except anthropic.APIStatusError as e:
            text, status = _error_text(e), e.status_code
            error = status_error(self._where(), status, text, e.response.headers.get("retry-after"))
            raise error or LLMError(f"{self._where()}: HTTP {status}: {text}") from None
        for block in resp.content:
            if block.type == "tool_use" and isinstance(block.input, dict):
                return dict(block.input)
        texts = "".join(getattr(b, "text", "") for b in resp.content)
        raise InvalidJSON(f"no {TOOL} tool call in the answer (stop: {resp.stop_reason})", texts)
