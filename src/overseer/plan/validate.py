"""Every check on a plan, reported against the file: schema errors from pydantic, rewritten into
short messages at the offending key or value, and the semantic checks pydantic cannot express
(unique ids, references to tasks, agents, gates and milestones, agent types, cycles).

Both work on the raw parsed document rather than on a `Plan`, because a plan with one bad task
has no `Plan` object at all, and the user still wants to hear about every other problem.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from overseer.agents.base import AgentConfig
from overseer.plan.graph import find_cycles
from overseer.plan.schema import GateSpec
from overseer.plan.source import Path_, Source, closest, number, plain, show, suggest

_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}

_TOP_LEVEL_HINTS = {
    "version": "; add version: 1",
    "name": "; add name: <a short name for the plan>",
    "tasks": "; add tasks: with at least one task",
}


# --- where things are ---------------------------------------------------------------------


def _named(src: Source, path: Path_, id_key: str, kind: str) -> str:
    value = src.get((*path, id_key))
    if isinstance(value, str) and value:
        return f"{kind} '{value}'"
    index = path[-1]
    return f"{kind} #{index + 1}" if isinstance(index, int) else kind


def describe(src: Source, path: Path_) -> str:
    """A mapping in the plan, named the way a user would say it: "task 'b'", "defaults"."""
    match path:
        case ():
            return "the plan"
        case ("defaults",):
            return "defaults"
        case ("defaults", "agent"):
            return "defaults.agent"
        case ("defaults", "gates", int()):
            return f"{_named(src, path, 'name', 'gate')} in defaults"
        case ("agents", str(name)):
            return f"agent '{name}'"
        case ("gates", int()):
            return _named(src, path, "name", "gate")
        case ("milestones", int()):
            return _named(src, path, "id", "milestone")
        case ("tasks", int()):
            return _named(src, path, "id", "task")
        case ("tasks", int(), "agent"):
            return f"the agent of {_named(src, path[:2], 'id', 'task')}"
        case ("tasks", int(), "gates", int()):
            return f"{_named(src, path, 'name', 'gate')} of {_named(src, path[:2], 'id', 'task')}"
    return ".".join(str(p) for p in path)


def _label(path: Path_) -> str:
    """The key a value sits under, for `key: expected ...` messages."""
    if len(path) == 2 and path[0] == "agents":
        return f"agent '{path[1]}'"
    names = [p for p in path if isinstance(p, str)]
    name = names[-1] if names else "plan"
    return f"{name} item" if path and isinstance(path[-1], int) else name


def _known(kind: str, names: list[str], section: str, word: object) -> str:
    """The end of an unknown-reference message: a suggestion, the known names, or where to add one."""
    hint = suggest(word, names)
    if hint:
        return hint
    if not names:
        return f"; define it under {section}:"
    listed = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    return f"; known {kind}: {listed}"


# --- schema errors --------------------------------------------------------------------------


def _fields(tp: Any) -> list[str]:
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _union_args(tp: Any) -> list[Any] | None:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(tp) if a is not type(None)]
    return None


def _step(tp: Any, element: str | int) -> Any:
    """The declared type one step below `tp` along a validation error's location."""
    args = _union_args(tp)
    if args is not None and len(args) == 1:
        tp = args[0]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(element) if isinstance(element, str) else None
        return field.annotation if field is not None else None
    origin = typing.get_origin(tp)
    if origin is list and isinstance(element, int):
        return typing.get_args(tp)[0]
    if origin is dict:
        return typing.get_args(tp)[1]
    return None


def _branch(args: list[Any], tag: object) -> Any:
    """The union member pydantic names `tag` in an error location (`str`, `GateSpec`, `dict[...]`)."""
    for arg in args:
        if arg is str and tag == "str":
            return arg
        if isinstance(arg, type) and arg.__name__ == tag:
            return arg
        if typing.get_origin(arg) is dict and isinstance(tag, str) and tag.startswith("dict"):
            return arg
    return None


