"""LLM providers behind the `LLM` protocol (overseer.supervisor.llm)."""

from overseer.supervisor.providers.anthropic import Anthropic
from overseer.supervisor.providers.embedded import Embedded
from overseer.supervisor.providers.openai_compat import OpenAICompatible

__all__ = ["Anthropic", "Embedded", "OpenAICompatible"]
