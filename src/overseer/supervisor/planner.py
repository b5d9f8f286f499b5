"""Drafting a plan from a goal with the supervisor LLM (`overseer plan "GOAL"`).

The model is shown the goal, a short summary of the repository and the part of the plan schema
it writes — name, gates and tasks; overseer adds the agent, which the model cannot know. Its
answer is turned into YAML and checked by the real plan loader on exactly the text that would be
written. An invalid draft is re-asked once with the loader's messages; a second invalid draft
comes back as rejected, never as a plan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from overseer.errors import OverseerError, PlanError
from overseer.plan.load import parse_plan
from overseer.supervisor import prompts
from overseer.supervisor.llm import (
    LLM,
    ContextOverflow,
    InvalidJSON,
    LLMError,
    LLMUnavailable,
    Message,
)

TEMPLATE = "plan_draft.j2"
AGENT_NAME = "coder"
MAX_TASKS = 12
MAX_FILES = 40
# A plan of a dozen tasks is ~1,500 tokens of JSON; fewer than MIN_ANSWER cannot hold one.
ANSWER_TOKENS = 2048
MIN_ANSWER = 512
PER_MESSAGE = 8
ERROR_CHARS = 1500
SKIPPED = frozenset({".git", ".overseer", "__pycache__", ".venv", "venv", "node_modules"})
NPM_DEFAULT_TEST = "no test specified"


# --------------------------------------------------------------------------- the repository


@dataclass(frozen=True)
class RepoSummary:
    name: str
    files: list[str]  # top-level entries, directories with a trailing "/"
    left_out: int  # entries not listed (beyond MAX_FILES)
    test_command: str | None


def detect_test_command(names: set[str], read: Callable[[str], str | None]) -> str | None:
    """The project's own test command, from its top-level files; `read(name)` gives a file's
    text or None. The first match wins: a Makefile target is what the project chose to call its
    tests, so it comes before what a language's tooling would guess."""
    makefile = read("Makefile") if "Makefile" in names else None
    if makefile and re.search(r"^test\s*:", makefile, re.M):
        return "make test"
    if "package.json" in names:
        try:
            scripts = json.loads(read("package.json") or "{}").get("scripts") or {}
        except (ValueError, AttributeError):
            scripts = {}
        test = scripts.get("test") if isinstance(scripts, dict) else None
        if isinstance(test, str) and NPM_DEFAULT_TEST not in test:
            return "npm test"
    if names & {"pytest.ini", "tox.ini", "conftest.py"} or "tests/" in names or (
        "pyproject.toml" in names and "pytest" in (read("pyproject.toml") or "")
    ):
        return "python3 -m pytest -q"
    if "Cargo.toml" in names:
        return "cargo test"
    if "go.mod" in names:
        return "go test ./..."
    return None


def summarize_repo(root: Path) -> RepoSummary:
    entries = sorted(
        (p for p in root.iterdir() if p.name not in SKIPPED), key=lambda p: p.name.lower()
    ) if root.is_dir() else []
    names = [p.name + "/" if p.is_dir() else p.name for p in entries]

    def read(name: str) -> str | None:
        try:
            return (root / name).read_text(encoding="utf-8", errors="replace")[:100_000]
        except OSError:
            return None

    return RepoSummary(
        name=root.name, files=names[:MAX_FILES], left_out=max(0, len(names) - MAX_FILES),
        test_command=detect_test_command(set(names), read),
    )


# --------------------------------------------------------------------------- the answer's shape


def draft_schema() -> dict[str, Any]:
    """What the model writes: the `name`, `gates` and `tasks` of the plan schema (`overseer
    schema plan`), narrowed. Written out rather than cut from the plan schema, like the review's:
    no $refs or nullable unions, which grammar converters handle poorly. Strings carry no
    maxLength: llama.cpp unrolls each bound into nested rules, and a plan's worth of them made
    its grammar parser give up and crash the process (llama-cpp-python 0.3.36, measured)."""
    # A narrower ID_PATTERN: lower case only.
    ident = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]*$"}
    text = {"type": "string", "minLength": 1}

    def strict(props: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "properties": props, "required": list(props),
                "additionalProperties": False}

    gate = strict({"name": ident, "run": text})
    task = strict({
        "id": ident,
        "title": text,
        "prompt": text,
        "acceptance": {"type": "array", "maxItems": 5, "items": text},
        "depends_on": {"type": "array", "maxItems": 5, "items": ident},
    })
    return strict({
        "version": {"type": "integer", "enum": [1]},
        "name": text,
        "gates": {"type": "array", "maxItems": 3, "items": gate},
        "tasks": {"type": "array", "minItems": 1, "maxItems": MAX_TASKS, "items": task},
    })


def compose_plan(draft: Mapping[str, Any], goal: str, agent_type: str) -> str:
    """The plan file for a draft: the model's keys as it wrote them, plus one agent of
    `agent_type` and every gate the model named as a default. Nothing the model wrote is
    corrected here; the loader judges it."""
    gates = draft.get("gates")
    gate_names = [g["name"] for g in gates if isinstance(g, dict) and isinstance(g.get("name"), str)] \
        if isinstance(gates, list) else []
    plan: dict[str, Any] = {k: draft[k] for k in ("version", "name") if k in draft}
    plan["defaults"] = {"agent": AGENT_NAME, "max_attempts": 3, "gates": gate_names}
    plan["agents"] = {AGENT_NAME: {"type": agent_type}}
    plan.update({k: v for k, v in draft.items() if k not in plan})
    header = "".join(f"# {line}\n" for line in [
        "Drafted by `overseer plan` from this goal:",
        *(("  " + line).rstrip() for line in goal.strip().splitlines()),
        "Review it before running: `overseer validate` checks it, docs/plan.md explains each key.",
    ])
    body = yaml.safe_dump(plan, sort_keys=False, allow_unicode=True, width=100)
    return header + body


