"""Steps of one attempt: checkpoint and prompt, the agent's run, and what follows a decision
(recording it, committing, restoring, the repeats that cost no attempt)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

from dbos import DBOS

from overseer.agents import AgentEvent, AgentResult, RunContext, get_agent_type
from overseer.agents.process import kill_leftovers
from overseer.engine.context import current
from overseer.engine.decide import Decision
from overseer.engine.faults import crash_point
from overseer.engine.infra_retry import INFRA_KIND, limits_of, plan_infra_retry
from overseer.engine.spec import TaskSpec
from overseer.engine.steps.common import attempt_id, set_state
from overseer.engine.steps.human import breakpoint_id
from overseer.events import Event, publish
from overseer.gates.holdout import clean_up
from overseer.lifecycle import TaskState
from overseer.scrub import process_scrubber, scrub_files
from overseer.supervisor.prompts import steer_message, task_prompt
from overseer.workspace.refs import checkpoint_ref
from overseer.workspace.watch import FileActivity

RATE_LIMIT_BACKOFF_S = 60.0
RATE_LIMIT_BACKOFF_MAX_S = 3600.0


@DBOS.step(name="overseer.prepare_attempt")
def prepare_attempt(run_id: str, task: TaskSpec, n: int, shown: int, feedback: str | None) -> dict[str, Any]:
    """Checkpoint the tree, render the prompt, open the attempt record. `n` numbers the
    record; `shown` is the attempt number the prompt and `status` give (repeats excluded)."""
    ctx = current()
    ws = ctx.task_workspace(run_id, task.id)
    set_state(run_id, task.id, TaskState.RUNNING)
    _remove_holdouts(run_id, task.id, n)
    ref = checkpoint_ref(run_id, task.id, n)
    sha = ws.checkpoint(ref)
    ctx.store.add_checkpoint(run_id, task.id, n, ref, sha)
    steers = [x.message for x in ctx.store.take_steers(run_id, task.id, n)]
    prompt = task_prompt(task, shown, feedback, ws.root, steers=steers)
    adir = ctx.attempt_dir(run_id, task.id, n)
    prompt = process_scrubber().text(prompt)  # feedback quotes gate output and people's notes
    (adir / "prompt.md").write_text(prompt)
    aid = ctx.store.start_attempt(
        run_id, task.id, n, prompt=prompt, agent_name=task.agent_name,
        agent_type=str(task.agent.get("type", "")), checkpoint_sha=sha,
        transcript_path=str(adir / "transcript.jsonl"), shown=shown,
    )
    publish(Event(type="attempt_started", run_id=run_id, task_id=task.id, attempt=n, data={"agent": task.agent_name}))
    return {"attempt_id": aid, "checkpoint": sha, "prompt": prompt}


def _remove_holdouts(run_id: str, task_id: str, n: int) -> None:
    """Hidden tests a crash left in a workspace go before any agent can start."""
    for path in clean_up(current().holdout_state(run_id)):
        publish(Event(type="notice", run_id=run_id, task_id=task_id, attempt=n,
                      data={"message": f"removed holdout files a crash left behind: {path}"}))


@DBOS.step(name="overseer.pending_steers")
def pending_steers(run_id: str, task_id: str) -> int:
    """Messages from a person (`overseer steer`) that no prompt has carried yet."""
    return current().store.pending_steers(run_id, task_id)


@DBOS.step(name="overseer.run_agent")
def run_agent(
    run_id: str, task: TaskSpec, n: int, prompt: str, checkpoint: str, session_id: str | None
) -> dict[str, Any]:
    ctx = current()
    aid = attempt_id(run_id, task.id, n)
    ws = ctx.task_workspace(run_id, task.id)
    adir = ctx.attempt_dir(run_id, task.id, n)
    transcript = adir / "transcript.jsonl"
    started = adir / "agent.started"
    finished = adir / "agent.result.json"
    if finished.exists():
        # The agent finished and its result was saved before the process died: its work is in
        # the tree, so keep it rather than throw away what may have been hours of agent time.
        result = AgentResult.model_validate_json(finished.read_text())
        ctx.store.finish_attempt(aid, result)
        return result.model_dump(mode="json")
    _remove_holdouts(run_id, task.id, n)
    if started.exists():
        # This step ran before and the process died under it: finish off what the dead
        # run left behind and start the attempt again from its checkpoint.
        kill_leftovers(aid)
        ws.restore(checkpoint)
        transcript.unlink(missing_ok=True)
        publish(Event(type="notice", run_id=run_id, task_id=task.id, attempt=n,
                      data={"message": "restarting an attempt interrupted by a crash"}))
    agent_cls = get_agent_type(str(task.agent["type"]))
    agent = agent_cls(agent_cls.config_class.model_validate(task.agent))
    # Continue numbering after events a crashed earlier run of this step already stored.
    seq = [len(ctx.store.list_events(aid))]
    lock = threading.Lock()

    scrub = process_scrubber()

    def on_event(ev: AgentEvent) -> None:
        # Lines are scrubbed as they come; events an adapter builds from elsewhere (a model
        # API's answers, a tool call's arguments) are scrubbed here, before any copy is kept.
        ev = ev.model_copy(update={"data": scrub.deep(ev.data)})
        with lock:
            seq[0] += 1
            n_ = seq[0]
            with transcript.open("a") as f:
                f.write(json.dumps(ev.model_dump(mode="json")) + "\n")
        ctx.store.add_event(aid, n_, ev)
        publish(Event(type="agent_event", run_id=run_id, task_id=task.id, attempt=n, data=ev.model_dump(mode="json")))

    def take_steers() -> str | None:
        got = ctx.store.take_live_steers(run_id, task.id, n)
        return scrub.text(steer_message([s.message for s in got], ws.root)) if got else None

    rc = RunContext(
        workdir=ws.root, prompt=prompt, prompt_file=adir / "prompt.md", run_id=run_id,
        task_id=task.id, attempt=n, timeout=task.timeout, transcript=transcript,
        on_event=on_event, on_spawn=lambda pgid: ctx.store.set_attempt_pgid(aid, pgid),
        session_id=session_id, take_steers=take_steers,
    )
    started.touch()

    def on_files(changes: list[tuple[str, str]]) -> None:
        on_event(AgentEvent(kind="file_change", data={"changes": [{"change": c, "path": p} for c, p in changes]}))

    crash_point("before_agent")
    # The watcher feeds the live view; the authoritative change list is git's, after the run.
    with FileActivity(ws.root, on_files):
        result = agent.run(rc)
    result = AgentResult.model_validate(scrub.deep(result.model_dump(mode="json")))
    # What the agent CLI wrote for itself beside the attempt (its session files, its home).
    scrub_files(adir.parent)
    partial = finished.with_suffix(".partial")
    partial.write_text(result.model_dump_json())
    partial.replace(finished)  # atomic: a crash leaves the whole result or none
    ctx.store.finish_attempt(aid, result)
    crash_point("after_agent")
    publish(Event(type="agent_finished", run_id=run_id, task_id=task.id, attempt=n, data=result.model_dump(mode="json")))
    return result.model_dump(mode="json")


@DBOS.step(name="overseer.record_decision")
def record_decision(
    run_id: str, task_id: str, n: int, decision: Decision, apply_state: bool = True
) -> None:
    """Record the decision on attempt n (with a person to ask, the state waits for them)."""
    ctx = current()
    data = decision.model_dump(mode="json")
    ctx.store.add_decision(attempt_id(run_id, task_id, n), data)
    publish(Event(type="decision", run_id=run_id, task_id=task_id, attempt=n, data=data))
    if not apply_state:
        return
    reason = "; ".join(decision.reasons)
    if decision.action == "retry":
        set_state(run_id, task_id, TaskState.RETRYING, reason)
    elif decision.action == "abort":
        set_state(run_id, task_id, TaskState.FAILED, reason)


@DBOS.step(name="overseer.commit_task")
def commit_task(run_id: str, task: TaskSpec, base: str, final: bool = True) -> str | None:
    ctx = current()
    ws = ctx.task_workspace(run_id, task.id)
    sha = ws.commit_task(base, f"{task.id}: {task.title}", {"Overseer-Run": run_id, "Overseer-Task": task.id})
    crash_point("during_commit")
    if sha:
        ctx.store.set_task_commit(run_id, task.id, sha)
        publish(Event(type="commit", run_id=run_id, task_id=task.id, data={"sha": sha}))
    if final:
        set_state(run_id, task.id, TaskState.COMPLETED, f"committed {sha[:12]}" if sha else "no changes to commit")
    return sha


@DBOS.step(name="overseer.restore_checkpoint")
def restore_checkpoint(run_id: str, task_id: str, sha: str, why: str = "") -> None:
    current().task_workspace(run_id, task_id).restore(sha)
    publish(Event(type="notice", run_id=run_id, task_id=task_id,
                  data={"message": f"rolled the workspace back to {sha[:12]}" + (f" ({why})" if why else "")}))


@DBOS.step(name="overseer.note_rate_limit")
def note_rate_limit(
    run_id: str, task_id: str, n: int, result: AgentResult, fallback: str | None, waits: int
) -> float:
    """Record a usage limit (an auto-resolved `rate_limit_hit` breakpoint) and say how long
    to wait: until the agent's reset time, else an exponential backoff."""
    ctx = current()
    if fallback is not None:
        seconds, what = 0.0, f"switching to fallback agent {fallback}"
    elif result.retry_at:
        until = result.retry_at if result.retry_at.tzinfo else result.retry_at.replace(tzinfo=UTC)
        seconds = max(1.0, (until - datetime.now(UTC)).total_seconds())
        what = f"waiting until {until.isoformat(timespec='seconds')} ({seconds:.0f}s), then resuming the session"
    else:
        seconds = min(RATE_LIMIT_BACKOFF_MAX_S, RATE_LIMIT_BACKOFF_S * 2 ** (waits - 1))
        what = f"no reset time given: waiting {seconds:.0f}s, then resuming the session"
    message = f"agent hit a usage limit ({result.error or 'rate limited'}): {what}"
    aid = attempt_id(run_id, task_id, n)
    ctx.store.add_decision(aid, {"action": "retry", "reasons": [message], "feedback": None, "breakpoint": None})
    bp = breakpoint_id(run_id, task_id, n, "rate_limit_hit")
    ctx.store.open_breakpoint(run_id, "rate_limit_hit", message, task_id=task_id, attempt_id=aid,
                              severity="auto", breakpoint_id=bp)
    ctx.store.resolve_breakpoint(bp, "auto", note=what, resolved_by="overseer")
    set_state(run_id, task_id, TaskState.RETRYING, message)
    publish(Event(type="notice", run_id=run_id, task_id=task_id, attempt=n, data={"message": message}))
    return seconds


