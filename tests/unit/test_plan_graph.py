"""The task graph helpers, table-driven: each row is a small graph and what must come out."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from overseer.plan.graph import dependents, find_cycles, ready_tasks, topological_order


@dataclass
class T:
    id: str
    depends_on: list[str] = field(default_factory=list)
    priority: int = 0


def graph(spec: str) -> dict[str, list[str]]:
    """'a:b,c b: c:' → {a: [b, c], b: [], c: []} (a depends on b and c)."""
    out: dict[str, list[str]] = {}
    for part in spec.split():
        node, _, deps = part.partition(":")
        out[node] = [d for d in deps.split(",") if d]
    return out


@pytest.mark.parametrize(
    ("spec", "cycles"),
    [
        ("", []),
        ("a:", []),
        ("a:b b:c c:", []),
        ("a:b,c b:d c:d d:", []),  # a diamond shares a node without a cycle
        ("a:a", [["a", "a"]]),
        ("a:b b:a", [["a", "b", "a"]]),
        ("a:b b:c c:a", [["a", "b", "c", "a"]]),
        ("a:c b:a c:b", [["a", "c", "b", "a"]]),
        # reported from the member first in file order, whatever node the search starts at
        ("x:c a:b b:c c:a", [["a", "b", "c", "a"]]),
        ("a:b b:a x:y y:z z:x", [["a", "b", "a"], ["x", "y", "z", "x"]]),
        # two cycles through one node are two back edges: both reported, each once
        ("a:b b:a,c c:a", [["a", "b", "a"], ["a", "b", "c", "a"]]),
        ("a:b,zz b:", []),  # unknown ids are the loader's business
        ("a:b b:c c:d d:b", [["b", "c", "d", "b"]]),
    ],
)
def test_find_cycles(spec: str, cycles: list[list[str]]) -> None:
    assert find_cycles(graph(spec)) == cycles


def test_find_cycles_long_chain_does_not_recurse() -> None:
    n = 5000
    deps = {f"t{i}": [f"t{i + 1}"] for i in range(n)}
    deps[f"t{n}"] = ["t0"]
    (cycle,) = find_cycles(deps)
    assert cycle[0] == "t0" and cycle[-1] == "t0" and len(cycle) == n + 2


@pytest.mark.parametrize(
    ("tasks", "order"),
    [
        ([], []),
        ([T("a"), T("b"), T("c")], ["a", "b", "c"]),  # file order when nothing else decides
        ([T("a"), T("b", priority=5), T("c", priority=1)], ["b", "c", "a"]),
        ([T("a", ["b"]), T("b")], ["b", "a"]),
        # priority only chooses among ready tasks; it never jumps a dependency
        ([T("a", priority=9, depends_on=["b"]), T("b"), T("c", priority=1)], ["c", "b", "a"]),
        (
            [
                T("base"),
                T("left", ["base"], 1),
                T("right", ["base"], 9),
                T("top", ["left", "right"]),
            ],
            ["base", "right", "left", "top"],
        ),
        # a newly ready high-priority task goes before older low-priority ones
        ([T("a"), T("b", priority=-1), T("c", ["a"], 3)], ["a", "c", "b"]),
        ([T("a", ["outside"])], ["a"]),  # dependencies outside the set count as settled
        ([T("a", ["a"])], ["a"]),
    ],
)
def test_topological_order(tasks: list[T], order: list[str]) -> None:
    assert [t.id for t in topological_order(tasks)] == order


def test_topological_order_custom_key() -> None:
    tasks = [T("a", priority=5), T("b", priority=1)]
    assert [t.id for t in topological_order(tasks, key=lambda t: -t.priority)] == ["b", "a"]


def test_topological_order_rejects_cycle() -> None:
    with pytest.raises(ValueError, match="dependency cycle: a → b → a"):
        topological_order([T("a", ["b"]), T("b", ["a"]), T("c")])


@pytest.mark.parametrize(
    ("spec", "done", "running", "failed", "ready"),
    [
        ("a: b:a c:b", set(), set(), set(), ["a"]),
        ("a: b:a c:b", {"a"}, set(), set(), ["b"]),
        ("a: b:a c:b", set(), {"a"}, set(), []),
        ("a: b: c:a,b", {"a"}, {"b"}, set(), []),
        ("a: b: c:a,b", {"a", "b"}, set(), set(), ["c"]),
        ("a: b:a c:", set(), set(), {"a"}, ["c"]),  # a failed dependency never clears
        ("a: b: c:", set(), set(), set(), ["a", "b", "c"]),  # file order
        ("a: b:", {"a", "b"}, set(), set(), []),
    ],
)
def test_ready_tasks(
    spec: str, done: set[str], running: set[str], failed: set[str], ready: list[str]
) -> None:
    assert ready_tasks(graph(spec), done, running, failed) == ready


@pytest.mark.parametrize(
    ("spec", "task", "expected"),
    [
        ("a: b:a c:b d:", "a", {"b", "c"}),
        ("a: b:a c:b d:", "c", set()),
        ("a: b:a c:a d:b,c", "a", {"b", "c", "d"}),
        ("a: b:a c:b d:", "d", set()),
        ("a:c b:a c:b", "a", {"b", "c"}),  # a cycle does not list the task itself
        ("a:", "missing", set()),
    ],
)
def test_dependents(spec: str, task: str, expected: set[str]) -> None:
    assert dependents(graph(spec), task) == expected
