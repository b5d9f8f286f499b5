"""The durable shape of a run: one workflow per run, one per task (DBOS Transact).

Workflow code is deterministic: every effect is a step in engine.steps, and decide()
is a pure function, so replaying a workflow after a crash retraces the same path.
"""

from __future__ import annotations

import contextlib
from typing import Any

from dbos import DBOS, SetWorkflowID
from dbos._error import DBOSAwaitedWorkflowCancelledError, DBOSWorkflowCancelledError

from overseer.agents import AgentResult
from overseer.engine import queues, steps
from overseer.engine.decide import AttemptEvidence, AttemptSummary, Thresholds, decide
from overseer.engine.generations import run_workflow_id, task_workflow_id
from overseer.engine.infra_retry import is_infrastructure_failure
from overseer.engine.schedule import boosts_of, order_ready, transitive_dependents
from overseer.errors import OverseerError
from overseer.gates import GateResult
from overseer.supervisor.review import Verdict

TASK_DONE = "task-done"
# A long wait between task completions is normal (agents work for hours); waking up once a
# day costs nothing and keeps a single recv from blocking forever on a lost message.
RECV_TIMEOUT_S = 24 * 3600
# A limit that keeps coming back after this many waits is not a passing usage limit.
MAX_RATE_LIMIT_WAITS = 20


@DBOS.workflow(name="overseer.run")
def run_workflow(run_id: str, generation: int = 0) -> dict[str, Any]:
    me = run_workflow_id(run_id, generation)
    spec = steps.load_run(run_id)
    baseline = steps.baseline_gates(run_id)
    order = sorted(range(len(spec["tasks"])), key=lambda i: (-spec["tasks"][i]["priority"], i))
    tasks = [spec["tasks"][i] for i in order]
    by_id = {t["id"]: t for t in tasks}
    blocking, boosts = transitive_dependents(tasks), boosts_of(spec.get("scheduling"))
    finished: dict[str, str] = {
        tid: s for tid, s in spec["states"].items() if s in ("completed", "failed", "cancelled")
    }
    running: set[str] = set()
    # A task parked at a human breakpoint gives up its slot, so the others go on meanwhile.
    parked: set[str] = set()
    parallel = max(1, int(spec["parallel"]))
    # On PostgreSQL tasks go through the run's queue, so `overseer worker`s can take them.
    queued = spec.get("dispatch") == "queue"
    if queued:
        queues.open_task_queue(run_id, parallel, spec.get("worker_slots"))
    # A person paused new work (`overseer pause`): running tasks go on, no new one starts.
    paused = False

    while len(finished) < len(tasks):
        for t in tasks:
            tid = t["id"]
            if tid in finished or tid in running or tid in parked:
                continue
            bad = [d for d in t["depends_on"] if finished.get(d) in ("failed", "cancelled")]
            if bad:
                steps.cancel_task(run_id, tid, f"dependency {bad[0]} {finished[bad[0]]}")
                finished[tid] = "cancelled"
        ready = [
            t for t in tasks
            if t["id"] not in finished and t["id"] not in running and t["id"] not in parked
            and all(finished.get(d) == "completed" for d in t["depends_on"])
        ]
        # Plan priority plus boosts (deadline near, blocking others, minus earlier attempts).
        # The clock is a step, read only when a deadline can matter, so a replay orders alike.
        ready = order_ready(
            ready, now=steps.clock() if any(t.get("deadline") for t in ready) else None,
            dependents_count=blocking, retries={t["id"]: int(t.get("attempt_offset", 0)) for t in ready},
            boosts=boosts,
        )
        for t in ([] if paused else ready[: parallel - len(running)]):
            steps.mark_ready(run_id, t["id"])
            with SetWorkflowID(task_workflow_id(run_id, generation, t["id"])):
                # Tasks that may run side by side each get a worktree of their own.
                spec_t = {**by_id[t["id"]], "worktree": parallel > 1, "parent": me,
                          "thresholds": spec["thresholds"], "mode": spec.get("mode", "autopilot"),
                          "retry_limit": spec.get("retry_limit")}
                if queued:
                    queues.task_queue(run_id).enqueue(task_workflow, run_id, spec_t, me, baseline)
                else:
                    DBOS.start_workflow(task_workflow, run_id, spec_t, me, baseline)
            running.add(t["id"])
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
def task_workflow(
    run_id: str, task: dict[str, Any], parent: str, baseline: dict[str, dict[str, Any]]
) -> str:
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
            steps.fail_task(run_id, task["id"], failure_reason(exc))
    DBOS.send(parent, {"task": task["id"], "state": state}, topic=TASK_DONE)
    return state


