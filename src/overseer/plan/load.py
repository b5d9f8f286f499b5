"""Read a plan file and check all of it at once: every problem comes back in one PlanError,
each as FILE:LINE:COL at the key or value to fix."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from overseer.agents.base import AgentConfig
from overseer.errors import Diagnostic, OverseerError, PlanError
from overseer.plan.schema import Plan
from overseer.plan.schema_errors import report_validation_error
from overseer.plan.source import parse, plain, show
from overseer.plan.validate import check_holdouts, check_plan


def load_plan(path: Path, agent_configs: Mapping[str, type[AgentConfig]] | None = None) -> Plan:
    """Load and validate the plan at `path`.

    `agent_configs` maps agent type names to their config classes; with it, every agent object
    is checked against its type. Without it, agent objects only need a `type`.
    Raises OverseerError if the file cannot be read, PlanError listing every problem otherwise.
    """
    file = str(path)
    if not path.exists():
        raise OverseerError(
            f"plan file not found: {file}",
            hint="check the path; `overseer init` writes a plan.yaml to start from",
        )
    if path.is_dir():
        raise OverseerError(
            f"{file} is a directory, not a plan file",
            hint=f"pass the plan's YAML file, e.g. {path / 'plan.yaml'}",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise OverseerError(f"{file} is not UTF-8 text", hint="save the plan as UTF-8") from None
    except OSError as exc:
        raise OverseerError(f"cannot read {file}: {exc.strerror or exc}") from None
    return parse_plan(text, file, agent_configs, plan_dir=path.resolve().parent)


def parse_plan(
    text: str, file: str = "<plan>", agent_configs: Mapping[str, type[AgentConfig]] | None = None,
    *, plan_dir: Path | None = None,
) -> Plan:
    """`load_plan` for text already in memory; `file` is the name diagnostics carry. With
    `plan_dir` (the plan file's folder), paths in the plan are checked against the disk too."""
    src, diagnostics = parse(text, file)
    plan: Plan | None = None
    if src.root is None:
        if not diagnostics:
            diagnostics.append(
                Diagnostic(
                    file, 1, 1, "plan is empty; it needs at least version: 1, name: and tasks:"
                )
            )
    elif not isinstance(src.root, Mapping):
        src.error(
            (), f"plan must be a mapping of keys (version, name, tasks, ...), got {show(src.root)}"
        )
    else:
        try:
            plan = Plan.model_validate(plain(src.root), strict=True)
        except ValidationError as exc:
            report_validation_error(src, exc, Plan)
        check_plan(src, agent_configs)
        if plan_dir is not None:
            check_holdouts(src, plan_dir)

    found = _dedupe([*diagnostics, *src.diagnostics])
    if found or plan is None:
        raise PlanError(sorted(found, key=lambda d: (d.line, d.col)))
    return plan


def _dedupe(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[int, int, str]] = set()
    out = []
    for d in diagnostics:
        if (d.line, d.col, d.message) not in seen:
            seen.add((d.line, d.col, d.message))
            out.append(d)
    return out
