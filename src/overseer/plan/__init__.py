"""The plan: its schema, loading with line numbers, validation, and the task graph."""

from overseer.plan.schema import GateSpec, Plan, ResolvedTask, Task, resolve_task

__all__ = ["GateSpec", "Plan", "ResolvedTask", "Task", "resolve_task"]
