"""The durable shape of a run: one workflow per run, one per task (DBOS Transact).

Workflow code is deterministic: every effect is a step in engine.steps, and decide() is a
pure function, so replaying a workflow after a crash retraces the same path. The run's and the
tasks' specs cross into DBOS as JSON once (RunSpec / TaskSpec.to_wire) and are typed again at
the top of each workflow.
"""

from __future__ import annotations

import contextlib
from typing import Any

from dbos import DBOS, SetWorkflowID
from dbos._error import DBOSAwaitedWorkflowCancelledError, DBOSWorkflowCancelledError

from overseer.agents import AgentResult
from overseer.engine import queues, steps
from overseer.engine.answers import HumanOutcome, after_human
from overseer.engine.budget import AttemptBudget
from overseer.engine.decide import AttemptEvidence, AttemptSummary, Decision, decide
from overseer.engine.generations import run_workflow_id, task_workflow_id
from overseer.engine.infra_retry import is_infrastructure_failure
from overseer.engine.schedule import boosts_of, order_ready, transitive_dependents
from overseer.engine.spec import RunSpec, TaskSpec
from overseer.errors import OverseerError
from overseer.findings import blocking
from overseer.lifecycle import TERMINAL_TASK_STATES

TASK_DONE = "task-done"
# A long wait between task completions is normal (agents work for hours); waking up once a
# day costs nothing and keeps a single recv from blocking forever on a lost message.
RECV_TIMEOUT_S = 24 * 3600
# A limit that keeps coming back after this many waits is not a passing usage limit.
MAX_RATE_LIMIT_WAITS = 20


@DBOS.workflow(name="overseer.run")
def run_workflow(run_id: str, generation: int = 0) -> dict[str, Any]:
    me = run_workflow_id(run_id, generation)
    spec = RunSpec.model_validate(steps.load_run(run_id))
    baseline = steps.baseline_gates(run_id, spec.tasks)
    # Plan priority first; ties keep plan order (sorted is stable).
    tasks = sorted(spec.tasks, key=lambda t: -t.priority)
    blocking_count, boosts = transitive_dependents(tasks), boosts_of(spec.scheduling)
    finished: dict[str, str] = {tid: s for tid, s in spec.states.items() if s in TERMINAL_TASK_STATES}
    running: set[str] = set()
    # A task parked at a human breakpoint gives up its slot, so the others go on meanwhile.
    parked: set[str] = set()
    parallel = max(1, spec.parallel)
    # On PostgreSQL tasks go through the run's queue, so `overseer worker`s can take them.
    queued = spec.dispatch == "queue"
    if queued:
        queues.open_task_queue(run_id, parallel, spec.worker_slots)
    # A person paused new work (`overseer pause`): running tasks go on, no new one starts.
    paused = False

    while len(finished) < len(tasks):
        for t in tasks:
            if t.id in finished or t.id in running or t.id in parked:
                continue
            bad = [d for d in t.depends_on if finished.get(d) in ("failed", "cancelled")]
            if bad:
                steps.cancel_task(run_id, t.id, f"dependency {bad[0]} {finished[bad[0]]}")
                finished[t.id] = "cancelled"
        ready = [
            t for t in tasks
            if t.id not in finished and t.id not in running and t.id not in parked
            and all(finished.get(d) == "completed" for d in t.depends_on)
        ]
        # Plan priority plus boosts (deadline near, blocking others, minus earlier attempts).
        # The clock is a step, read only when a deadline can matter, so a replay orders alike.
        ready = order_ready(
            ready, now=steps.clock() if any(t.deadline for t in ready) else None,
            dependents_count=blocking_count, retries={t.id: t.attempts_before for t in ready},
            boosts=boosts,
        )
        for t in ([] if paused else ready[: parallel - len(running)]):
            steps.mark_ready(run_id, t.id)
            wire = t.model_copy(update={"parent": me}).to_wire()
            with SetWorkflowID(task_workflow_id(run_id, generation, t.id)):
                if queued:
                    queues.task_queue(run_id).enqueue(task_workflow, run_id, wire, baseline)
                else:
                    DBOS.start_workflow(task_workflow, run_id, wire, baseline)
            running.add(t.id)
        if not running and not parked and not paused:
            break
        msg = DBOS.recv(TASK_DONE, timeout_seconds=RECV_TIMEOUT_S)
        if msg is None:
            continue
        if "pause" in msg:
            paused = bool(msg["pause"])
            continue
        tid = msg["task"]
        running.discard(tid)
        parked.discard(tid)
        if "parked" in msg:
            (parked if msg["parked"] else running).add(tid)
        else:
            finished[tid] = msg["state"]
    summary = steps.finish_run(run_id)
    if queued:
        queues.close_task_queue(run_id)
    return summary


