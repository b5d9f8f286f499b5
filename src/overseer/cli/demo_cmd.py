"""`overseer demo`: the quickstart plan, run on a scratch copy of examples/quickstart."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from overseer.cli.output import out
from overseer.errors import EXIT_OK, OverseerError

if TYPE_CHECKING:
    from overseer.store import Store


def _example_dir() -> Path:
    # The examples live beside src/ in a checkout (`make demo` installs editable from one).
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "examples" / "quickstart"
        if (candidate / "plan.yaml").is_file():
            return candidate
    raise OverseerError(
        "examples/quickstart not found next to this overseer installation",
        hint="run `make demo` from a clone of the overseer repository",
    )


def _git(repo: Path, *args: str) -> str:
    env_user = ["-c", "user.name=overseer demo", "-c", "user.email=demo@overseer.invalid"]
    return subprocess.run(
        ["git", *env_user, *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def _show_feedback(store: Store, run_id: str) -> None:
    """What overseer told the agent after each refused attempt: the part of the demo to read."""
    for a in store.attempts(run_id):
        d = store.decision(a.id)
        if d is None or d.action == "proceed" or not d.feedback:
            continue
        out.print(f"\nwhat overseer told the agent after attempt {a.n} of {a.task_id}:", markup=False)
        lines = d.feedback.splitlines()
        for line in lines[:8]:
            out.print(f"  | {line}", markup=False)
        if len(lines) > 8:
            out.print(f"  | … ({len(lines) - 8} more lines)", markup=False)


def _say_reviewer(settings: Any) -> None:
    """Which reviewer judged the demo, and the one command that adds the local model."""
    from overseer.supervisor.llm import LLMUnavailable, NoLLM, choose_provider, llama_cpp_installed

    try:
        llm, why = choose_provider(settings.supervisor)
    except LLMUnavailable as exc:
        why, llm = str(exc), NoLLM()
    out.print(f"reviewer: {why}", markup=False)
    if isinstance(llm, NoLLM) and not llama_cpp_installed():
        out.print("  the gates and test integrity decided; to add the embedded local reviewer, "
                  "in this checkout: make local-model", markup=False)


def demo(
    keep: Path | None = typer.Option(None, "--dir", help="where to put the scratch copy"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="print the agent's output too"),
) -> None:
    """Run the quickstart plan on a scratch copy of examples/quickstart."""
    from overseer.cli.locate import settings_for
    from overseer.cli.run_cmd import run_to_end
    from overseer.engine.runner import prepare_run

    target = keep or Path(tempfile.mkdtemp(prefix="overseer-demo-"))
    target.mkdir(parents=True, exist_ok=True)
    dest = target / "quickstart"
    if dest.exists():
        raise OverseerError(f"{dest} already exists", hint="pass another --dir, or remove it")
    shutil.copytree(_example_dir(), dest, ignore=shutil.ignore_patterns("__pycache__", ".overseer"))
    repo = dest / "repo"
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "calc: starting point (tests fail)")
    # The demo's commits are made by overseer in a repo with no identity configured.
    _git(repo, "config", "user.name", "overseer demo")
    _git(repo, "config", "user.email", "demo@overseer.invalid")
    out.print(f"overseer demo: a scratch copy of the quickstart in {dest}", markup=False)
    out.print("  plan: 3 tasks (add, divide, mean); the agent is a script; gates are the repo's unit tests\n", markup=False)
    settings = settings_for({}, dest)
    prepared = prepare_run(dest / "plan.yaml", settings, create_repo=False)
    code = run_to_end(prepared.run_id, prepared.repo, prepared.store, settings, verbose)
    _show_feedback(prepared.store, prepared.run_id)
    out.print("\ngit log of the demo repository:", markup=False)
    out.print(_git(repo, "log", "--format=  %h %s").rstrip(), markup=False)
    out.print(f"\nstate:   {repo / '.overseer'}  (transcripts, gate output, state.db)", markup=False)
    out.print(f"inspect: cd {repo} && overseer status", markup=False)
    _say_reviewer(settings)
    raise typer.Exit(code if code != EXIT_OK else EXIT_OK)
