"""What a failed call to a hosted model API means for the review, the same for every SDK-backed
provider: which answers are worth retrying, which make the LLM unavailable (the run goes on with
rules-only review), and which say the prompt did not fit."""

from __future__ import annotations

from overseer.supervisor.llm import ContextOverflow, LLMUnavailable, Retryable, is_overflow_message


def status_error(where: str, status: int, text: str, retry_after: str | None) -> Exception | None:
    """The error for an HTTP error answer whose meaning every provider shares, or None when the
    provider has to decide (anything left is a plain `LLMError`)."""
    if status == 429 or status >= 500:  # 529 is Anthropic's "overloaded"
        return Retryable(f"HTTP {status}: {text}", retry_after)
    if status in (401, 403):
        # The key itself never goes into the message.
        return LLMUnavailable(f"{where}: HTTP {status}, the API key was refused")
    if status == 413 or is_overflow_message(text):
        return ContextOverflow(f"{where}: {text}")
    return None


def unreachable(where: str, error: Exception, timed_out_after: float | None) -> LLMUnavailable:
    """No answer at all. Not retried: waiting on a dead endpoint again multiplies what it costs."""
    if timed_out_after is not None:
        return LLMUnavailable(f"{where}: no answer within {timed_out_after:g}s")
    return LLMUnavailable(f"{where}: cannot connect ({type(error).__name__})")