@DBOS.workflow(name="overseer.task")
def task_workflow(run_id: str, wire: dict[str, Any], baseline: dict[str, dict[str, Any]]) -> str:
    task = TaskSpec.model_validate(wire)
    try:
        state = _attempts(run_id, task, baseline)
    except (DBOSWorkflowCancelledError, DBOSAwaitedWorkflowCancelledError):
        raise
    except Exception as exc:
        # A step that failed past its retries ends this task, not the run: without the
        # hand-off below the run would wait for this task forever.
        state = "failed"
        # The record may refuse (a task already committed); the hand-off below must not.
        with contextlib.suppress(Exception):
            steps.fail_task(run_id, task.id, failure_reason(exc))
    DBOS.send(task.parent, {"task": task.id, "state": state}, topic=TASK_DONE)
    return state


def _ask_human(
    run_id: str, task: TaskSpec, n: int, kind: str, message: str, *, budget: AttemptBudget,
    can_commit: bool = False, decided: str = "proceed", key: str = "",
) -> HumanOutcome:
    """Park this task (only this one) until a person approves, rejects or answers; what that
    means is answers.after_human's, and the task leaves the breakpoint running or failed."""
    bp = steps.open_breakpoint(run_id, task.id, n, kind, message, key)
    DBOS.send(task.parent, {"task": task.id, "parked": True}, topic=TASK_DONE)
    msg: dict[str, Any] | None = None
    while msg is None:
        msg = DBOS.recv(steps.breakpoint_topic(bp), timeout_seconds=RECV_TIMEOUT_S)
    DBOS.send(task.parent, {"task": task.id, "parked": False}, topic=TASK_DONE)
    out = after_human(kind, msg, bp=bp, budget=budget, can_commit=can_commit, decided=decided)
    steps.close_breakpoint(run_id, task.id, bp, msg, out.reason if out.next == "fail" else None, out.reason)
    return out


def _merge(run_id: str, task: TaskSpec) -> str:
    """Bring a worktree task's commit into the run's branch; a conflict waits for a person,
    who resolves it on the branch and approves (the merge is tried again) or rejects."""
    tries = 0
    while True:
        merged = steps.merge_back(run_id, task)
        if not merged["conflicts"]:
            return "completed"
        tries += 1
        files = ", ".join(merged["conflicts"])
        out = _ask_human(run_id, task, 0, "merge_conflict",
                         f"merging task {task.id} conflicts in: {files}; resolve them on the branch "
                         "and approve to merge again, or reject",
                         budget=AttemptBudget(task.max_attempts), key=str(tries))
        if out.next == "fail":
            return "failed"


