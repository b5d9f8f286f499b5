"""Steps that judge an attempt from evidence overseer gathered itself: the gates (with their
test counts and regressions), test integrity, holdout gates, unfinished work, and the reviewer.
The agent's own message is context for the reviewer, never evidence."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dbos import DBOS

from overseer.agents import AgentResult
from overseer.agents.process import ATTEMPT_ENV, kill_leftovers
from overseer.engine.context import current
from overseer.engine.faults import crash_point
from overseer.engine.spec import TaskSpec
from overseer.engine.steps.common import attempt_id
from overseer.events import Event, publish
from overseer.findings import Finding
from overseer.gates import GateResult, baseline_key, regressions
from overseer.gates.holdout import opaque
from overseer.gates.runner import run_gates
from overseer.integrity import IntegrityPolicy, check_integrity, find_placeholders
from overseer.scrub import process_scrubber, scrub_files
from overseer.supervisor.llm import NoLLM, spent_usd
from overseer.supervisor.review import Verdict
from overseer.workspace.refs import end_ref


@dataclass
class Evidence:
    gates: list[GateResult]
    findings: list[Finding] = field(default_factory=list)


@DBOS.step(name="overseer.gather_evidence")
def gather_evidence(
    run_id: str, task: TaskSpec, n: int, checkpoint: str, base: str,
    baseline: dict[str, dict[str, Any]],
) -> Evidence:
    """Run the task's gates on the attempt and compare its change with its checkpoint."""
    ctx = current()
    aid = attempt_id(run_id, task.id, n)
    ws = ctx.task_workspace(run_id, task.id)
    # The tree the attempt left, kept for `overseer show` / `diff` whatever happens to it next.
    now = ws.current_tree()
    ws.keep_tree(end_ref(run_id, task.id, n), now, checkpoint)
    changes = ws.changes(checkpoint, now)
    ctx.store.add_file_changes(aid, [(c.path, c.status, c.added, c.removed) for c in changes])
    out_dir = ctx.attempt_dir(run_id, task.id, n) / "gates"
    started = ctx.attempt_dir(run_id, task.id, n) / "gates.started"
    if started.exists():
        # The process died while gates ran: their commands (sessions of their own) live on,
        # and must not run beside their reruns. They carry the attempt id, as agents do.
        kill_leftovers(aid)
    started.touch()
    # The attempt's changes and the task's are the same list on a first attempt: one snapshot.
    task_changes = changes if checkpoint == base else ws.changes(base, now)
    results = run_gates(task.gates, ws.root, changes=task_changes, output_dir=out_dir,
                        tail_lines=ctx.settings.gates.output_tail_lines, env={ATTEMPT_ENV: aid},
                        holdout_state=ctx.holdout_state(run_id), remote=task.ssh())
    spec_of = {g.name: g for g in task.gates}
    before_of: dict[str, GateResult | None] = {}
    for r in results:
        raw = baseline.get(baseline_key(spec_of[r.name])) if r.name in spec_of else None
        before_of[r.name] = GateResult.model_validate(raw) if raw else None
        r.regressions = _regressions(r, before_of[r.name], holdout=spec_of[r.name].holdout is not None) \
            if raw else []
    # One git process reads every changed file as it was at the checkpoint.
    old = ws.read_at(checkpoint, sorted({c.old_path or c.path for c in changes}))
    findings = check_integrity(
        root=ws.root, before=old.get, changes=changes, specs=task.gates, results=results,
        baseline=before_of,
        policy=IntegrityPolicy(test_patterns=tuple(task.test_patterns), may_edit_tests=task.may_edit_tests),
    )
    findings += find_placeholders(root=ws.root, before=old.get, changes=changes,
                                  test_patterns=task.test_patterns)
    scrub_files(out_dir)  # what gates wrote themselves (JUnit XML, reports)
    crash_point("during_gates")
    ctx.store.add_gate_results(aid, results)
    ctx.store.add_findings(aid, findings)
    for r in results:
        publish(Event(type="gate_result", run_id=run_id, task_id=task.id, attempt=n, data=r.model_dump(mode="json")))
    for f in findings:
        publish(Event(type="finding", run_id=run_id, task_id=task.id, attempt=n, data=f.model_dump(mode="json")))
    return Evidence(results, findings)


def _regressions(r: GateResult, before: GateResult | None, *, holdout: bool) -> list[str]:
    """A holdout gate's baseline knows its tests only by opaque ids: compare those."""
    if not holdout:
        return regressions(r, before)
    names = {opaque(t): t for t in r.failing_tests}
    masked = r.model_copy(update={"failing_tests": list(names)})
    return [names.get(x, x) for x in regressions(masked, before)]


@dataclass
class Review:
    verdict: Verdict | None
    error: str | None = None
    # The reviewer's measured weight (supervisor.reliability): 0 = recorded, not counted.
    weight: float = 1.0


@DBOS.step(name="overseer.review")
def review_attempt(
    run_id: str, task: TaskSpec, n: int, base: str, result: AgentResult, evidence: Evidence,
    history: list[str],
) -> Review:
    """The supervisor's verdict on the task's whole change so far, from its evidence."""
    from overseer.supervisor.reviewer import review_or_rules, rules_verdict

    ctx = current()
    aid = attempt_id(run_id, task.id, n)
    ws = ctx.task_workspace(run_id, task.id)
    llm, _why = ctx.reviewer()
    verdict: Verdict | None
    if isinstance(llm, NoLLM):
        # Rules only: derived from the gates, so it costs nothing and adds no evidence.
        verdict, error, record = rules_verdict(evidence.gates, result), None, {}
    else:
        spent_before = spent_usd(llm)
        # The diff may hold what the agent wrote of a secret: the reviewer (and its record)
        # gets it masked, as everything else.
        diff = process_scrubber().text(ws.diff(base))
        outcome = review_or_rules(task, diff, evidence.gates, result, history, llm,
                                  project_dir=ws.root, findings=evidence.findings)
        verdict, error = outcome.verdict, outcome.error
        spent_after = spent_usd(llm)
        # Agent-CLI reviewers bill per review; the others report no cost.
        cost = None if spent_after is None else round(spent_after - (spent_before or 0.0), 6)
        record = {"prompt": outcome.prompt, "raw": outcome.raw, "omitted": outcome.omitted,
                  "fallback": outcome.fallback, "cost_usd": cost}
    weight = ctx.reviewer_weight()
    data = {**(verdict.model_dump(mode="json") if verdict else {"complete": None, "reviewer": llm.name}),
            "error": error, "weight": weight, **{k: v for k, v in record.items() if k != "prompt"}}
    crash_point("during_review")
    ctx.store.add_verdict(aid, data)
    if record:
        path = ctx.attempt_dir(run_id, task.id, n) / "review.json"
        kept = process_scrubber().deep({**data, "prompt": record["prompt"]})
        path.write_text(json.dumps(kept, indent=2))
        ctx.store.add_artifact(run_id, "review", str(path), attempt_id=aid)
    publish(Event(type="verdict", run_id=run_id, task_id=task.id, attempt=n, data=data))
    return Review(verdict, error, weight)
