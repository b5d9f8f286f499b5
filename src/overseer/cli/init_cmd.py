"""`overseer init`: commented starting files for a project."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from overseer.cli.output import out
from overseer.errors import OverseerError
from overseer.project import AgentCli, Gate, default_env, detect_agents, detect_gates, plan_name

CONFIG_TEMPLATE = """\
# overseer settings for this project. Precedence: defaults < ~/.config/overseer/config.yaml
# < this file < OVERSEER_* environment variables (OVERSEER_RUN__PARALLEL=2) < command-line flags.
# `overseer config show` prints the effective values and where each came from.
run:
  parallel: 1            # tasks at once
  # branch: main         # branch that receives one commit per task (default: the current one)
# database:
#   url: postgresql+psycopg://user@127.0.0.1:5432/overseer   # default: SQLite in .overseer/state.db
"""

PLACEHOLDER_AGENT = 'coder: {type: shell, command: "echo \\"$OVERSEER_PROMPT\\" > NOTES.md"}   # replace with a real agent'


def plan_text(name: str, gates: list[Gate], agents: list[AgentCli]) -> str:
    """The starting plan: the project's own checks as gates, the user's agent CLIs as agents."""
    lines = [
        "# A plan: tasks with prompts, acceptance criteria and dependencies. Reference: docs/plan.md.",
        "# Check it with `overseer validate plan.yaml`; run it with `overseer run plan.yaml`.",
        "version: 1",
        f"name: {json.dumps(name)}",
    ]
    agent = agents[0].name if agents else "coder"
    gate_names = ", ".join(g.name for g in gates)
    lines.append(f"defaults: {{agent: {agent}, max_attempts: 3, "
                 + (f"gates: [{gate_names}], " if gates else "") + "timeout: 1800}")
    lines.append("agents:")
    if not agents:
        lines.append(f"  {PLACEHOLDER_AGENT}")
    for a in agents:
        lines.append(f"  {a.name}: {{type: {a.type}}}   # {a.binary}: {a.why}")
    if gates:
        lines.append("gates:   # found in the repository; edit or add your own")
        for g in gates:
            lines.append(f"  - {{name: {g.name}, run: {json.dumps(g.run)}, required: true, "
                         f"timeout: {g.timeout}}}   # from {g.why}")
    else:
        lines += ["# No test command was found. Add a gate, for example:",
                  "# gates:",
                  '#   - {name: tests, run: "make test", required: true, timeout: 600}']
    lines += [
        "tasks:",
        "  - id: first",
        "    title: A first task",
        "    prompt: Describe the change you want, as you would to a colleague.",
        '    acceptance: ["the tests pass"]',
    ]
    return "\n".join(lines) + "\n"


def init(
    directory: Path = typer.Argument(Path("."), help="project directory (a git repository)"),
    force: bool = typer.Option(False, "--force", help="overwrite existing files"),
) -> None:
    """Write overseer.yaml and a plan.yaml whose gates are the project's own test, lint and type
    checks and whose agents are the agent CLIs found on PATH; create .overseer/."""
    directory.mkdir(parents=True, exist_ok=True)
    gates = detect_gates(directory)
    agents = detect_agents(*default_env())
    plan = plan_text(plan_name(directory), gates, agents)
    written = []
    for name, text in (("overseer.yaml", CONFIG_TEMPLATE), ("plan.yaml", plan)):
        path = directory / name
        if path.exists() and not force:
            raise OverseerError(f"{path} already exists", hint="pass --force to overwrite it")
        path.write_text(text)
        written.append(str(path))
    (directory / ".overseer").mkdir(exist_ok=True)
    for w in written:
        out.print(f"wrote {w}", markup=False)
    for g in gates:
        out.print(f"  gate {g.name}: {g.run}  (from {g.why})", markup=False)
    if not gates:
        out.print("  no test command found: add a gate to plan.yaml (docs/plan.md)", markup=False)
    for a in agents:
        out.print(f"  agent {a.name} ({a.type}): {a.binary}, {a.why}", markup=False)
    if not agents:
        out.print("  no agent CLI found on PATH (claude, codex, gemini, aider): plan.yaml has a "
                  "placeholder shell agent to replace (docs/agents.md)", markup=False)
    elif not agents[0].usable:
        out.print(f"  {agents[0].name} is not logged in and has no API key: log in before "
                  "`overseer run`", markup=False)
    out.print("next: edit plan.yaml, then `overseer validate plan.yaml` and `overseer run plan.yaml`", markup=False)