@DBOS.step(name="overseer.note_infra_failure")
def note_infra_failure(run_id: str, task_id: str, n: int, reason: str) -> dict[str, Any]:
    """An attempt failed for infrastructure reasons: record an auto-resolved
    `infrastructure_failure` breakpoint and say how long to wait before the same attempt runs
    again — or, past `retries.max_infra_retries` (task) or `max_infra_retries_per_run`, fail
    the task. The counts are the run's recorded retries, so they hold across restarts."""
    ctx = current()
    run = ctx.store.get_run(run_id)
    assert run is not None
    limits = limits_of((run.config_json or {}).get("retries"))
    aid = attempt_id(run_id, task_id, n)
    bp = breakpoint_id(run_id, task_id, n, INFRA_KIND)
    # This attempt's own record is left out: a step re-run after a crash decides the same way.
    earlier = [b for b in ctx.store.list_breakpoints(run_id) if b.kind == INFRA_KIND and b.id != bp]
    plan = plan_infra_retry(reason, task_retries=sum(b.task_id == task_id for b in earlier),
                            run_retries=len(earlier), limits=limits, seed=aid)
    if plan.retry:
        ctx.store.open_breakpoint(run_id, INFRA_KIND, plan.message, task_id=task_id, attempt_id=aid,
                                  severity="warning", breakpoint_id=bp)
        ctx.store.resolve_breakpoint(bp, "auto", note=f"retrying in {plan.delay_s:g}s", resolved_by="overseer")
        set_state(run_id, task_id, TaskState.RETRYING, plan.message)
    else:
        set_state(run_id, task_id, TaskState.FAILED, plan.message)
    publish(Event(type="notice", run_id=run_id, task_id=task_id, attempt=n, data={"message": plan.message}))
    return {"retry": plan.retry, "delay": plan.delay_s, "message": plan.message}
