"""The effects of a run, each a DBOS step: re-run after a crash, so each is idempotent."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

from dbos import DBOS

from overseer.agents import AgentEvent, AgentResult, RunContext, get_agent_type
from overseer.agents.process import ATTEMPT_ENV, kill_leftovers
from overseer.engine.context import current
from overseer.engine.faults import crash_point
from overseer.engine.infra_retry import INFRA_KIND, limits_of, plan_infra_retry
from overseer.engine.outcomes import record_outcomes
from overseer.engine.rules import (
    CostInfo,
    GateInfo,
    ReviewInfo,
    RuleContext,
    TaskInfo,
    TokenInfo,
    evaluate,
)
from overseer.errors import OverseerError, WorkspaceError
from overseer.events import Event, publish
from overseer.gates import GateResult, baseline_key, regressions
from overseer.gates.runner import run_gates
from overseer.lifecycle import RunState, TaskState
from overseer.plan.schema import ResolvedTask
from overseer.supervisor.llm import NoLLM
from overseer.supervisor.prompts import task_prompt
from overseer.supervisor.review import Verdict
from overseer.workspace.watch import FileActivity
from overseer.workspace.worktrees import create_worktree, merge_task, remove_worktree, task_branch


def attempt_id(run_id: str, task_id: str, n: int) -> str:
    return f"{run_id}/{task_id}/{n}"


def _set_state(run_id: str, task_id: str, state: TaskState, reason: str | None = None) -> None:
    store = current().store
    if store.get_task(run_id, task_id).state == TaskState.CANCELLED and state != TaskState.CANCELLED:
        return  # `overseer cancel` got there first; the step finishing under it changes nothing
    store.set_task_state(run_id, task_id, state, reason)
    publish(Event(type="task_state", run_id=run_id, task_id=task_id, data={"state": state.value, "reason": reason}))


@DBOS.step(name="overseer.load_run")
def load_run(run_id: str) -> dict[str, Any]:
    ctx = current()
    run = ctx.store.get_run(run_id)
    if run is None:
        raise KeyError(f"run {run_id} not in the store")
    tasks = ctx.store.list_tasks(run_id)
    plan_tasks = {t["id"]: t for t in run.plan_json["resolved_tasks"]}
    publish(Event(type="run_started", run_id=run_id, data={"tasks": len(tasks)}))
    return {
        # Thresholds as recorded when the run started, so a replay decides the same way.
        "thresholds": (run.config_json or {}).get("decision", {}),
        "parallel": run.parallel,
        "mode": (run.config_json or {}).get("run", {}).get("mode", "autopilot"),
        "dispatch": run.dispatch,
        "worker_slots": (run.config_json or {}).get("run", {}).get("worker_slots"),
        "retry_limit": ((run.config_json or {}).get("retries") or {}).get("max_decision_retries_per_run"),
        "tasks": [{**plan_tasks[t.task_id], "attempt_offset": t.attempts} for t in tasks],
        "states": {t.task_id: t.state for t in tasks},
        # Priority boosts as recorded when the run started, so a replay orders tasks the same way.
        "scheduling": (run.config_json or {}).get("scheduling", {}),
    }


@DBOS.step(name="overseer.mark_ready")
def mark_ready(run_id: str, task_id: str) -> None:
    _set_state(run_id, task_id, TaskState.READY)


@DBOS.step(name="overseer.cancel_task")
def cancel_task(run_id: str, task_id: str, reason: str) -> None:
    _set_state(run_id, task_id, TaskState.CANCELLED, reason)


@DBOS.step(name="overseer.mark_retrying")
def mark_retrying(run_id: str, task_id: str, reason: str) -> None:
    _set_state(run_id, task_id, TaskState.RETRYING, reason)


@DBOS.step(name="overseer.fail_task")
def fail_task(run_id: str, task_id: str, reason: str) -> None:
    _set_state(run_id, task_id, TaskState.FAILED, reason)


@DBOS.step(name="overseer.prepare_attempt")
def prepare_attempt(run_id: str, task: dict[str, Any], n: int, feedback: str | None) -> dict[str, Any]:
    """Checkpoint the tree, render the prompt, open the attempt record."""
    ctx = current()
    t = ResolvedTask.model_validate(task)
    ws = ctx.task_workspace(run_id, t.id)
    _set_state(run_id, t.id, TaskState.RUNNING)
    ref = f"refs/overseer/{run_id}/{t.id}/{n}"
    sha = ws.checkpoint(ref)
    ctx.store.add_checkpoint(run_id, t.id, n, ref, sha)
    prompt = task_prompt(t, n, feedback, ws.root)
    adir = ctx.attempt_dir(run_id, t.id, n)
    (adir / "prompt.md").write_text(prompt)
    aid = ctx.store.start_attempt(
        run_id,
        t.id,
        n,
        prompt=prompt,
        agent_name=t.agent_name,
        agent_type=str(t.agent.get("type", "")),
        checkpoint_sha=sha,
        transcript_path=str(adir / "transcript.jsonl"),
    )
    publish(Event(type="attempt_started", run_id=run_id, task_id=t.id, attempt=n, data={"agent": t.agent_name}))
    return {"attempt_id": aid, "checkpoint": sha, "prompt": prompt}


@DBOS.step(name="overseer.run_agent")
def run_agent(
    run_id: str, task: dict[str, Any], n: int, prompt: str, checkpoint: str, session_id: str | None
) -> dict[str, Any]:
    ctx = current()
    t = ResolvedTask.model_validate(task)
    aid = attempt_id(run_id, t.id, n)
    ws = ctx.task_workspace(run_id, t.id)
    adir = ctx.attempt_dir(run_id, t.id, n)
    transcript = adir / "transcript.jsonl"
    started = adir / "agent.started"
    finished = adir / "agent.result.json"
    if finished.exists():
        # The agent finished and its result was saved before the process died: its work is in
        # the tree, so keep it rather than throw away what may have been hours of agent time.
        result = AgentResult.model_validate_json(finished.read_text())
        ctx.store.finish_attempt(aid, result)
        return result.model_dump(mode="json")
    if started.exists():
        # This step ran before and the process died under it: finish off what the dead
        # run left behind and start the attempt again from its checkpoint.
        kill_leftovers(aid)
        ws.restore(checkpoint)
        transcript.unlink(missing_ok=True)
        publish(Event(type="notice", run_id=run_id, task_id=t.id, attempt=n,
                      data={"message": "restarting an attempt interrupted by a crash"}))
    agent_cls = get_agent_type(str(t.agent["type"]))
    agent = agent_cls(agent_cls.config_class.model_validate(t.agent))
    # Continue numbering after events a crashed earlier run of this step already stored.
    seq = [len(ctx.store.list_events(aid))]
    lock = threading.Lock()

    def on_event(ev: AgentEvent) -> None:
        with lock:
            seq[0] += 1
            n_ = seq[0]
            with transcript.open("a") as f:
                f.write(json.dumps(ev.model_dump(mode="json")) + "\n")
        ctx.store.add_event(aid, n_, ev)
        publish(Event(type="agent_event", run_id=run_id, task_id=t.id, attempt=n, data=ev.model_dump(mode="json")))

    rc = RunContext(
        workdir=ws.root,
        prompt=prompt,
        prompt_file=adir / "prompt.md",
        run_id=run_id,
        task_id=t.id,
        attempt=n,
        timeout=t.timeout,
        transcript=transcript,
        on_event=on_event,
        on_spawn=lambda pgid: ctx.store.set_attempt_pgid(aid, pgid),
        session_id=session_id,
    )
    started.touch()

    def on_files(changes: list[tuple[str, str]]) -> None:
        on_event(AgentEvent(kind="file_change", data={"changes": [{"change": c, "path": p} for c, p in changes]}))

    crash_point("before_agent")
    # The watcher feeds the live view; the authoritative change list is git's, after the run.
    with FileActivity(ws.root, on_files):
        result = agent.run(rc)
    partial = finished.with_suffix(".partial")
    partial.write_text(result.model_dump_json())
    partial.replace(finished)  # atomic: a crash leaves the whole result or none
    ctx.store.finish_attempt(aid, result)
    crash_point("after_agent")
    publish(Event(type="agent_finished", run_id=run_id, task_id=t.id, attempt=n, data=result.model_dump(mode="json")))
    return result.model_dump(mode="json")


@DBOS.step(name="overseer.baseline")
def baseline_gates(run_id: str) -> dict[str, dict[str, Any]]:
    """Every command gate the plan uses, run once on the tree as the run found it, so a later
    failure that was already there is not blamed on a task, and a new one is flagged."""
    ctx = current()
    run = ctx.store.get_run(run_id)
    assert run is not None
    ws = ctx.workspace(run_id)
    specs = {}
    for t in run.plan_json["resolved_tasks"]:
        for g in ResolvedTask.model_validate(t).gates:
            if g.kind == "command":
                specs[baseline_key(g)] = g
    out_dir = ws.root / ".overseer" / "runs" / run_id / "baseline"
    # Same-named gates that differ run under their keys, so their output files stay apart.
    named = [g.model_copy(update={"name": key}) if sum(x.name == g.name for x in specs.values()) > 1 else g
             for key, g in specs.items()]
    results = run_gates(named, ws.root, output_dir=out_dir, tail_lines=ctx.settings.gates.output_tail_lines)
    data = {key: r.model_dump(mode="json") for key, r in zip(specs, results, strict=True)}
    if data:
        (out_dir / "baseline.json").write_text(json.dumps(data, indent=2))
        ctx.store.add_artifact(run_id, "baseline", str(out_dir / "baseline.json"))
    summary = ", ".join(f"{r.name} {'passes' if r.passed else 'FAILS'}" for r in results)
    if summary:
        publish(Event(type="notice", run_id=run_id, data={"message": f"baseline before any task: {summary}"}))
    return data


@DBOS.step(name="overseer.run_gates")
def check_gates(
    run_id: str, task: dict[str, Any], n: int, checkpoint: str, base: str,
    baseline: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    ctx = current()
    t = ResolvedTask.model_validate(task)
    aid = attempt_id(run_id, t.id, n)
    ws = ctx.task_workspace(run_id, t.id)
    changes = ws.changes(checkpoint)
    ctx.store.add_file_changes(aid, [(c.path, c.status, c.added, c.removed) for c in changes])
    out_dir = ctx.attempt_dir(run_id, t.id, n) / "gates"
    started = ctx.attempt_dir(run_id, t.id, n) / "gates.started"
    if started.exists():
        # The process died while gates ran: their commands (sessions of their own) live on,
        # and must not run beside their reruns. They carry the attempt id, as agents do.
        kill_leftovers(aid)
    started.touch()
    # The attempt's changes and the task's are the same list on a first attempt: one snapshot.
    task_changes = changes if checkpoint == base else ws.changes(base)
    results = run_gates(t.gates, ws.root, changes=task_changes, output_dir=out_dir,
                        tail_lines=ctx.settings.gates.output_tail_lines, env={ATTEMPT_ENV: aid})
    spec_of = {g.name: g for g in t.gates}
    for r in results:
        before = baseline.get(baseline_key(spec_of[r.name])) if r.name in spec_of else None
        r.regressions = regressions(r, GateResult.model_validate(before) if before else None) if before else []
    crash_point("during_gates")
    ctx.store.add_gate_results(aid, results)
    for r in results:
        publish(Event(type="gate_result", run_id=run_id, task_id=t.id, attempt=n, data=r.model_dump(mode="json")))
    return [r.model_dump(mode="json") for r in results]


@DBOS.step(name="overseer.record_decision")
def record_decision(
    run_id: str, task_id: str, n: int, decision: dict[str, Any], apply_state: bool = True
) -> None:
    ctx = current()
    ctx.store.add_decision(attempt_id(run_id, task_id, n), decision)
    publish(Event(type="decision", run_id=run_id, task_id=task_id, attempt=n, data=decision))
    action = decision["action"]
    reason = "; ".join(decision["reasons"])
    if not apply_state:
        return
    if action == "retry":
        _set_state(run_id, task_id, TaskState.RETRYING, reason)
    elif action == "abort":
        _set_state(run_id, task_id, TaskState.FAILED, reason)


RETRY_ACTIONS = ("retry", "clarify", "rollback")


@DBOS.step(name="overseer.run_retries_left")
def run_retries_left(run_id: str, task_id: str, limit: int) -> bool:
    """False (and the task failed) once the run's decision retries pass `limit`
    (`retries.max_decision_retries_per_run`): a plan that keeps failing stops spending."""
    ctx = current()
    if ctx.store.count_decisions(run_id, RETRY_ACTIONS) <= limit:
        return True
    _set_state(run_id, task_id, TaskState.FAILED,
               f"the run used its {limit} decision retries (retries.max_decision_retries_per_run)")
    return False


@DBOS.step(name="overseer.commit_task")
def commit_task(run_id: str, task: dict[str, Any], base: str, final: bool = True) -> str | None:
    ctx = current()
    t = ResolvedTask.model_validate(task)
    ws = ctx.task_workspace(run_id, t.id)
    sha = ws.commit_task(
        base,
        f"{t.id}: {t.title}",
        {"Overseer-Run": run_id, "Overseer-Task": t.id},
    )
    crash_point("during_commit")
    if sha:
        ctx.store.set_task_commit(run_id, t.id, sha)
        publish(Event(type="commit", run_id=run_id, task_id=t.id, data={"sha": sha}))
    if final:
        _set_state(run_id, t.id, TaskState.COMPLETED, f"committed {sha[:12]}" if sha else "no changes to commit")
    return sha


@DBOS.step(name="overseer.prepare_worktree")
def prepare_worktree(run_id: str, task_id: str) -> str:
    """A worktree for the task, on a branch from the run's branch as it is now — which holds
    the merged results of every dependency. Reused as it is after a crash."""
    ctx = current()
    main = ctx.workspace(run_id)
    wt = create_worktree(main, run_id, task_id, main.head() or main.current_tree())
    publish(Event(type="notice", run_id=run_id, task_id=task_id,
                  data={"message": f"working in worktree {wt.root.relative_to(main.root)}"}))
    return str(wt.root)


MERGE_CAS_TRIES = 5


@DBOS.step(name="overseer.merge_task")
def merge_back(run_id: str, task: dict[str, Any]) -> dict[str, Any]:
    """Merge the task's branch into the run's branch; conflicts change nothing and are named."""
    ctx = current()
    t = ResolvedTask.model_validate(task)
    main = ctx.workspace(run_id)
    for attempt in range(MERGE_CAS_TRIES):
        try:
            with ctx.merge_lock:
                result = merge_task(main, task_branch(run_id, t.id), f"merge {t.id}: {t.title}",
                                    {"Overseer-Run": run_id, "Overseer-Merge": t.id})
            break
        except WorkspaceError as e:
            # Someone else moved the branch between our read and our swap: merge again.
            if "moved while" not in e.message or attempt == MERGE_CAS_TRIES - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    crash_point("during_merge")
    if not result.conflicts:
        sha = result.sha or main.head()
        if sha:
            ctx.store.set_task_commit(run_id, t.id, sha)
        _set_state(run_id, t.id, TaskState.COMPLETED, f"merged {sha[:12]}" if sha else "nothing to merge")
        if remove_worktree(main, run_id, t.id):
            with ctx._lock:
                ctx._workspaces.pop(f"{run_id}/{t.id}", None)
        publish(Event(type="commit", run_id=run_id, task_id=t.id, data={"sha": sha or "", "merge": True}))
    return {"sha": result.sha, "conflicts": list(result.conflicts)}


@DBOS.step(name="overseer.finish_run")
def finish_run(run_id: str) -> dict[str, Any]:
    ctx = current()
    tasks = ctx.store.list_tasks(run_id)
    ok = all(t.state == TaskState.COMPLETED for t in tasks)
    state = RunState.COMPLETED if ok else RunState.FAILED
    ctx.store.set_run_state(run_id, state)
    record_outcomes(ctx.store, run_id)
    summary = {"state": state.value, "tasks": {t.task_id: t.state for t in tasks}}
    publish(Event(type="run_finished", run_id=run_id, data=summary))
    return summary


def breakpoint_id(run_id: str, task_id: str, n: int, kind: str) -> str:
    # Deterministic, so a step repeated after a crash opens the same breakpoint, and short,
    # because people type it.
    return "bp-" + hashlib.sha1(f"{run_id}/{task_id}/{n}/{kind}".encode()).hexdigest()[:8]


def breakpoint_topic(bp_id: str) -> str:
    return f"bp:{bp_id}"


@DBOS.step(name="overseer.open_breakpoint")
def open_breakpoint(run_id: str, task_id: str, n: int, kind: str, message: str, key: str = "") -> str:
    ctx = current()
    bp = breakpoint_id(run_id, task_id, n, f"{kind}#{key}" if key else kind)
    reason = f"waiting for a human at {bp} ({kind})"
    if ctx.store.park_task(run_id, task_id, kind, message, breakpoint_id=bp, reason=reason,
                           attempt_id=attempt_id(run_id, task_id, n) if n else None):
        publish(Event(type="task_state", run_id=run_id, task_id=task_id,
                      data={"state": TaskState.BLOCKED.value, "reason": reason}))
    publish(Event(type="breakpoint", run_id=run_id, task_id=task_id, attempt=n or None,
                  data={"id": bp, "kind": kind, "message": message}))
    return bp


@DBOS.step(name="overseer.close_breakpoint")
def close_breakpoint(run_id: str, task_id: str, bp: str, resolution: dict[str, Any], next_state: str) -> None:
    """Record the human's answer (if the CLI did not already) and move the task on."""
    ctx = current()
    state = {"approve": "approved", "reject": "rejected", "answer": "answered"}[resolution["action"]]
    with contextlib.suppress(OverseerError):  # already resolved by the CLI: the same answer
        ctx.store.resolve_breakpoint(bp, state, note=resolution.get("note"), resolved_by=resolution.get("by"))
    if next_state == "failed":
        _set_state(run_id, task_id, TaskState.FAILED, f"{state} at {bp}: {resolution.get('note') or ''}".strip())
    else:
        _set_state(run_id, task_id, TaskState.READY, f"{state} at {bp}")
        _set_state(run_id, task_id, TaskState.RUNNING)
    if not ctx.store.list_breakpoints(run_id, state="open"):
        ctx.store.set_run_state(run_id, RunState.RUNNING)
    publish(Event(type="breakpoint_resolved", run_id=run_id, task_id=task_id,
                  data={"id": bp, "state": state, **resolution}))


