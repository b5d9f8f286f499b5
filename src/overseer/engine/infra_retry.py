"""Infrastructure failures: an attempt that failed for reasons that are not the agent's work
— its process crashed, the model API answered 5xx, the SSH connection was lost. The same
attempt runs again after an exponential backoff with jitter; it costs no decision try.

Pure: classification reads only the AgentResult, and the jitter is drawn from a seed (the
attempt id), so a replayed workflow waits exactly as long as the first run did.
"""

from __future__ import annotations

import hashlib
import re
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from overseer.agents.base import AgentResult
from overseer.config import RetriesSettings

INFRA_KIND = "infrastructure_failure"

# A process killed by one of these was not stopped by overseer (its own stops end the attempt
# `timeout`, `stalled` or `cancelled`): it crashed, or the OOM killer took it.
CRASH_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL,
                           signal.SIGFPE, signal.SIGKILL, signal.SIGSYS})

# What the adapters write into `error` (or the output tail) when the model API or the link to
# it failed. claude: "model API error 529 (overloaded_error)"; aider/litellm:
# "litellm.InternalServerError"; codex: "model server unreachable", "stream disconnected";
# the ssh transport: "the ssh connection ended without the command's exit status", and
# "the ssh host could not be reached: …" when it could not connect at all, and "the ssh host
# was too slow: …" when a login, a command start or the tree's sync did not finish in time.
_API_5XX = re.compile(
    r"\bmodel API error 5\d\d\b"
    r"|\b(?:HTTP|status(?: code)?)[ :]*5\d\d\b"
    r"|\blitellm\.(?:InternalServerError|ServiceUnavailableError|APIConnectionError)\b"
    r"|\boverloaded(?:_error)?\b"
    r"|\bmodel server unreachable\b"
    r"|\bstream disconnected before completion\b",
    re.IGNORECASE,
)
_SSH_LOST = re.compile(r"\bthe ssh connection ended without the command's exit status\b")
_SSH_UNREACHABLE = re.compile(r"\bthe ssh host could not be reached: (.*)")
_SSH_SLOW = re.compile(r"\bthe ssh host was too slow: (.*)")


def limits_of(recorded: Mapping[str, Any] | None) -> RetriesSettings:
    """The `retries` section as recorded with the run (absent keys: the defaults)."""
    return RetriesSettings.model_validate(recorded or {})


@dataclass(frozen=True)
class InfraRetry:
    retry: bool
    delay_s: float
    message: str


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def is_infrastructure_failure(result: AgentResult) -> str | None:
    """Why this attempt failed for infrastructure reasons, or None when it did not (it
    completed, hit a usage limit, timed out, or failed at its work)."""
    text = "\n".join(t for t in (result.error, result.final_message) if t)
    if result.status in ("timeout", "stalled"):
        # Waiting on a model server that does not answer looks like a slow agent; the adapter
        # says which it was.
        m = re.search(r"\bmodel server unreachable\b", result.error or "", re.IGNORECASE)
        return f"the model API was unreachable ({result.error})" if m else None
    if result.status != "failed":
        return None
    if _SSH_LOST.search(text):
        return "the SSH connection to the agent's host was lost"
    if m := _SSH_UNREACHABLE.search(text):
        return f"the agent's SSH host could not be reached ({m.group(1).strip()})"
    if m := _SSH_SLOW.search(text):
        return f"the agent's SSH host was too slow ({m.group(1).strip()})"
    code = result.exit_code
    if code is not None and code < 0 and -code in CRASH_SIGNALS:
        return f"the agent process crashed ({_signal_name(-code)})"
    if code is not None and code > 128 and code - 128 in CRASH_SIGNALS:
        return f"the agent process crashed (exit {code}: {_signal_name(code - 128)})"
    m = _API_5XX.search(result.error or "")
    if m:
        return f"the model API failed ({m.group(0)}): {result.error}"
    return None


def _unit(seed: str) -> float:
    """A number in [0, 1) fixed by `seed`, the same in every process (no hash randomisation)."""
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big") / 2**64


def infra_retry_delay(n: int, base: float, cap: float, seed: str) -> float:
    """Seconds before infrastructure retry `n` (1, 2, ...): base·2^(n−1), capped, and then a
    point drawn between half of that and all of it ("equal jitter": tasks that failed together
    do not all come back at the same moment, and none comes back at once)."""
    ceiling = min(cap, base * 2 ** max(0, n - 1))
    return round(ceiling / 2 + _unit(seed) * ceiling / 2, 3)


def plan_infra_retry(
    reason: str, *, task_retries: int, run_retries: int, limits: RetriesSettings, seed: str
) -> InfraRetry:
    """Retry again, or give up: `task_retries` and `run_retries` are the infrastructure
    retries already used by this task and by the whole run."""
    if task_retries >= limits.max_infra_retries:
        return InfraRetry(False, 0.0, f"{reason}; the task already had {task_retries} "
                          f"infrastructure retr{'y' if task_retries == 1 else 'ies'} "
                          f"(retries.max_infra_retries: {limits.max_infra_retries})")
    if run_retries >= limits.max_infra_retries_per_run:
        return InfraRetry(False, 0.0, f"{reason}; the run already had {run_retries} "
                          "infrastructure retries "
                          f"(retries.max_infra_retries_per_run: {limits.max_infra_retries_per_run})")
    n = task_retries + 1
    delay = infra_retry_delay(n, limits.infra_backoff, limits.infra_backoff_max, seed)
    return InfraRetry(True, delay, f"{reason}: infrastructure retry {n} of "
                      f"{limits.max_infra_retries} in {delay:g}s (costs no attempt)")
