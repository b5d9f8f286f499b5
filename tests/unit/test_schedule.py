"""Ready-task ordering: plan priority plus deadline, blocking and retry boosts (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from overseer.config import SchedulingSettings
from overseer.engine.schedule import (
    boosts_of,
    deadline_of,
    effective_priority,
    order_ready,
    transitive_dependents,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HOUR = 3600.0


@dataclass
class T:
    id: str
    priority: int = 0
    deadline: datetime | str | None = None
    depends_on: list[str] = field(default_factory=list)


def task(tid: str, priority: int = 0, deadline: datetime | str | None = None,
         depends_on: list[str] | None = None) -> T:
    return T(tid, priority, deadline, depends_on or [])


B = SchedulingSettings(deadline_window=24 * HOUR, deadline_boost=10, blocking_boost=1, retry_penalty=2)


@pytest.mark.parametrize(
    ("t", "dependents", "retries", "now", "expected"),
    [
        (task("a", 3), 0, 0, NOW, 3.0),
        # deadline inside the window, at its edge, already past: boosted
        (task("a", 3, NOW + timedelta(hours=5)), 0, 0, NOW, 13.0),
        (task("a", 3, NOW + timedelta(hours=24)), 0, 0, NOW, 13.0),
        (task("a", 3, NOW - timedelta(hours=5)), 0, 0, NOW, 13.0),
        # outside the window: not boosted
        (task("a", 3, NOW + timedelta(hours=25)), 0, 0, NOW, 3.0),
        # as recorded with the run: ISO text, also naive (read as UTC)
        (task("a", 0, (NOW + timedelta(hours=1)).isoformat()), 0, 0, NOW, 10.0),
        (task("a", 0, "2026-11-22T13:00:00"), 0, 0, NOW, 10.0),
        # no clock read: no deadline boost
        (task("a", 0, NOW + timedelta(hours=1)), 0, 0, None, 0.0),
        # blocking and retry
        (task("a", 1), 4, 0, NOW, 5.0),
        (task("a", 1), 0, 3, NOW, -5.0),
        (task("a", 1, NOW + timedelta(hours=1)), 2, 1, NOW, 11.0),
    ],
)
def test_effective_priority(t, dependents, retries, now, expected):
    ts = now.timestamp() if now is not None else None
    assert effective_priority(t, now=ts, dependents=dependents, retries=retries, boosts=B) == expected


@pytest.mark.parametrize(
    ("tasks", "expected"),
    [
        ([task("a")], {"a": 0}),
        # chain a <- b <- c: a blocks both
        ([task("a"), task("b", depends_on=["a"]), task("c", depends_on=["b"])], {"a": 2, "b": 1, "c": 0}),
        # diamond: d is counted once for a
        ([task("a"), task("b", depends_on=["a"]), task("c", depends_on=["a"]),
          task("d", depends_on=["b", "c"])], {"a": 3, "b": 1, "c": 1, "d": 0}),
        ([task("x"), task("y")], {"x": 0, "y": 0}),
    ],
)
def test_transitive_dependents(tasks, expected):
    assert transitive_dependents(tasks) == expected


@pytest.mark.parametrize(
    ("ready", "dependents", "retries", "expected"),
    [
        # plain priority; ties keep the input order
        ([task("a", 1), task("b", 5), task("c", 1)], {}, {}, ["b", "a", "c"]),
        # a near deadline beats a higher plan priority
        ([task("a", 5), task("b", 0, NOW + timedelta(hours=2))], {}, {}, ["b", "a"]),
        # a far deadline does not
        ([task("a", 5), task("b", 0, NOW + timedelta(days=3))], {}, {}, ["a", "b"]),
        # blocking three tasks outweighs two points of plan priority
        ([task("a", 2), task("b", 0)], {"b": 3}, {}, ["b", "a"]),
        # earlier attempts push a task back
        ([task("a", 2), task("b", 1)], {}, {"a": 1}, ["b", "a"]),
        ([], {}, {}, []),
    ],
)
def test_order_ready(ready, dependents, retries, expected):
    got = order_ready(ready, now=NOW.timestamp(), dependents_count=dependents, retries=retries, boosts=B)
    assert [t.id for t in got] == expected


def test_boosts_are_the_recorded_scheduling_section_with_defaults():
    assert boosts_of(None) == boosts_of({}) == SchedulingSettings()
    got = boosts_of({"retry_penalty": 0, "deadline_boost": 3})
    assert (got.retry_penalty, got.deadline_boost, got.blocking_boost) == (0, 3, SchedulingSettings().blocking_boost)


def test_deadline_of():
    assert deadline_of(task("a")) is None
    assert deadline_of(task("a", deadline="2026-12-01T17:00:00Z")) == datetime(2026, 12, 1, 17, tzinfo=UTC)


def test_transitive_dependents_agrees_with_a_search_per_task_on_random_dags():
    import random

    rng = random.Random(7)
    for _ in range(30):
        n = rng.randint(1, 40)
        tasks = [task(f"t{i}", depends_on=[f"t{j}" for j in range(i) if rng.random() < 0.15])
                 for i in range(n)]
        dependents = {t.id: [u.id for u in tasks if t.id in u.depends_on] for t in tasks}

        def reach(tid: str, dependents=dependents) -> set[str]:
            out: set[str] = set()
            for d in dependents[tid]:
                out |= {d} | reach(d)
            return out

        assert transitive_dependents(tasks) == {t.id: len(reach(t.id)) for t in tasks}
