"""Steps where a person comes in: the breakpoint rules, opening a breakpoint, closing it."""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from dbos import DBOS

from overseer.engine.context import current
from overseer.engine.decide import Decision
from overseer.engine.rules import CostInfo, ReviewInfo, RuleContext, TaskInfo, TokenInfo, evaluate
from overseer.engine.spec import TaskSpec
from overseer.engine.steps.common import attempt_id, set_state
from overseer.errors import OverseerError
from overseer.events import Event, publish
from overseer.findings import Finding
from overseer.gates import GateResult
from overseer.lifecycle import RunState, TaskState
from overseer.supervisor.review import Verdict


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
def close_breakpoint(run_id: str, task_id: str, bp: str, resolution: dict[str, Any],
                     failed: str | None, reason: str) -> None:
    """Record the human's answer (if the CLI did not already) and move the task on: to
    failed with `failed` as its reason, or back to running."""
    ctx = current()
    state = {"approve": "approved", "reject": "rejected", "answer": "answered"}[resolution["action"]]
    with contextlib.suppress(OverseerError):  # already resolved by the CLI: the same answer
        ctx.store.resolve_breakpoint(bp, state, note=resolution.get("note"), resolved_by=resolution.get("by"))
    if failed is not None:
        set_state(run_id, task_id, TaskState.FAILED, failed)
    else:
        set_state(run_id, task_id, TaskState.READY, reason)
        set_state(run_id, task_id, TaskState.RUNNING)
    if not ctx.store.list_breakpoints(run_id, state="open"):
        ctx.store.set_run_state(run_id, RunState.RUNNING)
    publish(Event(type="breakpoint_resolved", run_id=run_id, task_id=task_id,
                  data={"id": bp, "state": state, **resolution}))


@DBOS.step(name="overseer.check_rules")
def check_rules(
    run_id: str, task: TaskSpec, n: int, shown: int, base: str, decision: Decision,
    verdict: Verdict | None, gates: list[GateResult], findings: list[Finding], agent_status: str,
    consecutive_failures: int,
) -> dict[str, Any]:
    """Evaluate the breakpoint rules on attempt `shown` (record n). Auto hits are recorded and
    resolved here; returns {"hits": the hits that want a person, for the workflow to ask,
    "mode": the run's mode now — recorded with the run, changed only by `resume --mode`}."""
    ctx = current()
    aid = attempt_id(run_id, task.id, n)
    # Only what the rule context needs: the run's plan (a large JSON document) is read only
    # for a task in a milestone, and the whole run's task list only to see it complete.
    usage = ctx.store.usage(run_id, task.id)
    milestone_review, milestone_complete = None, False
    if task.milestone:
        run = ctx.store.get_run(run_id)
        assert run is not None
        milestones = {m["id"]: m for m in run.plan_json["plan"].get("milestones", [])}
        milestone_review = milestones.get(task.milestone, {}).get("review")
        if decision.action == "proceed":
            milestone_of = {x["id"]: x.get("milestone") for x in run.plan_json["resolved_tasks"]}
            milestone_complete = all(
                x.state == "completed" for x in ctx.store.list_tasks(run_id)
                if x.task_id != task.id and milestone_of.get(x.task_id) == task.milestone
            )
    changes = _task_changes(run_id, task.id, aid, base)
    v = verdict
    rc = RuleContext(
        task=TaskInfo(id=task.id, title=task.title, milestone=task.milestone, milestone_review=milestone_review,
                      priority=task.priority, attempt=shown, max_attempts=task.max_attempts),
        confidence=decision.confidence, score=v.score if v else None,
        review=ReviewInfo(complete=v.complete if v else None, score=v.score if v else None,
                          confidence=v.confidence if v else None, reviewer=v.reviewer if v else None,
                          unmet_criteria=list(v.unmet_criteria) if v else [],
                          issues=len(v.issues) if v else 0),
        gates={g.name: g for g in gates},
        gates_passed=all(g.passed for g in gates if g.required),
        regressions=[r for g in gates for r in g.regressions],
        files_changed=[p for p, _a, _r in changes], lines_changed=sum(a + r for _p, a, r in changes),
        cost_usd=CostInfo(task=usage.task_cost_usd or 0.0, run=usage.run_cost_usd or 0.0),
        tokens=TokenInfo(task=usage.task_tokens, run=usage.run_tokens),
        milestone_complete=milestone_complete,
        consecutive_failures=consecutive_failures, agent_status=agent_status,
        decision_action=decision.action,
        findings=[f.kind for f in findings],
    )
    hits = evaluate(ctx.rules(run_id), rc)
    for h in hits:
        if h.mode == "auto":
            bp = breakpoint_id(run_id, task.id, n, h.kind)
            ctx.store.open_breakpoint(run_id, h.kind, h.message, task_id=task.id, attempt_id=aid,
                                      severity=h.severity, breakpoint_id=bp)
            ctx.store.resolve_breakpoint(bp, "auto", note="rule in auto mode: recorded, not waited on",
                                         resolved_by="overseer")
            publish(Event(type="notice", run_id=run_id, task_id=task.id, attempt=n,
                          data={"message": f"rule {h.name} ({h.kind}, auto): {h.message}"}))
    return {"hits": [h.model_dump(mode="json") for h in hits if h.mode == "human"],
            "mode": ctx.store.run_mode(run_id)}


def _task_changes(run_id: str, task_id: str, aid: str, base: str) -> list[tuple[str, int, int]]:
    """(path, lines added, lines removed) of the task's change since base. An attempt that
    started at base (a first attempt) has them recorded already by gather_evidence: no second
    git snapshot."""
    ctx = current()
    a = ctx.store.get_attempt(aid)
    if a is not None and a.checkpoint_sha == base:
        return [(p, added, removed) for p, _s, added, removed in ctx.store.file_changes(aid)]
    return [(c.path, c.added, c.removed) for c in ctx.task_workspace(run_id, task_id).changes(base)]
