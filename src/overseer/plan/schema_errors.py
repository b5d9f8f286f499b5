"""pydantic's validation errors, rewritten as short diagnostics at the offending key or value.

pydantic reports locations in its own terms (union members appear as `str` or `GateSpec` steps)
and in its own words; this walks each error location alongside the parsed document and the
declared types, drops errors from union members the value was clearly not meant to be, and says
what is wrong the way a plan author would: `priority: expected an integer, got 'high'`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from overseer.plan.schema import GateSpec
from overseer.plan.source import Path_, Source, closest, number, show, suggest

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
