"""Audit reports of a run (Markdown / JSON / HTML) and the readable event log."""

from overseer.report.collect import collect
from overseer.report.model import RunReport
from overseer.report.render import FORMATS, render, render_html, render_json, render_markdown

__all__ = [
    "FORMATS",
    "RunReport",
    "collect",
    "render",
    "render_html",
    "render_json",
    "render_markdown",
]