def _ask_human(
    run_id: str, task: dict[str, Any], n: int, kind: str, message: str, last: bool, key: str = ""
) -> dict[str, Any]:
    """Park this task (only this one) until a person approves, rejects or answers."""
    bp = steps.open_breakpoint(run_id, task["id"], n, kind, message, key)
    DBOS.send(task["parent"], {"task": task["id"], "parked": True}, topic=TASK_DONE)
    msg: dict[str, Any] | None = None
    while msg is None:
        msg = DBOS.recv(steps.breakpoint_topic(bp), timeout_seconds=RECV_TIMEOUT_S)
    DBOS.send(task["parent"], {"task": task["id"], "parked": False}, topic=TASK_DONE)
    failing = msg["action"] == "reject" and last
    steps.close_breakpoint(run_id, task["id"], bp, msg, "failed" if failing else "running")
    return msg


def _human_feedback(msg: dict[str, Any]) -> str:
    verb = "answered" if msg["action"] == "answer" else "reviewed your work and asked for changes"
    return f"A person {verb}:\n\n{msg.get('note') or ''}".strip()


def _merge(run_id: str, task: dict[str, Any]) -> str:
    """Bring a worktree task's commit into the run's branch; a conflict waits for a person,
    who resolves it on the branch and approves (the merge is tried again) or rejects."""
    tries = 0
    while True:
        merged = steps.merge_back(run_id, task)
        if not merged["conflicts"]:
            return "completed"
        tries += 1
        files = ", ".join(merged["conflicts"])
        msg = _ask_human(run_id, task, 0, "merge_conflict",
                         f"merging task {task['id']} conflicts in: {files}; resolve them on the branch "
                         "and approve to merge again, or reject", last=True, key=str(tries))
        if msg["action"] != "approve":
            return "failed"


