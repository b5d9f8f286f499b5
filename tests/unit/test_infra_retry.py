"""Infrastructure failures: what counts as one, how long to wait, when to stop (pure)."""

from __future__ import annotations

import pytest

from overseer.agents.base import AgentResult
from overseer.agents.ssh import LOST, SLOW, UNREACHABLE
from overseer.config import RetriesSettings
from overseer.engine.infra_retry import (
    infra_retry_delay,
    is_infrastructure_failure,
    limits_of,
    plan_infra_retry,
)


def r(status: str = "failed", *, error: str | None = None, exit_code: int | None = 1,
      final: str = "") -> AgentResult:
    return AgentResult(status=status, error=error, exit_code=exit_code, final_message=final)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        # not infrastructure: the agent's own outcomes
        (r("completed", exit_code=0), None),
        (r(error="command exited with 1"), None),
        (r(error="command exited with 2", exit_code=2), None),
        (r("rate_limited", error="usage limit", exit_code=75), None),
        (r("timeout", error="no result within 2s", exit_code=None), None),
        (r("stalled", error="no output for 600s", exit_code=None), None),
        (r("cancelled", error="cancelled", exit_code=None), None),
        (r("budget_exceeded", error="max_budget_usd reached"), None),
        (r(error="model API error 400 (invalid_request_error): bad"), None),
        (r(error="stopped at the max_turns limit after 5 turns"), None),
        (r(error="wrote 503 lines", exit_code=1), None),
        # an exit status of a signal overseer did not send is a crash
        (r(error="command exited with -11", exit_code=-11), "the agent process crashed (SIGSEGV)"),
        (r(error="command exited with -9", exit_code=-9), "the agent process crashed (SIGKILL)"),
        (r(error="command exited with 139", exit_code=139), "the agent process crashed (exit 139: SIGSEGV)"),
        (r(error="command exited with 134", exit_code=134), "the agent process crashed (exit 134: SIGABRT)"),
        (r(error="command exited with 130", exit_code=130), None),  # SIGINT: someone stopped it
        (r(error="command exited with -15", exit_code=-15), None),
        # the model API failed
        (r(error="model API error 529 (overloaded_error): Overloaded"),
         "the model API failed (model API error 529): model API error 529 (overloaded_error): Overloaded"),
        (r(error="litellm.InternalServerError: AnthropicException - boom"),
         "the model API failed (litellm.InternalServerError): litellm.InternalServerError: AnthropicException - boom"),
        (r(error="gemini exited with 244: got status: 500 Internal Server Error", exit_code=244),
         "the model API failed (status: 500): gemini exited with 244: got status: 500 Internal Server Error"),
        (r("timeout", error="no result within 60s; model server unreachable (reconnecting 5/5)", exit_code=None),
         "the model API was unreachable (no result within 60s; model server unreachable (reconnecting 5/5))"),
        # the ssh transport lost its connection
        (r(error="command exited with None", exit_code=None, final=f"working\n{LOST}"),
         "the SSH connection to the agent's host was lost"),
        # ... or could not reach the host at all
        (r(error="command exited with None", exit_code=None,
           final=f"{UNREACHABLE}: cannot connect to h:22: connection refused"),
         "the agent's SSH host could not be reached (cannot connect to h:22: connection refused)"),
        # ... or a slow login shell held up the command's start
        (r(error="command exited with None", exit_code=None,
           final=f"{SLOW}: starting the command on h:22 did not finish within 60s (waited 60.0s)"),
         "the agent's SSH host was too slow (starting the command on h:22 did not finish within 60s "
         "(waited 60.0s))"),
    ],
)
def test_is_infrastructure_failure(result, expected):
    assert is_infrastructure_failure(result) == expected


@pytest.mark.parametrize(
    ("n", "base", "cap", "low", "high"),
    [
        (1, 30, 600, 15, 30),
        (2, 30, 600, 30, 60),
        (3, 30, 600, 60, 120),
        (6, 30, 600, 300, 600),  # 960 capped at 600
        (20, 30, 600, 300, 600),
        (1, 0.2, 10, 0.1, 0.2),
    ],
)
def test_delay_doubles_within_its_jitter_band(n, base, cap, low, high):
    delays = {infra_retry_delay(n, base, cap, f"run/t/{i}") for i in range(50)}
    assert all(low <= d <= high for d in delays), delays
    assert len(delays) > 25  # spread, not one value


def test_delay_is_the_same_for_the_same_seed():
    # A replayed workflow (or another process) waits exactly as long.
    assert infra_retry_delay(2, 30, 600, "r/t/3") == infra_retry_delay(2, 30, 600, "r/t/3")
    assert infra_retry_delay(2, 30, 600, "r/t/3") != infra_retry_delay(2, 30, 600, "r/t/4")


LIM = RetriesSettings(max_infra_retries=2, max_infra_retries_per_run=5, infra_backoff=10, infra_backoff_max=100)


@pytest.mark.parametrize(
    ("task_retries", "run_retries", "retry", "says"),
    [
        (0, 0, True, "crashed: infrastructure retry 1 of 2 in "),
        (1, 4, True, "crashed: infrastructure retry 2 of 2 in "),
        (2, 2, False, "crashed; the task already had 2 infrastructure retries (retries.max_infra_retries: 2)"),
        (0, 5, False, "crashed; the run already had 5 infrastructure retries (retries.max_infra_retries_per_run: 5)"),
    ],
)
def test_plan_infra_retry(task_retries, run_retries, retry, says):
    plan = plan_infra_retry("crashed", task_retries=task_retries, run_retries=run_retries, limits=LIM, seed="s")
    assert plan.retry is retry
    assert says in plan.message
    if retry:
        assert plan.delay_s == infra_retry_delay(task_retries + 1, 10, 100, "s")
        assert plan.message.endswith(f"{plan.delay_s:g}s (costs no attempt)")
    else:
        assert plan.delay_s == 0


def test_zero_retries_allowed_means_fail_at_once():
    plan = plan_infra_retry("x", task_retries=0, run_retries=0,
                            limits=RetriesSettings(max_infra_retries=0), seed="s")
    assert not plan.retry


def test_limits_are_the_recorded_retries_section_with_defaults():
    assert limits_of(None) == limits_of({}) == RetriesSettings()
    assert limits_of({"max_infra_retries": 7}).max_infra_retries == 7


def test_a_slow_ssh_phase_says_what_where_and_how_long() -> None:
    import asyncio

    import pytest

    from overseer.agents.ssh import SshTransport
    from overseer.agents.ssh_spec import SshSpec
    from overseer.errors import OverseerError

    t = SshTransport(SshSpec(host="build-box", port=2222, workdir="/w"))
    with pytest.raises(OverseerError) as exc:
        asyncio.run(t._within("starting the command", 0.05, asyncio.sleep(5)))
    assert exc.value.message.startswith("starting the command on build-box:2222 did not finish within 0.05s (waited ")
    assert "login shell" in (exc.value.hint or "") and exc.value.context.get("transient")