def _attempts(run_id: str, task: TaskSpec, baseline: dict[str, dict[str, Any]]) -> str:
    feedback: str | None = None
    base: str | None = None
    budget = AttemptBudget(task.max_attempts, run_retry_limit=task.run_retry_limit)
    # A retry continues the agent's session (for agents that have one), so the agent keeps
    # its context and reads the feedback as a follow-up.
    session: str | None = None
    if task.worktree:
        steps.prepare_worktree(run_id, task.id)
    if task.breakpoint == "before":
        out = _ask_human(run_id, task, 0, "before_task",
                         f"task {task.id} ({task.title}) is about to start", budget=budget)
        if out.next == "fail":
            return "failed"
        feedback = out.feedback
    # The agent and its fallbacks, in order: a usage limit moves to the next one, or waits.
    agents = [(task.agent_name, task.agent), *task.fallbacks]
    # Records are numbered on from earlier generations (after a rollback), so none is reused.
    which, n, waits = 0, task.attempt_offset, 0
    history: list[str] = []  # earlier attempts' feedback, for the reviewer
    summaries: list[AttemptSummary] = []  # earlier attempts, for decide()
    while True:
        n += 1
        current = task.with_agent(*agents[which])
        shown = task.attempts_before + budget.used + 1
        prep = steps.prepare_attempt(run_id, current, n, shown, feedback)
        base = base or prep["checkpoint"]
        result = AgentResult.model_validate(
            steps.run_agent(run_id, current, n, prep["prompt"], prep["checkpoint"], session))
        infra = is_infrastructure_failure(result)
        if infra is not None:
            # Not the agent's fault: the same attempt again — same tree, prompt and session —
            # after a backoff; it costs no attempt. Bounded per task and per run.
            retry = steps.note_infra_failure(run_id, task.id, n, infra)
            if not retry["retry"]:
                return "failed"
            steps.restore_checkpoint(run_id, task.id, prep["checkpoint"])
            DBOS.sleep(retry["delay"])
            continue
        session = result.session_id or session
        if result.status == "rate_limited":
            # A usage limit is not a failed attempt: it costs none, and the session goes on.
            if which + 1 < len(agents):
                which += 1
                session = None
                steps.note_rate_limit(run_id, task.id, n, result, agents[which][0], 0)
                continue
            waits += 1
            if waits > MAX_RATE_LIMIT_WAITS:
                steps.fail_task(run_id, task.id, f"still rate-limited after {MAX_RATE_LIMIT_WAITS} waits")
                return "failed"
            seconds = steps.note_rate_limit(run_id, task.id, n, result, None, waits)
            DBOS.send(task.parent, {"task": task.id, "parked": True}, topic=TASK_DONE)
            DBOS.sleep(seconds)
            DBOS.send(task.parent, {"task": task.id, "parked": False}, topic=TASK_DONE)
            continue
        budget = budget.judged()
        evidence = steps.gather_evidence(run_id, current, n, prep["checkpoint"], base, baseline)
        review = steps.review_attempt(run_id, current, n, base, result, evidence, history)
        ev = AttemptEvidence(
            attempt=budget.attempt, max_attempts=budget.max_attempts, agent=result,
            gates=evidence.gates, verdict=review.verdict, review_error=review.error,
            history=list(summaries), findings=evidence.findings, reviewer_weight=review.weight,
        )
        decision = decide(ev, task.thresholds)
        if decision.discard:
            # A change that games the tests never stays in the tree, let alone in a commit.
            steps.restore_checkpoint(run_id, task.id, prep["checkpoint"],
                                     "the attempt tampered with the tests; its change is discarded")
        summaries.append(AttemptSummary.of(ev, decision, task.thresholds))
        action, feedback = decision.action, decision.feedback
        if feedback:
            history.append(feedback)
        human = _human_stop(run_id, current, n, shown, base, decision, ev, summaries)
        # With a person to ask, the task waits as it is; its state follows their answer.
        steps.record_decision(run_id, task.id, n, decision, apply_state=human is None)
        if human is not None:
            kind, message = human
            can_commit = (result.status == "completed" and not blocking(evidence.findings)
                          and all(g.passed for g in evidence.gates if g.required))
            out = _ask_human(run_id, task, n, kind, message, budget=budget, can_commit=can_commit,
                             decided=action)
            if out.next == "fail":
                return "failed"
            if out.next == "proceed":
                action = "proceed"
            elif out.next == "retry":
                action, feedback = "retry", out.feedback or feedback
            if action in ("retry", "clarify", "rollback"):
                steps.mark_retrying(run_id, task.id, f"after {kind}: {action}")
            elif action == "abort":
                steps.fail_task(run_id, task.id, f"after {kind}: {'; '.join(decision.reasons)}")

        if action == "proceed" and steps.pending_steers(run_id, task.id):
            # A person's message came in while this attempt ran: one more attempt carries it
            # in its prompt, on top of this one's work (docs/breakpoints.md, "Steering").
            used = steps.run_retries_used(run_id) if budget.needs_run_count else None
            if budget.exhausted_reason(used) is None:
                steps.mark_retrying(run_id, task.id, "a person's message waits: one more attempt carries it")
                feedback = None
                continue
        if action == "proceed":
            steps.commit_task(run_id, current, base, final=not task.worktree)
            return _merge(run_id, task) if task.worktree else "completed"
        if action == "abort":
            return "failed"
        used = steps.run_retries_used(run_id) if budget.needs_run_count else None
        stop = budget.exhausted_reason(used)
        if stop is not None:
            steps.fail_task(run_id, task.id, stop)
            return "failed"
        if action == "rollback":
            # Same failure again and again: start over from the task's starting point, with a
            # fresh agent session that does not carry the dead end with it.
            steps.restore_checkpoint(run_id, task.id, base)
            session = None


def _human_stop(
    run_id: str, task: TaskSpec, n: int, shown: int, base: str, decision: Decision,
    ev: AttemptEvidence, summaries: list[AttemptSummary],
) -> tuple[str, str] | None:
    """The breakpoint this attempt stops at, if any, as (kind, message): decide()'s own
    escalation first, then the plan's `breakpoint: after`, copilot mode, and the rules."""
    failures = 0
    for summary in reversed(summaries):
        if summary.action == "proceed":
            break
        failures += 1
    checked = steps.check_rules(run_id, task, n, shown, base, decision, ev.verdict, ev.gates,
                                ev.findings, ev.agent.status, failures)
    hits = checked["hits"]
    action = decision.action
    if action == "escalate" and decision.breakpoint is not None:
        return decision.breakpoint.kind, decision.breakpoint.message
    if action == "proceed" and task.breakpoint == "after":
        return "after_task", f"task {task.id} passed its checks: approve to commit it"
    if checked["mode"] == "copilot":
        # Copilot: a person looks at every attempt; approving keeps overseer's decision,
        # otherwise their note becomes the feedback.
        return "copilot_review", f"attempt {shown} of task {task.id}: overseer would {action} ({decision.reasons[0]})"
    if hits:
        return hits[0]["kind"], "; ".join(h["message"] for h in hits) + f" (overseer would {action})"
    return None


def failure_reason(exc: Exception) -> str:
    """Why a task failed when a step raised: a problem the user can fix (a bad host key, a
    missing workdir) says what to do; anything else is a bug of ours and says so."""
    if isinstance(exc, OverseerError):
        return exc.message + (f" (fix: {exc.hint})" if exc.hint else "")
    return f"internal error: {type(exc).__name__}: {exc}"