@DBOS.step(name="overseer.restore_checkpoint")
def restore_checkpoint(run_id: str, task_id: str, sha: str) -> None:
    current().task_workspace(run_id, task_id).restore(sha)
    publish(Event(type="notice", run_id=run_id, task_id=task_id,
                  data={"message": f"rolled the workspace back to {sha[:12]}"}))


RATE_LIMIT_BACKOFF_S = 60.0
RATE_LIMIT_BACKOFF_MAX_S = 3600.0


@DBOS.step(name="overseer.note_rate_limit")
def note_rate_limit(
    run_id: str, task_id: str, n: int, result: dict[str, Any], fallback: str | None, waits: int
) -> float:
    """Record a usage limit (an auto-resolved `rate_limit_hit` breakpoint) and say how long
    to wait: until the agent's reset time, else an exponential backoff."""
    ctx = current()
    retry_at = result.get("retry_at")
    if fallback is not None:
        seconds, what = 0.0, f"switching to fallback agent {fallback}"
    elif retry_at:
        until = datetime.fromisoformat(retry_at)
        if until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        seconds = max(1.0, (until - datetime.now(UTC)).total_seconds())
        what = f"waiting until {until.isoformat(timespec='seconds')} ({seconds:.0f}s), then resuming the session"
    else:
        seconds = min(RATE_LIMIT_BACKOFF_MAX_S, RATE_LIMIT_BACKOFF_S * 2 ** (waits - 1))
        what = f"no reset time given: waiting {seconds:.0f}s, then resuming the session"
    message = f"agent hit a usage limit ({result.get('error') or 'rate limited'}): {what}"
    aid = attempt_id(run_id, task_id, n)
    ctx.store.add_decision(aid, {"action": "retry", "reasons": [message], "feedback": None, "breakpoint": None})
    bp = breakpoint_id(run_id, task_id, n, "rate_limit_hit")
    ctx.store.open_breakpoint(run_id, "rate_limit_hit", message, task_id=task_id, attempt_id=aid,
                              severity="auto", breakpoint_id=bp)
    ctx.store.resolve_breakpoint(bp, "auto", note=what, resolved_by="overseer")
    _set_state(run_id, task_id, TaskState.RETRYING, message)
    publish(Event(type="notice", run_id=run_id, task_id=task_id, attempt=n, data={"message": message}))
    return seconds


