"""The live view's picture of a Snapshot: a pure function, so it is tested without a terminal.

Everything that came from agents or plans goes in as rich Text, never as markup: an agent's
"[bold]" is shown, not interpreted."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from overseer.cli.live_keys import HELP
from overseer.cli.live_snapshot import Snapshot, TaskRow

STATE_STYLE = {
    "running": "bold cyan", "retrying": "yellow", "blocked": "bold magenta", "completed": "green",
    "failed": "bold red", "cancelled": "red", "pending": "dim", "ready": "",
    "waiting": "bold magenta",
}
# Tasks that need an eye come first when the table is cut to fit the terminal.
_URGENCY = {"blocked": 0, "running": 1, "retrying": 2, "failed": 3, "ready": 4, "pending": 5,
            "cancelled": 6, "completed": 7}
ACTIVITY_CHARS = 160


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def money(cost: float | None) -> str:
    return "-" if cost is None else f"${cost:.4f}"


def _clip(text: str, width: int = ACTIVITY_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _rows(tasks: tuple[TaskRow, ...], max_rows: int) -> tuple[list[TaskRow], int]:
    if len(tasks) <= max_rows:
        return list(tasks), 0
    keep = sorted(range(len(tasks)), key=lambda i: (_URGENCY.get(tasks[i].state, 9), i))[: max_rows - 1]
    return [tasks[i] for i in sorted(keep)], len(tasks) - len(keep)


def render(snap: Snapshot, prompt: str = "", max_tasks: int = 30) -> RenderableType:
    """The whole view: header, tasks, activity, gates, open breakpoints, keys."""
    parts: list[RenderableType] = [_header(snap), _tasks(snap, max_tasks)]
    if snap.activity:
        parts.append(Text("activity", style="bold"))
        for a in snap.activity:
            line = Text(f"  {a.task}#{a.attempt}  ", style="cyan")
            line.append(_clip(a.last) if a.last else "(no output yet)")
            if a.files:
                line.append(f"\n      files: {', '.join(a.files)}", style="dim")
            parts.append(line)
    if snap.gates:
        parts.append(Text("gates (latest attempts)", style="bold"))
        for g in snap.gates:
            line = Text(f"  {g.task}#{g.attempt}  ")
            line.append("✓ " if g.passed else "✗ ", style="green" if g.passed else "bold red")
            line.append(_clip(g.text))
            parts.append(line)
    if snap.breakpoints:
        parts.append(Text("waiting for you", style="bold magenta"))
        for i, b in enumerate(snap.breakpoints, 1):
            line = Text(f"  {i}. {b.id}", style="bold")
            line.append(f"  task {b.task or '-'} ({b.kind}): ")
            line.append(_clip(b.message))
            line.append(f"\n     overseer approve {b.id}\n"
                        f"     overseer reject {b.id} --note 'why'\n"
                        f"     overseer answer {b.id} 'text'", style="dim")
            parts.append(line)
    if snap.error:
        parts.append(Text(f"error: {_clip(snap.error)}", style="bold red"))
    if not snap.finished:
        parts.append(Text(HELP, style="dim"))
    if prompt:
        parts.append(Text(prompt, style="bold yellow"))
    return Group(*parts)


def _header(snap: Snapshot) -> Text:
    done = sum(1 for t in snap.tasks if t.state == "completed")
    head = Text(f"run {snap.run_id}", style="bold")
    head.append(f" ({snap.name})  ")
    head.append(snap.state, style=STATE_STYLE.get(snap.state, ""))
    if snap.paused and not snap.finished:
        head.append("  PAUSED (no new tasks start; c continues)", style="bold yellow")
    head.append(f"  {done}/{len(snap.tasks)} tasks done · {snap.tokens:,} tokens · "
                f"{money(snap.cost_usd)} · {duration(snap.elapsed_s)}")
    return head


def _tasks(snap: Snapshot, max_tasks: int) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col, justify in (("task", "left"), ("state", "left"), ("att", "right"), ("agent", "left"),
                         ("elapsed", "right"), ("tokens", "right"), ("cost", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    rows, hidden = _rows(snap.tasks, max(2, max_tasks))
    for t in rows:
        table.add_row(
            Text(t.id), Text(t.state, style=STATE_STYLE.get(t.state, "")), str(t.attempt or "-"),
            Text(t.agent), duration(t.elapsed_s), f"{t.tokens:,}", money(t.cost_usd),
        )
    if hidden:
        table.add_row(Text(f"… {hidden} more", style="dim"), "", "", "", "", "", "")
    return table
