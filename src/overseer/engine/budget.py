"""May this task try again? One pure object answers it, for every place that asks.

An *attempt* is an agent run that was judged: its gates ran and decide() decided. A repeat that
is nobody's fault — an infrastructure failure run again, a usage-limit wait, a switch to a
fallback agent — is not an attempt: it uses up nothing and gets no new number. decide(), the
breakpoint rules, `status` and the prompt all see the same attempt number from here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class AttemptBudget:
    max_attempts: int
    used: int = 0  # judged attempts so far
    # The run-wide cap on decision retries (retries.max_decision_retries_per_run), if any.
    run_retry_limit: int | None = None

    @property
    def attempt(self) -> int:
        """The number of the attempt being judged now (1-based), once `judged()` was called."""
        return self.used

    @property
    def last(self) -> bool:
        """No attempt is left after this one."""
        return self.used >= self.max_attempts

    @property
    def left(self) -> int:
        return max(0, self.max_attempts - self.used)

    def judged(self) -> AttemptBudget:
        """The budget after one more attempt was judged."""
        return replace(self, used=self.used + 1)

    def exhausted_reason(self, run_retries_used: int | None = None) -> str | None:
        """Why no further attempt may start, or None when one may. `run_retries_used` is the
        run's count of decision retries so far, needed only when a run-wide cap is set."""
        if self.last:
            return f"no attempts left after {self.max_attempts} (max_attempts)"
        if (self.run_retry_limit is not None and run_retries_used is not None
                and run_retries_used > self.run_retry_limit):
            return (f"the run used its {self.run_retry_limit} decision retries "
                    "(retries.max_decision_retries_per_run)")
        return None

    @property
    def needs_run_count(self) -> bool:
        """Whether exhausted_reason() needs the run's retry count (a store query) to answer."""
        return self.run_retry_limit is not None and not self.last
