"""`overseer show TASK[#N] | BP` and `overseer diff TASK[#N] | BP`: one attempt as a pull
request — its diff, gates, findings, verdict, prompt and final message — in the terminal."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from overseer.cli.output import out as default_console

if TYPE_CHECKING:
    from rich.console import Console

    from overseer.report.attempt_view import AttemptView

PROMPT_LINES = 40  # of the prompt, unless --full
TAIL_LINES = 15  # of a failed gate's output, unless --full


def _view(target: str, run: str | None) -> AttemptView:
    from overseer.cli.locate import locate
    from overseer.report.attempt_view import attempt_view, parse_target
    from overseer.store.records import attempt_number

    if target.startswith("bp-"):
        run_id, repo, store, _settings = locate(run, breakpoint=target)
        bp = store.find_breakpoint(target)
        assert bp is not None  # _locate found the run by it
        if bp.task_id is None:
            from overseer.errors import OverseerError

            raise OverseerError(f"breakpoint {bp.id} belongs to the run, not to a task",
                                hint="`overseer status` shows the run")
        task_id, n = bp.task_id, attempt_number(bp.attempt_id)
    else:
        task_id, n = parse_target(target)
        run_id, repo, store, _settings = locate(run)
    return attempt_view(store, run_id, repo, task_id, n)


def schema_show() -> None:
    """JSON Schema of `overseer show --json` (docs/schemas/show.json)."""
    import json

    from overseer.report.attempt_view import AttemptView

    sys.stdout.write(json.dumps(AttemptView.model_json_schema(), indent=2) + "\n")


def show(
    target: str = typer.Argument(..., metavar="TASK[#N]|BP", help="a task (its last attempt), task#N, or a breakpoint id"),
    run: str | None = typer.Option(None, "--run", help="run id or unique prefix (default: the latest)"),
    as_json: bool = typer.Option(False, "--json", help="the same, as one JSON object"),
    full: bool = typer.Option(False, "--full", help="the whole prompt and gate output, not their ends"),
) -> None:
    """An attempt as a pull request: its diff against its checkpoint, each gate's exit code,
    duration, failing tests and output, the findings, the reviewer's verdict, the decision,
    the prompt and the agent's final message, cost and tokens. Pages through $PAGER on a terminal."""
    view = _view(target, run)
    if as_json:
        sys.stdout.write(view.model_dump_json(indent=2) + "\n")
        return
    if sys.stdout.isatty():
        with default_console.pager(styles=True):
            print_view(view, full)
    else:
        print_view(view, full)


def diff(
    target: str = typer.Argument(..., metavar="TASK[#N]|BP", help="a task (its last attempt), task#N, or a breakpoint id"),
    run: str | None = typer.Option(None, "--run", help="run id or unique prefix (default: the latest)"),
) -> None:
    """The attempt's raw diff against its checkpoint, for piping into other tools."""
    view = _view(target, run)
    sys.stdout.write(view.diff)


