"""The plan file's shape (docs/plan.md). Semantic checks (ids, references, cycles) live in plan.validate."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


GateKind = Literal["command", "python-syntax", "diff-limits"]
_DIFF_LIMIT_FIELDS = ("max_files", "max_lines", "forbidden")


class HoldoutSpec(_Strict):
    """Acceptance tests the agent never sees: copied in only while their gate runs."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from", min_length=1,
                       description="folder of the hidden tests, outside the workspace; relative to the plan file or absolute")
    to: str = Field(min_length=1, description="where the gate finds them, relative to the workspace; removed right after the gate")
    reveal: Literal["ids", "output", "none"] = Field(
        default="output",
        description="what a failure tells the agent: failing test ids (ids), ids and their assertion "
        "messages but never the tests' source (output), or only that the gate failed (none)",
    )


class GateSpec(_Strict):
    name: str = Field(pattern=ID_PATTERN)
    kind: GateKind = "command"
    run: str | None = Field(default=None, min_length=1, description="shell command, run in the workspace (kind: command)")
    required: bool = True
    timeout: float = Field(default=600, gt=0, description="seconds")
    junit: str | None = Field(default=None, description="path of a JUnit XML file the command writes")
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = Field(default=None, description="relative to the workspace")
    max_files: int | None = Field(default=None, ge=0, description="diff-limits: most files a task may change")
    max_lines: int | None = Field(default=None, ge=0, description="diff-limits: most lines added plus removed")
    forbidden: list[str] = Field(default_factory=list, description="diff-limits: path globs a task must not touch")
    holdout: HoldoutSpec | None = Field(default=None, description="hidden acceptance tests for this gate (docs/trust.md)")
    where: Literal["local", "remote"] = Field(
        default="local", description="remote: run the command on the host of the task's ssh agent, "
        "in its clone, brought to the tree being judged (docs/agents.md)")

    # A model_post_init, not a model_validator: an after-validator renames this class in
    # pydantic's error locations, which schema_errors relies on to place its messages.
    def model_post_init(self, context: Any, /) -> None:
        if self.kind == "command" and self.run is None:
            raise ValueError(f"gate {self.name!r} needs `run`: the shell command to execute")
        if self.kind != "command" and self.run is not None:
            raise ValueError(f"gate {self.name!r}: `run` is only for kind command, not {self.kind}")
        limits = [f for f in _DIFF_LIMIT_FIELDS if getattr(self, f) not in (None, [])]
        if self.kind == "diff-limits" and not limits:
            raise ValueError(f"gate {self.name!r} (diff-limits) needs max_files, max_lines or forbidden")
        if self.kind != "diff-limits" and limits:
            raise ValueError(f"gate {self.name!r}: {', '.join(limits)} only apply to kind diff-limits")
        if self.holdout is not None and self.kind != "command":
            raise ValueError(f"gate {self.name!r}: `holdout` needs a command gate that runs the hidden tests")
        if self.where == "remote":
            if self.kind != "command":
                raise ValueError(f"gate {self.name!r}: only a command gate runs `where: remote`")
            if self.junit or self.holdout is not None:
                raise ValueError(f"gate {self.name!r}: `where: remote` counts tests from the output; "
                                 "junit and holdout files are local (leave them out, or run it locally)")


GateRef = str | GateSpec
# An agent is a name from `agents:` or an inline object with a `type`; its keys are checked
# against that type's config class when the plan is validated.
AgentRef = str | dict[str, Any]


class Defaults(_Strict):
    agent: AgentRef | None = None
    max_attempts: int = Field(default=3, ge=1, le=100)
    gates: list[GateRef] = Field(default_factory=list)
    timeout: float = Field(default=1800, gt=0, description="seconds per attempt")
    may_edit_tests: bool = Field(
        default=False,
        description="let tasks change existing tests and the gates' files: the changes are findings "
        "shown to the reviewer instead of refusals (docs/trust.md)",
    )