def validation_errors(text: str, file: str) -> list[str]:
    """Every problem the real plan loader finds in `text`, as FILE:LINE:COL: message."""
    from overseer.agents.registry import agent_types

    configs = {name: cls.config_class for name, cls in agent_types().items()}
    try:
        parse_plan(text, file, configs)
    except PlanError as e:
        return [str(d) for d in e.diagnostics]
    return []


# --------------------------------------------------------------------------- asking


@dataclass
class DraftOutcome:
    plan: str | None  # valid plan YAML, or None
    rejected: str | None = None  # the last invalid draft (YAML, or the raw answer if not JSON)
    errors: list[str] = field(default_factory=list)  # why the last draft was refused
    first_errors: list[str] = field(default_factory=list)  # why the first one was (re-asked)
    asked: int = 0


def _messages(goal: str, repo: RepoSummary, project_dir: Path | None) -> list[Message]:
    schema = json.dumps(draft_schema(), separators=(",", ":"))  # ~15% fewer tokens
    system = prompts.render(TEMPLATE, project_dir, part="system", goal=goal, repo=repo,
                            schema=schema, errors=[])
    user = prompts.render(TEMPLATE, project_dir, part="user", goal=goal, repo=repo,
                          schema=schema, errors=[])
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _tokens(llm: LLM, messages: list[Message]) -> int:
    return sum(llm.count_tokens(m["content"]) + PER_MESSAGE for m in messages)


def _answer_budget(llm: LLM, messages: list[Message]) -> int:
    room = llm.context_tokens - _tokens(llm, messages)
    if room < MIN_ANSWER:
        raise OverseerError(
            f"the goal and repository summary leave {max(room, 0)} of the model's "
            f"{llm.context_tokens} context tokens for the plan; it needs at least {MIN_ANSWER}",
            hint="shorten the goal, or set supervisor.context_tokens if the model has a larger "
            "context",
        )
    return min(ANSWER_TOKENS, room)


@dataclass
class _Answer:
    raw: str  # what the model said, for the re-ask
    plan: str | None  # the plan file it makes, if it was a JSON object
    errors: list[str]


def _ask(llm: LLM, messages: list[Message], goal: str, agent_type: str, file: str) -> _Answer:
    try:
        data = llm.complete_json(messages, draft_schema(), max_tokens=_answer_budget(llm, messages))
    except InvalidJSON as e:
        return _Answer(e.raw, None, [f"the answer is not a JSON object: {e}"])
    text = compose_plan(data, goal, agent_type)
    return _Answer(json.dumps(data), text, validation_errors(text, file))


def _fix_message(errors: list[str], project_dir: Path | None, goal: str, repo: RepoSummary) -> Message:
    # The model wrote JSON, not the YAML these positions point into: it gets the messages only.
    shown = [re.sub(r"^[^\n]*?:\d+:\d+: ", "", e) for e in errors]
    text = "\n".join(f"- {e}" for e in shown)[:ERROR_CHARS]
    content = prompts.render(TEMPLATE, project_dir, part="fix", goal=goal, repo=repo,
                             schema="", errors=text.splitlines())
    return {"role": "user", "content": content}


def draft_plan(
    goal: str, llm: LLM, repo: RepoSummary, *, agent_type: str, file: str,
    project_dir: Path | None = None,
) -> DraftOutcome:
    """Ask `llm` for a plan reaching `goal`; at most two questions. `file` names the plan in
    the loader's messages. Raises OverseerError when the model cannot be used at all."""
    messages = _messages(goal, repo, project_dir)
    try:
        first = _ask(llm, messages, goal, agent_type, file)
        if not first.errors:
            return DraftOutcome(first.plan, asked=1)
        fix = _fix_message(first.errors, project_dir, goal, repo)
        again = [*messages, {"role": "assistant", "content": first.raw}, fix]
        if not first.raw or _tokens(llm, again) + ANSWER_TOKENS > llm.context_tokens:
            # A long (often cut-off) answer would crowd out the next one: the errors must do.
            again = [*messages, fix]
        second = _ask(llm, again, goal, agent_type, file)
    except LLMUnavailable as e:
        raise OverseerError(
            f"the supervisor LLM cannot be used: {e}",
            hint="check the supervisor settings (`overseer config show`, docs/supervisor.md) and "
            "that the endpoint is up",
        ) from None
    except ContextOverflow as e:
        raise OverseerError(
            f"the prompt does not fit the model's context: {e}",
            hint="shorten the goal, or set supervisor.context_tokens to the model's real window",
        ) from None
    except LLMError as e:
        raise OverseerError(f"the supervisor LLM refused the request: {e}",
                            hint="check supervisor.model and supervisor.base_url") from None
    if not second.errors:
        return DraftOutcome(second.plan, first_errors=first.errors, asked=2)
    return DraftOutcome(None, rejected=second.plan or second.raw, errors=second.errors,
                        first_errors=first.errors, asked=2)
