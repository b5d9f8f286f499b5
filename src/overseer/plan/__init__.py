"""The plan: its schema, loading with line numbers, validation, and the task graph."""

from __future__ import annotations

from typing import Any

from overseer.plan.load import load_plan, parse_plan
from overseer.plan.schema import GateSpec, Plan, ResolvedTask, Task, resolve_task


def plan_json_schema() -> dict[str, Any]:
    """JSON Schema of the plan file, for editors (yaml-language-server) and other tools."""
    schema = Plan.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


__all__ = [
    "GateSpec",
    "Plan",
    "ResolvedTask",
    "Task",
    "load_plan",
    "parse_plan",
    "plan_json_schema",
    "resolve_task",
]
