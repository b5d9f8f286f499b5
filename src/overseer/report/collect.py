"""Gather everything the store holds about one run into a RunReport, secrets scrubbed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from overseer.errors import StoreError
from overseer.gates.result import GateResult
from overseer.report.model import (
    AttemptReport,
    BreakpointInfo,
    DecisionInfo,
    DiffStat,
    FileStat,
    GateEvidence,
    Issue,
    RunInfo,
    RunReport,
    TaskReport,
    TimelineEntry,
    Totals,
    VerdictInfo,
)
from overseer.scrub import Scrubber
from overseer.store import AttemptRecord, BreakpointRecord, RunRecord, Store, TaskRecord
from overseer.store.records import attempt_number


def collect(
    store: Store, run_id: str, repo: Path | None = None, *, env: Mapping[str, str] | None = None
) -> RunReport:
    """The whole run as one report. Every string in it has been through the Scrubber."""
    run = store.get_run(run_id)
    if run is None:
        raise StoreError(f"no run {run_id!r} in the state database", hint="see `overseer status`")
    scrubber = Scrubber.for_run(run.plan_json, env)
    # Totals come from the same query `status --json` answers from, so the two always agree.
    status = store.status(run_id)
    tasks = store.list_tasks(run_id)
    bps = [_breakpoint(b) for b in store.list_breakpoints(run_id)]
    attempts = store.attempts(run_id)
    by_task: dict[str, list[AttemptReport]] = {t.task_id: [] for t in tasks}
    for a in attempts:
        by_task.setdefault(a.task_id, []).append(
            _attempt(store, a, tasks_spec(tasks, a.task_id), repo, bps)
        )
    task_reports = [_task(t, by_task.get(t.task_id, []), bps) for t in tasks]
    every_attempt = [a for t in task_reports for a in t.attempts]
    totals = Totals(
        cost_usd=status["totals"]["cost_usd"],
        cost_estimated=any(a.cost_estimated for a in every_attempt),
        tokens=status["totals"]["tokens"],
        input_tokens=run.input_tokens,
        output_tokens=run.output_tokens,
        duration_s=status["totals"]["duration_s"],
        wall_clock_s=(run.finished_at - run.created_at).total_seconds() if run.finished_at else None,
        tasks=len(tasks),
        tasks_by_state=dict(Counter(str(t.state) for t in tasks)),
        attempts=len(every_attempt),
        breakpoints=len(bps),
        gates_run=sum(len(a.gates) for a in every_attempt),
        gates_failed=sum(1 for a in every_attempt for g in a.gates if not g.passed),
    )
    report = RunReport(
        generated_at=datetime.now(UTC),
        generator=f"overseer {_version()}",
        run=_run_info(run, status["state"]),
        totals=totals,
        tasks=task_reports,
        breakpoints=bps,
        timeline=_timeline(run, task_reports, bps),
    )
    return RunReport.model_validate(scrubber.deep(report.model_dump(mode="json")))


def tasks_spec(tasks: list[TaskRecord], task_id: str) -> dict[str, Any]:
    for t in tasks:
        if t.task_id == task_id:
            return t.spec
    return {}


def _version() -> str:
    try:
        return version("overseer")
    except PackageNotFoundError:
        return "unknown"


def _run_info(run: RunRecord, state: str) -> RunInfo:
    plan = run.plan_json.get("plan") or {}
    supervisor = (run.config_json.get("supervisor") or {}).get("provider")
    return RunInfo(
        id=run.id, plan_name=str(plan.get("name") or run.name), plan_path=run.plan_path,
        workspace=run.workspace, branch=run.branch, state=state, error=run.error,
        parallel=run.parallel, created_at=run.created_at, finished_at=run.finished_at,
        supervisor=None if supervisor is None else str(supervisor),
    )


def _breakpoint(b: BreakpointRecord) -> BreakpointInfo:
    n = attempt_number(b.attempt_id)
    return BreakpointInfo(
        id=b.id, task=b.task_id, attempt=n, kind=b.kind, message=b.message,
        severity=b.severity, state=b.state, opened_at=b.created_at, resolved_at=b.resolved_at,
        resolved_by=b.resolved_by, note=b.resolution,
    )


def _attempt(
    store: Store, a: AttemptRecord, spec: dict[str, Any], repo: Path | None,
    bps: list[BreakpointInfo],
) -> AttemptReport:
    events = store.list_events(a.id)
    counts = Counter(e.kind for e in events)
    result = next((e.data for e in reversed(events) if e.kind == "result"), {})
    model = (spec.get("agent") or {}).get("model") or next(
        (str(e.data["model"]) for e in events if e.data.get("model")), None
    )
    changes = [FileStat(path=p, status=s, added=ad, removed=rm) for p, s, ad, rm in store.file_changes(a.id)]
    verdict = store.verdict(a.id)
    decision = store.decision(a.id)
    return AttemptReport(
        n=a.n, status=a.status, agent=a.agent_name, agent_type=a.agent_type, model=model,
        prompt=a.prompt or _prompt_file(repo, a),
        turns=a.turns, input_tokens=a.input_tokens, output_tokens=a.output_tokens,
        tokens=a.input_tokens + a.output_tokens, cost_usd=a.cost_usd,
        cost_estimated=bool(result.get("cost_estimated")) and a.cost_usd is not None,
        duration_s=a.duration_s, started_at=a.started_at, finished_at=a.finished_at,
        exit_code=a.exit_code, error=a.error, final_message=a.final_message,
        restarts=a.restarts, checkpoint_sha=a.checkpoint_sha, events=dict(counts),
        permission_denials=a.permission_denials,
        diff=DiffStat(
            files=changes, added=sum(c.added for c in changes), removed=sum(c.removed for c in changes)
        ),
        gates=[_gate(g) for g in store.gate_results(a.id)],
        findings=store.findings(a.id),
        verdict=_verdict(verdict) if verdict is not None else None,
        decision=None if decision is None else DecisionInfo(
            action=decision.action, reasons=decision.reasons, feedback=decision.feedback,
            breakpoint=decision.breakpoint, outcome=decision.outcome, at=decision.created_at,
        ),
        breakpoints=[b for b in bps if b.task == a.task_id and b.attempt == a.n],
    )


def _prompt_file(repo: Path | None, a: AttemptRecord) -> str:
    """The prompt as written for the agent, for attempts recorded before the store kept it."""
    if repo is None:
        return ""
    path = repo / ".overseer" / "runs" / a.run_id / a.task_id / str(a.n) / "prompt.md"
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _gate(g: GateResult) -> GateEvidence:
    return GateEvidence(
        name=g.name, required=g.required, passed=g.passed, exit_code=g.exit_code,
        duration_s=g.duration_s, timed_out=g.timed_out,
        tests=g.tests.model_dump() if g.tests is not None else None,
        failing_tests=g.failing_tests, regressions=g.regressions, output_tail=g.output_tail,
    )


def _verdict(v: dict[str, Any]) -> VerdictInfo:
    def strings(key: str) -> list[str]:
        return [str(x) for x in v.get(key) or []]

    follow = v.get("follow_up")
    return VerdictInfo(
        reviewer=None if v.get("reviewer") is None else str(v["reviewer"]),
        complete=v.get("complete"), score=v.get("score"), confidence=v.get("confidence"),
        unmet_criteria=strings("unmet_criteria"), issues=[_issue(i) for i in v.get("issues") or []],
        follow_up=None if follow is None else str(follow),
        error=None if v.get("error") is None else str(v["error"]),
    )


def _issue(value: Any) -> Issue:
    if isinstance(value, dict):
        text = value.get("description") or value.get("message") or value
        sev = value.get("severity")
        return Issue(severity=None if sev is None else str(sev),
                     description=text if isinstance(text, str) else str(text))
    return Issue(description=str(value))


def _task(t: TaskRecord, attempts: list[AttemptReport], bps: list[BreakpointInfo]) -> TaskReport:
    return TaskReport(
        id=t.task_id, title=t.title, state=str(t.state), state_reason=t.state_reason,
        agent=t.agent_name, depends_on=t.depends_on,
        acceptance=[str(x) for x in t.spec.get("acceptance") or []],
        commit_sha=t.commit_sha, cost_usd=t.cost_usd, input_tokens=t.input_tokens,
        output_tokens=t.output_tokens, duration_s=sum(a.duration_s for a in attempts),
        attempts=attempts,
        breakpoints=[b for b in bps if b.task == t.task_id and b.attempt is None],
    )


def _timeline(
    run: RunRecord, tasks: list[TaskReport], bps: list[BreakpointInfo]
) -> list[TimelineEntry]:
    # (time, rank, entry): rank keeps same-instant entries in the order they happen.
    items: list[tuple[datetime, int, TimelineEntry]] = []

    def add(at: datetime, rank: int, kind: str, text: str, task: str | None = None,
            attempt: int | None = None) -> None:
        items.append((at, rank, TimelineEntry(at=at, task=task, attempt=attempt, kind=kind, text=text)))

    add(run.created_at, 0, "run", f"run started ({len(tasks)} tasks)")
    for t in tasks:
        for a in t.attempts:
            add(a.started_at, 1, "attempt", f"attempt {a.n} started (agent {a.agent})", t.id, a.n)
            if a.finished_at is not None:
                failing = [g.name for g in a.gates if not g.passed]
                gates = (f"; gates: {len(a.gates) - len(failing)} passed"
                         + (f", failed: {', '.join(failing)}" if failing else "")) if a.gates else ""
                add(a.finished_at, 2, "agent", f"agent {a.status} in {a.duration_s:.1f}s{gates}", t.id, a.n)
            if a.decision is not None:
                add(a.decision.at, 3, "decision",
                    f"{a.decision.action}: {'; '.join(a.decision.reasons)}", t.id, a.n)
    for b in bps:
        add(b.opened_at, 4, "breakpoint", f"{b.id} opened ({b.kind}): {b.message}", b.task, b.attempt)
        if b.resolved_at is not None:
            who = f" by {b.resolved_by}" if b.resolved_by else ""
            note = f": {b.note}" if b.note else ""
            add(b.resolved_at, 5, "breakpoint", f"{b.id} {b.state}{who}{note}", b.task, b.attempt)
    if run.finished_at is not None:
        add(run.finished_at, 9, "run", f"run {run.state}" + (f": {run.error}" if run.error else ""))
    items.sort(key=lambda x: (x[0], x[1]))
    return [e for _, _, e in items]
