"""Render a RunReport as JSON, Markdown or one self-contained HTML file."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from overseer.report.model import RunReport
from overseer.scrub import Scrubber

FORMATS = ("md", "json", "html")

_TEMPLATES = Path(__file__).parent / "templates"


def render(report: RunReport, fmt: str) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "md":
        return render_markdown(report)
    if fmt == "html":
        return render_html(report)
    raise ValueError(f"unknown report format {fmt!r}")


def render_json(report: RunReport) -> str:
    text = json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    return _last_pass(text)


def render_markdown(report: RunReport) -> str:
    return _last_pass(_env(autoescape=False).get_template("report.md.j2").render(r=report))


def render_html(report: RunReport) -> str:
    return _last_pass(_env(autoescape=True).get_template("report.html.j2").render(r=report))


def _last_pass(text: str) -> str:
    # collect() scrubbed every string already; this catches anything a template might add.
    return Scrubber.for_run().literal(text)


def _env(autoescape: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        undefined=StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(money=money, dur=dur, ts=ts, fence=fence, cell=cell, pct=pct)
    return env


def money(cost: float | None, estimated: bool = False) -> str:
    if cost is None:
        return "not reported"
    return f"${cost:.4f}" + (" (estimated)" if estimated else "")


def dur(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def ts(when: datetime | None) -> str:
    return "-" if when is None else when.strftime("%Y-%m-%d %H:%M:%S UTC")


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fence(text: str | None, lang: str = "") -> str:
    """A Markdown code block that no backtick run inside `text` can close early."""
    body = (text or "").rstrip("\n")
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{body}\n{ticks}"


def cell(value: object) -> str:
    """Text that stays inside one Markdown table cell."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")