@DBOS.step(name="overseer.review")
def review_attempt(
    run_id: str, task: dict[str, Any], n: int, base: str, result: dict[str, Any],
    gates: list[dict[str, Any]], history: list[str],
) -> dict[str, Any]:
    """The supervisor's verdict on the task's whole change so far, from its evidence."""
    from overseer.supervisor.reviewer import review_or_rules, rules_verdict

    ctx = current()
    t = ResolvedTask.model_validate(task)
    aid = attempt_id(run_id, t.id, n)
    ws = ctx.task_workspace(run_id, t.id)
    agent = AgentResult.model_validate(result)
    gate_results = [GateResult.model_validate(g) for g in gates]
    llm, _why = ctx.reviewer()
    verdict: Verdict | None
    if isinstance(llm, NoLLM):
        verdict, error, record = rules_verdict(gate_results, agent), None, {}
    else:
        outcome = review_or_rules(t, ws.diff(base), gate_results, agent, history, llm, project_dir=ws.root)
        verdict, error = outcome.verdict, outcome.error
        record = {"prompt": outcome.prompt, "raw": outcome.raw, "omitted": outcome.omitted,
                  "fallback": outcome.fallback}
    data = {**(verdict.model_dump(mode="json") if verdict else {"complete": None, "reviewer": llm.name}),
            "error": error, **{k: v for k, v in record.items() if k != "prompt"}}
    crash_point("during_review")
    ctx.store.add_verdict(aid, data)
    if record:
        path = ctx.attempt_dir(run_id, t.id, n) / "review.json"
        path.write_text(json.dumps({**data, "prompt": record["prompt"]}, indent=2))
        ctx.store.add_artifact(run_id, "review", str(path), attempt_id=aid)
    publish(Event(type="verdict", run_id=run_id, task_id=t.id, attempt=n, data=data))
    return {"verdict": verdict.model_dump(mode="json") if verdict else None, "error": error}