def print_view(v: AttemptView, full: bool, console: Console | None = None) -> None:
    from rich.markup import escape
    from rich.syntax import Syntax

    out = console or default_console

    def section(title: str) -> None:
        out.print(f"\n[bold underline]{title}[/bold underline]")

    def text(body: str) -> None:
        lines = body.splitlines()
        shown = lines if full else lines[:PROMPT_LINES]
        for line in shown:
            out.print(escape(line), highlight=False)
        if len(shown) < len(lines):
            out.print(f"… {len(lines) - len(shown)} more lines (--full)")

    a = v.attempt
    cost = f"${a.cost_usd:.4f}" + (" (estimated)" if a.cost_estimated else "") if a.cost_usd is not None else "cost unknown"
    out.print(f"[bold]{escape(v.task)}#{a.n}[/bold]  {escape(v.title)}")
    out.print(f"run {v.run_id} · task {v.task_state} · attempt {a.n} of {v.attempts}: {a.status}")
    out.print(f"agent {escape(a.agent)} ({a.agent_type}{', ' + escape(a.model) if a.model else ''}) · "
              f"{a.duration_s:.1f}s · {a.tokens:,} tokens ({a.input_tokens:,} in, {a.output_tokens:,} out) · {cost}")
    if a.error:
        out.print(f"[red]error:[/red] {escape(a.error)}")
    for b in v.notes_before:
        out.print(f"[bold]{b.state} at {b.id}[/bold] ({b.kind}) by {escape(b.resolved_by or '?')}: "
                  f"{escape(b.note or '')}")
    for st in v.steers:
        where = "into the running session" if st.how == "live" else "in this prompt"
        out.print(f"[bold]steered[/bold] by {escape(st.by or '?')} ({where}): {escape(st.message)}")
    for st in v.steers_waiting:
        out.print(f"[yellow]waiting for the next prompt[/yellow], from {escape(st.by or '?')}: {escape(st.message)}")

    section("Changes")
    d = a.diff
    out.print(f"{len(d.files)} file{'' if len(d.files) == 1 else 's'}, [green]+{d.added}[/green] "
              f"[red]−{d.removed}[/red]  (against checkpoint {(a.checkpoint_sha or '?')[:12]}; after: {v.diff_source})")
    for f in d.files:
        out.print(f"  {f.status} {escape(f.path)}  [green]+{f.added}[/green] [red]−{f.removed}[/red]")

    section("Gates")
    if not a.gates:
        out.print("none ran")
    for g in a.gates:
        mark = "[green]✓[/green]" if g.passed else "[red]✗[/red]"
        tests = ", ".join(f"{n} {k}" for k, n in (g.tests or {}).items() if n)
        out.print(f"{mark} {escape(g.name)}{'' if g.required else ' (optional)'}  exit {g.exit_code}"
                  f"{' (timed out)' if g.timed_out else ''}  {g.duration_s:.1f}s"
                  f"{'  tests: ' + tests if tests else ''}")
        for t in g.failing_tests:
            out.print(f"    failing: {escape(t)}")
        for r in g.regressions:
            out.print(f"    [yellow]new since the baseline:[/yellow] {escape(r)}")
        if not g.passed and g.output_tail:
            lines = g.output_tail.splitlines()
            shown = lines if full else lines[-TAIL_LINES:]
            if len(shown) < len(lines):
                out.print(f"    … {len(lines) - len(shown)} earlier lines (--full)")
            for line in shown:
                out.print(f"    │ {escape(line)}", highlight=False)

    if a.findings:
        section("Findings")
        for fd in a.findings:
            where = f"{fd.path}:{fd.line}" if fd.path and fd.line else (fd.path or "")
            out.print(f"[{'red' if fd.severity == 'major' else 'yellow'}]{fd.severity}[/] {escape(fd.kind)} "
                      f"{escape(where)}: {escape(fd.message)}")
            if fd.fix:
                out.print(f"    instead: {escape(fd.fix)}")
    section("Verdict")
    if a.verdict is None:
        out.print("no review")
    else:
        vd = a.verdict
        out.print(f"{escape(vd.reviewer or '?')}: complete={vd.complete} score={vd.score} confidence={vd.confidence}"
                  + (f"  ({escape(vd.error)})" if vd.error else ""))
        for u in vd.unmet_criteria:
            out.print(f"  unmet: {escape(u)}")
        for i in vd.issues:
            out.print(f"  {i.severity or 'issue'}: {escape(i.description)}")
    if a.decision is not None:
        out.print(f"decision: [bold]{a.decision.action}[/bold]: {escape('; '.join(a.decision.reasons))}")
    for b in a.breakpoints:
        out.print(f"breakpoint {b.id} ({b.kind}) {b.state}: {escape(b.message)}"
                  + (f" — {escape(b.note)}" if b.note else ""))

    section("Prompt")
    text(a.prompt)
    if a.final_message:
        section("Final message")
        text(a.final_message)
    section("Diff")
    if v.diff:
        out.print(Syntax(v.diff, "diff", theme="ansi_dark", word_wrap=True, background_color="default"))
    else:
        out.print(f"no changes ({v.diff_source})" if a.checkpoint_sha else v.diff_source)

