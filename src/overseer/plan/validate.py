"""The checks pydantic cannot express: unique ids, references to tasks, agents, gates and
milestones, agent types and their keys, and dependency cycles.

They work on the raw parsed document rather than on a `Plan`, because a plan with one bad task
has no `Plan` object at all, and the user still wants to hear about every other problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from overseer.agents.base import AgentConfig
from overseer.plan.graph import find_cycles
from overseer.plan.schema_errors import describe, report_validation_error
from overseer.plan.source import Path_, Source, plain, show, suggest


def _known(kind: str, names: list[str], section: str, word: object) -> str:
    """The end of an unknown-reference message: a suggestion, the known names, or where to add one."""
    hint = suggest(word, names)
    if hint:
        return hint
    if not names:
        return f"; define it under {section}:"
    listed = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    return f"; known {kind}: {listed}"


def check_plan(src: Source, agent_configs: Mapping[str, type[AgentConfig]] | None) -> None:
    """References, uniqueness, agent types and cycles. Nodes of the wrong shape are skipped:
    the schema check has already reported them."""
    root = src.root
    tasks = _as_list(root.get("tasks"))
    agents = root.get("agents")
    agents = agents if isinstance(agents, Mapping) else {}
    defaults = root.get("defaults")
    defaults = defaults if isinstance(defaults, Mapping) else {}

    task_index = _unique(src, "tasks", "id", "task id")
    gate_names = list(_unique(src, "gates", "name", "gate name"))
    milestone_ids = list(_unique(src, "milestones", "id", "milestone id"))
    agent_names = [k for k in agents if isinstance(k, str)]
    task_ids = list(task_index)

    def check_agent(path: Path_, ref: Any, owner: str) -> None:
        if isinstance(ref, str):
            if ref not in agents:
                fix = _known("agents", agent_names, "agents", ref)
                src.error(path, f"unknown agent '{ref}' in {owner}{fix}")
        elif isinstance(ref, Mapping):
            _check_agent_object(src, path, ref, agent_configs)

    def check_gates(path: Path_, refs: Any, owner: str) -> None:
        for j, ref in enumerate(_as_list(refs)):
            if isinstance(ref, str) and ref not in gate_names:
                fix = _known("gates", gate_names, "gates", ref)
                src.error((*path, j), f"unknown gate '{ref}' in {owner}{fix}")

    for name, obj in agents.items():
        if isinstance(obj, Mapping):
            _check_agent_object(src, ("agents", name), obj, agent_configs)
    default_agent = defaults.get("agent")
    check_agent(("defaults", "agent"), default_agent, "defaults")
    check_gates(("defaults", "gates"), defaults.get("gates"), "defaults")

    graph: dict[str, list[str]] = {}
    for i, task in enumerate(tasks):
        if not isinstance(task, Mapping):
            continue
        path: Path_ = ("tasks", i)
        owner = describe(src, path)
        tid = task.get("id") if isinstance(task.get("id"), str) else None
        deps = _as_list(task.get("depends_on"))
        for j, dep in enumerate(deps):
            if not isinstance(dep, str):
                continue
            if dep == tid:
                src.error((*path, "depends_on", j), f"{owner} depends on itself; remove '{dep}'")
            elif dep not in task_index:
                fix = _known("tasks", task_ids, "tasks", dep)
                src.error((*path, "depends_on", j), f"{owner} depends on unknown task '{dep}'{fix}")
        if tid is not None and task_index.get(tid) == i:
            graph[tid] = [d for d in deps if isinstance(d, str) and d in task_index and d != tid]

        milestone = task.get("milestone")
        if isinstance(milestone, str) and milestone not in milestone_ids:
            fix = _known("milestones", milestone_ids, "milestones", milestone)
            src.error((*path, "milestone"), f"unknown milestone '{milestone}' in {owner}{fix}")

        if task.get("agent") is None:
            if default_agent is None:
                src.error(
                    path,
                    f"{owner} has no agent; set agent: in the task or under defaults",
                    key=True,
                )
        else:
            check_agent((*path, "agent"), task.get("agent"), owner)
        for k, ref in enumerate(_as_list(task.get("fallback_agents"))):
            check_agent((*path, "fallback_agents", k), ref, owner)
        check_gates((*path, "gates"), task.get("gates"), owner)

    for cycle in find_cycles(graph):
        first = task_index[cycle[0]]
        deps = _as_list(tasks[first].get("depends_on"))
        j = deps.index(cycle[1]) if cycle[1] in deps else 0
        src.error(("tasks", first, "depends_on", j), "dependency cycle: " + " → ".join(cycle))


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _unique(src: Source, section: str, key: str, what: str) -> dict[str, int]:
    """Ids in a list section → index of their first use; reports every later duplicate."""
    first: dict[str, int] = {}
    for i, item in enumerate(_as_list(src.root.get(section))):
        value = item.get(key) if isinstance(item, Mapping) else None
        if not isinstance(value, str):
            continue
        if value in first:
            line = src.position((section, first[value], key))[0]
            src.error(
                (section, i, key), f"duplicate {what} '{value}'; first defined on line {line}"
            )
        else:
            first[value] = i
    return first


def _check_agent_object(
    src: Source,
    path: Path_,
    obj: Mapping[Any, Any],
    agent_configs: Mapping[str, type[AgentConfig]] | None,
) -> None:
    owner = describe(src, path)
    known = sorted(agent_configs) if agent_configs is not None else []
    listed = _known_types(known)
    kind = obj.get("type")
    if kind is None:
        src.error(path, f"missing required key 'type' in {owner}{listed}", key=True)
        return
    if not isinstance(kind, str):
        src.error((*path, "type"), f"type: expected a string, got {show(kind)}")
        return
    if agent_configs is None:
        return
    config_class = agent_configs.get(kind)
    if config_class is None:
        src.error((*path, "type"), f"unknown agent type '{kind}' in {owner}{unknown_type_fix(kind, known)}")
        return
    try:
        config_class.model_validate(plain(obj))
    except ValidationError as exc:
        report_validation_error(src, exc, config_class, path)


def _known_types(known: list[str]) -> str:
    return f"; known types: {', '.join(known)}" if known else ""


def unknown_type_fix(kind: str, known: list[str]) -> str:
    """What follows "unknown agent type 'X'" wherever it is said (validate, doctor): a close
    match, else the installed types."""
    return suggest(kind, known) or _known_types(known) or "; no agent types are installed"


def check_holdouts(src: Source, plan_dir: Path) -> None:
    """Each holdout folder exists and lies outside the workspace: the agent works in the
    workspace, so tests kept there would not be hidden from it."""
    root = src.root
    workspace = (plan_dir / (root.get("workspace") if isinstance(root.get("workspace"), str) else ".")).resolve()
    places: list[Path_] = [("gates", i) for i in range(len(_as_list(root.get("gates"))))]
    defaults = root.get("defaults")
    if isinstance(defaults, Mapping):
        places += [("defaults", "gates", j) for j in range(len(_as_list(defaults.get("gates"))))]
    for i, task in enumerate(_as_list(root.get("tasks"))):
        if isinstance(task, Mapping):
            places += [("tasks", i, "gates", j) for j in range(len(_as_list(task.get("gates"))))]
    for path in places:
        gate = src.get(path)
        holdout = gate.get("holdout") if isinstance(gate, Mapping) else None
        where = holdout.get("from") if isinstance(holdout, Mapping) else None
        if not isinstance(where, str) or not where:
            continue
        folder = (plan_dir / Path(where).expanduser()).resolve()
        at = (*path, "holdout", "from")
        if not folder.is_dir():
            src.error(at, f"holdout folder {where!r} does not exist (looked for {folder}); "
                          "create it or fix the path (relative to the plan file)")
        elif folder == workspace or workspace in folder.parents:
            src.error(at, f"holdout folder {where!r} is inside the workspace {workspace}, where the "
                          "agent can read it; move it outside the repository")
        to = holdout.get("to") if isinstance(holdout, Mapping) else None
        if isinstance(to, str) and (Path(to).is_absolute() or ".." in Path(to).parts):
            src.error((*path, "holdout", "to"), f"holdout `to` {to!r} must be a path inside the "
                                                "workspace, relative to it")


def literal_secrets(plan: Any) -> list[str]:
    """Where the plan gives an agent a secret-looking variable a literal value, not `${VAR}`:
    such a value is kept as written in the run's copy of the plan (docs/reports.md, Secrets)."""
    from overseer.config import MIN_SECRET_LEN, is_secret_env_name

    agents: list[tuple[str, Any]] = [(f"agents.{name}", a) for name, a in plan.agents.items()]
    agents += [(f"tasks.{t.id}.agent", t.agent) for t in plan.tasks if isinstance(t.agent, dict)]
    found = []
    for where, agent in agents:
        env = agent.get("env") if isinstance(agent, dict) else None
        for key, value in (env or {}).items():
            text = str(value)
            if is_secret_env_name(str(key)) and "${" not in text and len(text) >= MIN_SECRET_LEN:
                found.append(f"{where}.env.{key}")
    return found
