"""Steps about the run as a whole: loading it, task states, the baseline, worktrees, merges."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from dbos import DBOS

from overseer.agents.ssh_spec import SshSpec
from overseer.engine.context import current
from overseer.engine.decide import Thresholds
from overseer.engine.faults import crash_point
from overseer.engine.outcomes import record_outcomes
from overseer.engine.spec import RunSpec, TaskSpec
from overseer.engine.steps.common import set_state
from overseer.errors import WorkspaceError
from overseer.events import Event, publish
from overseer.gates import GateResult, baseline_key
from overseer.gates.holdout import for_baseline
from overseer.gates.runner import run_gate
from overseer.lifecycle import RunState, TaskState
from overseer.plan.schema import GateSpec
from overseer.workspace.worktrees import create_worktree, merge_task, remove_worktree, task_branch

RETRY_ACTIONS = ("retry", "clarify", "rollback")
MERGE_CAS_TRIES = 5


@DBOS.step(name="overseer.load_run")
def load_run(run_id: str) -> dict[str, Any]:
    """The run as its workflow runs it (a RunSpec, as JSON: DBOS records this result)."""
    ctx = current()
    run = ctx.store.get_run(run_id)
    if run is None:
        raise KeyError(f"run {run_id} not in the store")
    tasks = ctx.store.list_tasks(run_id)
    numbered: dict[str, int] = {}
    for a in ctx.store.attempts(run_id):
        numbered[a.task_id] = max(numbered.get(a.task_id, 0), a.n)
    plan_tasks = {t["id"]: t for t in run.plan_json["resolved_tasks"]}
    config = run.config_json or {}
    # Settings as recorded when the run started, so a replay decides and orders the same way.
    thresholds = Thresholds.model_validate(
        {k: v for k, v in config.get("decision", {}).items() if k in Thresholds.model_fields})
    run_cfg = config.get("run", {})
    limit = (config.get("retries") or {}).get("max_decision_retries_per_run")
    spec = RunSpec(
        parallel=run.parallel,
        dispatch=run.dispatch,
        worker_slots=run_cfg.get("worker_slots"),
        scheduling=config.get("scheduling", {}),
        tasks=[TaskSpec.model_validate({
            **plan_tasks[t.task_id], "worktree": run.parallel > 1,
            "thresholds": thresholds,
            "attempt_offset": numbered.get(t.task_id, 0), "attempts_before": t.attempts,
            "run_retry_limit": limit,
        }) for t in tasks],
        states={t.task_id: t.state for t in tasks},
    )
    publish(Event(type="run_started", run_id=run_id, data={"tasks": len(tasks)}))
    return spec.to_wire()


@DBOS.step(name="overseer.mark_ready")
def mark_ready(run_id: str, task_id: str) -> None:
    set_state(run_id, task_id, TaskState.READY)


@DBOS.step(name="overseer.cancel_task")
def cancel_task(run_id: str, task_id: str, reason: str) -> None:
    set_state(run_id, task_id, TaskState.CANCELLED, reason)


@DBOS.step(name="overseer.mark_retrying")
def mark_retrying(run_id: str, task_id: str, reason: str) -> None:
    set_state(run_id, task_id, TaskState.RETRYING, reason)


@DBOS.step(name="overseer.fail_task")
def fail_task(run_id: str, task_id: str, reason: str) -> None:
    set_state(run_id, task_id, TaskState.FAILED, reason)


@DBOS.step(name="overseer.run_retries_used")
def run_retries_used(run_id: str) -> int:
    """Decision retries over the whole run, for retries.max_decision_retries_per_run."""
    return current().store.count_decisions(run_id, RETRY_ACTIONS)


@DBOS.step(name="overseer.clock")
def clock() -> float:
    """The time, as a step: recorded, so a replayed workflow sees the time the first run saw."""
    return time.time()


@DBOS.step(name="overseer.baseline")
def baseline_gates(run_id: str, tasks: list[TaskSpec]) -> dict[str, dict[str, Any]]:
    """Every command gate the plan uses, run once on the tree as the run found it, so a later
    failure that was already there is not blamed on a task, and a new one is flagged."""
    ctx = current()
    ws = ctx.workspace(run_id)
    specs: dict[str, GateSpec] = {}
    remotes: dict[str, SshSpec] = {}  # a `where: remote` gate runs on its first ssh task's host
    for t in tasks:
        for g in t.gates:
            if g.kind == "command":
                specs[baseline_key(g)] = g
                if g.where == "remote" and (ssh := t.ssh()) is not None:
                    remotes.setdefault(baseline_key(g), ssh)
    out_dir = ws.root / ".overseer" / "runs" / run_id / "baseline"
    # Same-named gates that differ run under their keys, so their output files stay apart.
    named = [g.model_copy(update={"name": key}) if sum(x.name == g.name for x in specs.values()) > 1 else g
             for key, g in specs.items()]
    results = [run_gate(g, ws.root, output_dir=out_dir, tail_lines=ctx.settings.gates.output_tail_lines,
                        holdout_state=ctx.holdout_state(run_id), remote=remotes.get(key))
               for key, g in zip(specs, named, strict=True)]
    results = [_baseline_view(g, r) for g, r in zip(specs.values(), results, strict=True)]
    data = {key: r.model_dump(mode="json") for key, r in zip(specs, results, strict=True)}
    if data:
        (out_dir / "baseline.json").write_text(json.dumps(data, indent=2))
        ctx.store.add_artifact(run_id, "baseline", str(out_dir / "baseline.json"))
    summary = ", ".join(f"{r.name} {'passes' if r.passed else 'FAILS'}" for r in results)
    if summary:
        publish(Event(type="notice", run_id=run_id, data={"message": f"baseline before any task: {summary}"}))
    return data


def _baseline_view(spec: GateSpec, r: GateResult) -> GateResult:
    """What the baseline keeps of a gate: all of it, but of a holdout gate only counts and
    opaque ids, in its log file too (the agent can read .overseer/)."""
    if spec.holdout is None:
        return r
    view = for_baseline(r)
    if view.output_file:
        Path(view.output_file).write_text(view.output_tail + "\n")
    return view


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


@DBOS.step(name="overseer.merge_task")
def merge_back(run_id: str, task: TaskSpec) -> dict[str, Any]:
    """Merge the task's branch into the run's branch; conflicts change nothing and are named."""
    ctx = current()
    main = ctx.workspace(run_id)
    for attempt in range(MERGE_CAS_TRIES):
        try:
            with ctx.merge_lock:
                result = merge_task(main, task_branch(run_id, task.id), f"merge {task.id}: {task.title}",
                                    {"Overseer-Run": run_id, "Overseer-Merge": task.id})
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
            ctx.store.set_task_commit(run_id, task.id, sha)
        set_state(run_id, task.id, TaskState.COMPLETED, f"merged {sha[:12]}" if sha else "nothing to merge")
        if remove_worktree(main, run_id, task.id):
            ctx.forget_workspace(run_id, task.id)
        publish(Event(type="commit", run_id=run_id, task_id=task.id, data={"sha": sha or "", "merge": True}))
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
