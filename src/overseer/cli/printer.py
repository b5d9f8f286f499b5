"""Plain, greppable progress lines for a run (the live view's fallback without a TTY)."""

from __future__ import annotations

import time

from overseer.cli.output import out
from overseer.events import Event


class PlainPrinter:
    def __init__(self, verbose: bool = False) -> None:
        self.verbose = verbose

    def __call__(self, ev: Event) -> None:
        line = self.format(ev)
        if line is not None:
            stamp = time.strftime("%H:%M:%S", time.localtime(ev.ts))
            out.print(f"{stamp} {line}", markup=False)

    def format(self, ev: Event) -> str | None:
        d = ev.data
        who = f"task {ev.task_id}" if ev.task_id else f"run {ev.run_id}"
        if ev.type == "run_started":
            return f"run {ev.run_id}: started, {d['tasks']} tasks"
        if ev.type == "task_state":
            if d["state"] in ("completed", "running", "retrying"):
                return None  # said better by the attempt, decision and commit lines
            reason = f" ({d['reason']})" if d.get("reason") else ""
            return f"{who}: {d['state']}{reason}"
        if ev.type == "attempt_started":
            return f"{who}: attempt {ev.attempt} started (agent {d['agent']})"
        if ev.type == "agent_event":
            if self.verbose and d.get("kind") == "text":
                return f"{who}: | {d['data'].get('text', '')}"
            return None
        if ev.type == "agent_finished":
            extra = f": {d['error']}" if d.get("error") else ""
            return f"{who}: agent {d['status']} in {d['duration_s']:.1f}s{extra}"
        if ev.type == "gate_result":
            verdict = "passed" if d["passed"] else "FAILED"
            tests = d.get("tests")
            counts = f", {tests['passed']} passed, {tests['failed'] + tests['errors']} failing" if tests else ""
            return f"{who}: gate {d['name']} {verdict} (exit {d['exit_code']}{counts})"
        if ev.type == "finding":
            where = f"{d['path']}:{d['line']}" if d.get("path") and d.get("line") else d.get("path") or ""
            return f"{who}: {d['source']} {d['severity']}: {where + ': ' if where else ''}{d['message']}"
        if ev.type == "verdict":
            if d.get("complete") is None:
                return f"{who}: review failed ({d.get('error')}); deciding on the gates alone"
            unmet = f", unmet: {'; '.join(d['unmet_criteria'])}" if d.get("unmet_criteria") else ""
            return (f"{who}: review by {d.get('reviewer')}: complete={d['complete']} "
                    f"score={d.get('score')} confidence={d.get('confidence')}{unmet}")
        if ev.type == "decision":
            return f"{who}: decision {d['action']}: {'; '.join(d['reasons'])}"
        if ev.type == "commit":
            return f"{who}: completed, committed {d['sha'][:12]}"
        if ev.type == "run_finished":
            return f"run {ev.run_id}: {d['state']}"
        if ev.type == "breakpoint":
            bp = d["id"]
            return (
                f"{who}: WAITING for a person at {bp} ({d['kind']}): {d['message']}\n"
                f"    approve: overseer approve {bp}\n"
                f"    reject:  overseer reject {bp} --note 'why'\n"
                f"    answer:  overseer answer {bp} 'text'"
            )
        if ev.type == "breakpoint_resolved":
            by = f" by {d['by']}" if d.get("by") else ""
            return f"{who}: {d['id']} {d['state']}{by}"
        if ev.type == "notice":
            return f"{who}: {d['message']}"
        return None
