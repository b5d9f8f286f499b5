"""What the engine runs, typed: a run as loaded (RunSpec) and one task of it (TaskSpec).

These are the engine's boundary. DBOS keeps workflow arguments and step results as plain data,
so a spec becomes JSON exactly once, where a workflow starts (`to_wire`), and is read back once
(`model_validate`) at the top of that workflow; every step takes the typed object.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from overseer.agents.ssh_spec import SshSpec
from overseer.engine.decide import Thresholds
from overseer.plan.schema import ResolvedTask


class TaskSpec(ResolvedTask):
    """A plan task with its defaults filled in, plus where and how this run runs it."""

    worktree: bool = False  # a worktree of its own (the run is parallel)
    parent: str = ""  # the run workflow this task reports to
    thresholds: Thresholds = Field(default_factory=Thresholds)
    # The highest attempt record of earlier generations (before a rollback): numbering goes on
    # from here, so no record is reused.
    attempt_offset: int = 0
    # Judged attempts of earlier generations: what `status` shows adds this one's to it.
    attempts_before: int = 0
    # retries.max_decision_retries_per_run, when set.
    run_retry_limit: int | None = None

    def with_agent(self, name: str, config: dict[str, Any]) -> TaskSpec:
        return self.model_copy(update={"agent_name": name, "agent": config})

    def ssh(self) -> SshSpec | None:
        """Where the task's agent runs when it runs over SSH (a `where: remote` gate runs there)."""
        transport = self.agent.get("transport")
        if isinstance(transport, dict) and isinstance(transport.get("ssh"), dict):
            return SshSpec.model_validate(transport["ssh"])
        return None

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class RunSpec(BaseModel):
    """A run as its workflow sees it, read from the store once when the workflow starts."""

    parallel: int = 1
    dispatch: str = "local"  # "queue": tasks go through the run's DBOS queue, for workers
    worker_slots: int | None = None
    scheduling: dict[str, Any] = Field(default_factory=dict)
    tasks: list[TaskSpec]
    states: dict[str, str] = Field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
