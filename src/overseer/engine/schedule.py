"""Which ready task starts first: the plan's priority plus boosts (docs/plan.md, "Priority").

Pure: the run workflow passes in the time it read through a step, so a replay orders the
tasks exactly as the first run did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from overseer.config import SchedulingSettings


class Schedulable(Protocol):
    """What ordering needs of a task (engine.spec.TaskSpec has it)."""

    @property
    def id(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def deadline(self) -> datetime | str | None: ...
    @property
    def depends_on(self) -> list[str]: ...


TaskT = TypeVar("TaskT", bound=Schedulable)


def boosts_of(recorded: Mapping[str, Any] | None) -> SchedulingSettings:
    """The `scheduling` section as recorded with the run (absent keys: the defaults)."""
    return SchedulingSettings.model_validate(recorded or {})


def deadline_of(task: Schedulable) -> datetime | None:
    """The task's deadline, aware; a plan task carries it as a datetime, a recorded one as ISO text."""
    value = task.deadline
    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def transitive_dependents(tasks: Sequence[Schedulable]) -> dict[str, int]:
    """Task id -> how many tasks depend on it, directly or through others (each counted once).

    Each task's dependents are a bit set (an int), built from its direct dependents' sets in
    one depth-first pass, so a dense 1,000-task plan takes milliseconds, not a search per task.
    """
    ids = [t.id for t in tasks]
    bit = {tid: 1 << i for i, tid in enumerate(ids)}
    direct: dict[str, list[str]] = {tid: [] for tid in ids}
    for t in tasks:
        for dep in t.depends_on:
            if dep in direct:
                direct[dep].append(t.id)
    reach: dict[str, int] = {}
    entered: set[str] = set()  # a cycle (a validated plan has none) must not loop forever
    for root in ids:
        stack = [(root, False)]
        while stack:
            tid, children_done = stack.pop()
            if tid in reach:
                continue
            if children_done:
                below = 0
                for d in direct[tid]:
                    below |= bit[d] | reach.get(d, 0)
                reach[tid] = below
            elif tid not in entered:
                entered.add(tid)
                stack.append((tid, True))
                stack.extend((d, False) for d in direct[tid] if d not in reach)
    return {tid: reach[tid].bit_count() for tid in ids}


def effective_priority(
    task: Schedulable, *, now: float | None, dependents: int, retries: int, boosts: SchedulingSettings
) -> float:
    """Plan priority + deadline boost (deadline within the window, or past) + blocking boost
    per dependent − retry penalty per earlier attempt. `now` is epoch seconds; None: no clock
    was read (no ready task has a deadline), so no deadline boost."""
    priority = float(task.priority)
    deadline = deadline_of(task)
    if deadline is not None and now is not None and deadline.timestamp() - now <= boosts.deadline_window:
        priority += boosts.deadline_boost
    return priority + boosts.blocking_boost * dependents - boosts.retry_penalty * retries


def order_ready(
    ready: Sequence[TaskT],
    *,
    now: float | None,
    dependents_count: Mapping[str, int],
    retries: Mapping[str, int],
    boosts: SchedulingSettings,
) -> list[TaskT]:
    """The ready tasks, highest effective priority first; ties keep their order in `ready`."""

    def key(task: TaskT) -> float:
        tid = task.id
        return -effective_priority(task, now=now, dependents=dependents_count.get(tid, 0),
                                   retries=retries.get(tid, 0), boosts=boosts)

    return sorted(ready, key=key)
