"""The run's history as readable log lines, for `overseer log` (and its --follow tail).

The store keeps the agents' own events in one table and what overseer did about them (gates,
verdicts, decisions, breakpoints, commits) in others; this merges both into one stream. Each
poll returns only what the previous polls did not, so following a live run is the same code
as printing a finished one."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from overseer.gates.result import GateResult
from overseer.scrub import Scrubber
from overseer.store import AttemptRecord, EventRecord, Store
from overseer.store.records import attempt_number
from overseer.store.store import TERMINAL_RUN_STATES

DETAIL_CHARS = 200
# Same-instant lines keep the order in which these things happen.
_RANK = {"run": 0, "attempt": 1, "event": 2, "agent": 3, "gate": 4, "verdict": 5,
         "decision": 6, "breakpoint": 7, "resolved": 8, "commit": 9, "finished": 10}


@dataclass(frozen=True)
class LogLine:
    ts: float
    task: str | None
    attempt: int | None
    kind: str
    text: str
    rank: int = 0

    def format(self) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.ts))
        where = self.task or "run"
        if self.attempt is not None:
            where += f"#{self.attempt}"
        lines = self.text.splitlines() or [""]
        head = f"{stamp}  {where:<14} {self.kind:<11} {lines[0]}"
        pad = " " * (len(stamp) + 2 + 15 + 12)
        return "\n".join([head, *(pad + rest for rest in lines[1:])])


class LogReader:
    """New log lines of one run (optionally one task) on each poll()."""

    def __init__(self, store: Store, run_id: str, task: str | None = None,
                 scrubber: Scrubber | None = None) -> None:
        self.store, self.run_id, self.task = store, run_id, task
        run = store.get_run(run_id)
        self.scrubber = scrubber or Scrubber.for_run(run.plan_json if run else None)
        self._after_id = 0
        self._seen: set[tuple[str, str]] = set()
        self._done_attempts: set[str] = set()

    def start_after(self, event_id: int) -> None:
        """Skip the events up to event_id (a viewer that shows only the recent ones)."""
        self._after_id = max(self._after_id, event_id)

    def finished(self) -> bool:
        run = self.store.get_run(self.run_id)
        return run is None or run.state in TERMINAL_RUN_STATES

    def poll(self) -> list[LogLine]:
        lines: list[LogLine] = []
        run = self.store.get_run(self.run_id)
        if run is None:
            return lines
        if self.task is None:
            self._once(lines, "run", "start", run.created_at, "run", "started: plan "
                       f"{run.name}, {len(self.store.list_tasks(self.run_id))} tasks")
        for a in self.store.attempts(self.run_id, self.task):
            self._attempt(lines, a)
        events = self.store.list_events(run_id=self.run_id, task_id=self.task, after_id=self._after_id)
        for e in events:
            self._after_id = max(self._after_id, e.id)
            lines.append(LogLine(e.ts, e.task_id, attempt_number(e.attempt_id), e.kind, event_text(e),
                                 _RANK["event"]))
        for b in self.store.list_breakpoints(self.run_id):
            if self.task is not None and b.task_id != self.task:
                continue
            n = attempt_number(b.attempt_id)
            self._once(lines, "bp", b.id, b.created_at, "breakpoint",
                       f"{b.id} opened ({b.kind}): {b.message}", b.task_id, n, rank="breakpoint")
            if b.resolved_at is not None:
                by = f" by {b.resolved_by}" if b.resolved_by else ""
                note = f": {b.resolution}" if b.resolution else ""
                self._once(lines, "resolved", b.id, b.resolved_at, "breakpoint",
                           f"{b.id} {b.state}{by}{note}", b.task_id, n, rank="resolved")
        for t in self.store.list_tasks(self.run_id):
            if t.commit_sha and (self.task is None or t.task_id == self.task):
                self._once(lines, "commit", t.task_id, t.updated_at, "commit",
                           f"committed {t.commit_sha[:12]}", t.task_id)
        if run.finished_at is not None and run.state in TERMINAL_RUN_STATES and self.task is None:
            error = f": {run.error}" if run.error else ""
            self._once(lines, "finished", run.id, run.finished_at, "run", f"{run.state}{error}",
                       rank="finished")
        lines.sort(key=lambda x: (x.ts, x.rank))
        return [LogLine(x.ts, x.task, x.attempt, x.kind, self.scrubber.text(x.text), x.rank)
                for x in lines]

    def _attempt(self, lines: list[LogLine], a: AttemptRecord) -> None:
        if a.id in self._done_attempts:
            return
        t, n = a.task_id, a.n
        self._once(lines, "attempt", a.id, a.started_at, "attempt",
                   f"started (agent {a.agent_name}, {a.agent_type})", t, n)
        if a.finished_at is None:
            return
        self._once(lines, "agent", a.id, a.finished_at, "agent", agent_summary(a), t, n)
        # The decision is written after the gates and the verdict: read it first, and a
        # decision seen means the reads below see everything this attempt will ever have.
        decision = self.store.decision(a.id)
        if ("gate", a.id) not in self._seen:
            gates = self.store.gate_results(a.id)
            if gates:
                self._seen.add(("gate", a.id))
                for g in gates:
                    lines.append(LogLine(a.finished_at.timestamp(), t, n, "gate", gate_summary(g),
                                         _RANK["gate"]))
        if ("verdict", a.id) not in self._seen:
            verdict = self.store.verdict(a.id)
            if verdict is not None:
                self._seen.add(("verdict", a.id))
                lines.append(LogLine(a.finished_at.timestamp(), t, n, "verdict",
                                     verdict_summary(verdict), _RANK["verdict"]))
        if decision is not None:
            reasons = "; ".join(decision.reasons)
            self._once(lines, "decision", a.id, decision.created_at, "decision",
                       f"{decision.action}: {reasons}", t, n)
            self._done_attempts.add(a.id)

    def _once(self, lines: list[LogLine], key: str, ident: str, at: datetime, kind: str,
              text: str, task: str | None = None, attempt: int | None = None,
              rank: str | None = None) -> None:
        if (key, ident) in self._seen:
            return
        self._seen.add((key, ident))
        lines.append(LogLine(at.timestamp(), task, attempt, kind, text, _RANK[rank or key]))


def agent_summary(a: AttemptRecord) -> str:
    parts = [f"{a.status} in {a.duration_s:.1f}s", f"{a.turns} turn(s)",
             f"{a.input_tokens + a.output_tokens} tokens"]
    if a.cost_usd is not None:
        parts.append(f"${a.cost_usd:.4f}")
    if a.exit_code is not None:
        parts.append(f"exit {a.exit_code}")
    text = ", ".join(parts)
    return f"{text}: {a.error}" if a.error else text


def gate_summary(g: GateResult) -> str:
    result = "passed" if g.passed else ("TIMED OUT" if g.timed_out else "FAILED")
    bits = [f"exit {g.exit_code}"]
    if g.tests is not None:
        bits.append(f"{g.tests.passed} passed, {g.tests.failed + g.tests.errors} failing")
    text = f"{g.name} {result} ({', '.join(bits)})"
    if g.failing_tests:
        text += ": " + ", ".join(g.failing_tests)
    if g.regressions:
        text += "; regressions: " + ", ".join(g.regressions)
    return text


def verdict_summary(v: dict[str, Any]) -> str:
    who = v.get("reviewer") or "reviewer"
    if v.get("complete") is None:
        return f"{who}: no judgement ({v.get('error') or 'review failed'})"
    text = (f"{who}: complete={v['complete']} score={v.get('score')} "
            f"confidence={v.get('confidence')}")
    if v.get("unmet_criteria"):
        text += "; unmet: " + "; ".join(str(c) for c in v["unmet_criteria"])
    return text


def event_text(e: EventRecord) -> str:
    """One agent event as a line: the words a person would want, not the raw payload."""
    d = {k: v for k, v in e.data.items() if k != "raw"}
    if e.kind == "text":
        return ("(thinking) " if d.get("thinking") else "") + str(d.get("text", ""))
    if e.kind == "tool_call":
        name = d.get("name") or d.get("tool") or "tool"
        arg = next((d[k] for k in ("command", "commands", "input", "arguments", "query", "items")
                    if d.get(k) is not None), None)
        return f"{name} {_short(arg)}".rstrip()
    if e.kind == "tool_result":
        failed = d.get("is_error") or d.get("status") in ("failed", "error") or d.get("error")
        body = next((d[k] for k in ("output", "content", "error") if d.get(k)), "")
        head = "error" if failed else "ok"
        if d.get("exit_code") is not None:
            head += f" (exit {d['exit_code']})"
        return f"{head} {_short(body)}".rstrip()
    if e.kind == "file_change":
        changes = d.get("changes") or [d]
        return ", ".join(f"{c.get('change') or c.get('tool') or 'changed'} {c.get('path')}"
                         for c in changes if isinstance(c, dict))
    if e.kind == "usage":
        return f"{d.get('input_tokens', 0)} in, {d.get('output_tokens', 0)} out"
    if e.kind in ("error", "rate_limit"):
        when = d.get("retry_at") or d.get("resets_at")
        return str(d.get("message") or d.get("status") or _short(d)) + (f" (until {when})" if when else "")
    if e.kind == "result":
        bits = [str(d.get("status", ""))]
        if d.get("exit_code") is not None:
            bits.append(f"exit {d['exit_code']}")
        if d.get("error"):
            bits.append(str(d["error"]))
        return ", ".join(b for b in bits if b)
    return _short(d)


def _short(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"
