"""The task graph as plain data: cycles, run order, readiness, and who is affected by a failure.

A graph is a mapping of task id → the ids it depends on, in file order. Edges to ids that are not
keys of the mapping are ignored here: the loader reports them, and the engine may pass a subset
of a plan (e.g. the tasks still to run) whose outside dependencies are already settled.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, TypeVar


class GraphNode(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def depends_on(self) -> list[str]: ...


class _Prioritised(GraphNode, Protocol):
    @property
    def priority(self) -> int: ...


N = TypeVar("N", bound=GraphNode)


def find_cycles(deps: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Dependency cycles, each as a closed path `[a, b, c, a]` meaning a needs b needs c needs a.

    Every cycle in the graph shows up in at least one result, and no cycle is reported twice;
    a strongly connected tangle yields one path per DFS back edge rather than every elementary
    cycle, which could be exponentially many. Each path starts at its member that comes first in
    `deps`, and the paths are ordered by that member. A self-dependency is `[a, a]`.
    """
    order = {node: i for i, node in enumerate(deps)}
    state: dict[str, int] = {}  # absent: unvisited, 1: on the DFS stack, 2: finished
    found: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()

    for root in deps:
        if root in state:
            continue
        # Iterative DFS so a long dependency chain cannot hit the recursion limit.
        stack: list[tuple[str, list[str]]] = [(root, _edges(deps, root, order))]
        path = [root]
        state[root] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            nxt = todo.pop(0)
            mark = state.get(nxt)
            if mark == 1:
                cycle = path[path.index(nxt) :]
                start = min(range(len(cycle)), key=lambda i: order[cycle[i]])
                rotated = cycle[start:] + cycle[:start]
                if tuple(rotated) not in seen:
                    seen.add(tuple(rotated))
                    found.append([*rotated, rotated[0]])
            elif mark is None:
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, _edges(deps, nxt, order)))
    found.sort(key=lambda c: order[c[0]])
    return found


def _edges(deps: Mapping[str, Iterable[str]], node: str, known: Mapping[str, int]) -> list[str]:
    return [d for d in deps[node] if d in known]


def _priority(task: _Prioritised) -> int:
    return task.priority


def topological_order(tasks: Sequence[N], key: Callable[[N], int] | None = None) -> list[N]:
    """Tasks in an order that respects dependencies; among tasks ready at the same time, higher
    `key` (default: `.priority`) first, then file order. Raises ValueError on a cycle."""
    rank: Callable[[N], int] = key if key is not None else _priority  # type: ignore[assignment]
    index = {t.id: i for i, t in enumerate(tasks)}
    waiting_on = {t.id: {d for d in t.depends_on if d in index and d != t.id} for t in tasks}
    needed_by: dict[str, list[str]] = {t.id: [] for t in tasks}
    for tid, ds in waiting_on.items():
        for d in ds:
            needed_by[d].append(tid)

    heap = [(-rank(t), index[t.id], t.id) for t in tasks if not waiting_on[t.id]]
    heapq.heapify(heap)
    out: list[N] = []
    while heap:
        _, i, tid = heapq.heappop(heap)
        out.append(tasks[i])
        for child in needed_by[tid]:
            waiting_on[child].discard(tid)
            if not waiting_on[child]:
                c = tasks[index[child]]
                heapq.heappush(heap, (-rank(c), index[child], child))
    if len(out) < len(tasks):
        cycles = find_cycles({t.id: list(t.depends_on) for t in tasks})
        where = " → ".join(cycles[0]) if cycles else "unknown"
        raise ValueError(f"dependency cycle: {where}")
    return out


def ready_tasks(
    deps: Mapping[str, Iterable[str]],
    done: set[str],
    running: set[str],
    failed: set[str],
) -> list[str]:
    """Tasks that may start now, in file order: not yet started or finished, and every
    dependency done. `failed` holds every task that ended without completing (failed or
    cancelled); their dependents never become ready."""
    started = done | running | failed
    return [
        tid
        for tid, ds in deps.items()
        if tid not in started and all(d in done for d in ds if d in deps)
    ]


def dependents(deps: Mapping[str, Iterable[str]], task_id: str) -> set[str]:
    """Every task that depends on `task_id`, directly or through others (not the task itself)."""
    needed_by: dict[str, list[str]] = {}
    for tid, ds in deps.items():
        for d in ds:
            needed_by.setdefault(d, []).append(tid)
    found: set[str] = set()
    todo = [task_id]
    while todo:
        for child in needed_by.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    found.discard(task_id)
    return found
