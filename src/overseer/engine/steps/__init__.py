"""The effects of a run, each a DBOS step: re-run after a crash, so each is idempotent.

By concept: `run` (the run and its task states, the baseline, worktrees and merges),
`attempt` (checkpoint, prompt, the agent, and acting on a decision), `evidence` (gates,
integrity, holdouts, review) and `human` (breakpoint rules, asking a person).
"""

from overseer.engine.steps.attempt import (
    commit_task,
    note_infra_failure,
    note_rate_limit,
    pending_steers,
    prepare_attempt,
    record_decision,
    restore_checkpoint,
    run_agent,
)
from overseer.engine.steps.common import attempt_id
from overseer.engine.steps.evidence import Evidence, Review, gather_evidence, review_attempt
from overseer.engine.steps.human import (
    breakpoint_id,
    breakpoint_topic,
    check_rules,
    close_breakpoint,
    open_breakpoint,
)
from overseer.engine.steps.run import (
    baseline_gates,
    cancel_task,
    clock,
    fail_task,
    finish_run,
    load_run,
    mark_ready,
    mark_retrying,
    merge_back,
    prepare_worktree,
    run_retries_used,
)

__all__ = [
    "pending_steers",
    "Evidence", "Review", "attempt_id", "baseline_gates", "breakpoint_id", "breakpoint_topic",
    "cancel_task", "check_rules", "clock", "close_breakpoint", "commit_task", "fail_task",
    "finish_run", "gather_evidence", "load_run", "mark_ready", "mark_retrying", "merge_back",
    "note_infra_failure", "note_rate_limit", "open_breakpoint", "prepare_attempt",
    "prepare_worktree", "record_decision", "restore_checkpoint", "review_attempt", "run_agent",
    "run_retries_used",
]
