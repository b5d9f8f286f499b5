"""`overseer bench reviewer`: measure the reviewer a run would use on the false-done corpus."""

from __future__ import annotations

from pathlib import Path

import typer

from overseer.errors import OverseerError

PROVIDERS = ("auto", "openai-compatible", "anthropic", "embedded", "claude-code", "codex")


def bench(
    what: str = typer.Argument(..., metavar="reviewer", help="what to measure: `reviewer`"),
    provider: str | None = typer.Option(
        None, "--provider", help="measure this supervisor.provider instead of the configured one"),
    only: str | None = typer.Option(None, "--only", help="comma-separated case ids"),
    save: bool = typer.Option(True, "--save/--no-save", help="store the figures decide() weighs by"),
    json_out: Path | None = typer.Option(None, "--json", help="also write every case's result here"),
) -> None:
    """Run the false-done corpus (67 attempts that all claim "done") against the reviewer, print
    what it caught and held back, and store its figures: decide() weighs the reviewer's verdicts
    by them, and `auto` skips an embedded model that shows no signal."""
    if what != "reviewer":
        raise OverseerError(f"unknown benchmark {what!r}", hint="overseer bench reviewer")
    if provider is not None and provider not in PROVIDERS:
        raise OverseerError(f"--provider {provider!r} is not a reviewer",
                            hint=f"one of: {', '.join(PROVIDERS)}")
    from overseer.benchmark.false_done import main
    from overseer.config import load_settings
    from overseer.supervisor.llm import LLMUnavailable, NoLLM, choose_provider

    sup = load_settings(Path.cwd()).supervisor
    if provider:
        sup = sup.model_copy(update={"provider": provider})
    try:
        llm, why = choose_provider(sup)
    except LLMUnavailable as e:
        raise OverseerError(str(e), hint="fix supervisor.* in overseer.yaml, or pass --provider") from None
    if isinstance(llm, NoLLM):
        raise OverseerError(f"no reviewer to measure: {why}",
                            hint="configure supervisor.provider, or pass --provider embedded")
    argv = ["--mode", "reviewer"] + (["--save"] if save else []) + (["--only", only] if only else []) \
        + (["--json", str(json_out)] if json_out else [])
    main(argv, settings=sup)
