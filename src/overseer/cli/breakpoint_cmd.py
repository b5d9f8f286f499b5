"""`overseer approve | reject | answer BREAKPOINT`: a person's answer, from any terminal."""

from __future__ import annotations

import typer

from overseer.cli.locate import locate
from overseer.cli.output import out


def _resolve(breakpoint: str, action: str, note: str | None) -> None:
    from overseer.engine.continuation import after_answer
    from overseer.engine.humans import resolve

    run_id, repo, store, settings = locate(None, breakpoint=breakpoint)
    rec = resolve(store, settings.database_url_for(repo), repo, breakpoint, action, note)
    out.print(f"{rec.id}: {rec.state} (task {rec.task_id}, run {rec.run_id})", markup=False)
    # Never started from here: `overseer resume` after an answer is the documented next step,
    # and would be refused if an answer had started one already.
    out.print(after_answer(store, repo, rec.run_id, start=False).message, markup=False)


def approve(
    breakpoint: str = typer.Argument(..., help="breakpoint id (or a unique prefix)"),
    note: str | None = typer.Option(None, "--note", help="a note for the record"),
) -> None:
    """Approve: the task goes on (commits, or starts)."""
    _resolve(breakpoint, "approve", note)


def reject(
    breakpoint: str = typer.Argument(..., help="breakpoint id (or a unique prefix)"),
    note: str = typer.Option(..., "--note", help="why; the agent gets it as feedback"),
) -> None:
    """Reject: the task retries with your note as feedback, or fails if no attempts are left."""
    _resolve(breakpoint, "reject", note)


def answer(
    breakpoint: str = typer.Argument(..., help="breakpoint id (or a unique prefix)"),
    text: str = typer.Argument(..., help="your answer; it reaches the agent as a follow-up"),
) -> None:
    """Answer a question: the text reaches the agent as a follow-up."""
    _resolve(breakpoint, "answer", text)
