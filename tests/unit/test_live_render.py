"""The live view's picture of a snapshot, rendered to plain text."""

from __future__ import annotations

import pytest
from rich.console import Console

from overseer.cli.live_render import duration, render
from overseer.cli.live_snapshot import Activity, GateLine, OpenBreakpoint, Snapshot, TaskRow


def text(snap: Snapshot, prompt: str = "", max_tasks: int = 30) -> str:
    console = Console(width=140, record=True, color_system=None)
    console.print(render(snap, prompt, max_tasks))
    return console.export_text()


def row(tid: str, state: str, **kw: object) -> TaskRow:
    base: dict[str, object] = dict(id=tid, title=tid, state=state, attempt=1, agent="coder",
                                   elapsed_s=75.0, tokens=1234, cost_usd=0.5)
    base.update(kw)
    return TaskRow(**base)  # type: ignore[arg-type]


def snap(**kw: object) -> Snapshot:
    base: dict[str, object] = dict(
        run_id="r1", name="calc", state="running", paused=False, finished=False, elapsed_s=3725.0,
        tasks=(row("build", "completed"), row("docs", "running", attempt=2, cost_usd=None),
               row("later", "pending", attempt=0, elapsed_s=None, tokens=0, cost_usd=None)),
        tokens=2468, cost_usd=0.5,
    )
    base.update(kw)
    return Snapshot(**base)  # type: ignore[arg-type]


def test_header_and_task_table() -> None:
    out = text(snap())
    assert "run r1 (calc)  running  1/3 tasks done · 2,468 tokens · $0.5000 · 1h02m" in out
    lines = out.splitlines()
    assert any(line.split() == ["build", "completed", "1", "coder", "1m15s", "1,234", "$0.5000"] for line in lines)
    assert any(line.split() == ["docs", "running", "2", "coder", "1m15s", "1,234", "-"] for line in lines)
    assert any(line.split() == ["later", "pending", "-", "coder", "-", "0", "-"] for line in lines)
    assert "a approve · r reject · t answer · p pause · c continue · q detach" in out


def test_activity_gates_and_breakpoints_with_their_commands() -> None:
    out = text(snap(
        activity=(Activity("docs", 2, "tool_call: Bash pytest -q", ("README.md", "src/a.py")),),
        gates=(GateLine("build", 1, True, "tests passed (exit 0, 3 passed, 0 failing)"),
               GateLine("docs", 1, False, "lint FAILED (exit 1)")),
        breakpoints=(OpenBreakpoint("bp-12", "build", "after_task", "approve to commit it"),),
    ))
    assert "docs#2  tool_call: Bash pytest -q" in out
    assert "files: README.md, src/a.py" in out
    assert "build#1  ✓ tests passed" in out and "docs#1  ✗ lint FAILED (exit 1)" in out
    assert "1. bp-12  task build (after_task): approve to commit it" in out
    for cmd in ("overseer approve bp-12", "overseer reject bp-12 --note 'why'", "overseer answer bp-12 'text'"):
        assert cmd in out


def test_agent_text_is_shown_not_interpreted_as_markup() -> None:
    out = text(snap(activity=(Activity("docs", 1, "[bold]hi[/bold] [link=x]y"),)))
    assert "[bold]hi[/bold] [link=x]y" in out


def test_paused_finished_error_and_prompt() -> None:
    assert "PAUSED (no new tasks start; c continues)" in text(snap(paused=True))
    done = text(snap(state="failed", finished=True, paused=True, error="task x failed"), prompt="bp-1: approved")
    assert "PAUSED" not in done and "q detach" not in done
    assert "error: task x failed" in done and "bp-1: approved" in done


def test_a_long_table_keeps_the_tasks_that_need_an_eye() -> None:
    tasks = tuple(row(f"t{i:02d}", "completed") for i in range(20)) + (
        row("stuck", "blocked"), row("busy", "running"))
    out = text(snap(tasks=tasks), max_tasks=5)
    names = [line.split()[0] for line in out.splitlines()[2:] if line.strip()]
    assert names[:5] == ["t00", "t01", "stuck", "busy", "…"]
    assert "… 18 more" in out


@pytest.mark.parametrize(("seconds", "shown"), [
    (None, "-"), (0, "0s"), (59.9, "59s"), (60, "1m00s"), (3599, "59m59s"), (3600, "1h00m"), (90061, "25h01m"),
])
def test_duration(seconds: float | None, shown: str) -> None:
    assert duration(seconds) == shown