@DBOS.step(name="overseer.check_rules")
def check_rules(
    run_id: str, task: dict[str, Any], n: int, base: str, decision: dict[str, Any],
    verdict: dict[str, Any] | None, gates: list[dict[str, Any]], agent_status: str,
    consecutive_failures: int,
) -> list[dict[str, Any]]:
    """Evaluate the breakpoint rules on this attempt. Auto hits are recorded and resolved
    here; the hits that want a person are returned for the workflow to ask."""
    ctx = current()
    t = ResolvedTask.model_validate(task)
    aid = attempt_id(run_id, t.id, n)
    # Only what the rule context needs: the run's plan (a large JSON document) is read only
    # for a task in a milestone, and the whole run's task list only to see it complete.
    usage = ctx.store.usage(run_id, t.id)
    milestone_review, milestone_complete = None, False
    if t.milestone:
        run = ctx.store.get_run(run_id)
        assert run is not None
        milestones = {m["id"]: m for m in run.plan_json["plan"].get("milestones", [])}
        milestone_review = milestones.get(t.milestone, {}).get("review")
        if decision["action"] == "proceed":
            milestone_of = {x["id"]: x.get("milestone") for x in run.plan_json["resolved_tasks"]}
            milestone_complete = all(
                x.state == "completed" for x in ctx.store.list_tasks(run_id)
                if x.task_id != t.id and milestone_of.get(x.task_id) == t.milestone
            )
    changes = _task_changes(run_id, t.id, aid, base)
    results = [GateResult.model_validate(g) for g in gates]
    v = verdict or {}
    rc = RuleContext(
        task=TaskInfo(id=t.id, title=t.title, milestone=t.milestone, milestone_review=milestone_review,
                      priority=t.priority, attempt=n, max_attempts=t.max_attempts),
        confidence=decision.get("confidence"), score=v.get("score"),
        review=ReviewInfo(complete=v.get("complete"), score=v.get("score"), confidence=v.get("confidence"),
                          reviewer=v.get("reviewer"), unmet_criteria=v.get("unmet_criteria") or [],
                          issues=len(v.get("issues") or [])),
        gates={g.name: GateInfo(passed=g.passed, required=g.required, exit_code=g.exit_code,
                                failing_tests=g.failing_tests, regressions=g.regressions) for g in results},
        gates_passed=all(g.passed for g in results if g.required),
        regressions=[r for g in results for r in g.regressions],
        files_changed=[p for p, _a, _r in changes], lines_changed=sum(a + r for _p, a, r in changes),
        cost_usd=CostInfo(task=usage.task_cost_usd or 0.0, run=usage.run_cost_usd or 0.0),
        tokens=TokenInfo(task=usage.task_tokens, run=usage.run_tokens),
        milestone_complete=milestone_complete,
        consecutive_failures=consecutive_failures, agent_status=agent_status,
        decision_action=decision["action"],
    )
    hits = evaluate(ctx.rules(), rc)
    for h in hits:
        if h.mode == "auto":
            bp = breakpoint_id(run_id, t.id, n, h.kind)
            ctx.store.open_breakpoint(run_id, h.kind, h.message, task_id=t.id, attempt_id=aid,
                                      severity=h.severity, breakpoint_id=bp)
            ctx.store.resolve_breakpoint(bp, "auto", note="rule in auto mode: recorded, not waited on",
                                         resolved_by="overseer")
            publish(Event(type="notice", run_id=run_id, task_id=t.id, attempt=n,
                          data={"message": f"rule {h.name} ({h.kind}, auto): {h.message}"}))
    return [h.model_dump(mode="json") for h in hits if h.mode == "human"]


def _task_changes(run_id: str, task_id: str, aid: str, base: str) -> list[tuple[str, int, int]]:
    """(path, lines added, lines removed) of the task's change since base. An attempt that
    started at base (a first attempt) has them recorded already by check_gates: no second
    git snapshot."""
    ctx = current()
    a = ctx.store.get_attempt(aid)
    if a is not None and a.checkpoint_sha == base:
        return [(p, added, removed) for p, _s, added, removed in ctx.store.file_changes(aid)]
    return [(c.path, c.added, c.removed) for c in ctx.task_workspace(run_id, task_id).changes(base)]


@DBOS.step(name="overseer.clock")
def clock() -> float:
    """The time, as a step: recorded, so a replayed workflow sees the time the first run saw."""
    return time.time()


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
        _set_state(run_id, task_id, TaskState.RETRYING, plan.message)
    else:
        _set_state(run_id, task_id, TaskState.FAILED, plan.message)
    publish(Event(type="notice", run_id=run_id, task_id=task_id, attempt=n, data={"message": plan.message}))
    return {"retry": plan.retry, "delay": plan.delay_s, "message": plan.message}