class Milestone(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str = ""
    review: Literal["human", "auto"] = "auto"


class Task(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str = ""
    prompt: str
    acceptance: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    priority: int = 0
    deadline: datetime | None = Field(
        default=None,
        description="when the task should be done (ISO 8601; a date means its end, UTC); "
        "within scheduling.deadline_window of it the task's priority gets scheduling.deadline_boost",
    )
    milestone: str | None = None
    agent: AgentRef | None = None
    fallback_agents: list[AgentRef] = Field(
        default_factory=list, description="agents to switch to, in order, when the agent hits a usage limit"
    )
    gates: list[GateRef] | None = None
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    timeout: float | None = Field(default=None, gt=0)
    breakpoint: Literal["before", "after", "never"] = "never"
    may_edit_tests: bool | None = Field(default=None, description="overrides defaults.may_edit_tests")

    @field_validator("deadline", mode="before")
    @classmethod
    def _deadline(cls, v: Any) -> Any:
        return as_deadline(v)

    @field_validator("prompt")
    @classmethod
    def _prompt_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("prompt is empty: say what the agent should do")
        return v


def as_deadline(v: Any) -> Any:
    """YAML gives a timestamp, a date, or (quoted) text: each as an aware datetime. Anything
    else is left for validation to reject."""
    if isinstance(v, str):
        try:
            v = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        except ValueError:
            try:
                v = date.fromisoformat(v.strip())
            except ValueError:
                raise ValueError(f"{v!r} is not an ISO 8601 date or time, "
                                 "e.g. 2026-12-01 or 2026-12-01T17:00:00Z") from None
    if isinstance(v, datetime):
        return datetime.fromtimestamp(v.timestamp(), UTC) if v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, date):
        return datetime.combine(v, time.max, UTC)
    return v


class Plan(_Strict):
    version: Literal[1]
    name: str = Field(min_length=1)
    workspace: str | None = Field(default=None, description="git repository, relative to the plan file")
    defaults: Defaults = Field(default_factory=Defaults)
    agents: dict[str, dict[str, Any]] = Field(default_factory=dict)
    gates: list[GateSpec] = Field(default_factory=list)
    milestones: list[Milestone] = Field(default_factory=list)
    test_patterns: list[str] = Field(
        default_factory=list,
        description="more path globs of test files, beside the built-in ones for Python, JS/TS, Go, "
        "Rust and Java (docs/trust.md)",
    )
    tasks: list[Task] = Field(min_length=1)


class ResolvedTask(BaseModel):
    """A task with its defaults, named agent and named gates filled in: what the engine runs."""

    id: str
    title: str
    prompt: str
    acceptance: list[str]
    depends_on: list[str]
    priority: int
    deadline: datetime | None = None
    milestone: str | None
    agent_name: str
    agent: dict[str, Any]
    fallbacks: list[tuple[str, dict[str, Any]]] = Field(default_factory=list)
    gates: list[GateSpec]
    max_attempts: int
    timeout: float
    breakpoint: Literal["before", "after", "never"]
    may_edit_tests: bool = False
    test_patterns: list[str] = Field(default_factory=list)


def resolve_task(plan: Plan, task: Task, plan_dir: Path | None = None) -> ResolvedTask:
    """Fill a task's defaults. Assumes the plan passed validation. With `plan_dir`, holdout
    folders given relative to the plan file become absolute."""
    agent_ref = task.agent if task.agent is not None else plan.defaults.agent
    if agent_ref is None:
        raise ValueError(f"task {task.id} has no agent and the plan has no defaults.agent")
    agent_name, agent = _agent(plan, task, agent_ref)
    named = {g.name: g for g in plan.gates}
    refs = task.gates if task.gates is not None else plan.defaults.gates
    gates = [named[r] if isinstance(r, str) else r for r in refs]
    if plan_dir is not None:
        gates = [_absolute_holdout(g, plan_dir) for g in gates]
    return ResolvedTask(
        id=task.id,
        title=task.title or task.id,
        prompt=task.prompt,
        acceptance=list(task.acceptance),
        depends_on=list(task.depends_on),
        priority=task.priority,
        deadline=task.deadline,
        milestone=task.milestone,
        agent_name=agent_name,
        agent=agent,
        fallbacks=[_agent(plan, task, ref) for ref in task.fallback_agents],
        gates=gates,
        max_attempts=task.max_attempts or plan.defaults.max_attempts,
        timeout=task.timeout or plan.defaults.timeout,
        breakpoint=task.breakpoint,
        may_edit_tests=task.may_edit_tests if task.may_edit_tests is not None else plan.defaults.may_edit_tests,
        test_patterns=list(plan.test_patterns),
    )


def holdout_dir(spec: HoldoutSpec, plan_dir: Path) -> Path:
    return (plan_dir / Path(spec.from_).expanduser()).resolve()


def _absolute_holdout(g: GateSpec, plan_dir: Path) -> GateSpec:
    if g.holdout is None:
        return g
    h = g.holdout.model_copy(update={"from_": str(holdout_dir(g.holdout, plan_dir))})
    return g.model_copy(update={"holdout": h})


def _agent(plan: Plan, task: Task, ref: AgentRef) -> tuple[str, dict[str, Any]]:
    if isinstance(ref, str):
        return ref, dict(plan.agents[ref])
    return f"{task.id}:{ref.get('type', '?')}", dict(ref)