def _attempts(run_id: str, task: dict[str, Any], baseline: dict[str, dict[str, Any]]) -> str:
    max_attempts = int(task["max_attempts"])
    feedback: str | None = None
    base: str | None = None
    # A retry continues the agent's session (for agents that have one), so the agent keeps
    # its context and reads the feedback as a follow-up.
    session: str | None = None
    if task.get("worktree"):
        steps.prepare_worktree(run_id, task["id"])
    if task["breakpoint"] == "before":
        msg = _ask_human(run_id, task, 0, "before_task", f"task {task['id']} ({task['title']}) is about to start", True)
        if msg["action"] == "reject":
            return "failed"
        if msg["action"] == "answer":
            feedback = _human_feedback(msg)
    # The agent and its fallbacks, in order: a usage limit moves to the next one, or waits.
    agents = [(task["agent_name"], task["agent"])] + [(f[0], f[1]) for f in task.get("fallbacks", [])]
    # Attempt numbers go on from earlier generations (after a rollback), so no record is reused.
    which, tries, n, waits = 0, 0, int(task.get("attempt_offset", 0)), 0
    history: list[str] = []  # earlier attempts' feedback, for the reviewer
    summaries: list[AttemptSummary] = []  # earlier attempts, for decide()
    th = Thresholds(**{k: v for k, v in task.get("thresholds", {}).items() if k in Thresholds.model_fields})
    while tries < max_attempts:
        n += 1
        current = {**task, "agent_name": agents[which][0], "agent": agents[which][1]}
        prep = steps.prepare_attempt(run_id, current, n, feedback)
        base = base or prep["checkpoint"]
        result = AgentResult.model_validate(
            steps.run_agent(run_id, current, n, prep["prompt"], prep["checkpoint"], session)
        )
        infra = is_infrastructure_failure(result)
        if infra is not None:
            # Not the agent's fault: the same attempt again — same tree, prompt and session —
            # after a backoff; it costs no try. Bounded per task and per run.
            retry = steps.note_infra_failure(run_id, task["id"], n, infra)
            if not retry["retry"]:
                return "failed"
            steps.restore_checkpoint(run_id, task["id"], prep["checkpoint"])
            DBOS.sleep(retry["delay"])
            continue
        session = result.session_id or session
        if result.status == "rate_limited":
            # A usage limit is not a failed attempt: it costs no try, and the session goes on.
            if which + 1 < len(agents):
                which += 1
                session = None
                steps.note_rate_limit(run_id, task["id"], n, result.model_dump(mode="json"), agents[which][0], 0)
                continue
            waits += 1
            if waits > MAX_RATE_LIMIT_WAITS:
                steps.fail_task(run_id, task["id"], f"still rate-limited after {MAX_RATE_LIMIT_WAITS} waits")
                return "failed"
            seconds = steps.note_rate_limit(run_id, task["id"], n, result.model_dump(mode="json"), None, waits)
            DBOS.send(task["parent"], {"task": task["id"], "parked": True}, topic=TASK_DONE)
            DBOS.sleep(seconds)
            DBOS.send(task["parent"], {"task": task["id"], "parked": False}, topic=TASK_DONE)
            continue
        tries += 1
        last = tries == max_attempts
        gates = [GateResult.model_validate(g) for g in steps.check_gates(run_id, current, n, prep["checkpoint"], base, baseline)]
        review = steps.review_attempt(
            run_id, current, n, base, result.model_dump(mode="json"),
            [g.model_dump(mode="json") for g in gates], history,
        )
        verdict = Verdict.model_validate(review["verdict"]) if review["verdict"] else None
        evidence = AttemptEvidence(
            attempt=tries, max_attempts=max_attempts, agent=result, gates=gates, verdict=verdict,
            review_error=review["error"], history=list(summaries),
        )
        decision = decide(evidence, th)
        summaries.append(AttemptSummary.of(evidence, decision, th))
        action, feedback = decision.action, decision.feedback
        if feedback:
            history.append(feedback)

        failures = 0
        for summary in reversed(summaries):
            if summary.action == "proceed":
                break
            failures += 1
        hits = steps.check_rules(
            run_id, current, n, base, decision.model_dump(mode="json"), review["verdict"],
            [g.model_dump(mode="json") for g in gates], result.status, failures,
        )
        escalated = decision.breakpoint.kind if action == "escalate" and decision.breakpoint else None
        hits = [h for h in hits if h["kind"] != escalated]

        human_kind = None
        if action == "escalate" and decision.breakpoint is not None:
            human_kind, message = decision.breakpoint.kind, decision.breakpoint.message
        elif action == "proceed" and task["breakpoint"] == "after":
            human_kind, message = "after_task", f"task {task['id']} passed its checks: approve to commit it"
        elif task.get("mode") == "copilot":
            # Copilot: a person looks at every attempt; approving accepts the decision's
            # alternative only for proceed, otherwise their note becomes the feedback.
            human_kind = "copilot_review"
            message = f"attempt {n} of task {task['id']}: overseer would {action} ({decision.reasons[0]})"
        elif hits:
            human_kind = hits[0]["kind"]
            message = "; ".join(h["message"] for h in hits) + f" (overseer would {action})"
        # With a person to ask, the task waits as it is; its state follows their answer.
        steps.record_decision(run_id, task["id"], n, decision.model_dump(mode="json"),
                              apply_state=human_kind is None)
        if human_kind is not None:
            msg = _ask_human(run_id, task, n, human_kind, message, last)
            gates_ok = result.status == "completed" and all(g.passed for g in gates if g.required)
            if msg["action"] == "approve":
                # A person's approval accepts the work, but never past a failing required gate:
                # then it means "keep trying" (or, in copilot mode, "do what overseer decided").
                if human_kind == "copilot_review":
                    pass
                elif gates_ok:
                    action = "proceed"
                elif last:
                    steps.fail_task(run_id, task["id"], "approved, but required gates fail and no attempts are left")
                    return "failed"
                else:
                    action = "retry"
            elif last or human_kind == "budget_exceeded":
                # Rejecting a budget stop means: stop spending.
                if human_kind == "budget_exceeded":
                    steps.fail_task(run_id, task["id"], f"budget exceeded; {msg.get('note') or 'rejected'}")
                return "failed"
            else:
                action, feedback = "retry", _human_feedback(msg)
            if action in ("retry", "clarify", "rollback"):
                steps.mark_retrying(run_id, task["id"], f"after {human_kind}: {action}")
            elif action == "abort":
                steps.fail_task(run_id, task["id"], f"after {human_kind}: {'; '.join(decision.reasons)}")

        if action == "proceed":
            steps.commit_task(run_id, current, base, final=not task.get("worktree"))
            return _merge(run_id, task) if task.get("worktree") else "completed"
        if action == "abort":
            return "failed"
        limit = task.get("retry_limit")
        if not last and limit is not None and not steps.run_retries_left(run_id, task["id"], int(limit)):
            return "failed"
        if action == "rollback":
            # Same failure again and again: start over from the task's starting point, with a
            # fresh agent session that does not carry the dead end with it.
            steps.restore_checkpoint(run_id, task["id"], base)
            session = None
    steps.fail_task(run_id, task["id"], f"no attempts left after {max_attempts}")
    return "failed"


def failure_reason(exc: Exception) -> str:
    """Why a task failed when a step raised: a problem the user can fix (a bad host key, a
    missing workdir) says what to do; anything else is a bug of ours and says so."""
    if isinstance(exc, OverseerError):
        return exc.message + (f" (fix: {exc.hint})" if exc.hint else "")
    return f"internal error: {type(exc).__name__}: {exc}"