def report_validation_error(
    src: Source, exc: ValidationError, root_type: Any, base: Path_ = ()
) -> None:
    """Rewrite pydantic's errors for the value at `base` (validated as `root_type`) into
    diagnostics. Errors from union members that do not match the value's shape are dropped: a
    gate given as a mapping should hear about its keys, not that it is not a string."""
    union_reported: set[Path_] = set()
    resolved: list[tuple[Any, Path_, Any]] = []
    for err in exc.errors(include_url=False):
        path: Path_ = base
        tp: Any = root_type
        parent_tp: Any = root_type
        drop = key_error = False
        union_mismatch: list[Any] | None = None
        for element in err["loc"]:
            args = _union_args(tp)
            if args is not None and len(args) > 1:
                value = src.get(path)
                branch = _branch(args, element)
                if isinstance(value, str):
                    drop = branch is not str
                elif isinstance(value, Mapping):
                    drop = branch is str
                else:
                    union_mismatch = args
                if drop or union_mismatch is not None:
                    break
                tp = branch
                continue
            if element == "[key]":
                key_error = True
                break
            parent_tp = tp
            tp = _step(tp, element)
            path = (*path, element)
        if drop:
            continue
        if union_mismatch is not None:
            if path not in union_reported:
                union_reported.add(path)
                what = "a gate" if GateSpec in union_mismatch else "an agent"
                src.error(
                    path,
                    f"{_label(path)}: expected {what} name or {what} object, got {show(src.get(path))}",
                )
            continue
        if key_error:
            src.error(
                path,
                f"{_label(path[:-1])}: key {show(path[-1])} must be a string; quote it",
                key=True,
            )
            continue
        resolved.append((err, path, parent_tp))

    # A misspelt required key shows up twice, as unknown and as missing; the unknown key's
    # did-you-mean already says everything, so the missing one is dropped.
    typos = {
        (path[:-1], closest(path[-1], _fields(parent_tp)))
        for err, path, parent_tp in resolved
        if err["type"] == "extra_forbidden"
    }
    for err, path, parent_tp in resolved:
        if err["type"] == "missing" and (path[:-1], path[-1]) in typos:
            continue
        _report_one(src, err, path, parent_tp, base)


def _report_one(src: Source, err: Any, path: Path_, parent_tp: Any, base: Path_) -> None:
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    value = src.get(path)
    label = _label(path)
    rel = path[len(base) :]

    if kind in ("extra_forbidden", "invalid_key"):
        key = path[-1]
        where = describe(src, path[:-1])
        fields = _fields(parent_tp)
        hint = suggest(key, fields) or (f"; known keys: {', '.join(fields)}" if fields else "")
        src.error(path, f"unknown key {show(key)} in {where}{hint}", key=True)
        return
    if kind == "missing":
        key = str(path[-1])
        hint = _TOP_LEVEL_HINTS.get(key, "") if len(path) == 1 else ""
        src.error(
            path[:-1], f"missing required key '{key}' in {describe(src, path[:-1])}{hint}", key=True
        )
        return
    if (
        rel
        and rel[-1] == "prompt"
        and (value is None or (isinstance(value, str) and not value.strip()))
    ):
        src.error(path, f"empty prompt in {describe(src, path[:-1])}; say what the agent should do")
        return
    if path == ("tasks",) and (value is None or kind == "too_short"):
        src.error(path, "no tasks; add at least one under tasks:", key=True)
        return
    if path == ("version",):
        if value == "1":
            src.error(path, "version: expected the number 1, got '1'; write it without quotes")
        else:
            src.error(path, f"unsupported plan version {show(value)}; use version: 1")
        return

    if kind in _TYPE_WORDS:
        message = f"{label}: expected {_TYPE_WORDS[kind]}, got {show(value)}"
        if kind == "list_type" and isinstance(value, str):
            message += f"; write [{value}]"
        elif kind == "string_type" and value is not None and not isinstance(value, Mapping | list):
            message += "; quote it"
    elif kind == "literal_error":
        message = f"{label}: expected {ctx.get('expected', 'one of the allowed values')}, got {show(value)}"
    elif kind == "string_pattern_mismatch":
        message = (
            f"{label}: {show(value)} is not a valid {label}; use letters, digits, '_', '.' "
            "and '-', starting with a letter or digit"
        )
    elif kind == "string_too_short":
        message = f"{label}: must not be empty"
    elif kind == "too_short":
        message = f"{label}: needs at least {ctx.get('min_length', 1)} item(s)"
    elif kind == "greater_than":
        message = f"{label}: must be greater than {number(ctx.get('gt'))}, got {show(value)}"
    elif kind == "greater_than_equal":
        message = f"{label}: must be at least {number(ctx.get('ge'))}, got {show(value)}"
    elif kind == "less_than":
        message = f"{label}: must be less than {number(ctx.get('lt'))}, got {show(value)}"
    elif kind == "less_than_equal":
        message = f"{label}: must be at most {number(ctx.get('le'))}, got {show(value)}"
    elif kind == "value_error":
        message = f"{label}: {ctx.get('error', err['msg'])}"
    else:
        text: str = err["msg"]
        message = f"{label}: {text[:1].lower()}{text[1:]}"
    src.error(path, message)


# --- semantic checks ------------------------------------------------------------------------


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
    listed = f"; known types: {', '.join(known)}" if known else ""
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
        fix = suggest(kind, known) or listed or "; no agent types are installed"
        src.error((*path, "type"), f"unknown agent type '{kind}' in {owner}{fix}")
        return
    try:
        config_class.model_validate(plain(obj))
    except ValidationError as exc:
        report_validation_error(src, exc, config_class, path)
